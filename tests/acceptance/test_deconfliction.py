"""Deconfliction (issue 13): registry-wide matching with Splink, explained pairs, merge and
unmerge, "not the same person", and the consent and CJI compartments through a merge —
tested from the ARO's and the PRS's side with the fixed cast."""

from __future__ import annotations

import html
from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.readiness.gates import gate_update
from tandem.recovery import services, vocab
from tandem.recovery.models import (
    CJIEntry,
    Client,
    ClientMerge,
    Consent,
    Contact,
    Disclosure,
    Goal,
    MatchCandidate,
    MatchRun,
    PlannedContact,
    Referral,
    StageAssessment,
    SwornNote,
)
from tests.authz import check_no_session, check_row, make_world
from tests.authz_recovery import ROWS, build_world
from tests.conftest import sign_in

NEW_URLS = {
    "recovery:deconflict_scan",
    "recovery:candidate_detail",
    "recovery:candidate_not_same",
    "recovery:candidate_merge",
    "recovery:merge_undo",
    "recovery:conflict_settle",
}
NEW_ROWS = [row for row in ROWS if row.url_name in NEW_URLS]
MARKER = "CJI-MERGE-MARKER-41c2"


def test_every_new_url_has_an_authorization_row() -> None:
    assert {row.url_name for row in NEW_ROWS} == NEW_URLS


@pytest.mark.parametrize("row", NEW_ROWS, ids=lambda r: r.url_name)
def test_only_the_program_reaches_deconfliction(
    row: Any, agency: Any, cast: dict[str, Any], stranger: Any
) -> None:
    check_row(row, make_world(agency, cast, [build_world]), stranger)


@pytest.mark.parametrize("row", NEW_ROWS, ids=lambda r: r.url_name)
def test_no_deconfliction_page_without_a_verified_session(
    row: Any, agency: Any, cast: dict[str, Any]
) -> None:
    check_no_session(row, make_world(agency, cast, [build_world]))


# ========================================================================================
# Helpers
# ========================================================================================


def browser(user: Any) -> Browser:
    return sign_in(Browser(), user)


def add(user: Any, first: str, last: str, **extra: Any) -> Client:
    return services.client_create(
        acting_user=user, data={"first_name": first, "last_name": last, **extra}
    )


def scan(user: Any) -> MatchRun:
    run = MatchRun.objects.create(
        agency=user.agency, trigger=vocab.MatchTrigger.ON_DEMAND, requested_by=user
    )
    return services.match_run_execute(run_id=run.pk)


def proposed(agency: Any) -> set[frozenset[int]]:
    threshold = agency.policy_model().recovery.match_threshold
    return {
        frozenset((c.left_id, c.right_id))
        for c in MatchCandidate.objects.filter(
            agency=agency, status="open", probability__gte=threshold
        )
    }


def everything_of(client: Client, cast: dict[str, Any], tag: str) -> dict[str, Any]:
    """One of each record that hangs off a client, made through the real services."""
    aro, prs = cast["aro"], cast["prs"]
    now = timezone.now()
    resource = services.resource_save(
        acting_user=aro,
        data={"name": f"Center {tag}", "category": "treatment_outpatient", "active": True},
    )
    consent = services.consent_create(
        acting_user=prs,
        client=client,
        data={
            "discloser": "Peer Recovery Program",
            "recipient": resource,
            "purpose": "treatment",
            "information": ["identity"],
            "starts_on": timezone.localdate(),
            "expires_on": timezone.localdate() + timedelta(days=365),
            "expiry_event": "",
            "revocation_method": "In writing",
            "signed_by": "client",
            "signer_name": f"Signer {tag}",
            "signed_on": timezone.localdate(),
        },
    )
    records = {
        "contact": services.contact_create(
            acting_user=prs,
            client=client,
            data={
                "kind": "phone",
                "occurred_at": now - timedelta(hours=3),
                "duration_minutes": 10,
                "prs_present": True,
                "location_type": "phone",
                "services": [],
                "outcome": "engaged",
            },
        ),
        "planned": services.planned_create(
            acting_user=aro,
            client=client,
            kind="office",
            starts_at=now + timedelta(days=2),
            ends_at=now + timedelta(days=2, hours=1),
            aro=aro,
            prs=prs,
            with_prs=True,
        ),
        "stage": services.stage_record(acting_user=prs, client=client, stage="preparation"),
        "goal": services.goal_create(acting_user=prs, client=client, text=f"Goal {tag}"),
        "referral": services.referral_create(acting_user=prs, client=client, resource=resource),
        "consent": consent,
        "disclosure": services.disclosure_create(
            acting_user=prs,
            client=client,
            recipient=resource,
            purpose="treatment",
            information=["identity"],
            description=f"Intake {tag}",
        ),
        "cji": services.cji_entry_create(
            acting_user=aro,
            client=client,
            source="chri",
            queried_on=timezone.localdate(),
            purpose=f"{MARKER}-purpose",
            summary=f"{MARKER}-summary",
        ),
        "note": services.sworn_note_create(acting_user=aro, client=client, text=f"{MARKER}-n"),
        "resource": resource,
    }
    return records


OWNED = (
    Contact,
    PlannedContact,
    StageAssessment,
    Goal,
    Referral,
    Consent,
    Disclosure,
    CJIEntry,
    SwornNote,
)


def owners(*clients: Client) -> dict[str, dict[int, int]]:
    """model -> {record id: client id} for everything the clients own."""
    ids = [c.pk for c in clients]
    return {
        model.__name__: dict(
            model._default_manager.filter(client_id__in=ids).values_list("pk", "client_id")
        )
        for model in OWNED
    }


# ========================================================================================
# 1. Registry-wide matching finds the known duplicates of a hand-made registry
# ========================================================================================


