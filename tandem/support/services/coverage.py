"""Coverage warnings.

Part of ``tandem.support.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from tandem.agencies.models import Agency, Role
from tandem.audit.services import audit_record
from tandem.core.notifications import notify
from tandem.support.models import (
    Rotation,
)
from tandem.support.oncall import COVERAGE_DAYS, Schedule

from .limits import _roles_users

# --- Coverage warnings ------------------------------------------------------------------


def coverage_warn_daily(now: datetime | None = None) -> int:
    """Warn each agency's coordinators of on-call gaps in the next 14 days. Runs daily."""
    warned = 0
    start = now or timezone.now()
    for agency in Agency.objects.all():
        if not Rotation.objects.filter(agency=agency).exists():
            continue
        gaps = Schedule(
            agency, since=start, until=start + timedelta(days=COVERAGE_DAYS + 1), full=True
        ).gaps(start)
        if not gaps:
            continue
        with transaction.atomic():
            for user in _roles_users(agency, [Role.COORDINATOR]):
                notify(kind="psp.coverage_gap", recipient_user=user, agency=agency)
                warned += 1
            audit_record(
                action="psp.coverage.gaps", agency_id=agency.pk, detail={"gaps": len(gaps)}
            )
    return warned
