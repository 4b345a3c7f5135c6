"""Readiness in the browser: acceptance tests from the user's side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from tandem.accounts.models import User
from tandem.readiness.gates import (
    is_peer_support_ready,
    peer_support_ready_users,
)
from tandem.readiness.models import (
    TrainingSession,
)
from tests.conftest import sign_in
from tests.readiness.support import at, attend, held_session, make_ready

# ========================================================================================
# In the browser
# ========================================================================================


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_coordinator_schedules_marks_attendance_and_the_supporter_leaves_the_roster(
    live_server: Any, agency: Any, cast: dict[str, User]
) -> None:
    _supporter, _coordinator = cast["supporter"], cast["coordinator"]
    # Mid-year, so the two absences fall in one calendar year whatever today's date is.
    with time_machine.travel(at(2026, 6, 10, 9), tick=True):
        _browser_journey(live_server, agency, cast)


def _browser_journey(live_server: Any, agency: Any, cast: dict[str, User]) -> None:
    from django.conf import settings

    from tests.browser import browser_page

    supporter, coordinator = cast["supporter"], cast["coordinator"]
    now = timezone.now()
    make_ready(agency, cast, supporter, trained=now - timedelta(days=20))
    attend(agency, coordinator, supporter, "monthly-meeting", now - timedelta(days=10), "unexcused")
    missed = held_session(agency, "psp-ongoing", now - timedelta(hours=2))
    assert is_peer_support_ready(supporter)
    session_cookie = sign_in(Client(), coordinator).cookies[settings.SESSION_COOKIE_NAME].value

    with browser_page(viewport={"width": 390, "height": 844}) as page:
        page.context.add_cookies(
            [
                {
                    "name": settings.SESSION_COOKIE_NAME,
                    "value": session_cookie,
                    "url": live_server.url,
                }
            ]
        )
        page.goto(f"{live_server.url}/readiness/team/")
        assert "Supporter Tester" in page.locator("#ready-list").inner_text()

        page.goto(f"{live_server.url}/readiness/sessions/")
        page.locator("#id_course").select_option(label="Quarterly peer support training")
        start = timezone.localtime() + timedelta(days=7)
        page.locator("#id_starts_at").fill(start.strftime("%Y-%m-%dT10:00"))
        page.locator("#id_ends_at").fill(start.strftime("%Y-%m-%dT12:00"))
        page.locator("#id_place").fill("Academy room 4")
        page.locator("#id_instructor").fill("Dr. Lane")
        page.locator("#id_capacity").fill("12")
        page.get_by_role("button", name="Schedule").click()
        page.get_by_text("The session is scheduled.").wait_for()
        assert "Academy room 4" in page.content()

        page.goto(f"{live_server.url}/readiness/sessions/{missed.pk}/")
        page.get_by_label("Attendance of Supporter Tester").select_option("unexcused")
        page.locator(
            "form.inline", has=page.get_by_label("Attendance of Supporter Tester")
        ).get_by_role("button", name="Save").click()
        page.get_by_text("Attendance saved for Supporter Tester.").wait_for()

        page.goto(f"{live_server.url}/readiness/team/")
        assert "Supporter Tester" not in page.locator("#ready-list").inner_text()
        assert "2 unexcused absences" in page.content()

    assert TrainingSession.objects.filter(place="Academy room 4").count() == 1
    assert not is_peer_support_ready(supporter)
    assert supporter not in peer_support_ready_users(agency)
