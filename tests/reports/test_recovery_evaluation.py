"""Reports, the recovery evaluation: figures from records, no identity in exports."""

from __future__ import annotations

import io
from typing import Any

from django.test import Client

from tandem.reports.disclosure import (
    SUPPRESSED,
)
from tests.conftest import sign_in
from tests.helpers import pdf_text
from tests.reports.support import (
    MARKER_CLIENT,
    _xlsx_text,
    assert_no_identity,
    export_get,
    report_get,
)

# --- 3. recovery evaluation ---------------------------------------------------------------


def test_recovery_evaluation_figures(cast: dict[str, Any], recovery_data: Any) -> None:
    client = sign_in(Client(), cast["crt_supervisor"])
    response = report_get(client, "recovery", "2026-01", "2026-03")
    assert response.status_code == 200
    content = response.context["content"]
    tables = {t["name"]: t for s in content["sections"] for t in s["tables"]}
    assert tables["clients_served"]["rows"][-1] == ["Total", 14]
    kinds = {row[0]: row for row in tables["contacts_kind_outcome"]["rows"]}
    assert kinds["Total"][-1] == 42
    funnel = {row[0]: row[1] for row in tables["funnel"]["rows"]}
    assert funnel["Total"] == 42
    assert funnel["Engaged"] == 33
    people = {row[0]: row[1] for row in tables["funnel_people"]["rows"]}
    # 11 of the 14 people served engaged: the 3 who did not would be a small group.
    assert people["People engaged"] == SUPPRESSED
    assert people["People served"] == 14
    diverted = {row[0]: row for row in tables["diverted"]["rows"]}
    assert diverted["Total"] == ["Total", 18, 24, 42]
    # The funnel's outcome counts are the contact table's column totals: one status.
    assert [funnel["Engaged"], funnel["Declined"], funnel["Not found"]] == kinds["Total"][1:4]
    stages = {row[0]: row for row in tables["stages"]["rows"]}
    assert stages["Contemplation"][-1] == 14  # everyone moved from contemplation…
    figures = dict(content["sections"][0]["figures"])
    assert figures["Officer hours freed by co-response"] == "10.5"  # 21 × 30 minutes
    assert figures["Contact attempts that reached someone"] == "42"
    referral_figures = dict(content["sections"][1]["figures"])
    assert referral_figures["Treatment engagement rate"] == "0% (0 of 7)"
    referrals = {row[0]: row for row in tables["referrals"]["rows"]}
    assert referrals["Total"][-1] == 7


def test_recovery_pages_and_funder_exports_carry_no_identity(
    cast: dict[str, Any], recovery_data: Any
) -> None:
    names = [*MARKER_CLIENT, "pier", "555-0100", "Client3", cast["aro"].username]
    for role in ("crt_supervisor", "chief", "aro", "prs"):
        client = sign_in(Client(), cast[role])
        assert_no_identity(
            report_get(client, "recovery", "2026-01", "2026-03").content.decode(), names
        )
        csv_text = export_get(client, "recovery", "csv", "2026-01", "2026-03").content
        assert_no_identity(csv_text.decode("utf-8-sig"), names)
        assert_no_identity(
            _xlsx_text(export_get(client, "recovery", "xlsx", "2026-01", "2026-03").content), names
        )
        assert_no_identity(
            pdf_text(
                export_get(client, "recovery", "pdf", "2026-01", "2026-03").content, drawing=True
            ),
            names,
        )


def test_funder_export_has_every_output_and_outcome(
    cast: dict[str, Any], recovery_data: Any
) -> None:
    client = sign_in(Client(), cast["chief"])
    text = export_get(client, "recovery", "csv", "2026-01", "2026-03").content.decode("utf-8-sig")
    for words in (
        "Clients served",
        "Contacts by type and outcome",
        "Outreach funnel",
        "Referrals by category and outcome",
        "Treatment engagement rate",
        "Stage of change",
        "Arrests diverted",
        "Overdose responses",
        "Naloxone kits",
        "Officer hours freed",
        "Community education",
        "Staff training compliance",
    ):
        assert words in text, words
    book = export_get(client, "recovery", "xlsx", "2026-01", "2026-03")
    assert book["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "About" in _xlsx_sheets(book.content)


def _xlsx_sheets(data: bytes) -> list[str]:
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(data)).sheetnames


def test_public_figures_carry_noise_and_only_the_chief_makes_them(
    cast: dict[str, Any], recovery_data: Any
) -> None:
    chief = sign_in(Client(), cast["chief"])
    response = report_get(chief, "recovery", "2026-01", "2026-03", audience="public", epsilon="1.0")
    assert response.status_code == 200
    assert response.context["content"]["audience"] == "public"
    assert "random noise" in response.content.decode()
    # Asked again, the same noisy figures: noise cannot be averaged away by repeating.
    again = report_get(chief, "recovery", "2026-01", "2026-03", audience="public", epsilon="0.2")
    assert again.context["content"]["sections"] == response.context["content"]["sections"]
    assert again.context["content"]["epsilon"] == 1.0
    supervisor = sign_in(Client(), cast["crt_supervisor"])
    response = report_get(
        supervisor, "recovery", "2026-01", "2026-03", audience="public", epsilon="1.0"
    )
    assert response.context["content"]["audience"] == "department"


def test_public_figures_need_an_epsilon(cast: dict[str, Any], recovery_data: Any) -> None:
    chief = sign_in(Client(), cast["chief"])
    response = report_get(chief, "recovery", "2026-01", "2026-03", audience="public", epsilon="")
    assert response.status_code == 400
    assert "how much protection" in response.content.decode()
