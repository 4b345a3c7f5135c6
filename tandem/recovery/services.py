"""Every recovery write (and every sensitive read): atomic, audited in the same transaction.

Views, the demo loader and tests call these; none of them writes a recovery row directly.
Audit details carry ids and closed codes only, never names, notes or CJI text.
"""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from tandem.agencies.access import require_actor_role
from tandem.agencies.models import Role
from tandem.audit.services import audit_record
from tandem.core.when import when
from tandem.recovery import vocab
from tandem.recovery.access import can_read_cji, is_sworn_program
from tandem.recovery.models import (
    CJIEntry,
    Client,
    ClientFact,
    ClientMerge,
    ConflictSettlement,
    Consent,
    Contact,
    Disclosure,
    Goal,
    ImportBatch,
    MatchCandidate,
    MatchRun,
    NaloxoneKit,
    OutreachEvent,
    OverdoseResponse,
    PatrolCall,
    PersonnelEvaluation,
    PlannedContact,
    Referral,
    Resource,
    SafetyAssessment,
    StageAssessment,
    StatementRequest,
    Submission,
    SwornNote,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User

STALE_MESSAGE = (
    "Someone else saved this record after you opened the form. Your changes were not saved; "
    "they are still in the form below. Review the newer values saved in the meantime, "
    "shown under the form, then save again."
)
CLIENT_FIELDS = (
    "first_name",
    "last_name",
    "aliases",
    "date_of_birth",
    "phone",
    "address",
    "gender",
    "race",
    "ethnicity",
    "veteran",
    "substances",
    "notes",
    "status",
    "aro",
    "prs",
)
CONTACT_FIELDS = (
    "kind",
    "occurred_at",
    "duration_minutes",
    "aro_present",
    "prs_present",
    "location_type",
    "services",
    "outcome",
    "arrest_diverted",
    "notes",
    "planned",
)


class AlreadySubmitted(ValidationError):
    """The same form (same one-time key) was submitted before; nothing was written again."""


def _claim(agency: Any, key: str) -> None:
    """Claim a form's one-time key inside the caller's transaction (double-submit guard)."""
    if not key:
        return
    try:
        with transaction.atomic():
            Submission.objects.create(agency=agency, key=key)
    except IntegrityError:
        raise AlreadySubmitted("This form was already submitted.") from None


def _lock_client(pk: int) -> None:
    list(Client.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True))


class StaleEdit(ValidationError):
    """The form was based on an older version of the record (optimistic locking)."""


# --- Normalisation for search and de-duplication ------------------------------------------


def normalise_name(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text or "")
    plain = "".join(c for c in folded if not unicodedata.combining(c)).lower()
    return " ".join("".join(c if c.isalnum() else " " for c in plain).split())


def digits_of(phone: str) -> str:
    digits = "".join(c for c in phone or "" if c.isdigit())
    return digits[-10:]


def _name_key(client: Client) -> str:
    return normalise_name(f"{client.first_name} {client.last_name} | {client.aliases}")


# --- Clients -------------------------------------------------------------------------------


def _check_client(client: Client) -> None:
    if client.date_of_birth and client.date_of_birth > timezone.localdate():
        raise ValidationError({"date_of_birth": "The date of birth cannot be in the future."})
    for role, field in (("aro", "aro"), ("prs", "prs")):
        person = getattr(client, field)
        if person is not None and (
            person.agency_id != client.agency_id or not person.has_role(role)
        ):
            raise ValidationError({field: "Choose someone who holds this role in your agency."})


def _apply(obj: Any, data: dict[str, Any], fields: Iterable[str]) -> list[str]:
    changed = []
    for name in fields:
        if name in data and getattr(obj, name) != data[name]:
            setattr(obj, name, data[name])
            changed.append(name)
    return changed


def _set_photo(client: Client, photo: bytes | None, photo_type: str) -> None:
    if photo:
        client.photo = base64.b64encode(photo).decode("ascii")
        client.photo_type = photo_type


@transaction.atomic
def client_create(
    *,
    acting_user: User,
    data: dict[str, Any],
    photo: bytes | None = None,
    photo_type: str = "",
    idempotency_key: str = "",
) -> Client:
    agency = acting_user.agency
    if idempotency_key:
        existing = Client.objects.filter(agency=agency, idempotency_key=idempotency_key).first()
        if existing is not None:
            return existing
    client = Client(agency=agency, created_by=acting_user, idempotency_key=idempotency_key)
    _apply(client, data, CLIENT_FIELDS)
    _set_photo(client, photo, photo_type)
    _check_client(client)
    client.name_key = _name_key(client)
    client.phone_digits = digits_of(client.phone)
    try:
        with transaction.atomic():
            client.save()
    except IntegrityError:
        return Client.objects.get(agency=agency, idempotency_key=idempotency_key)
    _record_facts(client, acting_user, [f for f in vocab.FACT_FIELDS if getattr(client, f)])
    audit_record(
        action="recovery.client_create",
        actor=acting_user,
        obj=client,
        detail={"status": client.status},
    )
    return client


@transaction.atomic
def client_update(
    *,
    acting_user: User,
    client: Client,
    data: dict[str, Any],
    version: int,
    photo: bytes | None = None,
    photo_type: str = "",
) -> Client:
    current = (
        Client.objects.select_for_update(of=("self",)).select_related("data_key").get(pk=client.pk)
    )
    if current.version != version:
        raise StaleEdit(STALE_MESSAGE)
    changed = _apply(current, data, CLIENT_FIELDS)
    if photo:
        _set_photo(current, photo, photo_type)
        changed += ["photo", "photo_type"]
    _check_client(current)
    current.name_key = _name_key(current)
    current.phone_digits = digits_of(current.phone)
    current.version += 1
    current.updated_at = timezone.now()
    current.save()
    _record_facts(current, acting_user, [f for f in vocab.FACT_FIELDS if f in changed])
    audit_record(
        action="recovery.client_update",
        actor=acting_user,
        obj=current,
        detail={"fields": sorted(changed)},
    )
    return current


def _record_facts(client: Client, user: User, fields: Iterable[str]) -> None:
    """Remember who recorded each new phone, address or status (conflicting facts)."""
    for name in fields:
        fact = ClientFact(agency_id=client.agency_id, client=client, field=name,
                          recorded_by=user)
        fact.value = str(getattr(client, name) or "")
        fact.save()


@transaction.atomic
def client_flags_set(*, acting_user: User, client: Client, flags: list[str]) -> Client:
    allowed = set(vocab.SafetyFlag.values)
    if any(f not in allowed for f in flags):
        raise ValidationError("Choose safety flags from the list.")
    if not is_sworn_program(acting_user):
        raise ValidationError("Only a sworn officer of the program sets safety flags.")
    client.safety_flags = [f for f in vocab.SafetyFlag.values if f in flags]
    client.save(update_fields=["safety_flags"])
    audit_record(
        action="recovery.client_flags",
        actor=acting_user,
        obj=client,
        detail={"flags": client.safety_flags},
    )
    return client


def contact_view_log(*, acting_user: User, contact: Contact) -> None:
    """A read of a contact's notes (P3)."""
    with transaction.atomic():
        audit_record(
            action="recovery.contact_view",
            actor=acting_user,
            obj=contact,
            detail={"client": contact.client_id},
        )


def client_view_log(*, acting_user: User, client: Client) -> None:
    """A read of a client record (P3)."""
    with transaction.atomic():
        audit_record(
            action="recovery.client_view",
            actor=acting_user,
            obj=client,
        )


def client_photo_view_log(*, acting_user: User, client: Client) -> None:
    with transaction.atomic():
        audit_record(
            action="recovery.client_photo_view",
            actor=acting_user,
            obj=client,
        )


