"""This app's entries in the main navigation (see tandem.core.navigation)."""

from __future__ import annotations

from tandem.core.navigation import NavEntry

ENTRIES: list[NavEntry] = []
