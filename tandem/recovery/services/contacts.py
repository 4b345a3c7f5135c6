"""Contacts.

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from tandem.agencies.access import require_actor_role
from tandem.agencies.models import Role
from tandem.audit.services import audit_record
from tandem.core.when import when
from tandem.recovery import vocab
from tandem.recovery.models import (
    Client,
    Contact,
    PatrolCall,
    PlannedContact,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .clients import _apply
from .common import CONTACT_FIELDS, STALE_MESSAGE, StaleEdit
from .conflicts import _settled, same_day

# --- Contacts -----------------------------------------------------------------------------


def _checked_on_scene(contact: Contact) -> bool:
    """A contact on a patrol call carries the officer's on-scene check instead of a plan."""
    if getattr(contact, "_on_scene_check", False):
        return True
    return contact.pk is not None and PatrolCall.objects.filter(contact_id=contact.pk).exists()


def _check_contact(contact: Contact, client: Client) -> None:
    errors: dict[str, str] = {}
    if timezone.localdate(contact.occurred_at) < timezone.localdate(client.created_at):
        errors["occurred_at"] = (
            f"This client was registered on {when(timezone.localdate(client.created_at))}; "
            "a contact cannot be dated before that."
        )
    elif contact.occurred_at > timezone.now() + timedelta(minutes=15):
        errors["occurred_at"] = "A contact cannot be dated in the future."
    planned = contact.planned
    if planned is not None and planned.client_id != client.pk:
        errors["planned"] = "That planned visit is for another client."
    elif planned is not None and planned.closed and not _is_own_visit(contact, planned):
        errors["planned"] = (
            "That planned visit is already closed (done or cancelled): a planned visit "
            "covers one contact. Plan a new visit."
        )
    elif vocab.needs_safety_gate(
        kind=contact.kind, location_type=contact.location_type, prs_present=contact.prs_present
    ) and not _checked_on_scene(contact):
        gate_error = _safety_gate_error(contact, planned)
        if gate_error and planned is None and contact.kind in vocab.DESK_KINDS:
            # A phone call or office visit left at a field location (the form's first
            # choice is Home): name the fix rather than ask for a planned visit.
            errors["location_type"] = (
                f"A {vocab.ContactKind(contact.kind).label.lower()} contact is recorded "
                f"“{vocab.LocationType.PHONE.label}” or at the "
                f"“{vocab.LocationType.OFFICE.label}”: choose that location. Anywhere else it "
                "is a contact in the field, and with the PRS present it needs the planned "
                "visit for which the ARO recorded a complete safety assessment."
            )
        elif gate_error:
            errors["planned"] = gate_error
    if set(contact.services or []) - set(vocab.ContactService.values):
        errors["services"] = "Choose services from the list."
    if errors:
        raise ValidationError(errors)


def _is_own_visit(contact: Contact, planned: PlannedContact) -> bool:
    """An existing contact keeps the (now done) planned visit it was logged against."""
    return (
        contact.pk is not None
        and Contact.objects.filter(pk=contact.pk, planned_id=planned.pk).exists()
    )


def _safety_gate_error(contact: Contact, planned: PlannedContact | None) -> str:
    """Why the PRS may not be part of this contact, or "" when the ARO's gate is open.

    The gate is read on the planned visit itself, whatever kind or company it was planned
    with: the latest assessment (at the moment the contact was recorded) must be all clear,
    and the contact cannot be dated before the first all-clear assessment."""
    if planned is None:
        return (
            "A contact in the field with the PRS present needs the planned visit for which "
            "the ARO recorded a complete safety assessment."
        )
    recorded_at = contact.created_at if contact.pk is not None else timezone.now()
    latest = planned.latest_assessment(recorded_at)
    if latest is None:
        return (
            "The PRS may not take part until the ARO records a complete safety assessment "
            "for this planned visit."
        )
    if not latest.all_clear:
        return (
            "The latest safety assessment of this visit is not all clear: the PRS may not "
            "take part until the ARO records a complete reassessment."
        )
    first = planned.first_all_clear_at()
    # Forms give minutes; the assessment's own minute counts as after it.
    if first is not None and contact.occurred_at < first.replace(second=0, microsecond=0):
        return (
            "The contact is dated before the ARO's first complete safety assessment "
            f"({when(first, 'datetime')}); the PRS may not take part "
            "before it."
        )
    return ""


class KeyUsedForAnotherClient(ValidationError):
    """A form's one-time key came back for a different client: refuse, write nothing."""


KEY_OTHER_CLIENT = (
    "This form was already used to record something for another client. Nothing was "
    "saved: open the form again from this client's page."
)


M = TypeVar("M", bound=Model)


def _existing_for_client(model: type[M], client: Client, key: str) -> M | None:
    """The record written earlier with this one-time key, if it was for ``client``."""
    existing = model._default_manager.filter(agency=client.agency, idempotency_key=key).first()
    if existing is not None and getattr(existing, "client_id", None) != client.pk:
        raise KeyUsedForAnotherClient(KEY_OTHER_CLIENT)
    return existing


def _unsaved_contact(acting_user: User, client: Client, key: str, **values: Any) -> Contact:
    return Contact(
        agency=client.agency,
        client=client,
        recorded_by=acting_user,
        idempotency_key=key,
        **values,
    )


