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
    account: bool = False  # about the person signed in: in the account menu, not the bar
    program: str = ""  # offered only where the agency runs it (``Agency.runs``); "" = always


# Programs list their own entries in tandem/<app>/navigation.py (``ENTRIES``); they come
# after Home, before the agency's settings (order is priority: the first ``BAR_SIZE`` stay in
# the bar at desktop width, the rest go under "More"). Keep it to a few per role: an app's own pages
# carry their sub-navigation.
FEATURE_APPS = ("support", "readiness", "recovery", "reports", "api")

#: Menu items shown in the bar itself; the others fold under a "More" disclosure so the
#: menu fits one row at 1280 px for every role (a coordinator has eleven entries).
BAR_SIZE = 6

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
        account=True,
    ),
]


def all_entries() -> list[NavEntry]:
    from importlib import import_module

    features = [
        entry for app in FEATURE_APPS for entry in import_module(f"tandem.{app}.navigation").ENTRIES
    ]
    return [NAV[0], *features, *NAV[1:]]


def navigation_for(user: Any, current_path: str) -> list[dict[str, Any]]:
    from tandem.agencies.access import is_operator

    items = []
    operator = is_operator(user)
    agency = getattr(user, "agency", None)
    for entry in all_entries():
        if entry.program and (agency is None or not agency.runs(entry.program)):
            continue
        if (
            entry.roles
            and not user.has_role(*entry.roles)
            and not (operator and OPERATOR in entry.roles)
        ):
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
                "account": entry.account,
            }
        )
    return items


def menu_groups(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Split ``navigation_for``'s items for the top bar: the first ``BAR_SIZE`` program
    items in the bar, the rest under "More", the person's own pages under "Account".

    ``more_current`` marks the "More" summary when the page open is one of its items (the
    item itself carries ``aria-current``)."""
    program = [item for item in items if not item["account"]]
    # One item under "More" is not worth a disclosure: the bar takes it.
    cut = len(program) if len(program) <= BAR_SIZE + 1 else BAR_SIZE
    bar, more = program[:cut], program[cut:]
    return {
        "bar": bar,
        "more": more,
        "more_current": any(item["current"] for item in more),
        "account": [item for item in items if item["account"]],
        "account_current": any(item["current"] for item in items if item["account"]),
    }
