"""The API's rows in the session matrix. The token endpoints are public by design (no
session applies: a bearer token guards them, and ``tests/acceptance/test_api.py`` holds
their own matrix of endpoint × scope × agency); the description and its reference page are
for signed-in staff."""

from __future__ import annotations

from tests.authz import EVERY_SIGNED_IN, Row, World

ROWS: list[Row] = [
    Row("api:schema", EVERY_SIGNED_IN),
    Row("api:reference", EVERY_SIGNED_IN),
]

PUBLIC_BY_DESIGN: set[str] = {
    f"api:{name}"
    for name in (
        "units", "members", "member", "roster", "on_call", "dispatch_request", "readiness",
        "clients", "client", "contacts", "client_referrals", "client_disclosures", "visits",
        "resources", "referrals", "referral", "reports", "report",
    )
} | {f"scim:{name}" for name in ("config", "users", "user", "groups", "group")} | {
    # Single sign-on: the way out to the provider and back (after the use banner).
    "sso:start", "sso:callback",
}


def build_world(w: World) -> None:
    """The API's session pages take no objects."""