def referral_view_log(*, acting_user: User, referral: Referral) -> None:
    with transaction.atomic():
        audit_record(
            action="recovery.referral_view",
            actor=acting_user,
            obj=referral,
            detail={"client": referral.client_id},
        )


def consent_view_log(*, acting_user: User, consent: Consent) -> None:
    with transaction.atomic():
        audit_record(
            action="recovery.consent_view",
            actor=acting_user,
            obj=consent,
            detail={"client": consent.client_id},
        )


def disclosure_view_log(*, acting_user: User, disclosure: Disclosure) -> None:
    with transaction.atomic():
        audit_record(
            action="recovery.disclosure_view",
            actor=acting_user,
            obj=disclosure,
            detail={"client": disclosure.client_id},
        )


# --- Planned contacts and the safety gate (PR-6) -------------------------------------------


@transaction.atomic
def planned_create(
    *,
    acting_user: User,
    client: Client,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    aro: Any,
    prs: Any,
    with_prs: bool,
    idempotency_key: str = "",
) -> PlannedContact:
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "The visit must end after it starts."})
    _claim(client.agency, idempotency_key)
    planned = PlannedContact.objects.create(
        agency=client.agency,
        client=client,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        aro=aro,
        prs=prs,
        with_prs=with_prs,
        created_by=acting_user,
    )
    audit_record(
        action="recovery.planned_create",
        actor=acting_user,
        obj=planned,
        detail={"client": client.pk, "kind": kind},
    )
    return planned


@transaction.atomic
def planned_cancel(*, acting_user: User, planned: PlannedContact) -> PlannedContact:
    if planned.status in (vocab.PlanStatus.DONE, vocab.PlanStatus.CANCELLED):
        raise ValidationError("This visit is already closed.")
    planned.status = vocab.PlanStatus.CANCELLED
    planned.save(update_fields=["status"])
    audit_record(
        action="recovery.planned_cancel",
        actor=acting_user,
        obj=planned,
    )
    return planned


@transaction.atomic
def safety_assessment_record(
    *, acting_user: User, planned: PlannedContact, confirmed: list[str], reassessment: bool = False
) -> SafetyAssessment:
    """The ARO's checklist (000 C.1–C.2). A complete first assessment starts the visit."""
    if not is_sworn_program(acting_user):
        raise ValidationError("Only a sworn officer of the program records the safety assessment.")
    planned = PlannedContact.objects.select_for_update().get(pk=planned.pk)
    if planned.status in (vocab.PlanStatus.DONE, vocab.PlanStatus.CANCELLED):
        raise ValidationError("This visit is closed; plan a new one.")
    if reassessment and planned.status != vocab.PlanStatus.STARTED:
        raise ValidationError("A reassessment is recorded during a contact that has started.")
    items = list(planned.agency.policy_model().recovery.safety_checklist)
    checklist = {item: item in confirmed for item in items}
    all_clear = all(checklist.values())
    assessment = SafetyAssessment.objects.create(
        planned=planned,
        assessed_by=acting_user,
        reassessment=reassessment,
        checklist=checklist,
        all_clear=all_clear,
    )
    if all_clear and planned.status == vocab.PlanStatus.PLANNED:
        planned.status = vocab.PlanStatus.STARTED
        planned.started_at = timezone.now()
        planned.save(update_fields=["status", "started_at"])
    audit_record(
        action="recovery.safety_assessment",
        actor=acting_user,
        obj=planned,
        detail={"all_clear": all_clear, "reassessment": reassessment},
    )
    return assessment


@transaction.atomic
def planned_start(*, acting_user: User, planned: PlannedContact) -> PlannedContact:
    """Start a visit that needs no assessment, or refuse until the ARO recorded one."""
    planned = PlannedContact.objects.select_for_update().get(pk=planned.pk)
    if planned.status != vocab.PlanStatus.PLANNED:
        raise ValidationError("This visit has already started or is closed.")
    if not planned.safe_to_start():
        raise ValidationError(
            "A field contact with the PRS cannot start until the ARO records a complete "
            "safety assessment."
        )
    planned.status = vocab.PlanStatus.STARTED
    planned.started_at = timezone.now()
    planned.save(update_fields=["status", "started_at"])
    audit_record(
        action="recovery.planned_start",
        actor=acting_user,
        obj=planned,
    )
    return planned


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
        if gate_error:
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
    if idempotency_key:
        existing = _existing_for_client(Contact, client, idempotency_key)
        if existing is not None:
            return existing
    contact = Contact(
        agency=client.agency,
        client=client,
        recorded_by=acting_user,
        idempotency_key=idempotency_key,
    )
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
        _settled(acting_user=acting_user, client=client, topic=vocab.ConflictTopic.CONTACTS,
                 day=same_day(contact.occurred_at)[0], outcome="separate",
                 detail={"contact": contact.pk})
    return contact


@transaction.atomic
def patrol_call_record(
    *, acting_user: User, client: Client, call_type: str, officer: Any, confirmed: list[str],
    duration_minutes: int = 0, services: list[str] | None = None,
    outcome: str = vocab.ContactOutcome.ENGAGED, notes: str = "", idempotency_key: str = "",
) -> Contact:
    """An embedded peer's unscheduled contact on a patrol call, with the officer's on-scene
    safety check recorded now. Every item of the check must be confirmed, or nothing is
    written: the peer does not join until the officer says the scene is safe."""
    require_actor_role(acting_user, Role.PRS, Role.ARO, agency_id=client.agency_id,
                       message="Only the program's peer or officer records a patrol call.")
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
            "The peer may not join the call until the officer confirms: " + "; ".join(missing)
            + ".")
    now = timezone.now()
    if idempotency_key:
        existing = _existing_for_client(Contact, client, idempotency_key)
        if existing is not None:
            return existing
    contact = Contact(agency=client.agency, client=client, recorded_by=acting_user,
                      idempotency_key=idempotency_key, kind=vocab.ContactKind.PATROL_ASSIST,
                      occurred_at=now, duration_minutes=duration_minutes,
                      aro_present=acting_user.has_role(Role.ARO), prs_present=True,
                      location_type=vocab.LocationType.STREET, services=list(services or []),
                      outcome=outcome, notes=notes)
    contact._on_scene_check = True  # type: ignore[attr-defined]
    _check_contact(contact, client)
    contact.save()
    PatrolCall.objects.create(
        agency=client.agency, contact=contact, call_type=call_type, officer=officer,
        safety_checklist=dict.fromkeys(checklist, True),
        safety_checked_at=now, recorded_by=acting_user)
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


# --- Readiness and plan (PR-3) ------------------------------------------------------------


@transaction.atomic
def stage_record(
    *, acting_user: User, client: Client, stage: str, assessed_at: datetime | None = None
) -> StageAssessment:
    if stage not in vocab.Stage.values:
        raise ValidationError("Choose a stage of change from the list.")
    moment = assessed_at or timezone.now()
    if moment > timezone.now() + timedelta(minutes=15):
        raise ValidationError("An assessment cannot be dated in the future.")
    record = StageAssessment.objects.create(
        agency=client.agency,
        client=client,
        stage=stage,
        assessed_at=moment,
        assessed_by=acting_user,
    )
    audit_record(
        action="recovery.stage_record",
        actor=acting_user,
        obj=record,
        detail={"client": client.pk, "stage": stage},
    )
    return record


@transaction.atomic
def goal_create(
    *, acting_user: User, client: Client, text: str, target_on: date | None = None
) -> Goal:
    if not text.strip():
        raise ValidationError("Describe the goal.")
    goal = Goal.objects.create(
        agency=client.agency,
        client=client,
        text=text.strip(),
        target_on=target_on,
        created_by=acting_user,
    )
    audit_record(
        action="recovery.goal_create",
        actor=acting_user,
        obj=goal,
        detail={"client": client.pk},
    )
    return goal


