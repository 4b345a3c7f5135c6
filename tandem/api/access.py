"""Who may reach an agency's API clients: administrators manage them; the Chief (or another
administrator) approves program scopes. ``Http404`` for missing and not allowed alike."""

from __future__ import annotations

from typing import Any

from tandem.agencies.access import one_or_404, require_role
from tandem.agencies.models import Role
from tandem.api.models import ApiClient, ApiToken

MANAGERS = (Role.ADMINISTRATOR,)
READERS = (Role.ADMINISTRATOR, Role.CHIEF)


def get_api_client_for_user(user: Any, pk: Any, *, write: bool = False) -> ApiClient:
    agency = require_role(user, *(MANAGERS if write else READERS))
    return one_or_404(ApiClient.objects.select_related("created_by", "approved_by"), pk,
                      agency=agency)


def get_api_token_for_user(user: Any, pk: Any, *, write: bool = False) -> ApiToken:
    agency = require_role(user, *MANAGERS)
    return one_or_404(ApiToken.objects.select_related("client"), pk, client__agency=agency)
