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


# --- the programs the agency runs ---------------------------------------------------------


@pytest.mark.django_db
def test_an_agency_sees_only_the_reports_of_the_programs_it_runs(
    agency: Any, cast: dict[str, Any]
) -> None:
    """A peer-support-only agency (policy ``programs``) is offered no recovery or grant
    report: not in the list, 404 at their address, none made each month."""
    from django.test import Client
    from django.urls import reverse

    from tandem.reports.services import monthly_reports
    from tests.conftest import sign_in

    chief = sign_in(Client(), cast["chief"])
    index = chief.get(reverse("reports:index")).content.decode()
    assert reverse("reports:recovery") in index
    assert chief.get(reverse("reports:recovery")).status_code == 200
    agency.policy["programs"] = ["peer_support"]
    agency.save(update_fields=["policy"])
    cast["chief"].refresh_from_db()
    index = chief.get(reverse("reports:index")).content.decode()
    assert reverse("reports:peer_support") in index
    assert reverse("reports:recovery") not in index
    assert reverse("reports:grant") not in index
    assert chief.get(reverse("reports:recovery")).status_code == 404
    assert chief.get(reverse("reports:grant")).status_code == 404
    assert [d.slug for d in monthly_reports(agency)] == ["peer-support"]
