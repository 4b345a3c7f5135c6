"""Deconfliction, merge and unmerge, and the consent and CJI compartments through a merge."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Model
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.readiness.gates import gate_update
from tandem.recovery import services
from tandem.recovery.models import (
    CJIEntry,
    Client,
    ClientMerge,
    Consent,
    Disclosure,
    MatchCandidate,
)
from tests.deconfliction.support import add, browser, scan
from tests.recovery.support import plant_cji

MARKER = "CJI-MERGE-MARKER-41c2"


# ========================================================================================
# Helpers
# ========================================================================================


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
    cji, note = plant_cji(cast, client, MARKER)
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
        "cji": cji,
        "note": note,
        "resource": resource,
    }
    return records


def owners(owned: set[type[Model]], *clients: Client) -> dict[str, dict[int, int]]:
    """model -> {record id: client id} for every record of the ``owned`` kinds the clients
    own."""
    ids = [c.pk for c in clients]
    return {
        model.__name__: dict(
            model._default_manager.filter(client_id__in=ids).values_list("pk", "client_id")
        )
        for model in owned
    }


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
    made = everything_of(survivor, cast, "S")
    everything_of(absorbed, cast, "A")
    # Every kind of record that hangs off a client and follows it through a merge and back.
    owned = {type(record) for name, record in made.items() if name != "resource"}
    services.client_flags_set(acting_user=aro, client=absorbed, flags=["weapons_in_home"])
    before = owners(owned, survivor, absorbed)
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
    after = owners(owned, survivor, absorbed)
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
    assert owners(owned, survivor, absorbed) == before
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
