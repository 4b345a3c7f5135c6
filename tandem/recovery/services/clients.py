"""Normalisation for search and de-duplication; clients.

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

import base64
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.recovery import vocab
from tandem.recovery.access import is_sworn_program
from tandem.recovery.models import (
    Client,
    ClientFact,
    Consent,
    Contact,
    Disclosure,
    Referral,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .common import CLIENT_FIELDS, STALE_MESSAGE, StaleEdit

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
        fact = ClientFact(agency_id=client.agency_id, client=client, field=name, recorded_by=user)
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
