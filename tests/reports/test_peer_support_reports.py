"""Peer-support reports: figures from records, no identity in pages or exports."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine
from django.test import Client

from tandem.reports.disclosure import (
    SUPPRESSED,
)
from tests.conftest import make_user, sign_in
from tests.helpers import pdf_text
from tests.reports.support import (
    MARKER_SUPPORTER,
    TODAY,
    _xlsx_text,
    assert_no_identity,
    export_get,
    report_get,
)

# --- 2. peer-support reports --------------------------------------------------------------


def test_peer_support_report_counts_and_withholds_small_groups(
    cast: dict[str, Any], usage_data: Any
) -> None:
    client = sign_in(Client(), cast["coordinator"])
    response = report_get(client, "peer-support", "2026-01", "2026-01")
    assert response.status_code == 200
    content = response.context["content"]
    usage = content["sections"][0]["tables"][0]
    assert usage["name"] == "usage_incident_category"
    rows = {row[0]: row for row in usage["rows"]}
    # One civilian, January, substance use: that is a name. Withheld, with its partners.
    assert rows["Substance use"][2] == SUPPRESSED
    assert rows["Total"][-1] == 28
    for table in (t for s in content["sections"] for t in s["tables"]):
        for row in table["rows"]:
            for value in row[1:]:
                assert not (isinstance(value, int) and 1 <= value < 5), (table["title"], row)
    html = response.content.decode()
    assert 'role="img"' in html
    assert "<title id=" in html
    assert "<desc id=" in html
    assert "<table>" in html
    assert 'scope="row"' in html


def test_peer_support_pages_and_exports_carry_no_identity(
    cast: dict[str, Any], usage_data: Any
) -> None:
    names = [
        MARKER_SUPPORTER,
        MARKER_SUPPORTER.capitalize(),
        f"E-{MARKER_SUPPORTER}",
        f"{MARKER_SUPPORTER}@example.test",
    ]
    for role in ("coordinator", "psychologist", "chief"):
        client = sign_in(Client(), cast[role])
        assert_no_identity(
            report_get(client, "peer-support", "2026-01", "2026-03").content.decode(), names
        )
        assert_no_identity(
            export_get(client, "peer-support", "csv", "2026-01", "2026-03").content.decode(
                "utf-8-sig"
            ),
            names,
        )
        xlsx = export_get(client, "peer-support", "xlsx", "2026-01", "2026-03").content
        assert_no_identity(_xlsx_text(xlsx), names)
        pdf = export_get(client, "peer-support", "pdf", "2026-01", "2026-03")
        assert pdf["Content-Type"] == "application/pdf"
        assert_no_identity(pdf_text(pdf.content, drawing=True), names)


def test_peer_support_report_sections_cover_the_issue(
    cast: dict[str, Any], usage_data: Any
) -> None:
    client = sign_in(Client(), cast["chief"])
    content = report_get(client, "peer-support", "2026-01", "2026-04").context
    assert content is not None
    assert content["error"] == ""
    titles = [s["title"] for s in content["content"]["sections"]]
    assert titles == [
        "Usage",
        "Response times",
        "Critical incidents",
        "Supporter hours",
        "Training needs",
    ]
    names = {t["name"] for s in content["content"]["sections"] for t in s["tables"]}
    assert {
        "usage_incident_category",
        "usage_ack",
        "usage_contact",
        "ci_incidents",
        "ci_deployments",
        "needs_topics",
    } <= names


def test_tables_follow_the_fields_the_agency_collects(
    agency: Any, cast: dict[str, Any], usage_data: Any
) -> None:
    from tandem.reports.services import report_build
    from tandem.reports.statistics import Period

    period = Period(date(2026, 1, 1), date(2026, 3, 31))
    with time_machine.travel(TODAY, tick=False):
        content, _ = report_build(agency=agency, report="peer-support", period=period)
    names = [t["name"] for t in content["sections"][0]["tables"]]
    assert names == [  # this agency's usage form does not collect the activation channel
        "usage_incident_category",
        "usage_duration_bucket",
        "usage_services",
    ]
    services = content["sections"][0]["tables"][-1]
    assert ["Listening and support", 64] in services["rows"]  # a multiple-response count
    agency.policy["usage_form"]["fields"] = ["gender", "follow_up"]
    agency.save(update_fields=["policy"])
    with time_machine.travel(TODAY, tick=False):
        content, _ = report_build(agency=agency, report="peer-support", period=period)
    names = [t["name"] for t in content["sections"][0]["tables"]]
    # No channel table either: closing keeps the channel only where the form collects it.
    assert names == ["usage_gender", "usage_follow_up"]
    agency.policy["usage_form"]["fields"] = ["activation_channel", "gender"]
    agency.save(update_fields=["policy"])
    with time_machine.travel(TODAY, tick=False):
        content, _ = report_build(agency=agency, report="peer-support", period=period)
    names = [t["name"] for t in content["sections"][0]["tables"]]
    assert names == ["usage_channel", "usage_gender"]


@pytest.mark.parametrize(("people", "shown"), [(6, True), (2, False)])
def test_supporter_hours_are_shown_only_for_enough_supporters(
    agency: Any, cast: dict[str, Any], usage_data: Any, people: int, shown: bool
) -> None:
    from decimal import Decimal

    from tandem.readiness.services import time_entry_add

    for n in range(people):
        user = make_user(agency, f"hours{n}", "supporter")
        with time_machine.travel(datetime(2026, 2, 20, 12, tzinfo=UTC), tick=False):
            time_entry_add(
                acting_user=user,
                worked_on=date(2026, 2, 10),
                hours=Decimal("2.5"),
                idempotency_key=f"bench-{n}",
            )
    content = report_get(
        sign_in(Client(), cast["coordinator"]), "peer-support", "2026-02", "2026-02"
    ).context["content"]
    hours = next(s for s in content["sections"] if s["title"] == "Supporter hours")
    (label, value), _other = hours["figures"]
    assert value == (f"{Decimal('2.5') * people:.1f}" if shown else SUPPRESSED)
    assert "hours0" not in str(content).lower()


def test_viewing_a_report_is_audited_without_names(
    agency: Any, cast: dict[str, Any], usage_data: Any
) -> None:
    from tandem.audit.models import AuditEvent

    report_get(sign_in(Client(), cast["chief"]), "peer-support", "2026-01", "2026-01")
    event = AuditEvent.objects.filter(action="report.viewed").get()
    assert event.actor_id == cast["chief"].pk
    assert event.detail["report"] == "peer-support"
    assert MARKER_SUPPORTER not in str(event.detail).lower()


def test_demo_stores_one_monthly_report_and_is_idempotent(
    agency: Any, cast: dict[str, Any]
) -> None:
    from tandem.reports.demo import populate
    from tandem.reports.models import ReportRun

    populate(agency=agency, users=cast)
    populate(agency=agency, users=cast)
    assert sorted(ReportRun.objects.filter(agency=agency).values_list("report", flat=True)) == [
        "peer-support",
        "recovery",
    ]


def test_annual_report_aggregates_in_the_database(
    agency: Any, usage_data: Any, django_assert_max_num_queries: Any
) -> None:
    """The query count does not grow with the number of records (GROUP BY in SQL)."""
    from tandem.reports.services import report_build
    from tandem.reports.statistics import Period

    with django_assert_max_num_queries(40):
        content, _ = report_build(
            agency=agency,
            report="peer-support",
            period=Period(date(2026, 1, 1), date(2026, 12, 31)),
        )
    assert not content["empty"]
