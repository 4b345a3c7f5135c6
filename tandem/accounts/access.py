"""Who may manage which accounts: administrators, in their own agency only.

Everyone else gets the same 404 as for an account that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404

from tandem.accounts.models import User
from tandem.agencies.models import Role


def require_administrator(user: Any) -> None:
    if not (user.is_authenticated and user.agency_id and user.has_role(Role.ADMINISTRATOR)):
        raise Http404


def get_account_for_user(user: Any, pk: int, *, write: bool = False) -> User:
    """The account ``pk`` if ``user`` administers its agency; else ``Http404``.
    Reading and changing need the same role, so ``write`` changes nothing today."""
    require_administrator(user)
    account = User.objects.filter(pk=pk, agency_id=user.agency_id).select_related("member").first()
    if account is None:
        raise Http404
    return account