def test_a_scan_finds_the_known_duplicates_of_a_small_registry(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    people = [
        ("Jamie", "Rivera", date(1990, 4, 5), "540 555 0199", "12 Elm Street", ""),
        ("Dana", "Whitfield", date(1985, 11, 2), "540 555 0101", "4 Oak Lane", "Dee"),
        ("Marcus", "Oyelaran", date(1978, 1, 30), "540 555 0102", "9 Pine Road", ""),
        ("Lucia", "Fernandez", date(1995, 7, 14), "540 555 0103", "77 Cedar Court", ""),
        ("Tom", "Becker", date(1969, 3, 8), "540 555 0104", "2 Birch Way", "Tommy B"),
        ("Ana", "Kowalski", date(2001, 12, 25), "540 555 0105", "31 Maple Ave", ""),
        ("Rashid", "Haddad", date(1988, 6, 1), "540 555 0106", "5 Spruce Street", ""),
        ("Grace", "O'Neill", date(1992, 9, 9), "540 555 0107", "18 Willow Drive", ""),
        ("Peter", "Nguyen", date(1975, 2, 17), "540 555 0108", "60 Ash Road", ""),
        ("Helen", "Schmidt", date(1983, 8, 21), "540 555 0109", "3 Poplar Place", ""),
    ]
    made = [
        add(aro, f, ln, date_of_birth=d, phone=p, address=a, aliases=al)
        for f, ln, d, p, a, al in people
    ]
    # What the PRS typed later, with the usual slips.
    dupes = [
        add(prs, "Jaime", "Rivera", date_of_birth=date(1990, 5, 4), phone="5405550199"),
        add(prs, "Dee", "Whitfeld", date_of_birth=date(1985, 11, 2)),
        add(prs, "Marcus", "Oyelaran", date_of_birth=date(1978, 1, 3), address="9 Pine Rd"),
        add(prs, "Tommy B", "", date_of_birth=date(1969, 3, 8), phone="(540) 555-0104"),
    ]
    # Same first name or birthday, different people.
    add(prs, "Lucia", "Ferris", date_of_birth=date(1961, 7, 14), phone="540 555 0900")
    add(prs, "Helen", "Schwartz", date_of_birth=date(1983, 8, 22), phone="540 555 0901")
    add(prs, "Peter", "Nyman", date_of_birth=date(1999, 2, 17))

    run = scan(prs)

    assert run.status == "done", run.error
    assert run.records == 17
    truth = {frozenset((a.pk, b.pk)) for a, b in zip(made[:3] + [made[4]], dupes, strict=True)}
    found = proposed(run.agency)
    true_positives = len(found & truth)
    precision = true_positives / len(found) if found else 0.0
    recall = true_positives / len(truth)
    assert recall == 1.0, (found, truth)
    assert precision == 1.0, (found, truth)
    event = AuditEvent.objects.get(action="recovery.match_run")
    assert event.detail["records"] == 17


def test_the_deconflict_page_starts_a_scan_and_shows_each_pair_explained(
    cast: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    aro = cast["aro"]
    one = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")
    two = add(aro, "Jaime", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")
    page = browser(aro)
    with django_capture_on_commit_callbacks(execute=True):
        response = page.post(reverse("recovery:deconflict_scan"))
    assert response.status_code == 302
    run = MatchRun.objects.get()
    assert run.trigger == "on_demand"
    if run.status == "queued":  # the task backend queues it: run it as the worker would
        services.match_run_execute(run_id=run.pk)
    listing = page.get(reverse("recovery:deconflict")).content.decode()
    candidate = MatchCandidate.objects.get()
    assert {candidate.left_id, candidate.right_id} == {one.pk, two.pk}
    assert reverse("recovery:candidate_detail", args=[candidate.pk]) in listing
    detail = page.get(reverse("recovery:candidate_detail", args=[candidate.pk])).content.decode()
    for words in ("Date of birth", "the same", "First name", "nearly the same", "Phone"):
        assert words in detail
    assert "strong evidence for the same person" in detail
    assert "Match probability" in detail
    assert AuditEvent.objects.filter(action="recovery.candidate_view").count() == 1


def test_disagreeing_fields_are_named(cast: dict[str, Any]) -> None:
    aro = cast["aro"]
    add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")
    add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 7777")
    scan(aro)
    candidate = MatchCandidate.objects.get()
    assert candidate.disagreeing == ["Phone"]
    page = browser(aro).get(reverse("recovery:candidate_detail", args=[candidate.pk]))
    assert "Fields that disagree:</strong> Phone" in page.content.decode()


# ========================================================================================
# 2. Merge and unmerge
# ========================================================================================


def test_merge_and_unmerge_round_trip_every_related_object(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    gate_update(user=aro, peer_support=False, cji=True)
    survivor = add(
        aro,
        "Jamie",
        "Rivera",
        date_of_birth=date(1990, 4, 5),
        phone="540 555 0199",
        address="12 Elm Street",
    )
    absorbed = add(
        prs,
        "Jaime",
        "Rivera",
        date_of_birth=date(1990, 4, 5),
        phone="540 555 0123",
        address="14 Elm Street",
        aliases="JR",
    )
    everything_of(survivor, cast, "S")
    everything_of(absorbed, cast, "A")
    services.client_flags_set(acting_user=aro, client=absorbed, flags=["weapons_in_home"])
    before = owners(survivor, absorbed)
    survivor_fields = {f: getattr(Client.objects.get(pk=survivor.pk), f) for f in ("phone",)}
    scan(aro)
    candidate = MatchCandidate.objects.get()

    response = browser(prs).post(
        reverse("recovery:candidate_merge", args=[candidate.pk]),
        {"survivor": survivor.pk, "take_phone": "absorbed", "take_aliases": "absorbed"},
    )
    assert response.status_code == 302
    survivor.refresh_from_db()
    absorbed.refresh_from_db()
    assert survivor.phone == "540 555 0123"
    assert survivor.aliases == "JR"
    assert survivor.address == "12 Elm Street"  # not ticked: the survivor's value stays
    assert survivor.safety_flags == ["weapons_in_home"]
    assert absorbed.merged_into_id == survivor.pk
    after = owners(survivor, absorbed)
    for model, rows in after.items():
        assert set(rows.values()) == {survivor.pk}, model
        assert set(rows) == set(before[model]), model
    assert not Client.objects.filter(pk=absorbed.pk, merged_into__isnull=True).exists()
    candidate.refresh_from_db()
    assert candidate.status == "merged"
    merge = ClientMerge.objects.get()
    audit = AuditEvent.objects.get(action="recovery.client_merge")
    assert audit.detail["absorbed"] == absorbed.pk
    assert "Jaime" not in str(audit.detail)
    # The absorbed record is out of the registry and points at the survivor.
    listing = browser(prs).get(reverse("recovery:client_list"), {"q": "rivera"})
    assert reverse("recovery:client_detail", args=[absorbed.pk]) not in listing.content.decode()
    page = browser(prs).get(reverse("recovery:client_detail", args=[absorbed.pk]))
    assert "was merged into" in page.content.decode()

    survivor_page = browser(aro).get(reverse("recovery:client_detail", args=[survivor.pk]))
    assert reverse("recovery:merge_undo", args=[merge.pk]) in survivor_page.content.decode()
    undo = browser(aro).post(reverse("recovery:merge_undo", args=[merge.pk]))
    assert undo.status_code == 302
    assert owners(survivor, absorbed) == before
    survivor.refresh_from_db()
    absorbed.refresh_from_db()
    assert survivor.phone == survivor_fields["phone"]
    assert survivor.aliases == ""
    assert survivor.safety_flags == []
    assert absorbed.merged_into_id is None
    assert absorbed.status == "active"
    assert Consent.objects.filter(signed_for__isnull=False).count() == 0
    candidate.refresh_from_db()
    assert candidate.status == "open"
    assert AuditEvent.objects.filter(action="recovery.client_unmerge").count() == 1
    with pytest.raises(ValidationError):
        services.client_unmerge(acting_user=aro, merge=merge)


def test_an_unmerge_keeps_a_value_edited_after_the_merge(cast: dict[str, Any]) -> None:
    aro = cast["aro"]
    survivor = add(aro, "Jamie", "Rivera", phone="540 555 0199")
    absorbed = add(aro, "Jaime", "Rivera", phone="540 555 0123", address="1 Road")
    merge = services.client_merge(
        acting_user=aro, survivor=survivor, absorbed=absorbed, take=["phone", "address"]
    )
    survivor.refresh_from_db()
    services.client_update(
        acting_user=aro,
        client=survivor,
        data={"phone": "540 555 4444"},
        version=survivor.version,
    )
    services.client_unmerge(acting_user=aro, merge=merge)
    survivor.refresh_from_db()
    assert survivor.phone == "540 555 4444"  # edited since: the newer value stays
    assert not survivor.address  # untouched since: back to the value before
    event = AuditEvent.objects.get(action="recovery.client_unmerge")
    assert event.detail["kept_newer"] == ["phone"]


def test_a_prs_never_sees_cji_through_a_merge(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    gate_update(user=aro, peer_support=False, cji=True)
    survivor = add(prs, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5))
    absorbed = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5))
    everything_of(absorbed, cast, "A")
    scan(prs)
    candidate = MatchCandidate.objects.get()
    peer = browser(prs)
    pair_page = peer.get(reverse("recovery:candidate_detail", args=[candidate.pk]))
    body = pair_page.content.decode()
    assert MARKER not in body
    assert "CJI" not in body
    assert "sworn note" not in body
    officer_page = browser(aro).get(reverse("recovery:candidate_detail", args=[candidate.pk]))
    assert "1 CJI entries" in officer_page.content.decode()

    peer.post(reverse("recovery:candidate_merge", args=[candidate.pk]), {"survivor": survivor.pk})
    assert CJIEntry.objects.get().client_id == survivor.pk
    for name in ("client_detail", "cji", "accounting"):
        response = peer.get(reverse(f"recovery:{name}", args=[survivor.pk]))
        assert MARKER.encode() not in response.content, name
    assert peer.get(reverse("recovery:cji", args=[survivor.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="recovery.cji_read").exists()


def test_consent_gates_hold_after_a_merge(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    gate_update(user=aro, peer_support=False, cji=True)
    survivor = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5))
    absorbed = add(prs, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5))
    records = everything_of(absorbed, cast, "A")
    center = records["resource"]
    merge = services.client_merge(acting_user=prs, survivor=survivor, absorbed=absorbed)
    ledger = Disclosure.objects.count()

    # The consent moved with the record, but it was signed for the absorbed record: it
    # covers no disclosure about the merged record.
    consent = Consent.objects.get(pk=records["consent"].pk)
    assert consent.client_id == survivor.pk
    assert consent.signed_for_id == absorbed.pk
    with pytest.raises(ValidationError):
        services.disclosure_create(
            acting_user=prs,
            client=survivor,
            recipient=center,
            purpose="treatment",
            information=["identity"],
            description="After the merge",
        )
    assert Disclosure.objects.count() == ledger
    assert AuditEvent.objects.filter(action="recovery.disclosure_refused").count() == 1
    # Through the screen as well.
    response = browser(prs).post(
        reverse("recovery:disclosure_create", args=[survivor.pk]),
        {
            "recipient": center.pk,
            "purpose": "treatment",
            "information": ["identity"],
            "description": "Screen attempt",
            "idempotency_key": "d-1",
        },
    )
    assert response.status_code in (200, 400)
    assert Disclosure.objects.count() == ledger

    # Undone: the consent is the absorbed record's own again and covers it.
    services.client_unmerge(acting_user=prs, merge=merge)
    disclosure = services.disclosure_create(
        acting_user=prs,
        client=absorbed,
        recipient=center,
        purpose="treatment",
        information=["identity"],
        description="After the unmerge",
    )
    assert disclosure.consent_id == consent.pk


def test_not_the_same_person_sticks_across_scans(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")
    add(prs, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")
    scan(aro)
    candidate = MatchCandidate.objects.get()
    response = browser(prs).post(reverse("recovery:candidate_not_same", args=[candidate.pk]))
    assert response.status_code == 302
    scan(aro)
    candidate.refresh_from_db()
    assert candidate.status == "not_same"
    assert MatchCandidate.objects.count() == 1
    page = browser(aro).get(reverse("recovery:deconflict")).content.decode()
    assert reverse("recovery:candidate_detail", args=[candidate.pk]) not in page
    assert AuditEvent.objects.filter(action="recovery.client_not_same").count() == 1
    # A decided pair cannot be merged from the pair page any more.
    merge = browser(prs).post(
        reverse("recovery:candidate_merge", args=[candidate.pk]),
        {"survivor": candidate.left_id},
    )
    assert merge.status_code == 302
    assert not ClientMerge.objects.exists()


def test_the_typing_warning_and_the_scan_use_the_same_model(cast: dict[str, Any]) -> None:
    from tandem.recovery.selectors import likely_duplicates

    aro = cast["aro"]
    existing = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="5405550199")
    twin = add(aro, "Jaime", "Rivera", date_of_birth=date(1990, 4, 5), phone="5405550199")
    scan(aro)
    candidate = MatchCandidate.objects.get()
    typed = likely_duplicates(
        aro.agency,
        first_name="Jaime",
        last_name="Rivera",
        date_of_birth=date(1990, 4, 5),
        phone="5405550199",
        exclude_pk=twin.pk,
    )
    assert [d.client.pk for d in typed] == [existing.pk]
    assert typed[0].score == round(candidate.probability * 100)


# ========================================================================================
# 3. Conflicting facts and double work, each settled in one click
# ========================================================================================


def settle(user: Any, client: Client, topic: str, choice: str, day: Any = None) -> Any:
    data = {"topic": topic, "choice": choice}
    if day is not None:
        data["day"] = day.isoformat()
    response = browser(user).post(reverse("recovery:conflict_settle", args=[client.pk]), data)
    assert response.status_code == 302
    assert response.url == reverse("recovery:deconflict")
    return response


def deconflict_page(user: Any) -> str:
    return browser(user).get(reverse("recovery:deconflict")).content.decode()


def test_stages_recorded_differently_are_listed_and_settled_in_one_click(
    cast: dict[str, Any],
) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera")
    services.stage_record(acting_user=aro, client=client, stage="contemplation")
    services.stage_record(acting_user=prs, client=client, stage="action")
    page = deconflict_page(aro)
    assert "Settle on Contemplation" in page
    assert "Settle on Action" in page
    # The ARO keeps their own reading: the PRS's differing one is settled, not listed again.
    settle(aro, client, "stage", "contemplation")
    assert client.current_stage().stage == "contemplation"
    page = deconflict_page(aro)
    assert "Settle on" not in page
    assert "Nothing recorded differently" in page
    event = AuditEvent.objects.get(action="recovery.conflict_settle")
    assert event.detail["topic"] == "stage"
    # A new disagreement after the settlement is listed again.
    services.stage_record(acting_user=prs, client=client, stage="maintenance")
    assert "Settle on Maintenance" in deconflict_page(aro)


def test_a_phone_and_an_address_recorded_differently_are_listed_for_any_client(
    cast: dict[str, Any],
) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera", phone="540 555 0199", address="12 Oak Street")
    alone = add(aro, "Pat", "Lee", phone="540 555 0111")
    services.client_update(
        acting_user=aro, client=alone, data={"phone": "(540) 555-0111"}, version=alone.version
    )  # the same number written differently, by the same person: nothing to settle
    client = services.client_update(
        acting_user=prs,
        client=client,
        data={"phone": "540 555 0123", "address": "12 Oak St"},
        version=client.version,
    )
    page = deconflict_page(aro)
    assert "phone <strong>540 555 0123</strong>" in page
    assert "<strong>540 555 0199</strong>" in page
    assert "Settle on 12 Oak Street" in page
    assert "Pat Lee" not in page
    old_phone = next(
        f for f in client.facts.filter(field="phone") if f.value == "540 555 0199"
    )
    settle(prs, client, "phone", str(old_phone.pk))
    client.refresh_from_db()
    assert client.phone == "540 555 0199"
    assert client.phone_digits == "5405550199"
    page = deconflict_page(aro)
    assert "Settle on 540" not in page
    assert "Settle on 12 Oak Street" in page  # the address is still to settle
    event = AuditEvent.objects.filter(action="recovery.conflict_settle").get()
    assert "0199" not in str(event.detail)  # the audit names the fact, never the value


def test_a_status_contradicted_by_a_contact_is_settled_in_one_click(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera", status="lost_contact")
    services.contact_create(
        acting_user=prs,
        client=client,
        data={
            "kind": "phone",
            "occurred_at": timezone.now(),
            "duration_minutes": 10,
            "prs_present": True,
            "location_type": "phone",
            "services": [],
            "outcome": "engaged",
        },
    )
    page = deconflict_page(aro)
    assert "status <strong>Lost contact</strong> (the record" in page
    settle(aro, client, "status", "active")
    client.refresh_from_db()
    assert client.status == "active"
    assert "Nothing recorded differently" in deconflict_page(aro)


def test_a_status_set_differently_by_the_aro_and_the_prs_is_listed(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera")
    client = services.client_update(
        acting_user=prs, client=client, data={"status": "lost_contact"}, version=client.version
    )
    page = deconflict_page(aro)
    assert "Settle on Lost contact" in page
    assert "Settle on Active" in page
    settle(aro, client, "status", "lost_contact")
    client.refresh_from_db()
    assert client.status == "lost_contact"
    assert "Nothing recorded differently" in deconflict_page(aro)


def test_visits_planned_twice_for_one_client_and_day_are_settled_in_one_click(
    cast: dict[str, Any],
) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera")
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    visits = [
        services.planned_create(
            acting_user=user,
            client=client,
            kind="office",
            starts_at=noon + timedelta(days=1, hours=hours),
            ends_at=noon + timedelta(days=1, hours=hours + 1),
            aro=aro,
            prs=prs,
            with_prs=True,
        )
        for user, hours in ((aro, 0), (prs, 3))
    ]
    page = browser(prs).get(reverse("recovery:deconflict")).content.decode()
    assert "Cancel this one" in page
    assert all(reverse("recovery:planned_cancel", args=[v.pk]) in page for v in visits)
    browser(prs).post(
        reverse("recovery:planned_cancel", args=[visits[1].pk]), {"next": "deconflict"}
    )
    page = browser(prs).get(reverse("recovery:deconflict")).content.decode()
    assert "No visit was planned twice" in page
    again = services.planned_create(
        acting_user=aro,
        client=client,
        kind="field",
        starts_at=noon + timedelta(days=1, hours=5),
        ends_at=noon + timedelta(days=1, hours=6),
        aro=aro,
        prs=prs,
        with_prs=True,
    )
    assert "Both visits are needed" in deconflict_page(prs)
    # Planning one more that day warns with the list's rule, even hours apart.
    response = browser(aro).post(
        reverse("recovery:planned_create"),
        {
            "client": client.pk,
            "kind": "office",
            "starts_at": timezone.localtime(noon + timedelta(days=1, hours=8)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "ends_at": timezone.localtime(noon + timedelta(days=1, hours=9)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "aro": aro.pk,
            "prs": prs.pk,
            "with_prs": "on",
            "idempotency_key": "plan-same-day",
        },
        follow=True,
    )
    assert "Another visit to this client is planned the same day" in response.content.decode()
    newest = PlannedContact.objects.filter(client=client).latest("pk")
    services.planned_cancel(acting_user=aro, planned=newest)
    settle(prs, client, "visits", "separate", timezone.localdate(again.starts_at))
    assert "No visit was planned twice" in deconflict_page(prs)


CONTACT_POST = {
    "kind": "phone",
    "duration_minutes": "10",
    "location_type": "phone",
    "outcome": "engaged",
}


def log_contact(user: Any, client: Client, at: Any, **extra: str) -> Any:
    data = {
        **CONTACT_POST,
        "occurred_at": timezone.localtime(at).strftime("%Y-%m-%dT%H:%M"),
        "idempotency_key": f"k-{user.pk}-{at.timestamp()}-{len(extra)}",
        **extra,
    }
    return browser(user).post(reverse("recovery:contact_create", args=[client.pk]), data)


def test_logging_a_contact_somebody_else_logged_that_day_warns_with_the_list_rule(
    cast: dict[str, Any],
) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera")
    now = timezone.localtime().replace(second=0, microsecond=0)
    midnight = now.replace(hour=0, minute=0)
    # Three moments of today, all past: the rule is the day, not the hours between.
    first, second, third = (midnight + (now - midnight) * share for share in (0.1, 0.2, 0.9))
    assert log_contact(prs, client, first).status_code == 302
    # The PRS's own second contact that day is no double work.
    assert log_contact(prs, client, second).status_code == 302
    assert "No encounter was logged twice" in deconflict_page(aro)
    # The ARO is warned while logging one the same day, however many hours later.
    form = browser(aro).get(reverse("recovery:contact_create", args=[client.pk]))
    assert "Already logged that day by somebody else" in form.content.decode()
    refused = log_contact(aro, client, third)
    assert refused.status_code == 400
    assert "Somebody else already logged a contact" in refused.content.decode()
    assert Contact.objects.filter(client=client).count() == 2
    # Recorded anyway, confirmed separate: the day is settled and not listed.
    confirmed = log_contact(aro, client, third, confirm_separate="1")
    assert confirmed.status_code == 302
    assert Contact.objects.filter(client=client).count() == 3
    assert "No encounter was logged twice" in deconflict_page(aro)


def test_an_encounter_logged_twice_is_listed_and_one_record_removed_in_one_click(
    cast: dict[str, Any],
) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera")
    at = timezone.now() - timedelta(minutes=30)
    twins = [
        services.contact_create(
            acting_user=user,
            client=client,
            data={
                "kind": "phone",
                "occurred_at": at,
                "duration_minutes": 10,
                "location_type": "phone",
                "services": [],
                "outcome": "engaged",
            },
        )
        for user in (aro, prs)
    ]
    page = deconflict_page(prs)
    assert "Same encounter: remove this record" in page
    settle(prs, client, "contacts", f"remove:{twins[1].pk}", timezone.localdate(at))
    assert list(Contact.objects.filter(client=client)) == [twins[0]]
    assert "No encounter was logged twice" in deconflict_page(prs)
    event = AuditEvent.objects.get(action="recovery.conflict_settle")
    assert event.detail["removed"] == twins[1].pk
    assert event.detail["kept"] == twins[0].pk
    # The last one of the day cannot be removed as a twin.
    response = browser(prs).post(
        reverse("recovery:conflict_settle", args=[client.pk]),
        {"topic": "contacts", "choice": f"remove:{twins[0].pk}",
         "day": timezone.localdate(at).isoformat()},
    )
    assert response.status_code == 302
    assert Contact.objects.filter(pk=twins[0].pk).exists()


# ========================================================================================
# 4. Spreadsheet import: mapping, dry run, all-or-nothing commit, bad input
# ========================================================================================


def upload(user: Any, name: str, data: bytes, kind: str = "clients") -> Any:
    from django.core.files.uploadedfile import SimpleUploadedFile

    return browser(user).post(
        reverse("recovery:import_start"), {"kind": kind, "file": SimpleUploadedFile(name, data)}
    )


CLIENT_CSV = (
    "Surname,Given name,DOB,Phone,Sex,Drug of choice,Notes kept elsewhere\n"
    "Rivera,Jaime,04/05/1990,540 555 0199,M,Heroin,x\n"  # row 2: already in the registry
    "Okafor,Ngozi,1988-02-11,540 555 0300,Female,alcohol; meth,y\n"  # row 3: new
    "Okafor,Ngozi,11.02.1988,540 555 0300,F,alcohol,z\n"  # row 4: row 3 again
    "Lindqvist,Sven,1979-06-30,,male,,\n"  # row 5: new
)


def test_a_client_list_is_mapped_dry_run_then_imported_all_at_once(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    existing = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="5405550199")
    response = upload(prs, "clients.csv", CLIENT_CSV.encode())
    assert response.status_code == 302
    batch_url = response.url
    page = browser(prs).get(batch_url).content.decode()
    # Headings suggest the mapping; the file's words get suggestions from the closed lists.
    assert '<option value="Surname" selected>' in page
    assert '<option value="Given name" selected>' in page
    assert '<option value="DOB" selected>' in page
    assert '"Heroin"' in page
    assert Client.objects.count() == 1  # nothing written by the upload
    form = {
        "map_first_name": "Given name",
        "map_last_name": "Surname",
        "map_date_of_birth": "DOB",
        "map_phone": "Phone",
        "map_gender": "Sex",
        "map_substances": "Drug of choice",
    }
    from tandem.recovery.imports import vocabulary_values
    from tandem.recovery.models import ImportBatch

    batch = ImportBatch.objects.get()
    words = vocabulary_values("clients", batch.header, batch.rows, form)
    codes = {"M": "male", "Female": "female", "F": "female", "male": "male"}
    for name, found in words.items():
        for i, word in enumerate(found):
            if name == "gender":
                form[f"value_{name}_{i}"] = codes[word]
            else:
                form[f"value_{name}_{i}"] = {"Heroin": "opioids", "alcohol": "alcohol"}.get(
                    word, "stimulants"
                )
    dry = browser(prs).post(batch_url, form).content.decode()
    assert "2 new · 2 matched to existing · 0 uncertain · 0 invalid" in dry
    assert f"record {existing.pk}" in dry
    assert "same person as row 3" in dry
    assert "Date of birth: the same" in dry
    assert Client.objects.count() == 1  # the dry run writes nothing

    done = browser(prs).post(reverse("recovery:import_commit", args=[batch.pk]))
    assert done.status_code == 302
    names = sorted(Client.objects.values_list("last_name", flat=True))
    assert names == ["Lindqvist", "Okafor", "Rivera"]
    okafor = Client.objects.get(last_name="Okafor")
    assert okafor.gender == "female"
    assert okafor.substances == ["alcohol", "stimulants"]
    assert AuditEvent.objects.filter(action="recovery.import_commit").count() == 1
    again = browser(prs).post(reverse("recovery:import_commit", args=[batch.pk]))
    assert again.status_code == 302
    assert Client.objects.count() == 3


def test_an_invalid_row_blocks_the_whole_import_with_row_numbered_messages(
    cast: dict[str, Any],
) -> None:
    prs = cast["prs"]
    data = (
        b"First name,Last name,Date of birth\n"
        b"Avery,Stone,1990-01-02\n"
        b",Blank,1990-01-02\n"  # row 3: first name missing
        b"Casey,Mold,31/02/1990\n"  # row 4: not a date
        b'Dale,Formula,"=HYPERLINK(""http://x"",""y"")"\n'  # row 5: a formula
        b"Eve,Future,2999-01-01\n"  # row 6: in the future
    )
    response = upload(prs, "list.csv", data)
    dry = (
        browser(prs)
        .post(
            response.url,
            {
                "map_first_name": "First name",
                "map_last_name": "Last name",
                "map_date_of_birth": "Date of birth",
            },
        )
        .content.decode()
    )
    assert "1 new · 0 matched to existing · 0 uncertain · 4 invalid" in dry
    assert "Row 3: first name is missing." in dry
    assert "Row 4: date of birth &quot;31/02/1990&quot; is not a date" in dry
    assert "Row 5, column &quot;Date of birth&quot;: a formula" in dry
    assert "Row 6: date of birth is in the future." in dry
    from tandem.recovery.models import ImportBatch

    batch = ImportBatch.objects.get()
    refused = browser(prs).post(reverse("recovery:import_commit", args=[batch.pk]), follow=True)
    assert "Nothing was imported: 4 row(s) need fixing." in refused.content.decode()
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("roster.pdf", b"%PDF-1.7 binary", "Upload a CSV (.csv) or Excel (.xlsx) file"),
        ("list.csv", b"PK\x03\x04zip", "Upload a CSV (.csv) or Excel (.xlsx) file"),
        ("list.xlsx", b"PK\x03\x04 not really", "This XLSX file cannot be opened"),
        (
            "list.csv",
            "First name,Last name\nJos\u00e9,Pe\u00f1a\n".encode("cp1252"),
            "Row 2: the file is not UTF-8 text",
        ),
        ("list.csv", b"First name,Last name,first name\nA,B,C\n", "appears twice"),
        ("list.csv", b"First name,,Last name\nA,B,C\n", "Row 1: column 2 has no heading."),
        ("list.csv", b"", "The file is empty."),
        ("list.csv", b"a\x00b,c\n", "binary data"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_clear_message(
    cast: dict[str, Any], name: str, data: bytes, message: str
) -> None:
    response = upload(cast["prs"], name, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    from tandem.recovery.models import ImportBatch

    assert not ImportBatch.objects.exists()


def test_uploaded_spreadsheets_are_forgotten_after_a_week(cast: dict[str, Any]) -> None:
    import time_machine

    from tandem.recovery.models import ImportBatch

    upload(cast["prs"], "list.csv", b"First name,Last name\nAvery,Stone\n")
    assert services.import_batches_purge() == 0
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert services.import_batches_purge() == 1
    assert not ImportBatch.objects.exists()


def test_a_file_of_more_than_100000_rows_is_refused(cast: dict[str, Any]) -> None:
    data = b"First name,Last name\n" + b"A,B\n" * 100_001
    response = upload(cast["prs"], "big.csv", data)
    assert response.status_code == 400
    assert "more than 100,000 rows" in response.content.decode()


def test_an_xlsx_client_list_with_dates_and_a_formula_cell(cast: dict[str, Any]) -> None:
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["First name", "Last name", "Date of birth", "Status"])
    sheet.append(["Morgan", "Ellis", datetime_of(1985, 3, 9), "Active"])
    sheet.append(["Riley", "Shaw", "=DATE(1990,1,1)", "lost"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = upload(cast["aro"], "list.xlsx", buffer.getvalue())
    assert response.status_code == 302
    dry = (
        browser(cast["aro"])
        .post(
            response.url,
            {
                "map_first_name": "First name",
                "map_last_name": "Last name",
                "map_date_of_birth": "Date of birth",
                "map_status": "Status",
                "value_status_0": "active",
                "value_status_1": "lost_contact",
            },
        )
        .content.decode()
    )
    assert "1 new · 0 matched to existing · 0 uncertain · 1 invalid" in dry
    assert "Row 3, column &quot;Date of birth&quot;: a formula" in dry


def datetime_of(year: int, month: int, day: int) -> Any:
    from datetime import datetime

    return datetime(year, month, day)  # noqa: DTZ001 - a spreadsheet cell has no zone


def test_a_contact_log_is_recorded_on_the_clients_it_matches(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5))
    today = timezone.localdate().isoformat().encode()
    data = (
        b"First,Last,DOB,Date,Type,Result\n"
        b"Jamie,Rivera,1990-04-05," + today + b",Phone,engaged\n"
        b"Nobody,Known,1970-01-01," + today + b",Phone,engaged\n"
        b"Jamie,Rivera,1990-04-05,2020-01-15,Phone,engaged\n"
    )
    response = upload(prs, "log.csv", data, kind="contacts")
    form = {
        "map_first_name": "First",
        "map_last_name": "Last",
        "map_date_of_birth": "DOB",
        "map_occurred_at": "Date",
        "map_kind": "Type",
        "map_outcome": "Result",
        "value_kind_0": "phone",
        "value_outcome_0": "engaged",
    }
    dry = browser(prs).post(response.url, form).content.decode()
    assert "Row 3: no client in the registry surely matches Nobody Known" in dry
    assert "0 new · 1 matched to existing · 0 uncertain · 2 invalid" in dry
    assert "Row 4: the contact is dated before the client was registered" in dry
    # Fixed file: only the known client.
    fixed = upload(prs, "log.csv", b"\n".join(data.split(b"\n")[:2]) + b"\n", kind="contacts")
    browser(prs).post(fixed.url, form)
    from tandem.recovery.models import ImportBatch

    batch = ImportBatch.objects.order_by("-pk").first()
    done = browser(prs).post(reverse("recovery:import_commit", args=[batch.pk]), follow=True)
    body = done.content.decode()
    assert "Imported: 0 new" in body
    contact = Contact.objects.get()
    assert contact.client_id == client.pk
    assert timezone.localdate(contact.occurred_at) == timezone.localdate()


# ========================================================================================
# 5. Statewide scale: the same model on Splink's Spark back end (local mode)
# ========================================================================================


def test_the_same_matching_runs_on_spark_local_mode(tmp_path: Any) -> None:
    import shutil

    from tandem.recovery import linkage

    pytest.importorskip(
        "pyspark", reason="pyspark is not installed: the Spark back end is not tested here"
    )
    if shutil.which("java") is None:
        pytest.skip("Java is not installed: Spark local mode needs it")
    import logging

    from pyspark.sql import SparkSession

    # py4j says goodbye at interpreter exit, after pytest closed the log streams.
    logging.getLogger("py4j").setLevel(logging.WARNING)
    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.jars", linkage.spark_jar())
        .appName("tandem-linkage-test")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .config("spark.default.parallelism", "1")
        .config("spark.sql.adaptive.enabled", "false")
        # Five records: compiling Java code for each query would cost more than running it.
        .config("spark.sql.codegen.wholeStage", "false")
        .config("spark.sql.codegen.factoryMode", "NO_CODEGEN")
        .getOrCreate()
    )
    spark.sparkContext.setCheckpointDir(str(tmp_path / "checkpoints"))
    records = [
        linkage.record_of(
            uid=1,
            first_name="Jamie",
            last_name="Rivera",
            date_of_birth="1990-04-05",
            phone="5405550199",
        ),
        linkage.record_of(
            uid=2,
            first_name="Jaime",
            last_name="Rivera",
            date_of_birth="1990-05-04",
            phone="5405550199",
        ),
        linkage.record_of(
            uid=3,
            first_name="Dana",
            last_name="Whitfield",
            aliases="Dee",
            date_of_birth="1985-11-02",
        ),
        linkage.record_of(
            uid=4, first_name="Dee", last_name="Whitfeld", date_of_birth="1985-11-02"
        ),
        linkage.record_of(
            uid=5,
            first_name="Peter",
            last_name="Nguyen",
            date_of_birth="1975-02-17",
            address="60 Ash Road",
        ),
    ]
    model = linkage.prior_model()
    on_duckdb = linkage.predict(records, model, threshold=0.5)
    try:
        on_spark = linkage.predict(
            records,
            model,
            threshold=0.5,
            # In memory and one partition: five records need no checkpoint files.
            db_api=linkage.database_api(
                "spark",
                spark=spark,
                break_lineage_method="persist",
                num_partitions_on_repartition=1,
            ),
        )
    finally:
        spark.stop()
    assert {(p.left, p.right) for p in on_duckdb} == {(1, 2), (3, 4)}
    assert [(p.left, p.right) for p in on_spark] == [(p.left, p.right) for p in on_duckdb]
    for a, b in zip(on_spark, on_duckdb, strict=True):
        assert a.probability == pytest.approx(b.probability, abs=1e-6)
        assert [f.level for f in a.fields] == [f.level for f in b.fields]


# ========================================================================================
# 6. Reports count a merged person once
# ========================================================================================


def test_a_merge_does_not_double_count_in_reports_caseloads_or_the_api(
    cast: dict[str, Any],
) -> None:
    from tandem.recovery.evaluation import personnel_evaluations
    from tandem.recovery.selectors import client_search, my_clients
    from tandem.reports.grant import grant_sections
    from tandem.reports.statistics import Period, recovery_sections

    aro, prs = cast["aro"], cast["prs"]
    survivor = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), aro=aro, prs=prs)
    absorbed = add(prs, "Jaime", "Rivera", date_of_birth=date(1990, 4, 5), aro=aro, prs=prs)
    for client in (survivor, absorbed):
        services.contact_create(
            acting_user=prs,
            client=client,
            data={
                "kind": "phone",
                "occurred_at": timezone.now() - timedelta(minutes=5),
                "duration_minutes": 10,
                "prs_present": True,
                "location_type": "phone",
                "services": [],
                "outcome": "engaged",
            },
        )
        services.stage_record(acting_user=prs, client=client, stage="preparation")
    today = timezone.localdate()
    period = Period(today.replace(day=1), today)

    def counts() -> dict[str, int]:
        tables = {
            t.name: t
            for section in recovery_sections(aro.agency, period) + grant_sections(
                aro.agency, period
            )
            for t in section.tables
        }
        served = tables["clients_served"]
        return {
            "served": sum(row[0] for row in served.counts),
            "people": int(tables["funnel_people"].total or 0),
            "stages": sum(sum(row) for row in tables["stages"].counts),
            "baseline": sum(tables["follow_up"].counts[0]),
            "search": client_search(aro.agency).count(),
            "caseload": my_clients(aro.agency, prs).count(),
        }

    assert counts() == dict.fromkeys(
        ("served", "people", "stages", "baseline", "search", "caseload"), 2
    )
    services.client_merge(acting_user=aro, survivor=survivor, absorbed=absorbed)
    assert counts() == dict.fromkeys(
        ("served", "people", "stages", "baseline", "search", "caseload"), 1
    )
    api_clients = browser(aro).get(reverse("recovery:client_list")).content.decode()
    assert api_clients.count(reverse("recovery:client_detail", args=[absorbed.pk])) == 0
    lines = {
        (e.person.pk, line.label): line.value
        for e in personnel_evaluations(aro.agency, today.year)
        for line in e.lines
    }
    assert lines[(prs.pk, "Active caseload today")] == "1"
    assert lines[(prs.pk, "Clients worked with")] == "1"


def test_nothing_new_is_recorded_on_a_record_merged_away(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    survivor = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5))
    absorbed = add(prs, "Jaime", "Rivera", date_of_birth=date(1990, 4, 5))
    services.client_merge(acting_user=aro, survivor=survivor, absorbed=absorbed)
    peer = browser(prs)
    page = peer.get(reverse("recovery:client_detail", args=[absorbed.pk])).content.decode()
    assert "This record was merged into" in page
    assert reverse("recovery:contact_create", args=[absorbed.pk]) not in page
    response = peer.post(
        reverse("recovery:stage_create", args=[absorbed.pk]), {"stage": "action"}
    )
    assert response.status_code == 404
    assert not StageAssessment.objects.filter(client=absorbed).exists()
    response = peer.post(
        reverse("recovery:contact_create", args=[absorbed.pk]),
        {"kind": "phone", "occurred_at": "2026-01-05T10:00", "outcome": "engaged"},
    )
    assert response.status_code == 404
    assert not Contact.objects.filter(client=absorbed).exists()


def test_an_on_demand_scan_reuses_the_stored_model_and_the_nightly_scan_retrains(
    cast: dict[str, Any],
) -> None:
    aro = cast["aro"]
    add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")
    add(aro, "Jaime", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")
    first, second = scan(aro), scan(aro)
    assert first.pairs == second.pairs == 1
    trained = [
        e.detail["trained"]
        for e in AuditEvent.objects.filter(action="recovery.match_run").order_by("pk")
    ]
    assert trained == [True, False]
    assert services.match_scan_all() == 1
    last = AuditEvent.objects.filter(action="recovery.match_run").order_by("-pk").first()
    assert last is not None
    assert last.detail["trained"] is True


# ========================================================================================
# 7. Bad input: large files go to the worker; encodings, extra values, array formulas
# ========================================================================================


def test_a_large_file_is_checked_and_imported_by_the_worker_without_losing_it(
    cast: dict[str, Any], monkeypatch: Any
) -> None:
    from tandem.recovery.models import ImportBatch

    monkeypatch.setattr(services.imports, "IMPORT_INLINE_ROWS", 2)
    aro, prs = cast["aro"], cast["prs"]
    add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="5405550199")
    batch_url = upload(prs, "clients.csv", CLIENT_CSV.encode()).url
    batch = ImportBatch.objects.get()
    form = {
        "map_first_name": "Given name",
        "map_last_name": "Surname",
        "map_date_of_birth": "DOB",
        "map_phone": "Phone",
    }
    page = browser(prs).post(batch_url, form).content.decode()
    assert "Dry run in progress" in page
    assert "Dry run</button>" not in page  # no second run while one is under way
    services.import_check_execute(batch_id=batch.pk)  # as the worker runs it
    page = browser(prs).get(batch_url).content.decode()
    assert "2 new · 2 matched to existing · 0 uncertain · 0 invalid" in page
    done = browser(prs).post(reverse("recovery:import_commit", args=[batch.pk]))
    assert done.status_code == 302
    assert "Import in progress" in browser(prs).get(batch_url).content.decode()
    assert Client.objects.count() == 1  # nothing until the worker has finished
    services.import_commit_execute(batch_id=batch.pk, user_id=prs.pk)
    assert Client.objects.count() == 3
    batch.refresh_from_db()
    assert batch.committed_at is not None
    assert batch.job_state == ""


def test_a_large_file_the_worker_refuses_says_why_row_by_row(
    cast: dict[str, Any], monkeypatch: Any
) -> None:
    from tandem.recovery.models import ImportBatch

    monkeypatch.setattr(services.imports, "IMPORT_INLINE_ROWS", 1)
    prs = cast["prs"]
    data = b"First name,Last name,DOB\nAna,Ruiz,1990-01-01\nBo,Li,not a date\n"
    batch_url = upload(prs, "clients.csv", data).url
    batch = ImportBatch.objects.get()
    form = {"map_first_name": "First name", "map_last_name": "Last name",
            "map_date_of_birth": "DOB"}
    browser(prs).post(batch_url, form)
    services.import_commit_request(acting_user=prs, batch=batch)
    services.import_commit_execute(batch_id=batch.pk, user_id=prs.pk)
    page = html.unescape(browser(prs).get(batch_url).content.decode())
    assert "Nothing was imported." in page
    assert 'Row 3: date of birth "not a date" is not a date' in page
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        # Excel's "Unicode text" export: UTF-16 with a byte-order mark, tab-separated.
        ("list.csv", "First name\tLast name\nJos\u00e9\tPe\u00f1a\n".encode("utf-16")),
        # Empty columns after the last heading, as spreadsheets often save them.
        ("list.csv", "First name,Last name,,\nJos\u00e9,Pe\u00f1a,,\n".encode()),
    ],
)
def test_unicode_text_and_trailing_empty_columns_are_read(
    cast: dict[str, Any], name: str, data: bytes
) -> None:
    from tandem.recovery.models import ImportBatch

    response = upload(cast["prs"], name, data)
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert batch.header == ["First name", "Last name"]
    assert batch.rows == [["Jos\u00e9", "Pe\u00f1a"]]


def test_a_row_with_more_values_than_headings_is_refused_with_its_row_number(
    cast: dict[str, Any],
) -> None:
    data = b"First name,Last name,Address\nAna,Ruiz,12 Oak St\nBo,Li,3 Elm St, Apt 4\n"
    response = upload(cast["prs"], "list.csv", data)
    assert response.status_code == 400
    assert "Row 3: more values than headings (3)" in response.content.decode()


def test_an_array_formula_in_an_xlsx_cell_is_a_formula_not_a_value(cast: dict[str, Any]) -> None:
    import io

    from openpyxl import Workbook
    from openpyxl.worksheet.formula import ArrayFormula

    from tandem.recovery.models import ImportBatch

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["First name", "Last name", "Phone"])
    sheet.append(["Ana", "Ruiz", None])
    sheet["C2"] = ArrayFormula("C2:C2", "=CONCAT(A1:A2)")
    out = io.BytesIO()
    book.save(out)
    prs = cast["prs"]
    batch_url = upload(prs, "list.xlsx", out.getvalue()).url
    assert ImportBatch.objects.get().rows[0][2].startswith("=")
    form = {"map_first_name": "First name", "map_last_name": "Last name", "map_phone": "Phone"}
    page = html.unescape(browser(prs).post(batch_url, form).content.decode())
    assert 'Row 2, column "Phone": a formula' in page
