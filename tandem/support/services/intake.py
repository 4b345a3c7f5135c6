"""Intake page.

Part of ``tandem.support.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.audit.services import audit_record
from tandem.support.models import (
    IntakeLink,
)

from .common import INTAKE_LINK_DAYS

# --- Intake page --------------------------------------------------------------------------


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def intake_link_rotate(*, acting_user: User, agency: Agency, days: int = INTAKE_LINK_DAYS) -> str:
    """Revoke the current intake link and return a new secret token (shown once)."""
    now = timezone.now()
    IntakeLink.objects.filter(agency=agency, revoked_at__isnull=True).update(revoked_at=now)
    token = secrets.token_urlsafe(24)
    link = IntakeLink.objects.create(
        agency=agency, digest=_digest(token), expires_at=now + timedelta(days=days)
    )
    audit_record(
        action="psp.intake_link.rotated",
        actor=acting_user,
        agency_id=agency.pk,
        obj=link,
        detail={"days": days},
    )
    return token


def intake_link_for(token: str) -> IntakeLink | None:
    """The link a token opens (valid or not); None when unknown."""
    if not token or len(token) > 100:
        return None
    return IntakeLink.objects.select_related("agency").filter(digest=_digest(token)).first()
