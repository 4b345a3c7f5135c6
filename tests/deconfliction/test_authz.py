"""Deconfliction, authorization: only the program reaches its pages."""

from __future__ import annotations

from typing import Any

import pytest

from tests.authz import check_no_session, check_row, make_world
from tests.authz_recovery import ROWS, build_world

NEW_URLS = {
    "recovery:deconflict_scan",
    "recovery:candidate_detail",
    "recovery:candidate_not_same",
    "recovery:candidate_merge",
    "recovery:merge_undo",
    "recovery:conflict_settle",
}


NEW_ROWS = [row for row in ROWS if row.url_name in NEW_URLS]


def test_every_new_url_has_an_authorization_row() -> None:
    assert {row.url_name for row in NEW_ROWS} == NEW_URLS


@pytest.mark.parametrize("row", NEW_ROWS, ids=lambda r: r.url_name)
def test_only_the_program_reaches_deconfliction(
    row: Any, agency: Any, cast: dict[str, Any], stranger: Any
) -> None:
    check_row(row, make_world(agency, cast, [build_world]), stranger)


@pytest.mark.parametrize("row", NEW_ROWS, ids=lambda r: r.url_name)
def test_no_deconfliction_page_without_a_verified_session(
    row: Any, agency: Any, cast: dict[str, Any]
) -> None:
    check_no_session(row, make_world(agency, cast, [build_world]))
