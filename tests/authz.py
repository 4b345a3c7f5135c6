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
    # audit: auditors only — not the administrator, not the chief.
    Row("audit:event_list", roles("auditor")),
    Row("audit:event_detail", roles("auditor"), _path("audit:event_detail", "audit_event")),
    Row("audit:verify", roles("auditor"), None, "post", ACTION),
]


def _platform_world(w: World) -> None:
    from django.core.files.base import ContentFile

    from tandem.agencies.models import Member, Unit
    from tandem.audit.models import AuditEvent
    from tandem.audit.services import audit_record

    w.agency.logo.save("logo.svg", ContentFile(b'<svg xmlns="http://www.w3.org/2000/svg"/>'))
    w.objects["target_user"] = w.cast["nobody"]
    w.objects["unit"] = Unit.objects.filter(agency=w.agency).first()
    w.objects["member"] = Member.objects.filter(agency=w.agency).first()
    audit_record(action="test.world", agency_id=w.agency.pk)
    w.objects["audit_event"] = AuditEvent.objects.filter(agency_id=w.agency.pk).last()


# Functions that add the objects a feature's parameterised URLs need to the World.
WORLD_BUILDERS: list[Callable[[World], None]] = [_platform_world]


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
