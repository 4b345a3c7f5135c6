"""Demo data for this program (called by ``tandem demo`` through core.demo.DEMO_APPS)."""

from __future__ import annotations

from typing import Any


def populate(*, agency: Any, users: dict[str, Any]) -> None:
    """Create this program's demo records for ``agency``; safe to run again."""
    return None
