"""Peer recovery, authorization matrix: every URL answers only the program's roles."""

from __future__ import annotations

from typing import Any

import pytest

from tests.authz import check_no_session, check_row, make_world
from tests.authz_recovery import ROWS, build_world


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.url_name)
def test_every_recovery_url_answers_only_the_program(
    row: Any, agency: Any, cast: dict[str, Any], stranger: Any
) -> None:
    check_row(row, make_world(agency, cast, [build_world]), stranger)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.url_name)
def test_no_recovery_page_without_a_verified_session(
    row: Any, agency: Any, cast: dict[str, Any]
) -> None:
    check_no_session(row, make_world(agency, cast, [build_world]))
