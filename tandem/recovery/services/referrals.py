"""Resources and referrals (PR-4).

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.core.when import when
from tandem.recovery import vocab
from tandem.recovery.models import (
    Client,
    Referral,
    Resource,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .common import _claim

# --- Resources and referrals (PR-4) -------------------------------------------------------

# What the directory keeps about an organisation; the API reads the same.
RESOURCE_FIELDS = (
    "name",
    "category",
    "contact_name",
    "phone",
    "email",
    "address",
    "eligibility",
    "active",
)


@transaction.atomic
def resource_save(
    *,
    acting_user: User,
    data: dict[str, Any],
    resource: Resource | None = None,
    idempotency_key: str = "",
) -> Resource:
    agency = acting_user.home_agency
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
    for key in RESOURCE_FIELDS:
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
