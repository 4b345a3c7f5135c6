"""This app's entries in the main navigation (see tandem.core.navigation)."""

from __future__ import annotations

from tandem.agencies.models import Role
from tandem.core.navigation import NavEntry

ENTRIES: list[NavEntry] = [
    NavEntry(
        "Readiness",
        "readiness:team",
        frozenset({Role.COORDINATOR, Role.CHIEF, Role.PSYCHOLOGIST, Role.CRT_SUPERVISOR}),
        "Who is trained, designated and compliant; who may serve today.",
    ),
    NavEntry(
        "Training sessions",
        "readiness:sessions",
        frozenset({Role.COORDINATOR, Role.CRT_SUPERVISOR}),
        "Schedule training, meetings and supervision; mark attendance.",
    ),
    NavEntry(
        "My training",
        "readiness:home",
        frozenset({Role.SUPPORTER, Role.ARO, Role.PRS}),
        "Your status, upcoming sessions, agreements to sign and your calendar link.",
    ),
    NavEntry(
        "Vacancies",
        "readiness:vacancies",
        frozenset(),
        "Open places on the peer teams, and your applications.",
    ),
]