@transaction.atomic
def goal_set_status(*, acting_user: User, goal: Goal, status: str) -> Goal:
    if status not in vocab.GoalStatus.values:
        raise ValidationError("Choose a status from the list.")
    goal.status = status
    goal.updated_at = timezone.now()
    goal.save(update_fields=["status", "updated_at"])
    audit_record(
        action="recovery.goal_status",
        actor=acting_user,
        obj=goal,
        detail={"status": status},
    )
    return goal


# --- Resources and referrals (PR-4) -------------------------------------------------------


@transaction.atomic
def resource_save(
    *,
    acting_user: User,
    data: dict[str, Any],
    resource: Resource | None = None,
    idempotency_key: str = "",
) -> Resource:
    agency = acting_user.agency
    _claim(agency, idempotency_key)
    name = str(data.get("name", "")).strip()
    clash = Resource.objects.filter(agency=agency, name__iexact=name)
    if resource is not None:
        clash = clash.exclude(pk=resource.pk)
    if clash.exists():
        raise ValidationError({"name": "An organisation with this name is already listed."})
    if resource is not None and resource.consents.exists():
        category = data.get("category", resource.category)
        if name != resource.name or category != resource.category:
            raise ValidationError(
                {
                    "name" if name != resource.name else "category": (
                        "This organisation is named in a signed consent, so its name and "
                        "category cannot change. If it became another organisation, add it "
                        "to the directory as a new entry."
                    )
                }
            )
    target = resource or Resource(agency=agency)
    for key in (
        "name",
        "category",
        "contact_name",
        "phone",
        "email",
        "address",
        "eligibility",
        "active",
    ):
        if key in data:
            setattr(target, key, data[key])
    target.name = name
    target.save()
    audit_record(
        action="recovery.resource_save",
        actor=acting_user,
        obj=target,
        detail={"category": target.category},
    )
    return target


def _same_agency_resource(client: Client, resource: Resource) -> None:
    if resource.agency_id != client.agency_id:
        raise ValidationError({"resource": "Choose an organisation from your agency's directory."})


@transaction.atomic
def referral_create(
    *,
    acting_user: User,
    client: Client,
    resource: Resource,
    follow_up_on: date | None = None,
    sent: bool = False,
    idempotency_key: str = "",
) -> Referral:
    _same_agency_resource(client, resource)
    _claim(client.agency, idempotency_key)
    if not resource.active:
        raise ValidationError({"resource": "This organisation is no longer in use."})
    today = timezone.localdate()
    referral = Referral(
        agency=client.agency,
        client=client,
        resource=resource,
        proposed_on=today,
        follow_up_on=follow_up_on,
        created_by=acting_user,
        history=[{"status": "proposed", "on": today.isoformat(), "by": acting_user.pk}],
    )
    referral.save()
    audit_record(
        action="recovery.referral_create",
        actor=acting_user,
        obj=referral,
        detail={"client": client.pk, "category": resource.category},
    )
    if sent:
        referral = referral_advance(
            acting_user=acting_user, referral=referral, status=vocab.ReferralStatus.SENT, on=today
        )
    return referral


@transaction.atomic
def referral_advance(
    *,
    acting_user: User,
    referral: Referral,
    status: str,
    on: date | None = None,
    reason: str = "",
    follow_up_on: date | None = None,
) -> Referral:
    current = (
        Referral.objects.select_for_update(of=("self",))
        .select_related("data_key")
        .get(pk=referral.pk)
    )
    allowed = vocab.REFERRAL_NEXT.get(current.status, ())
    if status not in allowed:
        labels = dict(vocab.ReferralStatus.choices)
        raise ValidationError(
            f"A referral that is {labels[current.status].lower()} cannot become "
            f"{labels.get(status, status).lower()}."
        )
    step_on = on or timezone.localdate()
    last = max(date.fromisoformat(step["on"]) for step in current.history)
    if step_on < last:
        raise ValidationError(f"The date cannot be before the previous step ({when(last)}).")
    if step_on > timezone.localdate():
        raise ValidationError("The date cannot be in the future.")
    if status in vocab.REFERRAL_NEEDS_REASON and not reason.strip():
        raise ValidationError("Give the reason.")
    current.status = status
    setattr(current, f"{status}_on", step_on)
    if reason.strip():
        current.reason = reason.strip()
    current.follow_up_on = follow_up_on if not current.closed else None
    current.history = [
        *current.history,
        {"status": status, "on": step_on.isoformat(), "by": acting_user.pk},
    ]
    current.save()
    audit_record(
        action="recovery.referral_advance",
        actor=acting_user,
        obj=current,
        detail={"status": status},
    )
    return current


# --- Consent and disclosures (42 CFR Part 2) ----------------------------------------------


@transaction.atomic
def consent_create(
    *, acting_user: User, client: Client, data: dict[str, Any], idempotency_key: str = ""
) -> Consent:
    recipient = data["recipient"]
    _same_agency_resource(client, recipient)
    errors: dict[str, str] = {}
    if data.get("expires_on") and data["expires_on"] < data["starts_on"]:
        errors["expires_on"] = "The consent cannot expire before it starts."
    if not data.get("expires_on") and not str(data.get("expiry_event", "")).strip():
        errors["expiry_event"] = "Give an expiry date or the event on which consent ends."
    if not data.get("information"):
        errors["information"] = "Say what information may be disclosed."
    if data.get("signed_on") and data["signed_on"] > timezone.localdate():
        errors["signed_on"] = "The signature date cannot be in the future."
    if errors:
        raise ValidationError(errors)
    _claim(client.agency, idempotency_key)
    consent = Consent(agency=client.agency, client=client, created_by=acting_user)
    for key in (
        "discloser",
        "recipient",
        "purpose",
        "information",
        "starts_on",
        "expires_on",
        "expiry_event",
        "revocation_method",
        "signed_by",
        "signer_name",
        "signed_on",
    ):
        setattr(consent, key, data.get(key))
    consent.expiry_event = consent.expiry_event or ""
    consent.recipient_name = recipient.name
    consent.recipient_category = recipient.category
    consent.save()
    audit_record(
        action="recovery.consent_create",
        actor=acting_user,
        obj=consent,
        purpose=str(consent.purpose),
        detail={"client": client.pk},
    )
    return consent


@transaction.atomic
def consent_revoke(*, acting_user: User, consent: Consent) -> Consent:
    _lock_client(consent.client_id)
    current = (
        Consent.objects.select_for_update(of=("self",))
        .select_related("data_key")
        .get(pk=consent.pk)
    )
    if current.revoked_at is not None:
        raise ValidationError("This consent was already revoked.")
    current.revoked_at = timezone.now()
    current.revoked_by = acting_user
    current.save(update_fields=["revoked_at", "revoked_by"])
    audit_record(
        action="recovery.consent_revoke",
        actor=acting_user,
        obj=current,
        detail={"client": current.client_id},
    )
    return current


@transaction.atomic
def consent_event_occurred(*, acting_user: User, consent: Consent) -> Consent:
    """Record that the event on which the consent ends has happened: it ends at once."""
    _lock_client(consent.client_id)
    current = (
        Consent.objects.select_for_update(of=("self",))
        .select_related("data_key")
        .get(pk=consent.pk)
    )
    if not current.expiry_event:
        raise ValidationError("This consent ends on a date, not on an event.")
    if current.revoked_at is not None or current.ended_at is not None:
        raise ValidationError("This consent is no longer in force.")
    current.ended_at = timezone.now()
    current.ended_by = acting_user
    current.save(update_fields=["ended_at", "ended_by"])
    audit_record(
        action="recovery.consent_event_ended",
        actor=acting_user,
        obj=current,
        detail={"client": current.client_id},
    )
    return current


