"""Readiness, authorization of every URL: acceptance tests from the user's side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.readiness import services
from tandem.readiness.models import (
    Attendance,
)
from tests.authz import check_no_session, check_row, make_world
from tests.authz_readiness import ROWS, build_world
from tests.readiness.support import held_session, log_hours

# ========================================================================================
# Authorization of every URL
# ========================================================================================


@pytest.mark.parametrize("row", ROWS, ids=[r.url_name for r in ROWS])
def test_every_readiness_url_answers_only_the_roles_allowed(
    row: Any, agency: Any, cast: dict[str, User], stranger: User
) -> None:
    check_row(row, make_world(agency, cast, [build_world]), stranger)


@pytest.mark.parametrize("row", ROWS, ids=[r.url_name for r in ROWS])
def test_every_readiness_url_needs_a_verified_session(
    row: Any, agency: Any, cast: dict[str, User]
) -> None:
    check_no_session(row, make_world(agency, cast, [build_world]))


def test_the_calendar_feed_is_the_only_public_readiness_page(
    agency: Any, cast: dict[str, User]
) -> None:
    from tests.authz import all_url_names

    names = {name for name, _ in all_url_names() if name.startswith("readiness:")}
    assert names == {r.url_name for r in ROWS} | {"readiness:feed"}


@pytest.mark.django_db
def test_people_pages_reach_only_team_members_and_applicants_in_the_readers_scope(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    coordinator = signed_in(cast["coordinator"])
    supervisor = signed_in(cast["crt_supervisor"])

    def person(client: Client, user: User) -> int:
        return int(client.get(reverse("readiness:person", args=[user.pk])).status_code)

    assert person(coordinator, cast["supporter"]) == 200
    assert person(coordinator, cast["prs"]) == 200
    assert person(coordinator, cast["dispatcher"]) == 404  # not on a team, never applied
    assert person(coordinator, cast["member"]) == 404
    vacancy = services.vacancy_create(
        acting_user=cast["coordinator"], program="psp", title="Peer supporter"
    )
    services.application_submit(acting_user=cast["member"], vacancy=vacancy, letter="Hello")
    assert person(coordinator, cast["member"]) == 200  # an applicant
    # The peer recovery supervisor oversees peer recovery people only.
    assert person(supervisor, cast["prs"]) == 200
    assert person(supervisor, cast["aro"]) == 200
    assert person(supervisor, cast["supporter"]) == 404
    refused = supervisor.post(
        reverse("readiness:check_add", args=[cast["supporter"].pk]),
        {"checked_on": "2026-01-02", "result": "cleared", "renewal_due": "2028-01-02"},
    )
    assert refused.status_code == 404
    page = supervisor.get(reverse("readiness:team")).content
    assert b"Supporter Tester" not in page
    assert cast["prs"].get_full_name().encode() in page
    assert supervisor.get(reverse("readiness:time_export")).status_code == 404
    session = held_session(agency, "psp-ongoing", timezone.now() - timedelta(days=1))
    supervisor.post(
        reverse("readiness:session", args=[session.pk]),
        {"user": cast["supporter"].pk, "status": "unexcused"},
    )
    assert not Attendance.objects.filter(user=cast["supporter"]).exists()
    roster = supervisor.get(reverse("readiness:session", args=[session.pk])).content
    assert cast["supporter"].get_full_name().encode() not in roster
    # Only the peer recovery supervisor signs off a PRS's certification hours.
    log = log_hours(cast["prs"], "experience", timezone.localdate(), "2", "scope")
    for role in ("coordinator", "psychologist"):
        with pytest.raises(ValidationError):
            services.hours_sign_off(acting_user=cast[role], log=log)
