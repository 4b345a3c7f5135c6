"""The authorization matrix: every URL × every role → the expected answer.

Each feature adds its rows to ``MATRIX`` (one ``Row`` per URL pattern). A row says which
roles get a page (200); every other role — and the same roles from another agency — must
get the one answer for "missing or not allowed", a 404. ``PUBLIC`` lists the URL names that
need no sign-in. ``test_every_url_is_in_the_matrix`` fails when a new URL has no row, so
nobody can add a page without deciding who may see it.

``path`` builds a concrete path from the ``World`` (objects made for the test), so URLs with
ids are exercised with real objects of the signed-in user's agency.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from tandem.agencies.models import Role

ALL_ROLES = frozenset(r.value for r in Role)
EVERY_SIGNED_IN = ALL_ROLES | {"nobody"}


@dataclass
class World:
    """Objects of agency Alpha that parameterised URLs point at."""

    agency: Any
    cast: dict[str, Any]
    objects: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    url_name: str
    allowed: frozenset[str]
    path: Callable[[World], str] | None = None
    # "get" for pages; "post" for action endpoints (an empty POST: allowed roles get a page
    # or a redirect back with a message, everyone else the 404).
    method: str = "get"
    ok_statuses: frozenset[int] = frozenset({200})

    def build(self, world: World) -> str:
        return self.path(world) if self.path else reverse(self.url_name)


def roles(*names: str) -> frozenset[str]:
    return frozenset(names)


ADMIN = roles("administrator")
ACTION = frozenset({200, 302, 400})  # 400: the form came back with a clear message

# URL names reachable without signing in (sign-in steps, health, secret-link pages).
PUBLIC: set[str] = {
    "core:health",
    "core:live",
    "accounts:banner",
    "accounts:login",
    "accounts:mfa",
    "accounts:mfa_enrol",
    "accounts:logout",
    "accounts:setup",  # a one-time set-up link: the token is the key
}


def _user(w: World) -> int:
    return int(w.objects["target_user"].pk)


def _path(name: str, key: str) -> Callable[[World], str]:
    return lambda w: reverse(name, args=[w.objects[key].pk])


MATRIX: list[Row] = [
    Row("core:home", EVERY_SIGNED_IN),
    # accounts: everyone manages their own account; administrators manage the others.
    Row("accounts:account", EVERY_SIGNED_IN),
    Row("accounts:password_change", EVERY_SIGNED_IN),
    Row("accounts:backup_codes", EVERY_SIGNED_IN),
    # program roles: the chief or a holder of the role decides what an administrator proposed
    Row("accounts:role_requests", EVERY_SIGNED_IN),
    *[
        Row(
            f"accounts:{name}",
            roles("chief", "auditor"),
            _path(f"accounts:{name}", "role_request"),
            "post",
            ACTION,
        )
        for name in ("role_request_approve", "role_request_decline")
    ],
    Row("accounts:user_list", ADMIN),
    Row("accounts:user_create", ADMIN),
    Row("accounts:user_detail", ADMIN, _path("accounts:user_detail", "target_user")),
    *[
        Row(f"accounts:{name}", ADMIN, _path(f"accounts:{name}", "target_user"), "post", ACTION)
        for name in (
            "user_role_grant",
            "user_role_revoke",
            "user_unlock",
            "user_reset_mfa",
            "user_password",
            "user_reactivate",
            "user_deactivate",
            "user_sso_link",
            "user_sso_unlink",
        )
    ],
    # agencies: the administrator runs the agency's settings and roster.
    Row("agencies:policy", ADMIN),
    Row("agencies:logo", EVERY_SIGNED_IN),
    Row("agencies:unit_list", ADMIN),
    Row("agencies:unit_create", ADMIN),
    Row("agencies:unit_edit", ADMIN, _path("agencies:unit_edit", "unit")),
    Row("agencies:member_list", roles("administrator", "coordinator")),
    Row("agencies:member_create", ADMIN),
    Row("agencies:member_edit", ADMIN, _path("agencies:member_edit", "member")),
    Row("agencies:roster_import", ADMIN),
    # operator: only a deployment operator (no agency, no role) — no agency role at all.
    Row("operator:agency_list", frozenset()),
    Row("operator:agency_create", frozenset()),
    # audit: auditors only — not the administrator, not the chief.
    Row("audit:event_list", roles("auditor")),
    Row(
        "audit:event_detail",
        roles("auditor"),
        lambda w: reverse("audit:event_detail", args=[w.objects["audit_event"].seq]),
    ),
    Row("audit:verify", roles("auditor"), None, "post", ACTION),
]


def _platform_world(w: World) -> None:
    from django.core.files.base import ContentFile

    from tandem.accounts.models import RoleRequest
    from tandem.agencies.models import Member, Unit
    from tandem.audit.models import AuditEvent
    from tandem.audit.services import audit_record

    w.agency.logo.save("logo.svg", ContentFile(b'<svg xmlns="http://www.w3.org/2000/svg"/>'))
    w.objects["target_user"] = w.cast["nobody"]
    w.objects["unit"] = Unit.objects.filter(agency=w.agency).first()
    w.objects["member"] = Member.objects.filter(agency=w.agency).first()
    w.objects["role_request"] = RoleRequest.objects.create(
        agency=w.agency, user=w.cast["nobody"], role="auditor", proposed_by=w.cast["administrator"]
    )
    audit_record(action="agency.create", agency_id=w.agency.pk)
    w.objects["audit_event"] = AuditEvent.objects.filter(agency_id=w.agency.pk).last()


# Functions that add the objects a feature's parameterised URLs need to the World.
WORLD_BUILDERS: list[Callable[[World], None]] = [_platform_world]

# Secret-link pages (intake forms, calendar feeds) are public by design: they are guarded
# by an unguessable token instead of a session. Features add their names here.
PUBLIC_BY_DESIGN: set[str] = set()

# Each program keeps its rows in tests/authz_<app>.py (ROWS, PUBLIC_BY_DESIGN, build_world)
# and checks them in its own acceptance file with ``check_row``/``check_no_session``.
FEATURE_MODULES = ("support", "readiness", "recovery", "reports", "api")
PLATFORM_ROWS: list[Row] = list(MATRIX)


def _load_features() -> None:
    from importlib import import_module

    for name in FEATURE_MODULES:
        module = import_module(f"tests.authz_{name}")
        MATRIX.extend(module.ROWS)
        PUBLIC.update(module.PUBLIC_BY_DESIGN)
        PUBLIC_BY_DESIGN.update(module.PUBLIC_BY_DESIGN)
        WORLD_BUILDERS.append(module.build_world)


def make_world(
    agency: Any, cast: dict[str, Any], builders: list[Callable[[World], None]] | None = None
) -> World:
    """A World with the platform's objects plus those of ``builders`` (default: all)."""
    w = World(agency=agency, cast=cast)
    for build in builders if builders is not None else WORLD_BUILDERS:
        build(w)
    if builders is not None and _platform_world not in builders:
        _platform_world(w)
    return w


