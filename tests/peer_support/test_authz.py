"""Peer support, authorization matrix: acceptance tests from the user's side."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.support.models import (
    RequestOffer,
)
from tests.authz import check_no_session, check_row, make_world
from tests.authz_support import ROWS, build_world
from tests.conftest import sign_in
from tests.peer_support.support import ask, make_supporter

pytestmark = pytest.mark.django_db


# ========================================================================================
# Authorization matrix
# ========================================================================================


@pytest.mark.parametrize("row", ROWS, ids=[r.url_name for r in ROWS])
def test_every_peer_support_url_answers_only_its_roles(
    row: Any, agency: Agency, cast: dict[str, User], stranger: User
) -> None:
    check_row(row, make_world(agency, cast, [build_world]), stranger)


@pytest.mark.parametrize("row", ROWS, ids=[r.url_name for r in ROWS])
def test_no_peer_support_page_without_a_verified_session(
    row: Any, agency: Agency, cast: dict[str, User]
) -> None:
    check_no_session(row, make_world(agency, cast, [build_world]))


def test_objects_of_another_agency_are_not_found(
    agency: Agency, cast: dict[str, User], stranger: User, team: dict[str, User]
) -> None:
    request = ask(cast["member"])
    other = make_supporter(stranger.agency, "osup")
    RequestOffer.objects.create(request=request, user=other, step=0)
    assert (
        sign_in(Client(), other)
        .get(reverse("support:request_detail", args=[request.pk]))
        .status_code
        == 404
    )


def test_an_agency_without_peer_support_offers_none_of_its_pages(
    agency: Agency, cast: dict[str, User]
) -> None:
    """The same rule as for peer recovery: where the policy's ``programs`` leaves peer support
    out, its menu entries go and its signed-in pages answer 404, whatever the role."""
    coordinator = sign_in(Client(), cast["coordinator"])
    assert coordinator.get(reverse("support:workspace")).status_code == 200
    agency.policy = {**agency.policy, "programs": ["peer_recovery"]}
    agency.save(update_fields=["policy"])
    home = coordinator.get("/").content.decode()
    assert "Peer support" not in home
    assert "Get support" not in home
    for name in ("workspace", "directory", "queue", "breach_list"):
        assert coordinator.get(reverse(f"support:{name}")).status_code == 404, name
    aro = sign_in(Client(), cast["aro"])
    assert aro.get(reverse("recovery:caseload")).status_code == 200


def test_the_help_page_closes_with_the_program(agency: Agency, cast: dict[str, User]) -> None:
    """A help link posted on a wall outlives a program the agency stopped running: it then
    answers 404 like any unknown link, and so does a supporter's calendar feed."""
    from tandem.support import access as support_access

    help_page = reverse("support:intake", args=[support_access.help_pass_for(agency)])
    assert Client().get(help_page).status_code == 200
    agency.policy = {**agency.policy, "programs": ["peer_recovery"]}
    agency.save(update_fields=["policy"])
    assert Client().get(help_page).status_code == 404
