"""Who may reach an agency's API clients: administrators manage them; the chief or a holder
of a scope's program role approves (``ApiClient.may_approve``). ``Http404`` for missing and
not allowed alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404

from tandem.agencies.access import one_or_404, require_role
from tandem.agencies.models import Role
from tandem.api.models import ApiClient, ApiToken
from tandem.api.scopes import APPROVING_ROLES

if TYPE_CHECKING:
    from tandem.accounts.models import User

MANAGERS = (Role.ADMINISTRATOR,)
READERS = (Role.ADMINISTRATOR, Role.CHIEF)
#: Who reaches the list of clients: readers see all, approvers those waiting for them.
LISTERS = tuple(sorted({*READERS, *APPROVING_ROLES}))


def get_api_client_for_user(user: User, pk: int | str, *, write: bool) -> ApiClient:
    agency = require_role(user, *(MANAGERS if write else READERS))
    return one_or_404(
        ApiClient.objects.select_related("created_by", "approved_by"), pk, agency=agency
    )


def get_api_token_for_user(user: User, pk: int | str) -> ApiToken:
    agency = require_role(user, *MANAGERS)
    return one_or_404(ApiToken.objects.select_related("client"), pk, client__agency=agency)


def get_api_client_to_approve(user: User, pk: int | str) -> ApiClient:
    """A client ``user`` may approve; ``Http404`` for anyone else (administrators included)."""
    agency = require_role(user, *APPROVING_ROLES)
    client: ApiClient = one_or_404(ApiClient.objects.all(), pk, agency=agency)
    if not client.may_approve(user):
        raise Http404
    return client


def api_clients_for_user(user: User) -> list[ApiClient]:
    """The clients ``user``'s screen lists: every one for a reader, else those waiting for
    their approval."""
    agency = require_role(user, *LISTERS)
    clients = list(
        ApiClient.objects.filter(agency=agency)
        .select_related("created_by", "approved_by")
        .prefetch_related("tokens")
    )
    if user.has_role(*READERS):
        return clients
    return [
        c for c in clients if c.revoked_at is None and not c.is_approved and c.may_approve(user)
    ]