def matching_consent(
    *, client: Client, recipient: Resource, purpose: str, information: list[str]
) -> Consent:
    """The consent in force that covers this disclosure, or ``ValidationError`` saying why
    none does (missing, revoked, expired, other recipient, other purpose, other information)."""
    # A consent carried over by a merge was signed for another record: it does not cover
    # the merged record (a wrong merge must never let a disclosure out).
    consents = list(
        Consent.objects.filter(client=client)
        .filter(Q(signed_for__isnull=True) | Q(signed_for=client))
        .select_related("data_key")
    )
    # The organisation must still be the one named when the consent was signed.
    to_recipient = [
        c
        for c in consents
        if c.recipient_id == recipient.pk
        and c.recipient_name == recipient.name
        and c.recipient_category == recipient.category
    ]
    if not to_recipient:
        raise ValidationError("There is no consent to disclose to this recipient.")
    for_purpose = [c for c in to_recipient if c.purpose == purpose]
    if not for_purpose:
        raise ValidationError("The client's consent for this recipient is for another purpose.")
    covering = [c for c in for_purpose if set(information) <= set(c.information)]
    if not covering:
        raise ValidationError("The consent does not cover all of this information.")
    for consent in covering:
        if consent.is_in_force():
            return consent
    if all(c.revoked_at is not None for c in covering):
        raise ValidationError("The client revoked this consent; nothing may be disclosed.")
    if all(c.revoked_at is not None or c.ended_at is not None for c in covering):
        raise ValidationError(
            "The event on which this consent ends has occurred; nothing more may be "
            "disclosed under it."
        )
    raise ValidationError("The consent has expired or is not yet in force.")


class ConsentRefused(ValidationError):
    """No consent in force covers the disclosure (the refusal itself is audited)."""


def disclosure_create(
    *,
    acting_user: User,
    client: Client,
    recipient: Resource,
    purpose: str,
    information: list[str],
    description: str,
    idempotency_key: str = "",
) -> Disclosure:
    """Share client information with a partner or court: only under a matching consent in
    force, and always with a ledger row carrying the redisclosure notice (§ 2.32). A refusal
    is audited in its own transaction, so it stays on record although nothing was shared."""
    try:
        return _disclosure_write(
            acting_user=acting_user,
            client=client,
            recipient=recipient,
            purpose=purpose,
            information=information,
            description=description,
            idempotency_key=idempotency_key,
        )
    except ConsentRefused:
        with transaction.atomic():
            audit_record(
                action="recovery.disclosure_refused",
                actor=acting_user,
                obj=client,
                detail={
                    "recipient": recipient.pk,
                    "reason": "no_consent_in_force",
                    "purpose_code": purpose,
                },
            )
        raise


@transaction.atomic
def _disclosure_write(
    *,
    acting_user: User,
    client: Client,
    recipient: Resource,
    purpose: str,
    information: list[str],
    description: str,
    idempotency_key: str,
) -> Disclosure:
    if idempotency_key:
        existing = _existing_for_client(Disclosure, client, idempotency_key)
        if existing is not None:
            return existing
    _same_agency_resource(client, recipient)
    if not information:
        raise ValidationError("Say what information is disclosed.")
    if not description.strip():
        raise ValidationError("Describe what was disclosed.")
    _lock_client(client.pk)  # a revocation and a disclosure never interleave
    try:
        consent = matching_consent(
            client=client, recipient=recipient, purpose=purpose, information=information
        )
    except ValidationError as exc:
        raise ConsentRefused(exc.messages[0]) from None
    disclosure = Disclosure.objects.create(
        agency=client.agency,
        client=client,
        consent=consent,
        recipient=recipient,
        recipient_name=recipient.name,
        recipient_category=recipient.category,
        purpose=purpose,
        information=information,
        description=description.strip(),
        disclosed_by=acting_user,
        idempotency_key=idempotency_key,
    )
    audit_record(
        action="recovery.disclosure_create",
        actor=acting_user,
        obj=disclosure,
        detail={
            "client": client.pk,
            "consent": consent.pk,
            "recipient": recipient.pk,
            "purpose_code": purpose,
        },
    )
    return disclosure


def accounting_view_log(*, acting_user: User, client: Client) -> None:
    with transaction.atomic():
        audit_record(
            action="recovery.accounting_view",
            actor=acting_user,
            obj=client,
        )


# --- The CJI compartment (P2, PR-7) -------------------------------------------------------


def _require_cji(acting_user: User) -> None:
    if not can_read_cji(acting_user):
        raise ValidationError("Criminal justice information needs a current CJIS clearance.")


@transaction.atomic
def cji_read(
    *, acting_user: User, client: Client, purpose: str
) -> tuple[list[CJIEntry], list[SwornNote]]:
    """The client's CJI entries and sworn-only notes; the read is audited with its purpose."""
    _require_cji(acting_user)
    if len(purpose.strip()) < 5:
        raise ValidationError("State the purpose of this look-up before the entries are shown.")
    audit_record(
        action="recovery.cji_read",
        actor=acting_user,
        obj=client,
        purpose=purpose.strip()[:200],
    )
    entries = list(CJIEntry.objects.filter(client=client).select_related("data_key"))
    notes = list(SwornNote.objects.filter(client=client).select_related("data_key", "author"))
    return entries, notes


@transaction.atomic
def cji_entry_create(
    *, acting_user: User, client: Client, source: str, queried_on: date, purpose: str, summary: str
) -> CJIEntry:
    _require_cji(acting_user)
    if source not in vocab.CJISource.values:
        raise ValidationError("Choose the source from the list.")
    if queried_on > timezone.localdate():
        raise ValidationError("The query date cannot be in the future.")
    if not purpose.strip() or not summary.strip():
        raise ValidationError("Give the purpose of the query and a summary.")
    entry = CJIEntry.objects.create(
        agency=client.agency,
        client=client,
        source=source,
        queried_on=queried_on,
        purpose=purpose.strip(),
        summary=summary.strip(),
        recorded_by=acting_user,
    )
    audit_record(
        action="recovery.cji_create",
        actor=acting_user,
        obj=entry,
        detail={"client": client.pk, "source": source},
    )
    return entry


@transaction.atomic
def sworn_note_create(*, acting_user: User, client: Client, text: str) -> SwornNote:
    _require_cji(acting_user)
    if not text.strip():
        raise ValidationError("Write the note.")
    note = SwornNote.objects.create(
        agency=client.agency, client=client, text=text.strip(), author=acting_user
    )
    audit_record(
        action="recovery.sworn_note_create",
        actor=acting_user,
        obj=note,
        detail={"client": client.pk},
    )
    return note


# --- Overdoses, naloxone, outreach, public statements ------------------------------------


@transaction.atomic
def overdose_create(
    *, acting_user: User, data: dict[str, Any], idempotency_key: str = ""
) -> OverdoseResponse:
    if data["occurred_at"] > timezone.now() + timedelta(minutes=15):
        raise ValidationError({"occurred_at": "An overdose response cannot be in the future."})
    if data.get("naloxone_given") and not data.get("naloxone_doses"):
        raise ValidationError({"naloxone_doses": "Give the number of naloxone doses."})
    _claim(acting_user.agency, idempotency_key)
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
    _claim(acting_user.agency, idempotency_key)
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
    _claim(acting_user.agency, idempotency_key)
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
    _claim(acting_user.agency, idempotency_key)
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
    from tandem.recovery.models import PlannedContact, Referral

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


def client_purge(*, client: Client, reason: str, acting_user: User | None = None) -> None:
    """Crypto-shred every sealed value of one client, then delete the client and all that
    hangs off it (X-6). Overdose responses and kits stay, unlinked, for the grant figures."""
    with transaction.atomic():
        _lock_client(client.pk)
        for model in (
            Contact, Goal, Referral, Consent, Disclosure, CJIEntry, SwornNote, ClientFact
        ):
            _shred_all(model.objects.filter(client=client).select_related("data_key"), reason)
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


