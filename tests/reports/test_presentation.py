"""Reports, presentation and delivery: charts, CSV/XLSX/PDF, the monthly delivery."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from typing import Any

import time_machine
from django.test import Client
from django.urls import reverse

from tandem.reports.disclosure import (
    SUPPRESSED,
)
from tests.conftest import sign_in
from tests.helpers import pdf_text
from tests.reports.support import MARKER_SUPPORTER, assert_no_identity, export_get

# --- 4. presentation and delivery ---------------------------------------------------------


def test_monthly_delivery_stores_one_run_and_says_only_that_a_report_is_ready(
    agency: Any, cast: dict[str, Any], usage_data: Any
) -> None:
    from tandem.notifications.models import Delivery
    from tandem.reports.models import ReportRun
    from tandem.reports.services import deliver_monthly_reports

    with time_machine.travel(datetime(2026, 2, 3, 6, tzinfo=UTC), tick=False):
        assert deliver_monthly_reports() == 2
        assert deliver_monthly_reports() == 0  # once per month, however often it runs
    run = ReportRun.objects.get(agency=agency, report="peer-support")
    assert (run.period_start, run.period_end) == (date(2026, 1, 1), date(2026, 1, 31))
    deliveries = Delivery.objects.filter(kind="report.ready")
    assert deliveries.count() == 2  # the coordinator and the CRT supervisor
    client = sign_in(Client(), cast["coordinator"])
    page = client.get(reverse("reports:index")).content.decode()
    assert reverse("reports:run_detail", args=[run.pk]) in page
    detail = client.get(reverse("reports:run_detail", args=[run.pk]))
    assert detail.status_code == 200
    assert "January 2026" in detail.content.decode()
    assert_no_identity(detail.content.decode(), [MARKER_SUPPORTER])


def test_report_ready_notice_has_no_content() -> None:
    from tandem.core.notifications import CATALOGUE

    kind = CATALOGUE["report.ready"]
    assert "peer" not in kind.text.lower()
    assert "support" not in kind.text.lower()


def test_pdf_has_the_agency_name_and_logo(
    agency: Any, cast: dict[str, Any], usage_data: Any
) -> None:
    from django.core.files.base import ContentFile

    agency.logo.save(
        "logo.svg",
        ContentFile(
            b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
            b'<rect width="10" height="10" fill="#123456"/></svg>'
        ),
    )
    client = sign_in(Client(), cast["coordinator"])
    pdf = export_get(client, "peer-support", "pdf", "2026-01", "2026-04").content
    text = pdf_text(pdf, drawing=True)
    assert pdf.startswith(b"%PDF")
    assert agency.name in text
    assert "0.070588 0.203922 0.337255 rg" in text  # the logo's colour, drawn from the SVG


def test_csv_marks_withheld_cells_the_same_way(cast: dict[str, Any], usage_data: Any) -> None:
    client = sign_in(Client(), cast["coordinator"])
    text = export_get(client, "peer-support", "csv", "2026-01", "2026-01").content.decode(
        "utf-8-sig"
    )
    assert SUPPRESSED in text
    assert "withheld" in text
    for line in list(csv.reader(io.StringIO(text)))[1:]:
        value = line[-1]
        if value.isdigit():
            assert not 1 <= int(value) < 5, line


def test_navigation_shows_reports_to_the_roles_that_may_see_them(cast: dict[str, Any]) -> None:
    from tandem.core.navigation import navigation_for

    for role in ("coordinator", "psychologist", "chief", "crt_supervisor", "aro", "prs"):
        labels = [i["label"] for i in navigation_for(cast[role], "/")]
        assert "Reports" in labels, role
    for role in ("administrator", "auditor", "supporter", "member", "nobody"):
        labels = [i["label"] for i in navigation_for(cast[role], "/")]
        assert "Reports" not in labels, role
