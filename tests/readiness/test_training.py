"""Readiness, training: catalogue, sessions, enrolment, attendance."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.readiness import services
from tandem.readiness.models import (
    Attendance,
    Course,
    TrainingSession,
)
from tests.readiness.support import CS, held_session, schedule

# ========================================================================================
# 2. Training: catalogue, sessions, enrolment, attendance
# ========================================================================================


@pytest.mark.django_db
def test_the_catalogue_ships_the_seeds_curricula(agency: Any) -> None:
    assert services.catalogue_seed(agency=agency) == 8
    assert services.catalogue_seed(agency=agency) == 0  # idempotent
    topics = {t for c in Course.objects.filter(agency=agency) for t in c.topics}
    assert set(CS.training.initial_topics) <= topics  # Colorado Springs
    assert {"Stress awareness", "Secondary trauma", "Crisis intervention"} <= topics  # Joplin
    assert {"Overdose reversal", "Case management", "Motivational interviewing"} <= topics
    assert any("CJIS security awareness" in t for t in topics)
    kinds = set(Course.objects.filter(agency=agency).values_list("kind", flat=True))
    assert {"meeting", "supervision", "cjis", "initial", "ongoing"} <= kinds


@pytest.mark.django_db
def test_sessions_cannot_be_scheduled_in_the_past(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    services.catalogue_seed(agency=agency)
    course = Course.objects.get(agency=agency, code="psp-ongoing")
    client = signed_in(cast["coordinator"])
    past = timezone.localtime() - timedelta(days=1)
    response = client.post(
        reverse("readiness:sessions"),
        {
            "course": course.pk,
            "starts_at": past.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (past + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "place": "Academy",
            "instructor": "Dr. Lane",
            "capacity": "10",
        },
    )
    assert response.status_code == 400
    assert b"cannot be scheduled in the past" in response.content
    assert not TrainingSession.objects.exists()
    with pytest.raises(ValidationError, match="in the past"):
        schedule(cast["coordinator"], course, past, place="A", instructor="B", capacity=5)


@pytest.mark.django_db
def test_scheduling_twice_creates_one_session_and_end_must_follow_start(
    agency: Any, cast: dict[str, User]
) -> None:
    services.catalogue_seed(agency=agency)
    course = Course.objects.get(agency=agency, code="monthly-meeting")
    start = timezone.now() + timedelta(days=3)
    schedule(cast["coordinator"], course, start)
    with pytest.raises(ValidationError, match="already has a session"):
        schedule(cast["coordinator"], course, start)
    with pytest.raises(ValidationError, match="end after it starts"):
        schedule(
            cast["coordinator"],
            course,
            start + timedelta(days=1),
            ends_at=start + timedelta(days=1),
        )
    assert TrainingSession.objects.count() == 1


@pytest.mark.django_db
def test_enrolment_respects_capacity_and_a_second_click_is_harmless(
    agency: Any, cast: dict[str, User]
) -> None:
    services.catalogue_seed(agency=agency)
    course = Course.objects.get(agency=agency, code="psp-ongoing")
    start = timezone.now() + timedelta(days=3)
    session = schedule(cast["coordinator"], course, start, capacity=1)
    first = services.session_enrol(
        acting_user=cast["supporter"], session=session, user=cast["supporter"]
    )
    again = services.session_enrol(
        acting_user=cast["supporter"], session=session, user=cast["supporter"]
    )
    assert first.pk == again.pk
    with pytest.raises(ValidationError, match="full"):
        services.session_enrol(acting_user=cast["aro"], session=session, user=cast["aro"])
    with pytest.raises(ValidationError, match="role does not allow"):
        services.session_enrol(acting_user=cast["supporter"], session=session, user=cast["prs"])


@pytest.mark.django_db
def test_the_coordinator_enrols_a_team_member_from_the_session_page(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    services.catalogue_seed(agency=agency)
    start = timezone.now() + timedelta(days=5)
    session = schedule(
        cast["coordinator"],
        Course.objects.get(agency=agency, code="cjis-awareness"),
        start,
        instructor="IT",
        capacity=5,
    )
    client = signed_in(cast["coordinator"])
    url = reverse("readiness:session", args=[session.pk])
    response = client.post(url, {"action": "enrol", "user": cast["prs"].pk}, follow=True)
    assert b"Prs Tester is enrolled." in response.content
    refused = client.post(url, {"action": "enrol", "user": cast["chief"].pk}, follow=True)
    assert b"Choose someone on a peer team." in refused.content
    assert list(session.enrolments.values_list("user_id", flat=True)) == [cast["prs"].pk]


@pytest.mark.django_db
def test_marking_attendance_twice_updates_and_never_duplicates(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    session = held_session(agency, "psp-ongoing", timezone.now() - timedelta(hours=3))
    client = signed_in(cast["coordinator"])
    url = reverse("readiness:session", args=[session.pk])
    supporter = cast["supporter"]
    client.post(url, {"user": supporter.pk, "status": "unexcused"})
    client.post(url, {"user": supporter.pk, "status": "unexcused"})
    client.post(url, {"user": supporter.pk, "status": "excused"})
    rows = Attendance.objects.filter(session=session, user=supporter)
    assert rows.count() == 1
    assert rows.get().status == "excused"
    bad = client.post(url, {"user": supporter.pk, "status": "asleep"}, follow=True)
    assert b"Choose present, excused or unexcused" in bad.content
    assert rows.get().status == "excused"


@pytest.mark.django_db
def test_attendance_waits_for_the_session_to_start(agency: Any, cast: dict[str, User]) -> None:
    session = held_session(agency, "psp-ongoing", timezone.now() + timedelta(days=2))
    with pytest.raises(ValidationError, match="once the session has started"):
        services.attendance_mark(
            acting_user=cast["coordinator"],
            session=session,
            user=cast["supporter"],
            status="present",
        )
    assert not Attendance.objects.exists()


@pytest.mark.django_db
def test_meetings_and_supervision_record_attendance_and_no_content() -> None:
    for model in (TrainingSession, Attendance):
        names = {f.name for f in model._meta.get_fields()}
        assert not names & {"notes", "content", "summary", "minutes", "discussion"}
