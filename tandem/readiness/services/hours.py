"""Hours worked (PS-14).

Part of ``tandem.readiness.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum

from tandem.audit.services import audit_record
from tandem.core.when import when
from tandem.readiness.models import (
    TimeEntry,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .certification import _check_hours, _lock_person
from .common import MAX_HOURS_PER_DAY

# ---------------------------------------------------------------------------------------
# Hours worked (PS-14)
# ---------------------------------------------------------------------------------------


@transaction.atomic
def time_entry_add(
    *, acting_user: User, worked_on: date, hours: Decimal, idempotency_key: str
) -> TimeEntry:
    """Hours Worked under the agency's activity code. Never says whom it was spent with."""
    _check_hours(hours, worked_on)
    _lock_person(acting_user)
    existing = TimeEntry.objects.filter(user=acting_user, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing  # a double submit: the first one stands
    day_total = TimeEntry.objects.filter(user=acting_user, worked_on=worked_on).aggregate(
        s=Sum("hours")
    )["s"] or Decimal(0)
    if day_total + hours > MAX_HOURS_PER_DAY:
        raise ValidationError(
            f"You already recorded {day_total} hours on {when(worked_on)}; a day has at most 24."
        )
    code = acting_user.home_agency.policy_model().training.hours_activity_code
    try:
        with transaction.atomic():
            entry = TimeEntry.objects.create(
                agency_id=acting_user.home_agency_id,
                user=acting_user,
                worked_on=worked_on,
                hours=hours,
                activity_code=code,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        return TimeEntry.objects.get(user=acting_user, idempotency_key=idempotency_key)
    audit_record(
        action="readiness.time_entry_added",
        actor=acting_user,
        agency_id=acting_user.agency_id,
        obj=entry,
    )
    return entry


@transaction.atomic
def time_entry_delete(*, acting_user: User, entry: TimeEntry) -> None:
    if entry.user_id != acting_user.pk:
        raise ValidationError("You can remove only your own entries.")
    audit_record(
        action="readiness.time_entry_deleted",
        actor=acting_user,
        agency_id=entry.agency_id,
        obj=entry,
    )
    entry.delete()
