"""This app's entries in the main navigation (see tandem.core.navigation)."""

from __future__ import annotations

from tandem.agencies.models import Role
from tandem.api.access import LISTERS
from tandem.core.navigation import NavEntry

ENTRIES: list[NavEntry] = [
    NavEntry(
        "API clients",
        "api:client_list",
        frozenset(LISTERS),
        "Systems that call Tandem (CAD, phones, HR, the identity provider) and their tokens.",
    ),
    NavEntry(
        "Single sign-on",
        "api:sso_settings",
        frozenset({Role.ADMINISTRATOR}),
        "Sign-in with the agency's identity provider (Entra ID, Okta, Keycloak).",
    ),
]