# --- Deconfliction: registry-wide matching, merge and unmerge (PR-2, issue 13) ------------

#: Fields a merge may take from the absorbed record (chosen one by one on the merge screen):
#: every field a client record holds.
MERGE_FIELDS = CLIENT_FIELDS
#: Everything that belongs to a client and follows it through a merge (and back).
CLIENT_RECORDS = (
    Contact,
    PlannedContact,
    StageAssessment,
    Goal,
    Referral,
    Consent,
    Disclosure,
    CJIEntry,
    SwornNote,
    OverdoseResponse,
    NaloxoneKit,
)


def client_record(client: Client) -> dict[str, Any]:
    """The client as the linkage model compares it."""
    from tandem.recovery import linkage

    return linkage.record_of(
        uid=client.pk,
        first_name=client.first_name,
        last_name=client.last_name,
        aliases=client.aliases,
        date_of_birth=client.date_of_birth,
        phone=client.phone,
        address=client.address or "",
        substances=client.substances or [],
    )


def registry(agency: Any) -> QuerySet[Client]:
    """The clients that count: every record not merged into another."""
    return Client.objects.filter(agency=agency, merged_into__isnull=True)


def match_model(agency: Any) -> dict[str, Any]:
    """The agency's latest trained model, or the priors before the first scan."""
    from tandem.recovery import linkage

    run = (
        MatchRun.objects.filter(agency=agency, status=vocab.MatchRunStatus.DONE)
        .exclude(model={})
        .only("model")
        .first()
    )
    return run.model if run is not None else linkage.prior_model()


@transaction.atomic
def match_run_request(*, acting_user: User) -> MatchRun:
    """Ask for a scan of the whole registry now (the worker runs it)."""
    from tandem.recovery.tasks import run_match

    agency = acting_user.home_agency
    pending = MatchRun.objects.filter(agency=agency, status=vocab.MatchRunStatus.QUEUED).first()
    if pending is not None:
        return pending
    run = MatchRun.objects.create(
        agency=agency, trigger=vocab.MatchTrigger.ON_DEMAND, requested_by=acting_user
    )
    audit_record(
        action="recovery.match_run_request",
        actor=acting_user,
        obj=run,
    )
    transaction.on_commit(lambda: run_match.enqueue(run.pk))
    return run


def match_run_execute(*, run_id: int) -> MatchRun:
    """Train on the agency's registry, score every blocked pair and store the candidates at
    or above the agency's review threshold with their explanation. Decisions already taken
    on a pair (not the same person, merged) are kept; stale open pairs are dropped."""
    from tandem.recovery import linkage

    run = MatchRun.objects.select_related("agency").get(pk=run_id)
    policy = run.agency.policy_model().recovery
    clients = list(registry(run.agency).select_related("data_key"))
    records = [client_record(c) for c in clients]
    try:
        stored = _stored_model(run, len(records))
        model = stored or linkage.train(records)
        pairs = linkage.predict(records, model, threshold=policy.review_threshold)
    except Exception as exc:  # noqa: BLE001 - recorded on the run, shown on the page
        run.status, run.error = vocab.MatchRunStatus.FAILED, type(exc).__name__[:200]
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        return run
    with transaction.atomic():
        _store_candidates(run, pairs)
        run.status, run.finished_at = vocab.MatchRunStatus.DONE, timezone.now()
        run.records, run.pairs, run.model = len(records), len(pairs), model
        run.estimated = bool(model.get("estimated"))
        run.save(update_fields=["status", "finished_at", "records", "pairs", "model", "estimated"])
        audit_record(
            action="recovery.match_run",
            actor=None,
            obj=run,
            detail={"records": len(records), "pairs": len(pairs), "trained": stored is None},
        )
    return run


#: An on-demand scan reuses the agency's stored model while the registry has not grown or
#: shrunk by more than this share since it was trained; the nightly scan always trains.
RETRAIN_AFTER_CHANGE = 0.2


def _stored_model(run: MatchRun, size: int) -> dict[str, Any] | None:
    """The model the last scan trained, for an on-demand scan: training (EM) is most of a
    scan's time, and the nightly job keeps the parameters fresh."""
    from tandem.recovery import linkage

    if run.trigger != vocab.MatchTrigger.ON_DEMAND:
        return None
    model = match_model(run.agency)
    trained_on = int(model.get("trained_on", -1))
    if trained_on < 0:
        return None
    if not model.get("estimated"):
        # Priors: fine while the registry is still too small to estimate anything.
        return model if size < linkage.MIN_RECORDS_FOR_EM else None
    if abs(size - trained_on) > RETRAIN_AFTER_CHANGE * trained_on:
        return None
    return model


def _store_candidates(run: MatchRun, pairs: list[Any]) -> None:
    existing = {
        (c.left_id, c.right_id): c for c in MatchCandidate.objects.filter(agency=run.agency)
    }
    now, seen = timezone.now(), set()
    for pair in pairs:
        key = (pair.left, pair.right)
        seen.add(key)
        candidate = existing.get(key) or MatchCandidate(
            agency=run.agency, left_id=pair.left, right_id=pair.right
        )
        candidate.probability, candidate.match_weight = pair.probability, pair.match_weight
        candidate.explanation, candidate.run, candidate.updated_at = (
            pair.explanation(),
            run,
            now,
        )
        candidate.save()
    stale = [c.pk for k, c in existing.items() if k not in seen and c.status == "open"]
    MatchCandidate.objects.filter(pk__in=stale).delete()


def match_scan_all() -> int:
    """The nightly scan of every agency that keeps a recovery registry."""
    from tandem.agencies.models import Agency

    scanned = 0
    for agency in Agency.objects.filter(pk__in=Client.objects.values("agency_id")):
        run = MatchRun.objects.create(agency=agency, trigger=vocab.MatchTrigger.NIGHTLY)
        match_run_execute(run_id=run.pk)
        scanned += 1
    return scanned


def candidate_view_log(*, acting_user: User, candidate: MatchCandidate) -> None:
    with transaction.atomic():
        audit_record(
            action="recovery.candidate_view",
            actor=acting_user,
            obj=candidate,
            detail={"left": candidate.left_id, "right": candidate.right_id},
        )


@transaction.atomic
def candidate_not_same(*, acting_user: User, candidate: MatchCandidate) -> MatchCandidate:
    """Remember that the two records are different people: never proposed again."""
    if candidate.status == vocab.CandidateStatus.MERGED:
        raise ValidationError("These records were merged; undo the merge first.")
    candidate.status = vocab.CandidateStatus.NOT_SAME
    candidate.decided_by, candidate.decided_at = acting_user, timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        action="recovery.client_not_same",
        actor=acting_user,
        obj=candidate,
        detail={"left": candidate.left_id, "right": candidate.right_id},
    )
    return candidate


def _pair_candidate(a: Client, b: Client) -> MatchCandidate | None:
    left, right = sorted((a.pk, b.pk))
    return MatchCandidate.objects.filter(left_id=left, right_id=right).first()


def _value(client: Client, name: str) -> Any:
    if name in ("aro", "prs"):
        return getattr(client, f"{name}_id")
    value = getattr(client, name)
    return value.isoformat() if isinstance(value, date) else value


def _set_value(client: Client, name: str, value: Any) -> None:
    if name in ("aro", "prs"):
        setattr(client, f"{name}_id", value)
    elif name == "date_of_birth":
        client.date_of_birth = date.fromisoformat(value) if value else None
    else:
        setattr(client, name, value)


def _refresh_keys(client: Client) -> None:
    client.name_key = _name_key(client)
    client.phone_digits = digits_of(client.phone)
    client.version += 1
    client.updated_at = timezone.now()


