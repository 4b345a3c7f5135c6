"""Conflicting facts and double work, settled in one click (PR-2, issue 13).

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.recovery import vocab
from tandem.recovery.models import (
    Client,
    ClientFact,
    ConflictSettlement,
    Contact,
    PlannedContact,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .clients import _record_facts, client_update
from .common import _lock_client
from .outreach import _shred_all
from .plan import stage_record

# --- Conflicting facts and double work, settled in one click (PR-2, issue 13) --------------


def _settled(
    *,
    acting_user: User,
    client: Client,
    topic: str,
    outcome: str,
    day: date | None = None,
    detail: dict[str, Any] | None = None,
) -> ConflictSettlement:
    settlement = ConflictSettlement.objects.create(
        agency=client.agency,
        client=client,
        topic=topic,
        day=day,
        outcome=outcome,
        settled_by=acting_user,
    )
    audit_record(
        action="recovery.conflict_settle",
        actor=acting_user,
        obj=client,
        detail={
            "topic": topic,
            "day": day.isoformat() if day else "",
            "outcome": outcome,
            **(detail or {}),
        },
    )
    return settlement


def same_day(moment: datetime) -> tuple[date, datetime, datetime]:
    """The local day of ``moment`` and its bounds: the unit of double work."""
    day = timezone.localdate(moment)
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return day, start, start + timedelta(days=1)


def contacts_same_day(
    client: Client, moment: datetime, *, other_than: Any = None, exclude_pk: int | None = None
) -> QuerySet[Contact]:
    """Contacts with ``client`` on the local day of ``moment`` — recorded by somebody other
    than ``other_than`` when given. The one rule for double logging: the warning while a
    contact is logged and the Deconflict list both use it, and a day somebody confirmed as
    separate encounters is no longer listed."""
    day, start, end = same_day(moment)
    found = Contact.objects.filter(client=client, occurred_at__gte=start, occurred_at__lt=end)
    if other_than is not None:
        found = found.exclude(recorded_by=other_than)
    if exclude_pk:
        found = found.exclude(pk=exclude_pk)
    return found.select_related("recorded_by").order_by("occurred_at", "pk")


def visits_same_day(
    client: Client, moment: datetime, *, exclude_pk: int | None = None
) -> QuerySet[PlannedContact]:
    """Live visits to ``client`` planned on the local day of ``moment``: the rule of the
    warning after planning a visit and of the Deconflict list ("visits planned twice")."""
    _, start, end = same_day(moment)
    found = PlannedContact.objects.filter(client=client, starts_at__gte=start, starts_at__lt=end)
    if exclude_pk:
        found = found.exclude(pk=exclude_pk)
    return found.exclude(status=vocab.PlanStatus.CANCELLED).order_by("starts_at", "pk")


@transaction.atomic
def conflict_settle(
    *, acting_user: User, client: Client, topic: str, choice: str, day: date | None = None
) -> ConflictSettlement:
    """Settle one conflict: keep one of the values recorded (stage, phone, address,
    status), confirm that same-day contacts or visits are separate, or remove a contact
    logged twice. Audited; the conflict is not listed again."""
    _lock_client(client.pk)
    client = Client.objects.select_related("data_key").get(pk=client.pk)
    if client.merged_into_id:
        raise ValidationError("This record was merged into another; settle it there.")
    # The settlement is written first: what is recorded from now on, the settled value
    # included, is what a later disagreement is measured against.
    if topic == vocab.ConflictTopic.STAGE:
        if choice not in vocab.Stage.values:
            raise ValidationError("Choose a stage of change from the list.")
        settlement = _settled(acting_user=acting_user, client=client, topic=topic, outcome=choice)
        stage_record(acting_user=acting_user, client=client, stage=choice)
        return settlement
    if topic == vocab.ConflictTopic.STATUS:
        if choice not in vocab.ClientStatus.values:
            raise ValidationError("Choose a status from the list.")
        return _settle_value(acting_user, client, topic, choice, choice, {})
    if topic in (vocab.ConflictTopic.PHONE, vocab.ConflictTopic.ADDRESS):
        fact = (
            ClientFact.objects.filter(
                client=client, field=topic, pk=int(choice) if choice.isdigit() else 0
            )
            .select_related("data_key")
            .first()
        )
        if fact is None:
            raise ValidationError("Choose one of the values recorded.")
        return _settle_value(
            acting_user, client, topic, fact.value or "", "kept", {"fact": fact.pk}
        )
    if day is None:
        raise ValidationError("Choose the day to settle.")
    if topic == vocab.ConflictTopic.VISITS and choice == "separate":
        return _settled(
            acting_user=acting_user, client=client, topic=topic, day=day, outcome="separate"
        )
    if topic == vocab.ConflictTopic.CONTACTS and choice == "separate":
        return _settled(
            acting_user=acting_user, client=client, topic=topic, day=day, outcome="separate"
        )
    if topic == vocab.ConflictTopic.CONTACTS and choice.startswith("remove:"):
        return _contact_remove_twin(acting_user, client, day, choice.removeprefix("remove:"))
    raise ValidationError("Choose how to settle this.")


def _settle_value(
    acting_user: User, client: Client, name: str, value: str, outcome: str, detail: dict[str, Any]
) -> ConflictSettlement:
    settlement = _settled(
        acting_user=acting_user, client=client, topic=name, outcome=outcome, detail=detail
    )
    if str(getattr(client, name) or "") != value:
        client_update(
            acting_user=acting_user, client=client, data={name: value}, version=client.version
        )
    else:
        _record_facts(client, acting_user, [name])
    return settlement


def _contact_remove_twin(
    acting_user: User, client: Client, day: date, pk: str
) -> ConflictSettlement:
    """The same encounter logged twice: remove one record (its sealed notes shredded),
    keeping the other. Only a contact with another one that day may go."""
    contact = (
        Contact.objects.select_related("data_key")
        .filter(client=client, pk=int(pk) if pk.isdigit() else 0)
        .first()
    )
    if contact is None or same_day(contact.occurred_at)[0] != day:
        raise ValidationError("Choose one of the contacts logged that day.")
    twins = contacts_same_day(client, contact.occurred_at, exclude_pk=contact.pk)
    kept = twins.first()
    if kept is None:
        raise ValidationError("This is the only contact logged that day; nothing to remove.")
    detail = {"removed": contact.pk, "kept": kept.pk, "kind": contact.kind}
    _shred_all([contact], "the same encounter logged twice")
    contact.delete()
    return _settled(
        acting_user=acting_user,
        client=client,
        topic=vocab.ConflictTopic.CONTACTS,
        day=day,
        outcome="removed",
        detail=detail,
    )
