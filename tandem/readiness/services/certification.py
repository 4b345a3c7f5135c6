"""Certification and hours (PR-11).

Part of ``tandem.readiness.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from tandem.agencies.access import require_actor_role
from tandem.audit.services import audit_record
from tandem.core.when import when
from tandem.readiness.access import HOUR_SIGNERS
from tandem.readiness.models import (
    Certification,
    HourKind,
    HourLog,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .common import MAX_HOURS_PER_DAY
from .gates import person_recompute

# ---------------------------------------------------------------------------------------
# Certification and hours (PR-11)
# ---------------------------------------------------------------------------------------

#: What the person records about themselves.
SELF_FIELDS = ("education", "exam_date", "exam_result")
#: The credential itself: recorded only by a supervisor who signs off hours, never by the
#: person it certifies (the "certification" selection step relies on it).
CREDENTIAL_FIELDS = ("credential_number", "issued_on", "expires_on", "renewed_on")
CERTIFICATION_FIELDS = SELF_FIELDS + CREDENTIAL_FIELDS


@transaction.atomic
def certification_update(
    *, acting_user: User, user: User, version: int | None, **values: Any
) -> Certification:
    if user.pk != acting_user.pk:
        require_actor_role(acting_user, *HOUR_SIGNERS)
    if user.agency_id != acting_user.agency_id:
        raise ValidationError("This person is not in the agency.")
    if not user.has_role("aro", "prs"):
        raise ValidationError("Certification is recorded for peer recovery team members.")
    if set(values) & set(CREDENTIAL_FIELDS) and (
        user.pk == acting_user.pk or not acting_user.has_role(*HOUR_SIGNERS)
    ):
        raise ValidationError(
            "Only a supervisor records the credential (number and dates); "
            "ask your supervisor to enter it."
        )
    cert, _ = Certification.objects.select_for_update().get_or_create(
        user=user, defaults={"agency_id": user.home_agency_id}
    )
    if version is not None and cert.version != version:
        raise ValidationError(
            "Someone else changed this certification record meanwhile. "
            "Here is the current record; please check it and try again."
        )
    issued, expires = values.get("issued_on"), values.get("expires_on")
    if issued and expires and expires <= issued:
        raise ValidationError("The expiry date must be after the issue date.")
    if values.get("credential_number") and not issued:
        raise ValidationError("Give the date the credential was issued.")
    changed = []
    for name in CERTIFICATION_FIELDS:
        if name in values:
            value = (values[name] or "") if name == "credential_number" else values[name]
            if getattr(cert, name) != value:
                changed.append(name)
            setattr(cert, name, value)
    cert.version += 1
    cert.updated_at = timezone.now()
    cert.save()
    audit_record(
        action="readiness.certification_updated",
        actor=acting_user,
        agency_id=user.agency_id,
        obj=user,
        detail={"fields": sorted(changed)},
    )
    person_recompute(user=user, acting_user=acting_user, cause="certification")
    return cert


def _lock_person(user: User) -> None:
    """One writer of a person's hours at a time (the daily sum and the double-submit key are
    checked under this lock)."""
    from tandem.accounts.models import User

    User.objects.select_for_update().filter(pk=user.pk).first()


def _check_hours(hours: Decimal, worked_on: date) -> None:
    if hours <= 0:
        raise ValidationError("Hours must be more than zero.")
    if hours > MAX_HOURS_PER_DAY:
        raise ValidationError("A day has at most 24 hours.")
    if worked_on > timezone.localdate():
        raise ValidationError("The date is in the future.")


@transaction.atomic
def hours_log(
    *, acting_user: User, kind: str, worked_on: date, hours: Decimal, idempotency_key: str
) -> HourLog:
    if kind not in HourKind.values:
        raise ValidationError("Choose the kind of hours.")
    _check_hours(hours, worked_on)
    _lock_person(acting_user)
    existing = HourLog.objects.filter(user=acting_user, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing  # a double submit: the first one stands
    day_total = HourLog.objects.filter(user=acting_user, worked_on=worked_on).aggregate(
        s=Sum("hours")
    )["s"] or Decimal(0)
    if day_total + hours > MAX_HOURS_PER_DAY:
        raise ValidationError(
            f"You already logged {day_total} hours on {when(worked_on)}; a day has at most 24."
        )
    try:
        with transaction.atomic():
            log = HourLog.objects.create(
                agency_id=acting_user.home_agency_id,
                user=acting_user,
                kind=kind,
                worked_on=worked_on,
                hours=hours,
                idempotency_key=idempotency_key,
            )
    except IntegrityError:
        return HourLog.objects.get(user=acting_user, idempotency_key=idempotency_key)
    audit_record(
        action="readiness.hours_logged",
        actor=acting_user,
        agency_id=acting_user.agency_id,
        obj=log,
        detail={"kind": kind},
    )
    return log


@transaction.atomic
def hours_sign_off(*, acting_user: User, log: HourLog) -> HourLog:
    """A supervisor vouches for the hours: the signer's role is part of what is recorded."""
    if log.user_id == acting_user.pk:
        raise ValidationError("Your own hours must be signed off by another supervisor.")
    require_actor_role(acting_user, *HOUR_SIGNERS)
    locked = HourLog.objects.select_for_update().get(pk=log.pk)
    if locked.signed_off_at is None:
        locked.signed_off_by = acting_user
        locked.signed_off_at = timezone.now()
        locked.save(update_fields=["signed_off_by", "signed_off_at"])
        audit_record(
            action="readiness.hours_signed_off",
            actor=acting_user,
            agency_id=locked.agency_id,
            obj=locked,
        )
    return locked


def certification_progress(user: User) -> dict[str, Any]:
    """Signed-off hours against the policy's certification (PR-11)."""
    cert_policy = user.home_agency.policy_model().recovery.certification
    totals = {k: Decimal(0) for k in HourKind.values}
    pending = Decimal(0)
    for kind, hours, signed in HourLog.objects.filter(user=user).values_list(
        "kind", "hours", "signed_off_at"
    ):
        if signed is None:
            pending += hours
        else:
            totals[kind] += hours
    supervision = totals["supervision"] + totals["ethics"]
    cert = Certification.objects.filter(user=user).first()
    return {
        "policy": cert_policy,
        # Beside the hours, what else the credential needs (PR-11): a diploma or GED and
        # the IC&RC exam — so a supervisor sees the whole picture on one screen.
        "education": cert.get_education_display() if cert else "Not yet recorded",
        "education_met": bool(cert and cert.education != "none"),
        "exam_result": cert.get_exam_result_display() if cert else "Not taken",
        "exam_date": cert.exam_date if cert else None,
        "exam_met": bool(cert and cert.exam_result == "passed"),
        "experience": totals["experience"],
        "supervision": supervision,
        "ethics": totals["ethics"],
        "pending": pending,
        "experience_met": bool(
            cert_policy and totals["experience"] >= cert_policy.experience_hours
        ),
        "supervision_met": bool(cert_policy and supervision >= cert_policy.supervision_hours),
        "ethics_met": bool(cert_policy and totals["ethics"] >= cert_policy.ethics_hours),
    }