@transaction.atomic
def client_merge(
    *, acting_user: User, survivor: Client, absorbed: Client, take: Iterable[str] = ()
) -> ClientMerge:
    """Merge ``absorbed`` into ``survivor``: the survivor keeps its values except the fields
    in ``take``; everything that belonged to the absorbed record moves to the survivor; the
    absorbed record stays, pointing at the survivor. Consents signed for the absorbed record
    keep saying so and cover no disclosure about the survivor. Undone by ``client_unmerge``."""
    take = [f for f in MERGE_FIELDS if f in set(take)]
    if survivor.pk == absorbed.pk or survivor.agency_id != absorbed.agency_id:
        raise ValidationError("Choose two different records of your agency.")
    for pk in sorted((survivor.pk, absorbed.pk)):
        _lock_client(pk)
    survivor = Client.objects.select_related("data_key").get(pk=survivor.pk)
    absorbed = Client.objects.select_related("data_key").get(pk=absorbed.pk)
    if survivor.merged_into_id or absorbed.merged_into_id:
        raise ValidationError("One of these records was already merged into another.")
    candidate = _pair_candidate(survivor, absorbed)
    if candidate is not None and candidate.status == vocab.CandidateStatus.NOT_SAME:
        raise ValidationError("These records were marked as two different people.")
    changed = [*take, "safety_flags"]
    before = {name: _value(survivor, name) for name in changed}
    for name in take:
        _set_value(survivor, name, _value(absorbed, name))
    survivor.safety_flags = [
        f
        for f in vocab.SafetyFlag.values
        if f in set(survivor.safety_flags or []) | set(absorbed.safety_flags or [])
    ]
    _check_client(survivor)
    _refresh_keys(survivor)
    survivor.save()
    moved = _move_records(absorbed, survivor)
    merge = ClientMerge(
        agency=survivor.agency,
        survivor=survivor,
        absorbed=absorbed,
        candidate=candidate,
        taken=take,
        absorbed_status=absorbed.status,
        moved=moved,
        merged_by=acting_user,
    )
    merge.before, merge.after = before, {name: _value(survivor, name) for name in changed}
    merge.save()
    absorbed.merged_into, absorbed.status = survivor, vocab.ClientStatus.INACTIVE
    absorbed.version += 1
    absorbed.save(update_fields=["merged_into", "status", "version"])
    if merge.candidate is not None:
        merge.candidate.status = vocab.CandidateStatus.MERGED
        merge.candidate.decided_by, merge.candidate.decided_at = acting_user, timezone.now()
        merge.candidate.save(update_fields=["status", "decided_by", "decided_at"])
    counts = {name: len(pks) for name, pks in moved.items()}
    audit_record(
        action="recovery.client_merge",
        actor=acting_user,
        obj=merge,
        detail={"survivor": survivor.pk, "absorbed": absorbed.pk, "taken": take, "moved": counts},
    )
    return merge


def _move_records(source: Client, target: Client) -> dict[str, list[int]]:
    moved: dict[str, list[int]] = {}
    for model in CLIENT_RECORDS:
        rows = model._default_manager.filter(client=source)
        pks = sorted(rows.values_list("pk", flat=True))
        if not pks:
            continue
        moved[str(model._meta.model_name)] = pks
        if model is Consent:
            unsigned = Consent.objects.filter(pk__in=pks, signed_for__isnull=True)
            moved["consent_signed_for"] = sorted(unsigned.values_list("pk", flat=True))
            unsigned.update(signed_for=source)
        model._default_manager.filter(pk__in=pks).update(client=target)
    return moved


@transaction.atomic
def client_unmerge(*, acting_user: User, merge: ClientMerge) -> ClientMerge:
    """Undo a merge exactly: the records that moved go back, the absorbed record is itself
    again, and the survivor's fields return to their values before the merge — except a
    field somebody changed since, which keeps its newer value."""
    merge = ClientMerge.objects.select_related("data_key").get(pk=merge.pk)
    if merge.undone_at is not None:
        raise ValidationError("This merge was already undone.")
    for pk in sorted((merge.survivor_id, merge.absorbed_id)):
        _lock_client(pk)
    survivor = Client.objects.select_related("data_key").get(pk=merge.survivor_id)
    absorbed = Client.objects.select_related("data_key").get(pk=merge.absorbed_id)
    if survivor.merged_into_id:
        raise ValidationError("The surviving record was merged again since; undo that first.")
    kept = []
    for name, old in merge.before.items():
        if _value(survivor, name) == merge.after.get(name):
            _set_value(survivor, name, old)
        else:
            kept.append(name)
    _refresh_keys(survivor)
    survivor.save()
    for model in CLIENT_RECORDS:
        pks = merge.moved.get(str(model._meta.model_name), [])
        model._default_manager.filter(pk__in=pks, client=survivor).update(client=absorbed)
    Consent.objects.filter(pk__in=merge.moved.get("consent_signed_for", [])).update(signed_for=None)
    absorbed.merged_into, absorbed.status = None, merge.absorbed_status
    absorbed.version += 1
    absorbed.save(update_fields=["merged_into", "status", "version"])
    merge.undone_by, merge.undone_at = acting_user, timezone.now()
    merge.save(update_fields=["undone_by", "undone_at"])
    if merge.candidate_id:
        MatchCandidate.objects.filter(pk=merge.candidate_id).update(
            status=vocab.CandidateStatus.OPEN, decided_by=None, decided_at=None
        )
    audit_record(
        action="recovery.client_unmerge",
        actor=acting_user,
        obj=merge,
        detail={"survivor": survivor.pk, "absorbed": absorbed.pk, "kept_newer": kept},
    )
    return merge


# --- Spreadsheet import (X-11, issue 13) ---------------------------------------------------


@transaction.atomic
def import_upload(*, acting_user: User, kind: str, filename: str, data: bytes) -> ImportBatch:
    """Keep an uploaded CSV/XLSX (sealed) for mapping and the dry run; ``SheetError`` with
    row-numbered messages when it cannot be read. Nothing reaches the registry."""
    from tandem.recovery import imports

    if kind not in vocab.ImportKind.values:
        raise ValidationError("Choose what the file holds.")
    header, rows = imports.read_sheet(filename, data)
    batch = ImportBatch(
        agency=acting_user.agency,
        kind=kind,
        filename=filename[:200],
        mapping=imports.suggest_mapping(kind, header),
        created_by=acting_user,
    )
    batch.header, batch.rows = header, rows
    batch.save()
    audit_record(
        action="recovery.import_upload",
        actor=acting_user,
        obj=batch,
        detail={"kind": kind, "rows": len(rows)},
    )
    return batch


@transaction.atomic
def import_map(
    *,
    acting_user: User,
    batch: ImportBatch,
    mapping: dict[str, str],
    values: dict[str, dict[str, str]],
) -> ImportBatch:
    """Save the column and vocabulary mapping the user chose."""
    from tandem.recovery import imports

    if batch.committed_at is not None:
        raise ValidationError("This file was already imported.")
    known = {name for name, _, _ in imports.FIELDS[batch.kind]}
    batch.mapping = {k: v for k, v in mapping.items() if k in known and v in batch.header}
    batch.values = {
        name: {w: c for w, c in words.items() if c in imports.VOCABULARIES[name].values}
        for name, words in values.items()
        if name in imports.VOCABULARIES
    }
    batch.dry_run = {}
    batch.save(update_fields=["mapping", "values", "dry_run"])
    return batch


#: Files up to this many rows are checked and imported while the person waits; larger ones
#: (up to ``imports.MAX_ROWS``) by the worker, so no request runs into a timeout and the
#: upload, kept sealed on the batch, is never lost.
IMPORT_INLINE_ROWS = 5_000


