"""The program rules over the agency API: no CJI to a recovery token, a disclosure needs a
consent in force, HR sync through the roster rules, published reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tandem.agencies.models import Member, Unit
from tandem.api.models import ApiClient
from tandem.audit.models import AuditEvent
from tandem.recovery import services as recovery
from tandem.recovery.models import Disclosure
from tests.api.support import call
from tests.recovery.support import MARKER, plant_cji


def test_a_recovery_token_never_receives_cji(
    world: dict[str, Any], tokens: Callable[[str], str], cast: dict[str, Any]
) -> None:
    from tandem.readiness.gates import gate_update

    gate_update(user=cast["aro"], peer_support=False, cji=True)
    plant_cji(cast, world["client"])
    secret = tokens("recovery:read")
    for name, key in (
        ("clients", ""),
        ("client", "client"),
        ("contacts", "client"),
        ("referrals", ""),
        ("referral", "referral"),
    ):
        path = reverse(f"api:{name}", args=[world[key].pk] if key else [])
        answer = call(secret, "get", path)
        assert answer.status_code == 200
        assert MARKER not in answer.content.decode()
    # Safety flags the officer chose do reach the program, as on screen.
    recovery.client_flags_set(
        acting_user=cast["aro"], client=world["client"], flags=["dog_on_premises"]
    )
    flags = call(secret, "get", reverse("api:client", args=[world["client"].pk])).json()
    assert flags["safety_flags"] == ["dog_on_premises"]
    # Reading a client over the API is audited like opening the page.
    assert AuditEvent.objects.filter(
        action__startswith="recovery.client_view",
        actor_id=ApiClient.objects.get(name="recovery:read").account_id,
    ).exists()


def test_a_disclosure_over_the_api_needs_a_consent_in_force(
    world: dict[str, Any], tokens: Callable[[str], str], cast: dict[str, Any]
) -> None:
    secret = tokens("recovery:write")
    client, court = world["client"], world["resource"]
    body = {
        "idempotency_key": "d-1",
        "recipient": court.pk,
        "purpose": "court",
        "information": ["substance_use"],
        "description": "History for the docket",
    }
    path = reverse("api:client_disclosures", args=[client.pk])
    refused = call(secret, "post", path, body)
    assert refused.status_code == 400
    assert "consent" in refused.json()["detail"].lower()
    assert not Disclosure.objects.exists()
    assert AuditEvent.objects.filter(action="recovery.disclosure_refused").exists()
    today = timezone.localdate()
    recovery.consent_create(
        acting_user=cast["prs"],
        client=client,
        data={
            "discloser": "Peer Recovery Program",
            "recipient": court,
            "purpose": "court",
            "information": ["identity", "substance_use"],
            "starts_on": today,
            "expires_on": today + timedelta(days=30),
            "expiry_event": "",
            "revocation_method": "In writing.",
            "signed_by": "client",
            "signer_name": "J R",
            "signed_on": today,
        },
    )
    made = call(secret, "post", path, {**body, "idempotency_key": "d-2"})
    assert made.status_code == 201, made.content
    assert Disclosure.objects.get().consent.client == client


def test_hr_sync_creates_and_updates_members_through_the_roster_rules(
    agency: Any, cast: dict[str, Any], tokens: Callable[[str], str]
) -> None:
    secret = tokens("members:write")
    made = call(
        secret,
        "post",
        reverse("api:members"),
        {
            "employee_number": "HR-1",
            "first_name": "Ada",
            "last_name": "Lane",
            "category": "sworn",
            "unit_code": "HQ",
        },
    )
    assert made.status_code == 201
    member = Member.objects.get(employee_number="HR-1")
    assert member.unit == Unit.objects.get(agency=agency, code="HQ")
    clash = call(
        secret,
        "post",
        reverse("api:members"),
        {"employee_number": "HR-1", "first_name": "Ada", "last_name": "Lane", "category": "sworn"},
    )
    assert clash.status_code == 400
    assert "already in use" in clash.json()["detail"]
    gone = call(secret, "patch", reverse("api:member", args=[member.pk]), {"active": False})
    assert gone.status_code == 200
    assert AuditEvent.objects.filter(action="member.deactivate", object_id=str(member.pk)).exists()
    unknown = call(
        secret,
        "post",
        reverse("api:members"),
        {
            "employee_number": "HR-2",
            "first_name": "A",
            "last_name": "B",
            "category": "sworn",
            "unit_code": "NOPE",
        },
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"]["unit_code"]


def test_published_reports_carry_only_the_suppressed_tables(
    world: dict[str, Any], tokens: Callable[[str], str]
) -> None:
    secret = tokens("reports:read")
    run = world["report"]
    listed = call(secret, "get", reverse("api:reports")).json()
    assert [r["id"] for r in listed["results"]] == [run.pk]
    assert "tables" not in listed["results"][0]
    detail = call(secret, "get", reverse("api:report", args=[run.pk])).json()
    assert detail["tables"] == run.content


def test_recovery_over_the_api_ends_with_the_program(
    agency: Any, world: dict[str, Any], tokens: Callable[[str], str]
) -> None:
    """An agency that stops running peer recovery (policy ``programs``) answers its recovery
    endpoints as the screens do: not found, whatever the token's scopes."""
    secret = tokens("recovery:read")
    clients = reverse("api:clients")
    one = reverse("api:client", args=[world["client"].pk])
    assert call(secret, "get", clients).status_code == 200
    agency.policy["programs"] = ["peer_support"]
    agency.save(update_fields=["policy"])
    assert call(secret, "get", clients).status_code == 404
    assert call(secret, "get", one).status_code == 404
