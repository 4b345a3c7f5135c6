"""Profiles and availability.

Part of ``tandem.support.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import MemberCategory
from tandem.audit.services import audit_record
from tandem.support import vocab
from tandem.support.models import (
    SupporterProfile,
)

# --- Profiles and availability -------------------------------------------------------------


def _affiliation(user: User) -> str:
    member = getattr(user, "member", None)
    if member is not None and member.category == MemberCategory.SWORN:
        return vocab.Affiliation.SWORN
    return vocab.Affiliation.CIVILIAN


def _profile_defaults(user: User) -> dict[str, Any]:
    member = getattr(user, "member", None)
    return {
        "agency_id": user.home_agency_id,
        "affiliation": _affiliation(user),
        "unit_id": getattr(member, "unit_id", None),
        "phone": user.phone or getattr(member, "phone", "") or "",
    }


def profile_for(user: User) -> SupporterProfile:
    """The user's supporter profile, made on first use (helpers need one to be recorded)."""
    existing = SupporterProfile.objects.filter(user=user).first()
    if existing is not None:
        return existing
    profile, _ = SupporterProfile.objects.get_or_create(user=user, defaults=_profile_defaults(user))
    return profile


def profile_draft(user: User) -> SupporterProfile:
    """The profile ``profile_for`` would make, not saved: what a page read shows before the
    helper's first write (a GET writes nothing)."""
    return SupporterProfile(user=user, **_profile_defaults(user))


@transaction.atomic
def profile_update(
    *, acting_user: User, profile: SupporterProfile, version: int, **values: Any
) -> SupporterProfile:
    locked = SupporterProfile.objects.select_for_update(of=("self",)).get(pk=profile.pk)
    if locked.version != version:
        raise ValidationError(
            "Your profile was changed in another window. Reload the page and try again."
        )
    for name, value in values.items():
        setattr(locked, name, value)
    locked.version += 1
    locked.save(update_fields=[*values, "version", "updated_at"])
    audit_record(
        action="psp.profile.updated",
        actor=acting_user,
        agency_id=locked.agency_id,
        obj=locked,
        detail={"fields": sorted(values)},
    )
    return locked


@transaction.atomic
def profile_photo_set(
    *, acting_user: User, profile: SupporterProfile, content: bytes | None, extension: str = ""
) -> None:
    """Replace (or, with ``content=None``, remove) the supporter's roster photo."""
    from django.core.files.base import ContentFile

    if profile.photo:
        profile.photo.delete(save=False)
    if content is not None:
        profile.photo.save(
            f"{profile.pk}-{secrets.token_hex(4)}.{extension}", ContentFile(content), save=False
        )
    profile.save(update_fields=["photo", "updated_at"])
    audit_record(
        action="psp.profile.photo",
        actor=acting_user,
        agency_id=profile.agency_id,
        obj=profile,
        detail={"removed": content is None},
    )


@transaction.atomic
def availability_set(
    *, acting_user: User, profile: SupporterProfile, until: datetime | None
) -> None:
    if until is not None and until <= timezone.now():
        raise ValidationError("Choose a time in the future, or switch yourself back on.")
    profile.unavailable_until = until
    profile.save(update_fields=["unavailable_until", "updated_at"])
    audit_record(
        action="psp.availability.set",
        actor=acting_user,
        agency_id=profile.agency_id,
        obj=profile,
        detail={"unavailable": until is not None},
    )
