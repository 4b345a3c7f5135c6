"""Reports, authorization of every URL: acceptance tests from the user's side."""

from __future__ import annotations

from typing import Any

import pytest

from tests.authz import check_no_session, check_row, make_world
from tests.authz_reports import ROWS, build_world

# --- authorization of every URL -----------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.url_name)
def test_every_reports_url_answers_only_its_roles(
    row: Any, agency: Any, cast: dict[str, Any], stranger: Any
) -> None:
    check_row(row, make_world(agency, cast, [build_world]), stranger)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.url_name)
def test_every_reports_url_needs_a_full_session(
    row: Any, agency: Any, cast: dict[str, Any]
) -> None:
    check_no_session(row, make_world(agency, cast, [build_world]))
