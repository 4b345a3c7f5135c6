"""This app's entries in the main navigation (see tandem.core.navigation)."""

from __future__ import annotations

from tandem.core.navigation import NavEntry
from tandem.reports.access import READERS

ENTRIES: list[NavEntry] = [
    NavEntry(
        "Reports",
        "reports:index",
        frozenset(READERS),
        "Program statistics that cannot identify anyone: charts, tables and exports.",
    ),
]