def _summary(plan: Any) -> dict[str, Any]:
    """What the dry run shows, kept on the batch: the counts, the messages and the rows
    that are not simply new (at most 200)."""
    shown = [r for r in plan.rows if r.outcome != "new"][:200]
    return {
        "counts": plan.counts,
        "messages": plan.messages,
        "rows": [
            {
                "number": r.number,
                "outcome": r.outcome,
                "client_id": r.client_id,
                "same_as_row": r.same_as_row,
                "probability": r.probability,
                "reasons": r.reasons,
                "errors": r.errors,
            }
            for r in shown
        ],
    }


def import_dry_run(*, acting_user: User, batch: ImportBatch) -> ImportBatch:
    """Run the dry run now (a small file) or ask the worker to (a large one)."""
    from tandem.recovery.tasks import run_import_check

    if len(batch.rows) <= IMPORT_INLINE_ROWS:
        batch.dry_run, batch.job_state = _summary(import_plan(batch)), ""
        batch.save(update_fields=["dry_run", "job_state"])
        return batch
    with transaction.atomic():
        batch.job_state, batch.dry_run = vocab.ImportJob.CHECKING, {}
        batch.save(update_fields=["job_state", "dry_run"])
        transaction.on_commit(lambda: run_import_check.enqueue(batch.pk))
    return batch


def import_check_execute(*, batch_id: int) -> int:
    """The worker's dry run of a large file."""
    batch = ImportBatch.objects.select_related("data_key", "agency").get(pk=batch_id)
    if batch.committed_at is not None:
        return 0
    batch.dry_run, batch.job_state = _summary(import_plan(batch)), ""
    batch.save(update_fields=["dry_run", "job_state"])
    return len(batch.rows)


def import_commit_request(*, acting_user: User, batch: ImportBatch) -> dict[str, int] | None:
    """Import a small file now (its counts), or hand a large one to the worker (None)."""
    from tandem.recovery.tasks import run_import_commit

    if len(batch.rows) <= IMPORT_INLINE_ROWS:
        return import_commit(acting_user=acting_user, batch=batch)
    if batch.committed_at is not None:
        raise ValidationError("This file was already imported.")
    if batch.job_state in (vocab.ImportJob.CHECKING, vocab.ImportJob.IMPORTING):
        raise ValidationError("Wait for the work on this file to finish.")
    with transaction.atomic():
        batch.job_state, batch.job_errors = vocab.ImportJob.IMPORTING, []
        batch.save(update_fields=["job_state", "job_errors"])
        user_id = acting_user.pk
        transaction.on_commit(lambda: run_import_commit.enqueue(batch.pk, user_id))
    return None


def import_commit_execute(*, batch_id: int, user_id: int) -> int:
    """The worker's import of a large file: all or nothing, as on the page; a refusal is
    kept on the batch with its row-numbered messages."""
    from tandem.accounts.models import User

    batch = ImportBatch.objects.select_related("data_key", "agency").get(pk=batch_id)
    user = User.objects.get(pk=user_id)
    try:
        counts = import_commit(acting_user=user, batch=batch)
    except ValidationError as exc:
        batch.job_state, batch.job_errors = vocab.ImportJob.FAILED, exc.messages[:200]
        batch.save(update_fields=["job_state", "job_errors"])
        return 0
    ImportBatch.objects.filter(pk=batch.pk).update(job_state="")
    return sum(counts.values())


def import_plan(batch: ImportBatch) -> Any:
    from tandem.recovery import imports

    return imports.plan(
        agency=batch.agency,
        kind=batch.kind,
        header=batch.header,
        rows=batch.rows,
        mapping=batch.mapping,
        values=batch.values,
    )


@transaction.atomic
def import_commit(*, acting_user: User, batch: ImportBatch) -> dict[str, int]:
    """All or nothing: with any invalid row nothing is written. New rows become clients;
    rows matching a client already in the registry (or an earlier row) are not added
    twice; uncertain rows are added and proposed as a pair on the Deconflict page. Contact
    logs are recorded on the client each row matches."""
    batch = ImportBatch.objects.select_for_update(of=("self",)).get(pk=batch.pk)
    if batch.committed_at is not None:
        raise ValidationError("This file was already imported.")
    plan = import_plan(batch)
    if plan.count("invalid"):
        raise ValidationError(
            [f"Nothing was imported: {plan.count('invalid')} row(s) need fixing.", *plan.messages]
        )
    made: dict[int, int] = {}  # row number -> client id, for rows matched within the file
    for row in plan.rows:
        if batch.kind == vocab.ImportKind.CONTACTS:
            try:
                _import_contact(acting_user, row)
            except ValidationError as exc:
                raise ValidationError(
                    [f"Nothing was imported. Row {row.number}: {m}" for m in exc.messages]
                ) from None
        elif row.outcome in ("new", "uncertain"):
            made[row.number] = _import_client(acting_user, batch, row, made).pk
        elif row.same_as_row:
            made[row.number] = made.get(row.same_as_row, 0)
        else:
            made[row.number] = row.client_id
    batch.committed_at, batch.result = timezone.now(), plan.counts
    batch.save(update_fields=["committed_at", "result"])
    audit_record(
        action="recovery.import_commit",
        actor=acting_user,
        obj=batch,
        detail={"kind": batch.kind, **plan.counts},
    )
    counts: dict[str, int] = plan.counts
    return counts


def import_batches_purge(days: int = 7) -> int:
    """Forget uploaded spreadsheets a week after upload, imported or not (they hold
    identities; the imported rows live on in the registry)."""
    cutoff = timezone.now() - timedelta(days=days)
    stale = ImportBatch.objects.filter(created_at__lt=cutoff).select_related("data_key")
    count = 0
    for batch in stale:
        with transaction.atomic():
            _shred_all([batch], "import kept 7 days")
            batch.delete()
            count += 1
    return count


def _import_client(acting_user: User, batch: ImportBatch, row: Any, made: dict[int, int]) -> Client:
    client = client_create(
        acting_user=acting_user,
        data=row.data,
        idempotency_key=f"import-{batch.pk}-{row.number}",
    )
    other = made.get(row.same_as_row, 0) if row.same_as_row else row.client_id
    if row.outcome == "uncertain" and other:
        left, right = sorted((client.pk, other))
        MatchCandidate.objects.create(
            agency=client.agency,
            left_id=left,
            right_id=right,
            probability=row.probability,
            match_weight=0.0,
            explanation=row.explanation,
        )
    return client


def _import_contact(acting_user: User, row: Any) -> None:
    client = Client.objects.select_related("data_key").get(pk=row.client_id)
    moment = timezone.make_aware(datetime.combine(row.data["occurred_at"], datetime.min.time()))
    contact_create(
        acting_user=acting_user,
        client=client,
        data={
            "kind": row.data["kind"],
            # A day without a time: noon, or now for a contact logged today before noon.
            "occurred_at": min(moment + timedelta(hours=12), timezone.now()),
            "duration_minutes": row.data.get("duration_minutes", 0),
            "location_type": row.data.get("location_type") or vocab.LocationType.OTHER,
            "services": [],
            "outcome": row.data["outcome"],
        },
    )


# --- Annual personnel evaluation (OO 2-78 E.1–2) -------------------------------------------


EVALUATION_TEXT_MAX = 8000


