"""Who may reach which agency object. Every helper answers ``Http404`` both for "missing"
and for "not allowed", and scopes every query to the signed-in user's own agency."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from tandem.agencies.models import Agency, Member, Role, Unit

#: Roles that manage the roster, units, policy and branding.
MANAGERS = (Role.ADMINISTRATOR,)
#: Roles that may read the member directory.
DIRECTORY_READERS = (Role.ADMINISTRATOR, Role.COORDINATOR)


def require_role(user: Any, *roles: str) -> Agency:
    """The user's agency when they hold one of ``roles`` there, else ``Http404``."""
    agency = getattr(user, "agency", None)
    if agency is None or not user.has_role(*roles):
        raise Http404
    return agency


def get_agency_for_user(user: Any, *, write: bool = False) -> Agency:
    """The user's agency, for its settings (policy, logo): administrators only."""
    return require_role(user, *MANAGERS)


def get_unit_for_user(user: Any, pk: Any, *, write: bool = False) -> Unit:
    agency = require_role(user, *MANAGERS)
    try:
        return Unit.objects.select_related("agency").get(agency=agency, pk=int(pk))
    except (Unit.DoesNotExist, TypeError, ValueError):
        raise Http404 from None


def get_member_for_user(user: Any, pk: Any, *, write: bool = False) -> Member:
    agency = require_role(user, *(MANAGERS if write else DIRECTORY_READERS))
    try:
        return Member.objects.select_related("agency", "unit", "supervisor").get(
            agency=agency, pk=int(pk)
        )
    except (Member.DoesNotExist, TypeError, ValueError):
        raise Http404 from None
