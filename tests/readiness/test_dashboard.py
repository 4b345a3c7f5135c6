"""Readiness, the dashboard, the reports contract and query counts."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit.models import AuditEvent
from tandem.readiness import compliance, services
from tandem.readiness.models import (
    Course,
)
from tests.conftest import make_user
from tests.readiness.support import at, held_session, log_hours, make_ready, schedule

# ========================================================================================
# Dashboard, reports contract and query counts
# ========================================================================================


@pytest.mark.django_db
def test_dashboard_shows_levels_and_reasons_in_a_fixed_number_of_queries(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    with time_machine.travel(at(2026, 6, 10), tick=False):
        make_ready(agency, cast, cast["supporter"], trained=at(2026, 1, 5, 9))
        client = signed_in(cast["coordinator"])
        client.get(reverse("readiness:team"))
        with CaptureQueriesContext(connection) as few:
            page = client.get(reverse("readiness:team"))
        assert b"Due soon" in page.content
        assert b"Not compliant" in page.content
        for n in range(6):
            make_user(agency, f"extra{n}", "supporter")
        with CaptureQueriesContext(connection) as many:
            client.get(reverse("readiness:team"))
        assert len(many) == len(few)
        summary = compliance.compliance_summary(agency)
        assert summary["due_soon"] == 1
        assert sum(summary.values()) == 9  # supporter, ARO, PRS and six more
        assert compliance.status_for(cast["supporter"]).level == "due_soon"


@pytest.mark.django_db
def test_my_training_shows_my_status_and_only_the_agreements_that_bind_me(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    for kind in ("confidentiality", "nda", "policy"):
        services.agreement_publish(
            acting_user=cast["coordinator"],
            kind=kind,
            title=f"The {kind} text",
            body=f"Body of {kind}",
        )
    page = signed_in(cast["supporter"]).get(reverse("readiness:home")).content
    assert b"Not compliant" in page
    assert b"not officially designated by the Chief" in page
    assert b"The confidentiality text" in page
    assert b"The policy text" in page
    assert b"The nda text" not in page
    prs_page = signed_in(cast["prs"]).get(reverse("readiness:home")).content
    assert b"The nda text" in prs_page
    assert b"The confidentiality text" not in prs_page


@pytest.mark.django_db
def test_repeated_buttons_name_their_row_for_screen_readers(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    services.catalogue_seed(agency=agency)
    start = timezone.now() + timedelta(days=5)
    schedule(
        cast["coordinator"],
        Course.objects.get(agency=agency, code="psp-ongoing"),
        start,
        hours=2,
        place="Room 4",
        instructor="Dr. Lane",
        capacity=10,
    )
    home = signed_in(cast["supporter"]).get(reverse("readiness:home")).content.decode()
    assert '<th scope="row">' in home
    assert 'Enrol<span class="visually-hidden"> in Quarterly peer support training' in home
    services.vacancy_create(
        acting_user=cast["coordinator"], program="psp", title="District 3 supporter"
    )
    vacancies = signed_in(cast["coordinator"]).get(reverse("readiness:vacancies")).content
    assert b'Close this vacancy<span class="visually-hidden">: District 3 supporter' in vacancies
    services.time_entry_add(
        acting_user=cast["supporter"],
        worked_on=timezone.localdate(),
        hours=Decimal("2"),
        idempotency_key="a11y",
    )
    entries = signed_in(cast["supporter"]).get(reverse("readiness:time_entries")).content
    assert b'Remove<span class="visually-hidden"> 2' in entries
    log_hours(cast["prs"], "experience", timezone.localdate(), "3", "a11y")
    team = signed_in(cast["crt_supervisor"]).get(reverse("readiness:team")).content.decode()
    assert 'Sign off<span class="visually-hidden"> 3.00 experience hours of' in team


@pytest.mark.django_db
def test_sensitive_pages_are_audited_by_selectors_not_views(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    from pathlib import Path

    from tandem.readiness import views

    vacancy = services.vacancy_create(
        acting_user=cast["coordinator"], program="psp", title="Peer supporter"
    )
    application = services.application_submit(
        acting_user=cast["member"], vacancy=vacancy, letter="I would like to help."
    )
    session = held_session(agency, "psp-ongoing", timezone.now() - timedelta(days=2))
    coordinator = signed_in(cast["coordinator"])
    pages = {
        "readiness.applications_viewed": reverse("readiness:applications"),
        "readiness.application_viewed": reverse("readiness:application", args=[application.pk]),
        "readiness.session_viewed": reverse("readiness:session", args=[session.pk]),
        "readiness.person_viewed": reverse("readiness:person", args=[cast["supporter"].pk]),
        "readiness.team_viewed": reverse("readiness:team"),
    }
    for action, url in pages.items():
        assert coordinator.get(url).status_code == 200
        assert (
            AuditEvent.objects.filter(action=action, actor_id=cast["coordinator"].pk).count() == 1
        )
    assert signed_in(cast["prs"]).get(reverse("readiness:certification")).status_code == 200
    assert (
        AuditEvent.objects.filter(
            action="readiness.certification_viewed", actor_id=cast["prs"].pk
        ).count()
        == 1
    )
    assert "audit_record" not in Path(views.__file__).read_text()