def _fetch(client: Any, row: Row, path: str) -> Any:
    return client.get(path) if row.method == "get" else client.post(path)


def check_row(row: Row, world: World, stranger: Any) -> None:
    """Allowed roles get ``row.ok_statuses``; every other role, and every role of another
    agency, gets the one 404 that also answers "missing"."""
    from django.test import Client

    from tests.conftest import sign_in

    path = row.build(world)
    # Refused roles first: an allowed POST may change the object the others would see.
    ordered = sorted(world.cast.items(), key=lambda item: item[0] in row.allowed)
    for role, user in ordered:
        code = _fetch(sign_in(Client(), user), row, path).status_code
        if role in row.allowed:
            assert code in row.ok_statuses, f"{row.url_name} as {role}: {code}"
        else:
            assert code == 404, f"{row.url_name} as {role}: {code} (expected the 404)"
    if row.path is not None:
        code = _fetch(sign_in(Client(), stranger), row, path).status_code
        assert code == 404, f"{row.url_name} as stranger: {code}"


def check_no_session(row: Row, world: World) -> None:
    """No page without a signed-in, second-factor-verified session."""
    from django.test import Client

    path = row.build(world)
    anonymous = _fetch(Client(), row, path)
    assert anonymous.status_code == 302, f"{row.url_name} anonymous: {anonymous.status_code}"
    assert anonymous["Location"].startswith("/accounts/login/")
    half = Client()
    half.force_login(world.cast["coordinator"])
    response = _fetch(half, row, path)
    assert response.status_code == 302, f"{row.url_name} without MFA: {response.status_code}"
    assert "/accounts/" in response["Location"]


def all_url_names() -> list[tuple[str, str]]:
    """(name, route) of every named URL pattern in the project."""
    from django.urls import URLPattern, URLResolver, get_resolver

    found: list[tuple[str, str]] = []

    def walk(patterns: list[Any], namespace: str, prefix: str) -> None:
        for p in patterns:
            if isinstance(p, URLResolver):
                ns = f"{namespace}{p.namespace}:" if p.namespace else namespace
                walk(p.url_patterns, ns, prefix + str(p.pattern))
            elif isinstance(p, URLPattern) and p.name:
                found.append((f"{namespace}{p.name}", prefix + str(p.pattern)))

    walk(get_resolver().url_patterns, "", "")
    return found


_load_features()
