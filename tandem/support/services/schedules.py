"""Schedules.

Part of ``tandem.support.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.audit.services import audit_record
from tandem.core.when import when
from tandem.support.models import (
    Override,
    Rotation,
    RotationMember,
    SupporterProfile,
)
from tandem.support.oncall import Schedule

# --- Schedules ---------------------------------------------------------------------------


@transaction.atomic
def rotation_save(
    *,
    acting_user: User | None,
    agency: Agency,
    rotation: Rotation | None,
    participants: list[SupporterProfile],
    version: int | None = None,
    **values: Any,
) -> Rotation:
    if not participants:
        raise ValidationError("A rotation needs at least one participant.")
    if len({p.pk for p in participants}) != len(participants):
        raise ValidationError("Each supporter can appear only once in a rotation.")
    if rotation is None:
        rotation = Rotation(agency=agency, **values)
        rotation.save()
    else:
        locked = Rotation.objects.select_for_update(of=("self",)).get(pk=rotation.pk, agency=agency)
        if version is not None and locked.version != version:
            raise ValidationError(
                "Someone else changed this rotation meanwhile. Reload it and try again."
            )
        for name, value in values.items():
            setattr(locked, name, value)
        locked.version += 1
        locked.save()
        rotation = locked
        rotation.members.all().delete()
    RotationMember.objects.bulk_create(
        RotationMember(rotation=rotation, supporter=p, position=i)
        for i, p in enumerate(participants)
    )
    audit_record(
        action="psp.rotation.saved",
        actor=acting_user,
        agency_id=agency.pk,
        obj=rotation,
        detail={"layer": rotation.layer, "participants": len(participants)},
    )
    return rotation


@transaction.atomic
def override_create(
    *,
    acting_user: User,
    agency: Agency,
    layer: str,
    supporter: SupporterProfile,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
) -> Override:
    if ends_at <= starts_at:
        raise ValidationError("The cover must end after it starts.")
    clash = Schedule(agency, since=starts_at, until=ends_at, full=True).on_other_layer(
        supporter, layer, starts_at, ends_at
    )
    if clash is not None:
        raise ValidationError(
            f"{supporter} is already on call on the other layer then "
            f"({when(clash, 'datetime')}); one person cannot be primary and "
            "backup at once."
        )
    item = Override.objects.create(
        agency=agency,
        layer=layer,
        supporter=supporter,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
    )
    audit_record(
        action="psp.override.created",
        actor=acting_user,
        agency_id=agency.pk,
        obj=item,
        detail={"layer": layer, "reason": reason},
    )
    return item


@transaction.atomic
def override_delete(*, acting_user: User, override: Override) -> None:
    audit_record(
        action="psp.override.deleted",
        actor=acting_user,
        agency_id=override.agency_id,
        obj=override,
    )
    override.delete()
