"""The API's rows in the session matrix. The token endpoints are public by design (no
session applies: a bearer token guards them, and ``tests/api/test_matrix.py`` holds
their own matrix of endpoint × scope × agency); the description and its reference page are
for signed-in staff."""

from __future__ import annotations

from tests.authz import ACTION, ADMIN, EVERY_SIGNED_IN, Row, World, _path, roles

ROWS: list[Row] = [
    Row("api:schema", EVERY_SIGNED_IN),
    Row("api:reference", EVERY_SIGNED_IN),
    Row("api:client_list", roles("administrator", "chief", "prs")),
    Row("api:client_create", ADMIN),
    # The world's client has an on-call scope: only the chief approves it.
    Row(
        "api:client_approve",
        roles("chief"),
        _path("api:client_approve", "api_client"),
        "post",
        ACTION,
    ),
    Row("api:token_issue", ADMIN, _path("api:token_issue", "api_client"), "post", ACTION),
    Row("api:token_revoke", ADMIN, _path("api:token_revoke", "api_token"), "post", ACTION),
    Row("api:client_revoke", ADMIN, _path("api:client_revoke", "api_client"), "post", ACTION),
    Row("api:sso_settings", ADMIN),
    Row("api:sso_test", ADMIN, None, "post", ACTION),
]

PUBLIC_BY_DESIGN: set[str] = (
    {
        f"api:{name}"
        for name in (
            "units",
            "members",
            "member",
            "roster",
            "on_call",
            "dispatch_request",
            "dispatch_receipt",
            "readiness",
            "clients",
            "client",
            "contacts",
            "client_referrals",
            "client_disclosures",
            "visits",
            "resources",
            "referrals",
            "referral",
            "reports",
            "report",
        )
    }
    | {f"scim:{name}" for name in ("config", "users", "user", "groups", "group")}
    | {
        # Single sign-on: the way out to the provider and back (after the use banner).
        "sso:start",
        "sso:callback",
        "sso:find",
    }
)


def build_world(w: World) -> None:
    """An API client waiting for approval, with one token."""
    from tandem.api import services

    admin = w.cast["administrator"]
    client = services.api_client_create(acting_user=admin, name="CAD", scopes=["oncall:read"])
    token, _ = services.api_token_issue(acting_user=admin, client=client)
    w.objects["api_client"], w.objects["api_token"] = client, token
