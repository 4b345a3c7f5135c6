"""Fixtures of the API tests: fresh rate limits, a token per scope, the objects the
endpoints point at."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache

from tandem.api.scopes import SCOPES
from tests.api.support import issue, make_world


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


@pytest.fixture
def tokens(agency: Any, cast: dict[str, Any]) -> Callable[[str], str]:
    made: dict[str, str] = {}

    def _token(scope: str) -> str:
        if scope not in made:
            approver = cast["chief"] if SCOPES[scope].program else None
            made[scope] = issue(cast["administrator"], scope, approver=approver)
        return made[scope]

    return _token


@pytest.fixture
def world(agency: Any, cast: dict[str, Any]) -> dict[str, Any]:
    return make_world(agency, cast)
