"""Overdoses, naloxone, outreach, public statements.

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Model
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.core.models import EnvelopeEncrypted
from tandem.recovery import vocab
from tandem.recovery.models import (
    CLIENT_RECORDS,
    Client,
    ClientFact,
    NaloxoneKit,
    OutreachEvent,
    OverdoseResponse,
    Referral,
    StatementRequest,
    Submission,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .common import _claim, _lock_client

# --- Overdoses, naloxone, outreach, public statements ------------------------------------


@transaction.atomic
def overdose_create(
    *, acting_user: User, data: dict[str, Any], idempotency_key: str = ""
) -> OverdoseResponse:
    if data["occurred_at"] > timezone.now() + timedelta(minutes=15):
        raise ValidationError({"occurred_at": "An overdose response cannot be in the future."})
    if data.get("naloxone_given") and not data.get("naloxone_doses"):
        raise ValidationError({"naloxone_doses": "Give the number of naloxone doses."})
    _claim(acting_user.home_agency, idempotency_key)
    record = OverdoseResponse(agency=acting_user.agency, recorded_by=acting_user)
    for key in (
        "occurred_at",
        "location",
        "latitude",
        "longitude",
        "fatal",
        "naloxone_given",
        "naloxone_doses",
        "suspected_drug",
        "case_number",
        "client",
    ):
        if key in data:
            setattr(record, key, data[key])
    if not record.naloxone_given:
        record.naloxone_doses = 0
    record.save()
    audit_record(
        action="recovery.overdose_create",
        actor=acting_user,
        obj=record,
        detail={"fatal": record.fatal},
    )
    return record


@transaction.atomic
def naloxone_kit_create(
    *,
    acting_user: User,
    given_on: date,
    quantity: int,
    recipient_type: str,
    client: Client | None = None,
    idempotency_key: str = "",
) -> NaloxoneKit:
    if given_on > timezone.localdate():
        raise ValidationError({"given_on": "The date cannot be in the future."})
    _claim(acting_user.home_agency, idempotency_key)
    kit = NaloxoneKit.objects.create(
        agency=acting_user.home_agency,
        given_on=given_on,
        quantity=quantity,
        recipient_type=recipient_type,
        client=client,
        given_by=acting_user,
    )
    audit_record(
        action="recovery.naloxone_kit",
        actor=acting_user,
        obj=kit,
        detail={"quantity": quantity},
    )
    return kit


@transaction.atomic
def outreach_create(
    *, acting_user: User, data: dict[str, Any], idempotency_key: str = ""
) -> OutreachEvent:
    _claim(acting_user.home_agency, idempotency_key)
    event = OutreachEvent(agency=acting_user.agency, recorded_by=acting_user)
    for key in ("held_on", "title", "audience", "attendance", "topics"):
        setattr(event, key, data[key])
    event.save()
    audit_record(
        action="recovery.outreach_create",
        actor=acting_user,
        obj=event,
        detail={"audience": event.audience},
    )
    return event


@transaction.atomic
def statement_request_create(
    *, acting_user: User, venue: str, planned_on: date, summary: str, idempotency_key: str = ""
) -> StatementRequest:
    if planned_on < timezone.localdate():
        raise ValidationError({"planned_on": "The date has already passed."})
    _claim(acting_user.home_agency, idempotency_key)
    request = StatementRequest.objects.create(
        agency=acting_user.home_agency,
        requested_by=acting_user,
        venue=venue.strip(),
        planned_on=planned_on,
        summary=summary.strip(),
    )
    audit_record(
        action="recovery.statement_request",
        actor=acting_user,
        obj=request,
    )
    from tandem.accounts.models import User
    from tandem.core.notifications import notify

    chiefs = User.objects.filter(
        agency=acting_user.agency,
        is_active=True,
        role_assignments__role="chief",
        role_assignments__agency=acting_user.agency,
    ).distinct()
    for chief in chiefs:
        notify(kind="recovery.reminder", recipient_user=chief, agency=acting_user.agency)
    return request


@transaction.atomic
def statement_decide(
    *, acting_user: User, statement: StatementRequest, approve: bool, note: str = ""
) -> StatementRequest:
    current = StatementRequest.objects.select_for_update().get(pk=statement.pk)
    if current.status != vocab.StatementStatus.PENDING:
        raise ValidationError("This request was already decided.")
    if not approve and not note.strip():
        raise ValidationError("Say why the request is refused.")
    current.status = vocab.StatementStatus.APPROVED if approve else vocab.StatementStatus.REFUSED
    current.decided_by = acting_user
    current.decided_at = timezone.now()
    current.decision_note = note.strip()
    current.save(update_fields=["status", "decided_by", "decided_at", "decision_note"])
    audit_record(
        action="recovery.statement_decide",
        actor=acting_user,
        obj=current,
        detail={"status": current.status},
    )
    return current


def overdose_export_log(*, acting_user: User, count: int) -> None:
    with transaction.atomic():
        audit_record(
            action="recovery.overdose_export",
            actor=acting_user,
            agency_id=acting_user.agency_id,
            detail={"rows": count},
        )


def follow_up_reminders_send(on: date | None = None) -> int:
    """Each day, one content-free reminder to every ARO and PRS with referral follow-ups due
    or visits planned that day (X-8: the message only says "open Tandem")."""
    from tandem.accounts.models import User
    from tandem.core.notifications import notify
    from tandem.recovery.models import PlannedContact

    day = on or timezone.localdate()
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    open_statuses = [s for s, nxt in vocab.REFERRAL_NEXT.items() if nxt]
    due = Referral.objects.filter(status__in=open_statuses, follow_up_on__lte=day)
    visits = PlannedContact.objects.filter(
        status=vocab.PlanStatus.PLANNED,
        starts_at__gte=start,
        starts_at__lt=start + timedelta(days=1),
    )
    ids = set(due.values_list("client__aro_id", flat=True))
    ids |= set(due.values_list("client__prs_id", flat=True))
    ids |= set(visits.values_list("aro_id", flat=True)) | set(
        visits.values_list("prs_id", flat=True)
    )
    ids.discard(None)
    sent = 0
    for user in User.objects.filter(pk__in=ids, is_active=True).select_related("agency"):
        with transaction.atomic():
            notify(kind="recovery.reminder", recipient_user=user, agency=user.agency)
            audit_record(
                action="recovery.reminder_sent",
                agency_id=user.agency_id,
                obj=user,
            )
        sent += 1
    return sent


def submissions_purge(days: int = 7) -> int:
    """Forget one-time form keys after a week: a double submit arrives within seconds."""
    cutoff = timezone.now() - timedelta(days=days)
    deleted, _ = Submission.objects.filter(created_at__lt=cutoff).delete()
    return int(deleted)


def _shred_all(records: Iterable[Any], reason: str) -> None:
    for record in records:
        if record.data_key_id is not None and not record.is_shredded:
            record.shred(reason=reason)


#: What a purge crypto-shreds: every sealed record of the client but its overdose responses
#: (they stay, unlinked, for the grant figures), and the facts recorded about it.
PURGE_SHREDS: tuple[type[Model], ...] = (
    *(m for m in CLIENT_RECORDS if issubclass(m, EnvelopeEncrypted) and m is not OverdoseResponse),
    ClientFact,
)


def client_purge(*, client: Client, reason: str, acting_user: User | None = None) -> None:
    """Crypto-shred every sealed value of one client, then delete the client and all that
    hangs off it (X-6). Overdose responses and kits stay, unlinked, for the grant figures."""
    with transaction.atomic():
        _lock_client(client.pk)
        for model in PURGE_SHREDS:
            _shred_all(
                model._default_manager.filter(**{"client": client}).select_related("data_key"),
                reason,
            )
        _shred_all([client], reason)
        audit_record(
            action="recovery.client_purged",
            actor=acting_user,
            obj=client,
            detail={"reason": reason},
        )
        client.delete()


def records_purge(now: datetime | None = None) -> int:
    """Purge clients no longer active whose record was untouched, and who had no contact,
    for the agency's ``retention.recovery_record_days``."""
    from tandem.agencies.models import Agency

    moment = now or timezone.now()
    purged = 0
    for agency in Agency.objects.all():
        days = agency.policy_model().retention.recovery_record_days
        cutoff = moment - timedelta(days=days)
        stale = (
            Client.objects.filter(agency=agency, updated_at__lt=cutoff, created_at__lt=cutoff)
            .exclude(status=vocab.ClientStatus.ACTIVE)
            .exclude(contacts__occurred_at__gte=cutoff)
            .select_related("data_key")
        )
        for client in stale:
            client_purge(client=client, reason=f"retention: {days} days without activity")
            purged += 1
    return purged
