"""Limits of confidentiality.

Part of ``tandem.support.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tandem.accounts.models import User, users_with_role
from tandem.agencies.models import Agency, Role
from tandem.audit.services import audit_record
from tandem.core.notifications import notify
from tandem.support import vocab
from tandem.support.models import (
    BreachAcknowledgement,
    BreachReport,
    Consultation,
    DutyToReportNotice,
)

from .common import DUTY_RENOTIFY_AFTER
from .profiles import profile_for

# --- Limits of confidentiality ----------------------------------------------------------


def exception_choices(agency: Agency, user: User) -> list[tuple[str, str]]:
    policy = agency.policy_model()
    return [
        (e.code, e.label) for e in policy.exceptions_for(supervisor=user.has_role(Role.SUPERVISOR))
    ]


def exception_labels(agency: Agency) -> dict[str, str]:
    """Every exception of the agency's policy, supervisors' duties included: code → label."""
    return {e.code: e.label for e in agency.policy_model().confidentiality.exceptions}


def _roles_users(agency: Agency, roles: Iterable[str]) -> list[User]:
    return list(users_with_role(agency, list(roles)))


@transaction.atomic
def duty_file(
    *,
    acting_user: User,
    category: str,
    emergency: bool,
    subject: dict[str, Any],
    self_disclosure_due: date | None,
) -> DutyToReportNotice:
    agency = acting_user.home_agency
    if category not in dict(exception_choices(agency, acting_user)):
        raise ValidationError("Choose one of your agency's exceptions to confidentiality.")
    if not emergency:
        if self_disclosure_due is None:
            raise ValidationError("Set a date by which the member will self-disclose.")
        if self_disclosure_due < timezone.localdate():
            raise ValidationError("The self-disclosure date cannot be in the past.")
    notice = DutyToReportNotice.objects.create(  # type: ignore[misc]  # encrypted JSON
        agency=agency,
        filed_by=profile_for(acting_user),
        category=category,
        emergency=emergency,
        subject=subject,
        self_disclosure_due=None if emergency else self_disclosure_due,
    )
    if emergency:
        for user in _roles_users(agency, [Role.COORDINATOR, Role.PSYCHOLOGIST]):
            notify(
                kind="psp.duty_to_report",
                recipient_user=user,
                agency=agency,
                channels=("sms", "email"),
            )
    audit_record(
        action="psp.duty.filed",
        actor=acting_user,
        agency_id=agency.pk,
        obj=notice,
        detail={"category": category, "emergency": emergency},
    )
    return notice


def _duty_renotify(now: datetime) -> int:
    count = 0
    due = DutyToReportNotice.objects.select_related("agency").filter(
        emergency=True,
        status=vocab.DutyStatus.OPEN,
        last_notified_at__lte=now - DUTY_RENOTIFY_AFTER,
    )
    for notice in due:
        with transaction.atomic():
            for user in _roles_users(notice.agency, [Role.COORDINATOR, Role.PSYCHOLOGIST]):
                notify(
                    kind="psp.duty_to_report",
                    recipient_user=user,
                    agency=notice.agency,
                    channels=("sms", "email"),
                )
            DutyToReportNotice.objects.filter(pk=notice.pk).update(last_notified_at=now)
            audit_record(
                action="psp.duty.renotified",
                actor=None,
                agency_id=notice.agency_id,
                obj=notice,
            )
            count += 1
    return count


@transaction.atomic
def duty_acknowledge(*, acting_user: User, notice: DutyToReportNotice) -> None:
    locked = DutyToReportNotice.objects.select_for_update(of=("self",)).get(pk=notice.pk)
    if locked.status != vocab.DutyStatus.OPEN:
        return
    locked.status = vocab.DutyStatus.ACKNOWLEDGED
    locked.acknowledged_by = acting_user
    locked.acknowledged_at = timezone.now()
    locked.save(update_fields=["status", "acknowledged_by", "acknowledged_at"])
    audit_record(
        action="psp.duty.acknowledged",
        actor=acting_user,
        agency_id=locked.agency_id,
        obj=locked,
    )


@transaction.atomic
def duty_resolve(*, acting_user: User, notice: DutyToReportNotice) -> None:
    locked = (
        DutyToReportNotice.objects.select_for_update(of=("self",))
        .select_related("data_key")
        .get(pk=notice.pk)
    )
    if locked.status == vocab.DutyStatus.RESOLVED:
        return
    locked.status = vocab.DutyStatus.RESOLVED
    locked.resolved_at = timezone.now()
    if locked.acknowledged_at is None:
        locked.acknowledged_at = locked.resolved_at
        locked.acknowledged_by = acting_user
    locked.save(update_fields=["status", "resolved_at", "acknowledged_at", "acknowledged_by"])
    locked.shred(acting_user=acting_user, reason="duty-to-report notice resolved")
    audit_record(
        action="psp.duty.resolved",
        actor=acting_user,
        agency_id=locked.agency_id,
        obj=locked,
    )


@transaction.atomic
def consultation_ask(*, acting_user: User, category: str) -> Consultation:
    agency = acting_user.home_agency
    if category not in dict(exception_choices(agency, acting_user)):
        raise ValidationError("Choose one of your agency's exceptions to confidentiality.")
    item = Consultation.objects.create(
        agency=agency, asked_by=profile_for(acting_user), category=category
    )
    role = agency.policy_model().confidentiality.consult_role
    for user in _roles_users(agency, [role]):
        if user.pk != acting_user.pk:
            notify(kind="psp.consultation", recipient_user=user, agency=agency)
    audit_record(
        action="psp.consultation.asked",
        actor=acting_user,
        agency_id=agency.pk,
        obj=item,
        detail={"category": category},
    )
    return item


@transaction.atomic
def consultation_answer(*, acting_user: User, consultation: Consultation, answer: str) -> None:
    if answer not in vocab.ConsultationAnswer.values:
        raise ValidationError("Choose an answer.")
    consultation.answer = answer
    consultation.answered_by = acting_user
    consultation.answered_at = timezone.now()
    consultation.save(update_fields=["answer", "answered_by", "answered_at"])
    audit_record(
        action="psp.consultation.answered",
        actor=acting_user,
        agency_id=consultation.agency_id,
        obj=consultation,
        detail={"answer": answer},
    )


@transaction.atomic
def breach_report(*, acting_user: User, kind: str, occurred_on: date) -> BreachReport:
    agency = acting_user.home_agency
    if occurred_on > timezone.localdate():
        raise ValidationError("The date of the breach cannot be in the future.")
    item = BreachReport.objects.create(
        agency=agency, reported_by=acting_user, kind=kind, occurred_on=occurred_on
    )
    roles = agency.policy_model().confidentiality.breach_notify
    for user in _roles_users(agency, roles):
        notify(kind="psp.breach", recipient_user=user, agency=agency)
    audit_record(
        action="psp.breach.reported",
        actor=acting_user,
        agency_id=agency.pk,
        obj=item,
        detail={"kind": kind},
    )
    return item


def breach_readers(agency: Agency) -> tuple[str, ...]:
    """The roles the agency's policy notifies of a breach (GO 702 .38: the Wellness Unit
    Sergeant — the coordinator — and the psychologist)."""
    return tuple(agency.policy_model().confidentiality.breach_notify)


@transaction.atomic
def breach_acknowledge(*, acting_user: User, report: BreachReport) -> BreachAcknowledgement:
    """One of the people notified has read the report. Idempotent per person."""
    ack, created = BreachAcknowledgement.objects.get_or_create(report=report, user=acting_user)
    if created:
        audit_record(
            action="psp.breach.acknowledged",
            actor=acting_user,
            agency_id=report.agency_id,
            obj=report,
        )
    return ack
