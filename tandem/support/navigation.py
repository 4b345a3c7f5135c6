"""This app's entries in the main navigation (see tandem.core.navigation)."""

from __future__ import annotations

from tandem.agencies.models import PEER_SUPPORT, Role
from tandem.core.navigation import NavEntry

ENTRIES: list[NavEntry] = [
    NavEntry(
        "Get support",
        "support:directory",
        frozenset(),
        "Reach a trained peer at any hour. Nobody else learns that you asked.",
        program=PEER_SUPPORT,
    ),
    NavEntry(
        "On call now",
        "support:on_call_now",
        frozenset({Role.DISPATCHER, Role.COORDINATOR}),
        "Who answers right now: supporters on call, the coordinator and the psychologist.",
        program=PEER_SUPPORT,
    ),
    NavEntry(
        "Peer support",
        "support:workspace",
        frozenset({Role.SUPPORTER, Role.COORDINATOR, Role.PSYCHOLOGIST}),
        "Requests offered to you, your contacts, availability and calendar.",
        program=PEER_SUPPORT,
    ),
    NavEntry(
        "Breach reports",
        "support:breach_list",
        frozenset({Role.COORDINATOR, Role.PSYCHOLOGIST}),
        "Breaches of confidentiality reported by the team, to acknowledge.",
        program=PEER_SUPPORT,
    ),
    NavEntry(
        "Activate peer support",
        "support:coordinator_contact",
        frozenset({Role.SUPERVISOR}),
        "Supervisors activate peer support through the coordinator: name and number.",
        program=PEER_SUPPORT,
    ),
]
