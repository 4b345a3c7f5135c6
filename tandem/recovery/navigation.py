"""This app's entries in the main navigation (see tandem.core.navigation)."""

from __future__ import annotations

from tandem.agencies.models import PEER_RECOVERY, Role
from tandem.core.navigation import NavEntry

_PROGRAM = frozenset({Role.ARO, Role.PRS, Role.CRT_SUPERVISOR})

ENTRIES: list[NavEntry] = [
    NavEntry(
        "Caseload",
        "recovery:caseload",
        _PROGRAM,
        "Your clients, follow-ups due and today's planned visits.",
        program=PEER_RECOVERY,
    ),
    NavEntry(
        "Clients",
        "recovery:client_list",
        _PROGRAM,
        "Search the shared recovery client registry or add a client.",
        program=PEER_RECOVERY,
    ),
    NavEntry(
        "Visits",
        "recovery:planned_list",
        _PROGRAM,
        "Planned contacts shared by ARO and PRS, with safety assessments.",
        program=PEER_RECOVERY,
    ),
    NavEntry(
        "Public statements",
        "recovery:statement_list",
        frozenset({Role.CHIEF}),
        "Requests to speak publicly about the peer recovery program.",
        program=PEER_RECOVERY,
    ),
    NavEntry(
        "Staff evaluation",
        "recovery:personnel_evaluation",
        frozenset({Role.CRT_SUPERVISOR, Role.CHIEF}),
        "The annual personnel evaluation of the ARO and the PRS, with their figures.",
        program=PEER_RECOVERY,
    ),
    NavEntry(
        "My evaluation",
        "recovery:my_evaluations",
        frozenset({Role.ARO, Role.PRS}),
        "Your annual evaluation: your figures and your evaluator's feedback, to acknowledge.",
        program=PEER_RECOVERY,
    ),
]
