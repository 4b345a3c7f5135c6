"""Peer support, limits of confidentiality (PS-7): acceptance tests from the user's side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.support import services
from tandem.support.models import (
    Consultation,
    DutyToReportNotice,
)
from tests.conftest import sign_in
from tests.peer_support.support import T0, deliveries

pytestmark = pytest.mark.django_db


CLOCK_START = T0  # where the shared ``clock`` fixture stops time


# ========================================================================================
# 7. Limits of confidentiality (PS-7)
# ========================================================================================


def test_emergency_duty_to_report_alerts_coordinator_and_psychologist_until_acknowledged(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    client = sign_in(Client(), team["pia"])
    client.post(
        reverse("support:duty_new"),
        {
            "category": "threats_to_others",
            "emergency": "on",
            "subject_name": "Duty Subject",
            "subject_phone": "+1 555 0144",
        },
    )
    notice = DutyToReportNotice.objects.get()
    for role in ("coordinator", "psychologist"):
        channels = {d.channel for d in deliveries("psp.duty_to_report", cast[role])}
        assert channels == {"sms", "email"}
    clock.shift(timedelta(minutes=10))
    services.escalate_due()
    assert len(deliveries("psp.duty_to_report", cast["coordinator"])) == 4
    psychologist = sign_in(Client(), cast["psychologist"])
    page = psychologist.get(reverse("support:duty_detail", args=[notice.pk])).content
    assert b"Duty Subject" in page
    psychologist.post(
        reverse("support:duty_acknowledge", args=[notice.pk]), {"action": "acknowledge"}
    )
    clock.shift(timedelta(minutes=30))
    services.escalate_due()
    assert len(deliveries("psp.duty_to_report", cast["coordinator"])) == 4
    for role in ("supporter", "chief", "administrator", "supervisor"):
        assert (
            sign_in(Client(), cast[role])
            .get(reverse("support:duty_detail", args=[notice.pk]))
            .status_code
            == 404
        )
    psychologist.post(reverse("support:duty_acknowledge", args=[notice.pk]), {"action": "resolve"})
    notice = DutyToReportNotice.objects.get()
    assert notice.is_shredded
    assert notice.subject is None


def test_non_emergency_notice_needs_a_self_disclosure_date(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), team["pia"])
    missing = client.post(
        reverse("support:duty_new"), {"category": "criminal_conduct", "subject_name": "Someone"}
    )
    assert missing.status_code == 400
    assert b"self-disclose" in missing.content
    due = (timezone.localdate() + timedelta(days=7)).isoformat()
    client.post(
        reverse("support:duty_new"),
        {"category": "criminal_conduct", "subject_name": "Someone", "self_disclosure_due": due},
    )
    notice = DutyToReportNotice.objects.get()
    assert not notice.emergency
    assert notice.self_disclosure_due.isoformat() == due
    assert not deliveries("psp.duty_to_report")


def test_supervisor_duties_are_offered_only_to_supporters_who_supervise(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    plain = dict(services.exception_choices(agency, team["pia"]))
    assert "harassment" not in plain
    team["pia"].role_assignments.create(agency=agency, role="supervisor")
    team["pia"].forget_roles()
    assert "harassment" in dict(services.exception_choices(agency, team["pia"]))


def test_anonymous_consultation_and_breach_reports_reach_the_right_roles(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), team["pia"])
    client.post(reverse("support:consult_new"), {"category": "criminal_conduct"})
    assert deliveries("psp.consultation", cast["coordinator"])
    item = Consultation.objects.get()
    assert {f.name for f in Consultation._meta.get_fields()} >= {"category"}
    assert not any(isinstance(f, models.TextField) for f in Consultation._meta.fields)
    coordinator = sign_in(Client(), cast["coordinator"])
    coordinator.post(
        reverse("support:consult_list"), {"consultation": item.pk, "answer": "not_reportable"}
    )
    assert Consultation.objects.get().answer == "not_reportable"
    client.post(
        reverse("support:breach_new"),
        {"kind": "overheard", "occurred_on": timezone.localdate().isoformat()},
    )
    assert deliveries("psp.breach", cast["coordinator"])
    assert deliveries("psp.breach", cast["psychologist"])
    future = client.post(
        reverse("support:breach_new"),
        {
            "kind": "overheard",
            "occurred_on": (timezone.localdate() + timedelta(days=3)).isoformat(),
        },
    )
    assert future.status_code == 400
    assert b"cannot be in the future" in future.content
