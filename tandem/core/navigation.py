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
    description: str = ""  # shown on the home page's cards


# Programs list their own entries in tandem/<app>/navigation.py (``ENTRIES``); they come
# after Home, before the agency's settings. Keep it to a few per role: an app's own pages
# carry their sub-navigation.
FEATURE_APPS = ("support", "readiness", "recovery", "reports", "api")

#: Not a role in an agency: the deployment operator (``agencies.access.is_operator``).
OPERATOR = "deployment_operator"

NAV: list[NavEntry] = [
    NavEntry("Home", "core:home", frozenset()),
    NavEntry(
        "Agencies",
        "operator:agency_list",
        frozenset({OPERATOR}),
        "The agencies on this deployment; create one with its first administrator.",
    ),
    NavEntry(
        "People",
        "agencies:member_list",
        frozenset({Role.ADMINISTRATOR, Role.COORDINATOR}),
        "The agency roster: find a member, their unit and supervisor.",
    ),
    NavEntry(
        "Units",
        "agencies:unit_list",
        frozenset({Role.ADMINISTRATOR}),
        "Districts, sections and units, nested as in the organisation chart.",
    ),
    NavEntry(
        "Roster import",
        "agencies:roster_import",
        frozenset({Role.ADMINISTRATOR}),
        "Bring in the HR roster: review what changes, then import it in one step.",
    ),
    NavEntry(
        "Policy",
        "agencies:policy",
        frozenset({Role.ADMINISTRATOR}),
        "Titles, eligibility, escalation, training rules, retention and thresholds.",
    ),
    NavEntry(
        "Accounts",
        "accounts:user_list",
        frozenset({Role.ADMINISTRATOR}),
        "Sign-in accounts and roles; release locks, reset authenticators.",
    ),
    NavEntry(
        "Audit trail",
        "audit:event_list",
        frozenset({Role.AUDITOR}),
        "Every sensitive read and write, with a check that nothing was altered.",
    ),
    NavEntry(
        "My account",
        "accounts:account",
        frozenset(),
        "Your password, authenticator and backup codes.",
    ),
]


def all_entries() -> list[NavEntry]:
    from importlib import import_module

    features = [
        entry
        for app in FEATURE_APPS
        for entry in import_module(f"tandem.{app}.navigation").ENTRIES
    ]
    return [NAV[0], *features, *NAV[1:]]


def navigation_for(user: Any, current_path: str) -> list[dict[str, Any]]:
    from tandem.agencies.access import is_operator

    items = []
    operator = is_operator(user)
    for entry in all_entries():
        if entry.roles and not user.has_role(*entry.roles) and not (
                operator and OPERATOR in entry.roles):
            continue
        try:
            url = reverse(entry.url_name)
        except NoReverseMatch:
            continue
        current = url == current_path or (url != "/" and current_path.startswith(url))
        items.append(
            {
                "label": entry.label,
                "url": url,
                "current": current,
                "description": entry.description,
            }
        )
    return items
