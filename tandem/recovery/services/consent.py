"""Consent and disclosures (42 CFR Part 2).

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ParamSpec

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.recovery.models import (
    Client,
    Consent,
    Disclosure,
    Resource,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .common import _claim, _lock_client
from .contacts import _existing_for_client
from .referrals import _same_agency_resource

P = ParamSpec("P")

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


def _consent_locked(consent: Consent) -> Consent:
    """The consent as it stands now, locked with its client (inside the caller's
    transaction) so that a revocation and an ending cannot both apply."""
    _lock_client(consent.client_id)
    return (
        Consent.objects.select_for_update(of=("self",))
        .select_related("data_key")
        .get(pk=consent.pk)
    )


@transaction.atomic
def consent_revoke(*, acting_user: User, consent: Consent) -> Consent:
    current = _consent_locked(consent)
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
    current = _consent_locked(consent)
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

    def __init__(
        self, message: str, *, actor: User, client: Client, recipient: Resource, purpose: str
    ) -> None:
        super().__init__(message)
        self.actor, self.client, self.recipient, self.purpose = actor, client, recipient, purpose


def _refusals_kept_on_record(write: Callable[P, Disclosure]) -> Callable[P, Disclosure]:
    """A refused disclosure is audited in its own transaction, after ``write``'s has rolled
    back, so it stays on record although nothing was shared."""

    @functools.wraps(write)
    def audited(*args: P.args, **kwargs: P.kwargs) -> Disclosure:
        try:
            return write(*args, **kwargs)
        except ConsentRefused as refusal:
            with transaction.atomic():
                audit_record(
                    action="recovery.disclosure_refused",
                    actor=refusal.actor,
                    obj=refusal.client,
                    detail={
                        "recipient": refusal.recipient.pk,
                        "reason": "no_consent_in_force",
                        "purpose_code": refusal.purpose,
                    },
                )
            raise

    return audited


@_refusals_kept_on_record
@transaction.atomic
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
    force, and always with a ledger row carrying the redisclosure notice (§ 2.32)."""
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
        raise ConsentRefused(
            exc.messages[0], actor=acting_user, client=client, recipient=recipient, purpose=purpose
        ) from None
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
