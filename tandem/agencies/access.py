"""Who may reach which agency object. Every helper answers ``Http404`` both for "missing"
and for "not allowed", and scopes every query to the signed-in user's own agency."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse

from tandem.agencies.models import Agency, Member, Role, Unit

if TYPE_CHECKING:
    from tandem.accounts.models import User

T = TypeVar("T", bound=Model)

#: Roles that manage the roster, units, policy and branding.
MANAGERS = (Role.ADMINISTRATOR,)
#: Roles that may read the member directory.
DIRECTORY_READERS = (Role.ADMINISTRATOR, Role.COORDINATOR)


def program_only(
    program: str,
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A view of ``program``: ``Http404`` for anyone whose agency does not run it (as
    for a page their role may not open), whatever roles they hold."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            agency: Agency | None = getattr(request.user, "agency", None)
            if agency is None or not agency.runs(program):
                raise Http404
            return view(request, *args, **kwargs)

        return wrapped

    return decorate


def require_role(user: User, *roles: str) -> Agency:
    """The user's agency when they hold one of ``roles`` there, else ``Http404``."""
    agency: Agency | None = getattr(user, "agency", None)
    if agency is None or not user.has_role(*roles):
        raise Http404
    return agency


class RoleNotAllowed(ValidationError, PermissionDenied):
    """A service refused its actor. It is both exceptions on purpose: a form that called the
    service shows the message, and anything else (the API, SCIM, a command) turns it into a
    refusal (403) rather than an input error."""


_ANY_AGENCY = object()


def require_actor_role(
    actor: Any,
    *roles: str,
    agency_id: int | None | object = _ANY_AGENCY,
    message: str = "Your role does not allow this.",
) -> None:
    """For services (see "Where the role check lives" in ARCHITECTURE.md): refuse no actor,
    or an actor who does not hold one of ``roles``, or (when ``agency_id`` is given) one
    outside that agency."""
    if actor is None or not actor.has_role(*roles):
        raise RoleNotAllowed(message)
    if agency_id is not _ANY_AGENCY and actor.agency_id != agency_id:
        raise RoleNotAllowed(message)


def require_account(user: User) -> Agency:
    """The agency of any active account holder, whatever their roles, else ``Http404``."""
    agency: Agency | None = getattr(user, "agency", None)
    if agency is None or not user.is_active:
        raise Http404
    return agency


def is_operator(user: User) -> bool:
    """A deployment operator: an active account outside every agency, marked staff. It
    lists and creates agencies and sees nothing inside any of them."""
    return bool(
        getattr(user, "is_authenticated", False)
        and user.is_active
        and user.is_staff
        and getattr(user, "agency_id", None) is None
    )


def require_operator(user: User) -> None:
    if not is_operator(user):
        raise Http404


def pk_or_404(pk: Any) -> int:
    """A primary key from a URL or form value; anything else is the usual 404."""
    try:
        return int(pk)
    except (TypeError, ValueError):
        raise Http404 from None


def one_or_404(queryset: QuerySet[T], pk: Any, **filters: Any) -> T:
    """The one object of ``queryset`` with this key and ``filters`` (always include the
    agency or the owner), else ``Http404`` — the same answer for missing and forbidden."""
    found = queryset.filter(pk=pk_or_404(pk), **filters).first()
    if found is None:
        raise Http404
    return found


def get_agency_for_user(user: User) -> Agency:
    """The user's agency, for its settings (policy, logo): administrators only."""
    return require_role(user, *MANAGERS)


def get_unit_for_user(user: User, pk: int | str) -> Unit:
    agency = require_role(user, *MANAGERS)
    return one_or_404(Unit.objects.select_related("agency"), pk, agency=agency)


def get_member_for_user(user: User, pk: int | str, *, write: bool) -> Member:
    agency = require_role(user, *(MANAGERS if write else DIRECTORY_READERS))
    return one_or_404(
        Member.objects.select_related("agency", "unit", "supervisor"), pk, agency=agency
    )
