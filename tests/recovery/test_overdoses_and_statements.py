"""Peer recovery, overdoses, naloxone, outreach and public statements."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tests.recovery.support import browser, local, new_client, raw_rows

# ========================================================================================
# 8–9. Overdoses, naloxone, outreach and public statements
# ========================================================================================


def test_overdose_responses_export_in_odmap_column_layout(cast: dict[str, Any]) -> None:
    aro = browser(cast["aro"])
    response = aro.post(
        reverse("recovery:overdose_list"),
        {
            "occurred_at": local(timezone.now() - timedelta(hours=3)),
            "location": "5 Oak Ave",
            "latitude": "39.185",
            "longitude": "-78.163",
            "naloxone_given": "on",
            "naloxone_doses": "2",
            "suspected_drug": "fentanyl",
            "case_number": "24-0001",
        },
    )
    assert response.status_code == 302
    missing_doses = aro.post(
        reverse("recovery:overdose_list"),
        {
            "occurred_at": local(timezone.now()),
            "location": "x",
            "naloxone_given": "on",
            "suspected_drug": "unknown",
        },
    )
    assert "number of naloxone doses" in missing_doses.content.decode()
    text = aro.get(reverse("recovery:overdose_export")).content.decode("utf-8-sig")
    header, row = list(csv.reader(io.StringIO(text)))[:2]
    # ODMAP's columns, in its order.
    assert ",".join(header) == (
        "Date,Time,Latitude,Longitude,Address,Fatal/Non-Fatal,Naloxone Administered,"
        "Naloxone Doses,Suspected Drug,Agency Case Number"
    )
    assert any("5 Oak Ave" in cell for cell in row)
    assert "Non-Fatal" in row
    assert row[6:8] == ["Yes", "2"]
    assert "5 Oak Ave" not in raw_rows("recovery_overdoseresponse")


def test_naloxone_kits_and_outreach_events_are_recorded(cast: dict[str, Any]) -> None:
    prs = browser(cast["prs"])
    prs.post(
        reverse("recovery:naloxone_list"),
        {"given_on": timezone.localdate().isoformat(), "quantity": "3", "recipient_type": "family"},
    )
    assert "3 kits in all" in prs.get(reverse("recovery:naloxone_list")).content.decode()
    future = prs.post(
        reverse("recovery:naloxone_list"),
        {
            "given_on": (timezone.localdate() + timedelta(days=2)).isoformat(),
            "quantity": "1",
            "recipient_type": "client",
        },
    )
    assert "cannot be in the future" in future.content.decode()
    prs.post(
        reverse("recovery:outreach_list"),
        {
            "held_on": timezone.localdate().isoformat(),
            "title": "Library talk",
            "audience": "civic",
            "attendance": "35",
            "topics": ["naloxone", "stigma"],
        },
    )
    page = prs.get(reverse("recovery:outreach_list")).content.decode()
    assert "Library talk" in page
    assert "Naloxone and overdose response" in page


def test_public_statements_need_the_chiefs_decision(cast: dict[str, Any]) -> None:
    prs, chief = browser(cast["prs"]), browser(cast["chief"])
    prs.post(
        reverse("recovery:statement_list"),
        {
            "venue": "Evening news",
            "planned_on": (timezone.localdate() + timedelta(days=2)).isoformat(),
            "summary": "Program launch",
        },
    )
    from tandem.recovery.models import StatementRequest

    request = StatementRequest.objects.get()
    assert request.status == "pending"
    assert "Evening news" in chief.get(reverse("recovery:statement_list")).content.decode()
    decide = reverse("recovery:statement_decide", args=[request.pk])
    assert prs.post(decide, {"decision": "approve"}).status_code == 404
    chief.post(decide, {"decision": "refuse"})  # a refusal needs a reason
    request.refresh_from_db()
    assert request.status == "pending"
    chief.post(decide, {"decision": "refuse", "note": "Wait for the annual report"})
    request.refresh_from_db()
    assert request.status == "refused"
    assert request.decided_by == cast["chief"]
    # The chief decides statements but never opens clients.
    client = new_client(cast["aro"])
    assert chief.get(reverse("recovery:client_detail", args=[client.pk])).status_code == 404
