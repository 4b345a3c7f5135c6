"""Critical incidents.

Part of ``tandem.support.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.audit.services import audit_record
from tandem.core.notifications import notify
from tandem.support import vocab
from tandem.support.models import (
    CriticalIncident,
    Deployment,
    GroupSession,
    MutualAidRequest,
    SupporterProfile,
)

# --- Critical incidents -----------------------------------------------------------------


@transaction.atomic
def incident_create(
    *,
    acting_user: User | None,
    agency: Agency,
    kind: str,
    occurred_on: date,
    members_affected: int,
    units: Iterable[Any] = (),
    involved_supporters: Iterable[SupporterProfile] = (),
) -> CriticalIncident:
    if occurred_on > timezone.localdate():
        raise ValidationError("The incident date cannot be in the future.")
    incident = CriticalIncident.objects.create(
        agency=agency, kind=kind, occurred_on=occurred_on, members_affected=members_affected
    )
    incident.units.set(list(units))
    incident.involved_supporters.set(list(involved_supporters))
    audit_record(
        action="psp.incident.created",
        actor=acting_user,
        agency_id=agency.pk,
        obj=incident,
        detail={"kind": kind},
    )
    return incident


@transaction.atomic
def deployment_create(
    *, acting_user: User, incident: CriticalIncident, supporter: SupporterProfile
) -> Deployment:
    if incident.involved_supporters.filter(pk=supporter.pk).exists():
        raise ValidationError("This supporter was part of the incident and cannot be deployed.")
    if (
        incident.kind == vocab.CriticalIncidentKind.SHOOTING
        and vocab.Specialty.POST_SHOOTING not in supporter.specialties
    ):
        raise ValidationError("Shootings need a supporter trained in post-shooting support.")
    if not SupporterProfile.objects.ready(incident.agency).filter(pk=supporter.pk).exists():
        raise ValidationError("This supporter is not on the active roster.")
    deployment, created = Deployment.objects.get_or_create(incident=incident, supporter=supporter)
    if created:
        notify(kind="psp.request.assigned", recipient_user=supporter.user, agency=incident.agency)
        audit_record(
            action="psp.deployment.created",
            actor=acting_user,
            agency_id=incident.agency_id,
            obj=deployment,
            detail={"incident": incident.pk},
        )
    return deployment


@transaction.atomic
def group_session_create(
    *, acting_user: User, incident: CriticalIncident, kind: str, held_on: date, attendees: int
) -> GroupSession:
    if held_on < incident.occurred_on:
        raise ValidationError("A session cannot be held before the incident.")
    session = GroupSession.objects.create(
        incident=incident, kind=kind, held_on=held_on, attendees=attendees
    )
    audit_record(
        action="psp.group_session.created",
        actor=acting_user,
        agency_id=incident.agency_id,
        obj=session,
        detail={"kind": kind, "incident": incident.pk},
    )
    return session


@transaction.atomic
def mutual_aid_save(
    *, acting_user: User, agency: Agency, item: MutualAidRequest | None = None, **values: Any
) -> MutualAidRequest:
    if item is None:
        item = MutualAidRequest(agency=agency)
    for name, value in values.items():
        setattr(item, name, value)
    item.save()
    audit_record(
        action="psp.mutual_aid.saved",
        actor=acting_user,
        agency_id=agency.pk,
        obj=item,
        detail={"direction": item.direction, "status": item.status},
    )
    return item
