"""Reports, bad input: acceptance tests from the user's side."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tests.conftest import sign_in
from tests.reports.support import export_get, report_get

# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-09", "2026-10", "in the future"),
        ("2026-04", "2026-05", "once it has ended"),
        ("2026-03", "2026-01", "ends before it starts"),
        ("2026-13", "2026-01", "year and month"),
        ("march", "2026-01", "year and month"),
    ],
)
def test_bad_periods_get_a_clear_message_and_no_table(
    cast: dict[str, Any], usage_data: Any, start: str, end: str, message: str
) -> None:
    client = sign_in(Client(), cast["coordinator"])
    response = report_get(client, "peer-support", start, end)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["content"] is None
    export = export_get(client, "peer-support", "csv", start, end)
    assert export.status_code == 400
    assert export["Content-Type"].startswith("text/html")


def test_empty_period_says_so_without_a_table(cast: dict[str, Any], usage_data: Any) -> None:
    client = sign_in(Client(), cast["coordinator"])
    response = report_get(client, "peer-support", "2025-06", "2025-06")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was recorded in June 2025" in html
    assert "<table>" not in html


def test_threshold_below_two_in_a_stored_policy_is_refused(
    agency: Any, cast: dict[str, Any], usage_data: Any, monkeypatch: Any
) -> None:
    """A policy that somehow holds a threshold below 2 makes no report at all."""
    from tandem.reports.services import ReportError, report_build
    from tandem.reports.statistics import Period

    real = agency.policy_model()
    monkeypatch.setattr(
        type(agency),
        "policy_model",
        lambda self: real.model_copy(update={"small_cell_threshold": 1}),
    )
    with pytest.raises(ReportError, match="at least 2"):
        report_build(
            agency=agency, report="peer-support", period=Period(date(2026, 1, 1), date(2026, 1, 31))
        )


def test_a_role_that_may_not_see_a_report_gets_the_404(cast: dict[str, Any]) -> None:
    client = sign_in(Client(), cast["coordinator"])
    assert client.get(reverse("reports:recovery")).status_code == 404
    assert client.get(reverse("reports:recovery_csv")).status_code == 404
    assert client.get("/reports/nothing-here/").status_code == 404
    aro = sign_in(Client(), cast["aro"])
    assert aro.get(reverse("reports:peer_support")).status_code == 404
    assert client.get("/reports/peer-support/export.exe").status_code == 404


def test_stored_runs_of_another_program_are_hidden(agency: Any, cast: dict[str, Any]) -> None:
    from tandem.reports.models import RunKind
    from tandem.reports.services import last_month, report_run_create

    run, _ = report_run_create(
        agency=agency, report="recovery", period=last_month(), kind=RunKind.SCHEDULED
    )
    coordinator = sign_in(Client(), cast["coordinator"])
    assert coordinator.get(reverse("reports:run_detail", args=[run.pk])).status_code == 404
    supervisor = sign_in(Client(), cast["crt_supervisor"])
    assert supervisor.get(reverse("reports:run_detail", args=[run.pk])).status_code == 200
