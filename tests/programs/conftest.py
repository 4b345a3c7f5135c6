"""Fixtures of the programs tests: one demo agency loaded as ``make demo`` does."""

from __future__ import annotations

from typing import Any

import pytest

from tandem.accounts.models import User
from tandem.agencies.models import Agency


@pytest.fixture
def demo(db: Any, settings: Any, tmp_path: Any) -> Any:
    """Load one demo agency (as ``make demo`` does) and sign its people in for real."""
    from tandem.core.demo import load_demo, write_credentials

    settings.DEMO_MODE = True
    settings.VAR_DIR = tmp_path

    def load(slug: str) -> tuple[Agency, dict[str, User]]:
        entry = load_demo([slug])[slug]
        write_credentials({slug: entry})
        users = {
            role: User.objects.get(username=a["username"]) for role, a in entry["accounts"].items()
        }
        return Agency.objects.get(slug=slug), users

    return load
