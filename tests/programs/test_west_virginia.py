"""Programs, West Virginia Police and Peers, end to end from the users' side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tests.programs.support import sign_in_from_the_demo_listing, text

# ========================================================================================
# 8. West Virginia Police and Peers
# ========================================================================================


def test_west_virginia_story_supervisor_sees_credential_beside_the_hours(demo: Any) -> None:
    agency, people = demo("west-virginia")
    supervisor = sign_in_from_the_demo_listing("wv-crt-supervisor")
    page = text(supervisor.get(reverse("readiness:person", args=[people["prs"].pk])))
    for words in (
        "of 500",
        "of 25",
        "of 6",
        "Education",
        "High-school diploma",
        "IC&amp;RC",
        "Passed",
    ):
        assert words in page, words


def test_west_virginia_story_an_embedded_peer_records_a_patrol_call_with_the_officers_check(
    demo: Any,
) -> None:
    from tandem.agencies.models import Member
    from tandem.recovery.models import Client as RecoveryClient
    from tandem.recovery.models import Contact, PatrolCall

    agency, people = demo("west-virginia")
    checklist = list(agency.policy_model().recovery.safety_checklist)
    assert "Officer secured the scene before the PRSS engages" in checklist
    client = RecoveryClient.objects.filter(agency=agency).first()
    officer = (
        Member.objects.filter(agency=agency, category="sworn")
        .exclude(pk=people["prs"].member_id)
        .first()
    )
    peer = sign_in_from_the_demo_listing("wv-prs")
    form = text(peer.get(reverse("recovery:patrol_call", args=[client.pk])))
    for call_type in ("Domestic", "Behavioural-health crisis", "Overdose"):
        assert call_type in form
    before = Contact.objects.filter(client=client).count()
    posted = {
        "call_type": "domestic",
        "officer": officer.pk,
        "duration_minutes": 25,
        "outcome": "engaged",
        "confirmed": checklist[:-1],
    }
    refused = peer.post(reverse("recovery:patrol_call", args=[client.pk]), posted)
    assert refused.status_code == 400
    assert "may not join the call until the officer confirms" in text(refused)
    assert Contact.objects.filter(client=client).count() == before
    posted["confirmed"] = checklist
    saved = peer.post(reverse("recovery:patrol_call", args=[client.pk]), posted)
    assert saved.status_code == 302
    call = PatrolCall.objects.get(contact__client=client)
    assert call.call_type == "domestic"
    assert call.officer == officer
    assert all(call.safety_checklist[item] for item in checklist)
    assert abs((timezone.now() - call.safety_checked_at).total_seconds()) < 60
    assert call.contact.kind == "patrol_assist"
    assert call.contact.prs_present
    # A field contact with the peer and neither a plan nor an on-scene check is still
    # refused on the ordinary contact form.
    plain = peer.post(
        reverse("recovery:contact_create", args=[client.pk]),
        {
            "kind": "field",
            "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
            "duration_minutes": 10,
            "prs_present": "on",
            "location_type": "street",
            "outcome": "engaged",
        },
    )
    assert plain.status_code == 400


def test_west_virginia_story_the_grant_report_for_funders(demo: Any) -> None:
    from tandem.recovery.models import Client as RecoveryClient

    agency, people = demo("west-virginia")
    supervisor = sign_in_from_the_demo_listing("wv-crt-supervisor")
    index = text(supervisor.get(reverse("reports:index")))
    assert "Grant report (peer recovery)" in index
    today = timezone.localdate()
    end = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    start = (today.replace(day=1) - timedelta(days=365)).strftime("%Y-%m")
    query = {"start": start, "end": end}
    page = text(supervisor.get(reverse("reports:grant"), query))
    for words in (
        "Callouts with patrol, by type of call",
        "Domestic",
        "Overdose",
        "Clients and contacts",
        "Referrals by category and outcome",
        "Naloxone kits given",
        "Follow-up at the SUPRT windows",
        "Baseline (intake)",
        "About 180 days after intake",
        "Discharge",
        "Follow-up rate (target 80%)",
    ):
        assert words in page, words
    # Small counts are withheld like in every statistic.
    assert RecoveryClient.objects.filter(agency=agency).count() < 20
    assert "&lt;" in page or "withheld" in page.lower() or "suppressed" in page.lower()
    csv = supervisor.get(reverse("reports:grant_csv"), query)
    assert csv.status_code == 200
    assert b"Follow-up at the SUPRT windows" in csv.content
    xlsx = supervisor.get(reverse("reports:grant_xlsx"), query)
    assert xlsx.content[:2] == b"PK"
    pdf = supervisor.get(reverse("reports:grant_pdf"), query)
    assert pdf.content.startswith(b"%PDF")
    # Only the CRT supervisor and the Chief: not the peer, not the coordinator.
    peer = sign_in_from_the_demo_listing("wv-prs")
    assert peer.get(reverse("reports:grant"), query).status_code == 404
