"""Who may read the audit trail: auditors, and only their own agency's events (X-4).

Everyone else — administrators and chiefs included — gets the same 404 as for a missing page.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404

from tandem.agencies.models import Role
from tandem.audit.models import AuditEvent

if TYPE_CHECKING:
    from tandem.accounts.models import User


def is_auditor(user: User) -> bool:
    return bool(
        user.is_authenticated and user.agency_id is not None and user.has_role(Role.AUDITOR)
    )


def require_auditor(user: User) -> None:
    if not is_auditor(user):
        raise Http404


def get_event_for_user(user: User, seq: int) -> AuditEvent:
    """Event number ``seq`` of the auditor's own agency's chain (read only: events are
    never changed, by anyone)."""
    require_auditor(user)
    try:
        return AuditEvent.objects.get(chain=user.home_agency_id, seq=seq)
    except AuditEvent.DoesNotExist:
        raise Http404 from None