@transaction.atomic
def personnel_evaluation_write(
    *, acting_user: User, person: User, year: int, feedback: str, version: int | None = None
) -> PersonnelEvaluation:
    """The evaluator writes (or, until it is acknowledged, rewrites) the year's feedback to
    one ARO or PRS; the figures of the year are kept with it as they stand now."""
    from tandem.recovery.access import require_evaluator
    from tandem.recovery.evaluation import evaluated_role, evaluation_for

    agency = require_evaluator(acting_user)
    role = evaluated_role(agency, person) if person.agency_id == agency.pk else ""
    if not role:
        raise ValidationError("Only an ARO or a PRS of the agency is evaluated here.")
    if person.pk == acting_user.pk:
        raise ValidationError("Nobody writes their own evaluation.")
    text = (feedback or "").strip()
    if not text:
        raise ValidationError({"feedback": "Write the feedback for this year."})
    if len(text) > EVALUATION_TEXT_MAX:
        raise ValidationError({"feedback": f"Keep the feedback under {EVALUATION_TEXT_MAX} "
                                           "characters."})
    if not 2000 <= year <= timezone.localdate().year:
        raise ValidationError("Choose a year that has begun.")
    figures = [[line.duty, line.label, line.value]
               for line in evaluation_for(person, role, year).lines]
    evaluation = (PersonnelEvaluation.objects.select_for_update()
                  .filter(person=person, year=year).first())
    if evaluation is None:
        evaluation = PersonnelEvaluation(agency=agency, person=person, year=year, role=role)
    else:
        if evaluation.is_acknowledged:
            raise ValidationError("This evaluation was acknowledged; it no longer changes.")
        if version is not None and version != evaluation.version:
            raise ValidationError("Someone changed this evaluation meanwhile. Reload the "
                                  "page to see it.")
        evaluation.version += 1
    evaluation.figures = figures
    evaluation.feedback = text  # encrypted text
    evaluation.evaluator = acting_user
    evaluation.written_at = timezone.now()
    evaluation.save()
    audit_record(action="recovery.evaluation_write", actor=acting_user, obj=evaluation,
                 detail={"year": year, "role": role, "version": evaluation.version})
    _notify_evaluation(evaluation)
    return evaluation


def _notify_evaluation(evaluation: PersonnelEvaluation) -> None:
    from tandem.core.notifications import notify

    notify(kind="recovery.evaluation", recipient_user=evaluation.person,
           agency=evaluation.agency)


@transaction.atomic
def personnel_evaluation_acknowledge(
    *, acting_user: User, evaluation: PersonnelEvaluation, response: str = ""
) -> PersonnelEvaluation:
    """The person evaluated acknowledges having read it, optionally with a response."""
    locked = PersonnelEvaluation.objects.select_for_update().get(pk=evaluation.pk)
    if locked.person_id != acting_user.pk:
        raise ValidationError("Only the person evaluated acknowledges an evaluation.")
    if locked.is_acknowledged:
        return locked
    text = (response or "").strip()
    if len(text) > EVALUATION_TEXT_MAX:
        raise ValidationError({"response": f"Keep the response under {EVALUATION_TEXT_MAX} "
                                           "characters."})
    locked.response = text  # encrypted text
    locked.acknowledged_at = timezone.now()
    locked.save(update_fields=["response", "acknowledged_at"])
    audit_record(action="recovery.evaluation_acknowledge", actor=acting_user, obj=locked,
                 detail={"year": locked.year, "response": bool(text)})
    return locked


def personnel_evaluation_exported(*, acting_user: User, evaluation: PersonnelEvaluation) -> None:
    """Audit the printing of an evaluation (the PDF carries the feedback in the clear)."""
    audit_record(action="recovery.evaluation_export", actor=acting_user, obj=evaluation,
                 detail={"year": evaluation.year, "format": "pdf"})

# --- Conflicting facts and double work, settled in one click (PR-2, issue 13) --------------


def _settled(*, acting_user: User, client: Client, topic: str, outcome: str,
             day: date | None = None, detail: dict[str, Any] | None = None) -> ConflictSettlement:
    settlement = ConflictSettlement.objects.create(
        agency=client.agency, client=client, topic=topic, day=day, outcome=outcome,
        settled_by=acting_user,
    )
    audit_record(
        action="recovery.conflict_settle",
        actor=acting_user,
        obj=client,
        detail={"topic": topic, "day": day.isoformat() if day else "", "outcome": outcome,
                **(detail or {})},
    )
    return settlement


def same_day(moment: datetime) -> tuple[date, datetime, datetime]:
    """The local day of ``moment`` and its bounds: the unit of double work."""
    day = timezone.localdate(moment)
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return day, start, start + timedelta(days=1)


def contacts_same_day(client: Client, moment: datetime, *, other_than: Any = None,
                      exclude_pk: int | None = None) -> QuerySet[Contact]:
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


def visits_same_day(client: Client, moment: datetime, *,
                    exclude_pk: int | None = None) -> QuerySet[PlannedContact]:
    """Live visits to ``client`` planned on the local day of ``moment``: the rule of the
    warning after planning a visit and of the Deconflict list ("visits planned twice")."""
    _, start, end = same_day(moment)
    found = PlannedContact.objects.filter(client=client, starts_at__gte=start, starts_at__lt=end)
    if exclude_pk:
        found = found.exclude(pk=exclude_pk)
    return found.exclude(status=vocab.PlanStatus.CANCELLED).order_by("starts_at", "pk")


@transaction.atomic
def conflict_settle(*, acting_user: User, client: Client, topic: str, choice: str,
                    day: date | None = None) -> ConflictSettlement:
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
        settlement = _settled(acting_user=acting_user, client=client, topic=topic,
                              outcome=choice)
        stage_record(acting_user=acting_user, client=client, stage=choice)
        return settlement
    if topic == vocab.ConflictTopic.STATUS:
        if choice not in vocab.ClientStatus.values:
            raise ValidationError("Choose a status from the list.")
        return _settle_value(acting_user, client, topic, choice, choice, {})
    if topic in (vocab.ConflictTopic.PHONE, vocab.ConflictTopic.ADDRESS):
        fact = ClientFact.objects.filter(
            client=client, field=topic, pk=int(choice) if choice.isdigit() else 0
        ).select_related("data_key").first()
        if fact is None:
            raise ValidationError("Choose one of the values recorded.")
        return _settle_value(acting_user, client, topic, fact.value or "", "kept",
                             {"fact": fact.pk})
    if day is None:
        raise ValidationError("Choose the day to settle.")
    if topic == vocab.ConflictTopic.VISITS and choice == "separate":
        return _settled(acting_user=acting_user, client=client, topic=topic, day=day,
                        outcome="separate")
    if topic == vocab.ConflictTopic.CONTACTS and choice == "separate":
        return _settled(acting_user=acting_user, client=client, topic=topic, day=day,
                        outcome="separate")
    if topic == vocab.ConflictTopic.CONTACTS and choice.startswith("remove:"):
        return _contact_remove_twin(acting_user, client, day, choice.removeprefix("remove:"))
    raise ValidationError("Choose how to settle this.")


def _settle_value(acting_user: User, client: Client, name: str, value: str, outcome: str,
                  detail: dict[str, Any]) -> ConflictSettlement:
    settlement = _settled(acting_user=acting_user, client=client, topic=name, outcome=outcome,
                          detail=detail)
    if str(getattr(client, name) or "") != value:
        client_update(acting_user=acting_user, client=client, data={name: value},
                      version=client.version)
    else:
        _record_facts(client, acting_user, [name])
    return settlement


def _contact_remove_twin(
    acting_user: User, client: Client, day: date, pk: str
) -> ConflictSettlement:
    """The same encounter logged twice: remove one record (its sealed notes shredded),
    keeping the other. Only a contact with another one that day may go."""
    contact = Contact.objects.select_related("data_key").filter(
        client=client, pk=int(pk) if pk.isdigit() else 0
    ).first()
    if contact is None or same_day(contact.occurred_at)[0] != day:
        raise ValidationError("Choose one of the contacts logged that day.")
    twins = contacts_same_day(client, contact.occurred_at, exclude_pk=contact.pk)
    kept = twins.first()
    if kept is None:
        raise ValidationError("This is the only contact logged that day; nothing to remove.")
    detail = {"removed": contact.pk, "kept": kept.pk, "kind": contact.kind}
    _shred_all([contact], "the same encounter logged twice")
    contact.delete()
    return _settled(acting_user=acting_user, client=client, topic=vocab.ConflictTopic.CONTACTS,
                    day=day, outcome="removed", detail=detail)
