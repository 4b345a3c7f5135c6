"""Roles and access (X-3): the authorization matrix: acceptance tests from the user's side."""

from __future__ import annotations

from typing import Any

import pytest

from tests.authz import (
    MATRIX,
    PLATFORM_ROWS,
    PUBLIC,
    PUBLIC_BY_DESIGN,
    World,
    all_url_names,
    check_no_session,
    check_row,
)

pytestmark = pytest.mark.django_db


# ========================================================================================
# 5. Roles and access: the authorization matrix
# Deny by default: every URL × every role, and no page without a verified session.
# ========================================================================================


def test_every_url_is_in_the_matrix() -> None:
    covered = {row.url_name for row in MATRIX} | PUBLIC
    missing = [name for name, _ in all_url_names() if name not in covered]
    assert not missing, f"URLs with no authorization row: {missing}"


@pytest.mark.parametrize("row", PLATFORM_ROWS, ids=lambda r: r.url_name)
def test_only_the_allowed_roles_get_each_page(row: Any, world: World, stranger: Any) -> None:
    check_row(row, world, stranger)


@pytest.mark.parametrize("row", PLATFORM_ROWS, ids=lambda r: r.url_name)
def test_no_page_without_a_verified_session(row: Any, world: World) -> None:
    check_no_session(row, world)


def test_public_urls_are_only_sign_in_steps_and_health() -> None:
    for name in PUBLIC:
        signin_or_health = name.startswith(("accounts:", "core:health", "core:live"))
        assert signin_or_health or name in PUBLIC_BY_DESIGN, name