@transaction.atomic
def contact_create(
    *,
    acting_user: User,
    client: Client,
    data: dict[str, Any],
    idempotency_key: str = "",
    separate_from_same_day: bool = False,
) -> Contact:
    """Record a contact. ``separate_from_same_day``: the person logging it confirmed that it
    is not the encounter somebody else logged that day, so the day is settled at once."""
    earlier = _existing_for_client(Contact, client, idempotency_key) if idempotency_key else None
    if earlier is not None:
        return earlier
    contact = _unsaved_contact(acting_user, client, idempotency_key)
    _apply(contact, data, CONTACT_FIELDS)
    if contact.planned is not None:
        # Lock the visit: two contacts logged at once cannot both use it.
        contact.planned = PlannedContact.objects.select_for_update().get(pk=contact.planned.pk)
    _check_contact(contact, client)
    try:
        with transaction.atomic():
            contact.save()
    except IntegrityError:
        existing = _existing_for_client(Contact, client, idempotency_key)
        if existing is None:
            raise
        return existing
    planned = contact.planned
    if planned is not None and planned.status != vocab.PlanStatus.DONE:
        planned.status = vocab.PlanStatus.DONE
        planned.save(update_fields=["status"])
    audit_record(
        action="recovery.contact_create",
        actor=acting_user,
        obj=contact,
        detail={"client": client.pk, "kind": contact.kind, "outcome": contact.outcome},
    )
    if separate_from_same_day:
        _settled(
            acting_user=acting_user,
            client=client,
            topic=vocab.ConflictTopic.CONTACTS,
            day=same_day(contact.occurred_at)[0],
            outcome="separate",
            detail={"contact": contact.pk},
        )
    return contact


@transaction.atomic
def patrol_call_record(
    *,
    acting_user: User,
    client: Client,
    call_type: str,
    officer: Any,
    confirmed: list[str],
    duration_minutes: int = 0,
    services: list[str] | None = None,
    outcome: str = vocab.ContactOutcome.ENGAGED,
    notes: str = "",
    idempotency_key: str = "",
) -> Contact:
    """An embedded peer's unscheduled contact on a patrol call, with the officer's on-scene
    safety check recorded now. Every item of the check must be confirmed, or nothing is
    written: the peer does not join until the officer says the scene is safe."""
    require_actor_role(
        acting_user,
        Role.PRS,
        Role.ARO,
        agency_id=client.agency_id,
        message="Only the program's peer or officer records a patrol call.",
    )
    if call_type not in vocab.PatrolCallType.values:
        raise ValidationError({"call_type": "Choose the type of call."})
    if officer is None or officer.agency_id != client.agency_id or not officer.is_sworn:
        raise ValidationError({"officer": "Choose the sworn officer on the call."})
    # The agency's own safety checklist (West Virginia: call screened, scene secured by the
    # officer, naloxone carried, safety reassessed), confirmed on scene at this moment.
    checklist = list(client.agency.policy_model().recovery.safety_checklist)
    missing = [item for item in checklist if item not in confirmed]
    if missing:
        raise ValidationError(
            "The peer may not join the call until the officer confirms: " + "; ".join(missing) + "."
        )
    now = timezone.now()
    earlier = _existing_for_client(Contact, client, idempotency_key) if idempotency_key else None
    if earlier is not None:
        return earlier
    contact = _unsaved_contact(
        acting_user,
        client,
        idempotency_key,
        kind=vocab.ContactKind.PATROL_ASSIST,
        occurred_at=now,
        duration_minutes=duration_minutes,
        aro_present=acting_user.has_role(Role.ARO),
        prs_present=True,
        location_type=vocab.LocationType.STREET,
        services=list(services or []),
        outcome=outcome,
        notes=notes,
    )
    contact._on_scene_check = True  # type: ignore[attr-defined]
    _check_contact(contact, client)
    contact.save()
    PatrolCall.objects.create(
        agency=client.agency,
        contact=contact,
        call_type=call_type,
        officer=officer,
        safety_checklist=dict.fromkeys(checklist, True),
        safety_checked_at=now,
        recorded_by=acting_user,
    )
    audit_record(
        action="recovery.patrol_call",
        actor=acting_user,
        obj=contact,
        detail={"client": client.pk, "call_type": call_type},
    )
    return contact


@transaction.atomic
def contact_update(
    *, acting_user: User, contact: Contact, data: dict[str, Any], version: int
) -> Contact:
    current = (
        Contact.objects.select_for_update(of=("self",))
        .select_related("data_key", "client")
        .get(pk=contact.pk)
    )
    if current.version != version:
        raise StaleEdit(STALE_MESSAGE)
    changed = _apply(current, data, CONTACT_FIELDS)
    if "planned" in changed and current.planned is not None:
        current.planned = PlannedContact.objects.select_for_update().get(pk=current.planned.pk)
    _check_contact(current, current.client)
    current.version += 1
    current.save()
    if "planned" in changed and current.planned is not None:
        # The newly linked visit is used up, like one logged against at creation.
        current.planned.status = vocab.PlanStatus.DONE
        current.planned.save(update_fields=["status"])
    audit_record(
        action="recovery.contact_update",
        actor=acting_user,
        obj=current,
        detail={"fields": sorted(changed)},
    )
    return current
