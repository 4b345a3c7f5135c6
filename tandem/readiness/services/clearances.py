"""Clearances (PR-7).

Part of ``tandem.readiness.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.readiness.models import (
    BackgroundCheck,
    CheckResult,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .gates import person_recompute

# ---------------------------------------------------------------------------------------
# Clearances (PR-7)
# ---------------------------------------------------------------------------------------


@transaction.atomic
def check_record(
    *, acting_user: User, user: User, checked_on: date, result: str, renewal_due: date
) -> BackgroundCheck:
    if result not in CheckResult.values:
        raise ValidationError("Choose the result of the check.")
    if checked_on > timezone.localdate():
        raise ValidationError("The check date is in the future.")
    if renewal_due <= checked_on:
        raise ValidationError("The renewal date must be after the check date.")
    if user.agency_id != acting_user.agency_id:
        raise ValidationError("This person is not in the agency.")
    try:
        with transaction.atomic():
            check = BackgroundCheck.objects.create(
                agency_id=user.home_agency_id,
                user=user,
                checked_on=checked_on,
                result=result,
                renewal_due=renewal_due,
                recorded_by=acting_user,
            )
    except IntegrityError:
        raise ValidationError("A check on that date is already recorded.") from None
    audit_record(
        action="readiness.background_check_recorded",
        actor=acting_user,
        agency_id=user.agency_id,
        obj=user,
        detail={"result": result},
    )
    person_recompute(user=user, acting_user=acting_user, cause="background_check")
    return check
