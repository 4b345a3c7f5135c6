"""Navigation by role. Each app registers its entries here; a user sees only what their
roles allow (the views still check access themselves: the menu is a convenience, not a gate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, reverse

from tandem.agencies.models import Role


@dataclass(frozen=True)
class NavEntry:
    label: str
    url_name: str
    roles: frozenset[str]  # empty = every signed-in user


NAV: list[NavEntry] = [
    NavEntry("Home", "core:home", frozenset()),
    NavEntry("People", "agencies:member_list", frozenset({Role.ADMINISTRATOR, Role.COORDINATOR})),
    NavEntry("Units", "agencies:unit_list", frozenset({Role.ADMINISTRATOR})),
    NavEntry("Roster import", "agencies:roster_import", frozenset({Role.ADMINISTRATOR})),
    NavEntry("Policy", "agencies:policy", frozenset({Role.ADMINISTRATOR})),
    NavEntry("Accounts", "accounts:user_list", frozenset({Role.ADMINISTRATOR})),
    NavEntry("Audit trail", "audit:event_list", frozenset({Role.AUDITOR})),
    NavEntry("My account", "accounts:account", frozenset()),
]


def navigation_for(user: Any, current_path: str) -> list[dict[str, Any]]:
    items = []
    for entry in NAV:
        if entry.roles and not user.has_role(*entry.roles):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        current = url == current_path or (url != "/" and current_path.startswith(url))
        items.append({"label": entry.label, "url": url, "current": current})
    return items
