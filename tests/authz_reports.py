"""Authorization rows for the reports app's URLs (see tests/authz.py)."""

from __future__ import annotations

from tests.authz import Row, World

ROWS: list[Row] = []
PUBLIC_BY_DESIGN: set[str] = set()


def build_world(w: World) -> None:
    """Add the objects this app's parameterised URLs need to ``w.objects``."""
