"""Who may manage which accounts: administrators, in their own agency only. Who may decide
a proposed program role: the chief or a holder of the role.

Everyone else gets the same 404 as for an account that does not exist.
"""

from __future__ import annotations

from django.http import Http404

from tandem.accounts.models import RoleRequest, User
from tandem.agencies.access import one_or_404, require_account
from tandem.agencies.models import Role


def require_administrator(user: User) -> None:
    if not (user.is_authenticated and user.agency_id and user.has_role(Role.ADMINISTRATOR)):
        raise Http404


def get_account_for_user(user: User, pk: int) -> User:
    """The account ``pk`` if ``user`` administers its agency; else ``Http404``.
    Reading and changing need the same role."""
    require_administrator(user)
    # An API client's service account is managed on the API clients screen, not here.
    account = (
        User.objects.filter(pk=pk, agency_id=user.home_agency_id, api_client__isnull=True)
        .select_related("member")
        .first()
    )
    if account is None:
        raise Http404
    return account


def get_role_request_for_user(user: User, pk: int | str) -> RoleRequest:
    """A role request ``user`` may decide: they are the chief or hold the role, in the same
    agency, and neither proposed it nor would receive it. Everyone else gets ``Http404``.
    Decided requests are still found, so a second click says "already decided"."""
    agency = require_account(user)
    role_request = one_or_404(
        RoleRequest.objects.select_related("user", "proposed_by"), pk, agency=agency
    )
    if not role_request.may_decide(user):
        raise Http404
    return role_request
