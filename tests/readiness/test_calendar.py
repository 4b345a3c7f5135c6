"""Readiness, the calendar: acceptance tests from the user's side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.readiness import services
from tandem.readiness.models import (
    Course,
)
from tests.readiness.support import schedule

# ========================================================================================
# 10. Calendar
# ========================================================================================


@pytest.mark.django_db
def test_training_calendar_feed_lists_my_sessions_and_can_be_revoked(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    from tandem.core.ical import feed_token_issue, feed_token_revoke

    supporter = cast["supporter"]
    services.catalogue_seed(agency=agency)
    start = timezone.now() + timedelta(days=4)
    session = schedule(
        cast["coordinator"],
        Course.objects.get(agency=agency, code="monthly-meeting"),
        start,
        place="HQ room 2",
        capacity=10,
    )
    services.session_enrol(acting_user=supporter, session=session, user=supporter)
    response = signed_in(supporter).post(reverse("readiness:feed_issue"), follow=True)
    assert b"/readiness/calendar/" in response.content
    token = feed_token_issue(acting_user=supporter, user=supporter, purpose="readiness.training")
    feed = Client().get(reverse("readiness:feed", args=[token]))
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("text/calendar")
    assert b"Monthly team meeting" in feed.content
    assert b"HQ room 2" in feed.content
    feed_token_revoke(acting_user=supporter, user=supporter, purpose="readiness.training")
    assert Client().get(reverse("readiness:feed", args=[token])).status_code == 404
    assert Client().get(reverse("readiness:feed", args=["nope"])).status_code == 404
