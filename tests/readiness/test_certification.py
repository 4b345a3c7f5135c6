"""Readiness, certification and hours: acceptance tests from the user's side."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.presets import load_preset
from tandem.audit.models import AuditEvent
from tandem.readiness import compliance, services
from tandem.readiness.compliance import (
    AttendanceFact,
    CheckFact,
    DesignationFact,
    Facts,
    evaluate,
)
from tests.conftest import make_user
from tests.readiness.support import log_hours

# ========================================================================================
# 6. Certification and hours
# ========================================================================================


@pytest.mark.django_db
def test_certification_hours_count_once_a_supervisor_signs_them_off(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    agency.policy = load_preset("west-virginia").model_dump(mode="json")
    agency.save(update_fields=["policy"])
    prs = cast["prs"]
    prs.agency.refresh_from_db()
    day = timezone.localdate()
    logs = [
        log_hours(prs, "experience", day, "8", "a"),
        log_hours(prs, "ethics", day - timedelta(days=1), "6", "b"),
        log_hours(prs, "supervision", day - timedelta(days=2), "19", "c"),
    ]
    assert log_hours(prs, "experience", day, "8", "a").pk == logs[0].pk
    progress = services.certification_progress(prs)
    assert progress["pending"] == Decimal("33")
    assert progress["experience"] == 0
    with pytest.raises(ValidationError, match="another supervisor"):
        services.hours_sign_off(acting_user=prs, log=logs[0])
    client = signed_in(cast["crt_supervisor"])
    for log in logs:
        client.post(reverse("readiness:hours_sign_off", args=[log.pk]))
    progress = services.certification_progress(prs)
    assert progress["experience"] == Decimal("8")
    assert progress["supervision"] == Decimal("25")
    assert progress["supervision_met"]
    assert progress["ethics"] == Decimal("6")
    assert progress["ethics_met"]
    assert not progress["experience_met"]  # 500 required
    page = signed_in(prs).get(reverse("readiness:certification"))
    assert b"WVCBAPP Peer Recovery certification" in page.content
    assert b"25 of 25" in page.content or b"25.00 of 25" in page.content


@pytest.mark.django_db
def test_certification_hours_of_all_kinds_fit_in_a_day(agency: Any, cast: dict[str, User]) -> None:
    prs, day = cast["prs"], timezone.localdate()
    log_hours(prs, "experience", day, "20", "day-1")
    with pytest.raises(ValidationError, match="at most 24"):
        log_hours(prs, "ethics", day, "5", "day-2")
    log_hours(prs, "supervision", day, "4", "day-3")
    assert services.certification_progress(prs)["pending"] == Decimal("24")


@pytest.mark.django_db
def test_double_submit_keys_belong_to_the_person_who_sent_them(
    agency: Any, cast: dict[str, User]
) -> None:
    prs, aro, supporter = cast["prs"], cast["aro"], cast["supporter"]
    day = timezone.localdate()
    mine = log_hours(prs, "experience", day, "2", "shared-key")
    theirs = log_hours(aro, "experience", day, "3", "shared-key")
    assert theirs.pk != mine.pk
    assert theirs.user == aro
    again = log_hours(prs, "experience", day, "2", "shared-key")
    assert again.pk == mine.pk
    entry = services.time_entry_add(
        acting_user=supporter, worked_on=day, hours=Decimal("1"), idempotency_key="shared-key"
    )
    other = make_user(agency, "second-supporter", "supporter")
    second = services.time_entry_add(
        acting_user=other, worked_on=day, hours=Decimal("1"), idempotency_key="shared-key"
    )
    assert second.pk != entry.pk
    assert second.user == other


@pytest.mark.django_db
def test_certification_record_uses_optimistic_locking(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    prs = cast["prs"]
    client = signed_in(prs)
    client.get(reverse("readiness:certification"))
    form = {"education": "ged", "exam_date": "2026-05-02", "exam_result": "passed", "version": "1"}
    assert client.post(reverse("readiness:certification"), form).status_code == 302
    stale = client.post(reverse("readiness:certification"), {**form, "education": "diploma"})
    assert stale.status_code == 400
    assert b"Someone else changed" in stale.content
    prs.readiness_certification.refresh_from_db()
    assert prs.readiness_certification.education == "ged"
    assert prs.readiness_certification.exam_result == "passed"
    supervisor = signed_in(cast["crt_supervisor"])
    url = reverse("readiness:person_credential", args=[prs.pk])
    bad = supervisor.post(
        url,
        {
            "credential_number": "PR-1234",
            "issued_on": "2026-05-20",
            "expires_on": "2026-01-01",
            "version": "2",
        },
        follow=True,
    )
    assert b"expiry date must be after" in bad.content


@pytest.mark.django_db
def test_only_a_supervisor_records_the_credential_and_the_audit_names_the_fields(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    prs, supervisor = cast["prs"], cast["crt_supervisor"]
    with pytest.raises(ValidationError, match="supervisor"):
        services.certification_update(
            acting_user=prs,
            user=prs,
            version=None,
            credential_number="PR-1",
            issued_on=date(2026, 1, 2),
        )
    # The PRS's own form has no credential fields: posting them changes nothing.
    signed_in(prs).post(
        reverse("readiness:certification"),
        {
            "education": "ged",
            "exam_result": "passed",
            "version": "1",
            "credential_number": "PR-1",
            "issued_on": "2026-01-02",
            "expires_on": "2028-01-02",
        },
    )
    prs.readiness_certification.refresh_from_db()
    assert prs.readiness_certification.credential_number == ""
    assert prs.readiness_certification.issued_on is None
    response = signed_in(supervisor).post(
        reverse("readiness:person_credential", args=[prs.pk]),
        {
            "credential_number": "PR-77",
            "issued_on": "2026-01-02",
            "expires_on": "2028-01-02",
            "renewed_on": "",
            "version": "2",
        },
    )
    assert response.status_code == 302
    prs.readiness_certification.refresh_from_db()
    assert prs.readiness_certification.credential_number == "PR-77"
    event = AuditEvent.objects.filter(action="readiness.certification_updated").last()
    assert event is not None
    assert event.detail["fields"] == ["credential_number", "expires_on", "issued_on"]
    assert "PR-77" not in str(event.detail)


def test_the_credential_expiry_is_a_due_date() -> None:
    wv = load_preset("west-virginia")
    facts = Facts(
        programs=frozenset({"prp"}),
        is_prs=True,
        designations=(DesignationFact("prp", date(2026, 1, 5)),),
        attendance=(
            AttendanceFact(
                date(2026, 1, 4), "initial", "prp", "present", compliance.PRP_INITIAL_TOPICS
            ),
            AttendanceFact(date(2027, 1, 4), "cjis", "all", "present"),
            AttendanceFact(date(2027, 1, 4), "ongoing", "prp", "present"),
        ),
        checks=(CheckFact(date(2026, 1, 2), "cleared", date(2028, 3, 1)),),
        signed=(("nda", date(2026, 1, 3)),),
        certified_from=date(2025, 5, 20),
        certified_until=date(2027, 5, 20),
    )
    assert evaluate(facts, wv, date(2027, 3, 1)).level == "compliant"
    soon = evaluate(facts, wv, date(2027, 5, 1))
    assert soon.level == "due_soon", soon.reasons
    assert "Peer recovery: certification renewal due by Thu, May 20, 2027" in soon.reasons
    assert any(d.key.startswith("certification-") for d in soon.due)
    assert evaluate(facts, wv, date(2027, 5, 21)).level == "not_compliant"
