"""Peer recovery security review: gates, consent recipients, event-bound consents, stale forms."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.readiness.gates import gate_update
from tandem.recovery import services
from tandem.recovery.models import (
    Client,
    Consent,
    Contact,
    Disclosure,
    Resource,
)
from tests.authz import make_world
from tests.authz_recovery import ROWS, build_world
from tests.conftest import make_user
from tests.helpers import pdf_text
from tests.recovery.support import (
    MARKER,
    assess,
    browser,
    client_post,
    consent_post,
    contact_post,
    local,
    new_client,
    phone_call,
    plan,
    plant_cji,
    resource,
    share,
)

# ========================================================================================
# Security review: the gates, the consent recipient, event-bound consents, stale forms
# ========================================================================================


FIELD = {"kind": "field", "location_type": "home", "aro_present": "on"}


def test_the_gate_ignores_the_planned_visits_own_kind_and_prs_setting(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    prs = browser(cast["prs"])
    url = reverse("recovery:contact_create", args=[client.pk])
    for planned in (plan(cast, client, with_prs=False), plan(cast, client, kind="phone")):
        response = prs.post(url, contact_post(planned=planned.pk, **FIELD))
        assert response.status_code == 400, planned.kind
        assert "complete safety assessment" in response.content.decode()
    assert not Contact.objects.exists()


def test_the_gate_reads_the_latest_assessment_is_used_once_and_is_not_back_dated(
    agency: Any, cast: dict[str, Any]
) -> None:
    client = new_client(cast["aro"])
    Client.objects.filter(pk=client.pk).update(created_at=timezone.now() - timedelta(days=2))
    prs = browser(cast["prs"])
    url = reverse("recovery:contact_create", args=[client.pk])
    planned = plan(cast, client)
    assess(agency, cast, planned)
    assess(agency, cast, planned, clear=False)  # the reassessment finds a danger
    withdrawn = prs.post(url, contact_post(planned=planned.pk, **FIELD))
    assert withdrawn.status_code == 400
    assert "latest safety assessment" in withdrawn.content.decode()
    assess(agency, cast, planned)
    backdated = prs.post(
        url,
        contact_post(
            planned=planned.pk, occurred_at=local(timezone.now() - timedelta(days=1)), **FIELD
        ),
    )
    assert backdated.status_code == 400
    assert "before the ARO&#x27;s first complete safety assessment" in backdated.content.decode()
    assert prs.post(url, contact_post(planned=planned.pk, **FIELD)).status_code == 302
    second = prs.post(url, contact_post(planned=planned.pk, **FIELD))
    assert second.status_code == 400
    assert "already closed" in second.content.decode()
    assert Contact.objects.count() == 1

    # Linking an existing contact to a visit uses the visit up as well.
    call = phone_call(cast["prs"], client)
    later = plan(cast, client)
    assess(agency, cast, later)
    services.contact_update(
        acting_user=cast["prs"], contact=call, data={"planned": later}, version=call.version
    )
    assert prs.post(url, contact_post(planned=later.pk, **FIELD)).status_code == 400
    assert Contact.objects.count() == 2

    cancelled = plan(cast, client)
    assess(agency, cast, cancelled)
    services.planned_cancel(acting_user=cast["aro"], planned=cancelled)
    with pytest.raises(ValidationError):
        services.contact_create(
            acting_user=cast["prs"],
            client=client,
            data={
                "kind": "field",
                "occurred_at": timezone.now(),
                "duration_minutes": 5,
                "aro_present": True,
                "prs_present": True,
                "location_type": "home",
                "services": [],
                "outcome": "engaged",
                "planned": cancelled,
            },
        )
    assert Contact.objects.count() == 2


@pytest.mark.parametrize(
    ("kind", "location"),
    [
        ("co_response", "street"),
        ("patrol_assist", "street"),
        ("outreach", "shelter"),
        ("follow_up", "home"),
        ("phone", "home"),
    ],
)
def test_every_contact_in_the_field_with_the_prs_present_is_gated(
    cast: dict[str, Any], kind: str, location: str
) -> None:
    client = new_client(cast["aro"])
    response = browser(cast["prs"]).post(
        reverse("recovery:contact_create", args=[client.pk]),
        contact_post(kind=kind, location_type=location, aro_present="on"),
    )
    assert response.status_code == 400
    assert "needs the planned visit" in response.content.decode()
    assert not Contact.objects.exists()


def test_a_follow_up_by_phone_or_at_the_office_needs_no_assessment(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    prs = browser(cast["prs"])
    url = reverse("recovery:contact_create", args=[client.pk])
    assert prs.post(url, contact_post(kind="follow_up", location_type="phone")).status_code == 302
    assert prs.post(url, contact_post(kind="office", location_type="office")).status_code == 302


def test_the_consent_and_the_ledger_keep_the_recipient_they_were_written_for(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    court = resource(cast["aro"], "County Drug Court", "drug_court")
    prs, aro = browser(cast["prs"]), browser(cast["aro"])
    prs.post(reverse("recovery:consent_create", args=[client.pk]), consent_post(court))
    assert share(prs, client, court, description="Docket letter").status_code == 302
    consent, disclosure = Consent.objects.get(), Disclosure.objects.get()
    assert (consent.recipient_name, consent.recipient_category) == (
        "County Drug Court",
        "drug_court",
    )
    assert (disclosure.recipient_name, disclosure.recipient_category) == (
        "County Drug Court",
        "drug_court",
    )
    edit = reverse("recovery:resource_edit", args=[court.pk])
    base = {"name": "County Drug Court", "category": "drug_court", "active": "on"}
    for change in ({"name": "Renamed Org"}, {"category": "social_services"}):
        refused = aro.post(edit, {**base, **change})
        assert refused.status_code == 400, change
        assert "named in a signed consent" in refused.content.decode()
    assert aro.post(edit, {**base, "phone": "540-555-0300"}).status_code == 302
    court.refresh_from_db()
    assert (court.name, court.category, court.phone) == (
        "County Drug Court",
        "drug_court",
        "540-555-0300",
    )

    # Even if the directory row changes underneath, what was signed and disclosed stays.
    Resource.objects.filter(pk=court.pk).update(name="Renamed Org", category="social_services")
    pages = [
        reverse("recovery:consent_detail", args=[consent.pk]),
        reverse("recovery:disclosure_detail", args=[disclosure.pk]),
        reverse("recovery:accounting", args=[client.pk]),
        reverse("recovery:client_detail", args=[client.pk]),
    ]
    for path in pages:
        body = prs.get(path).content.decode()
        assert "County Drug Court" in body, path
        assert "Renamed Org" not in body, path
    printed = pdf_text(prs.get(reverse("recovery:accounting_pdf", args=[client.pk])).content)
    assert "County Drug Court" in printed
    assert "Renamed Org" not in printed
    court.refresh_from_db()
    refused = share(prs, client, court)
    assert "There is no consent to disclose to this recipient" in refused.content.decode()
    assert Disclosure.objects.count() == 1


def test_a_consent_that_ends_on_an_event_ends_when_the_event_is_recorded(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    court = resource(cast["aro"], "County Drug Court", "drug_court")
    prs = browser(cast["prs"])
    prs.post(
        reverse("recovery:consent_create", args=[client.pk]),
        consent_post(court, expires_on="", expiry_event="Completion of Drug Court"),
    )
    consent = Consent.objects.get()
    assert share(prs, client, court).status_code == 302
    url = reverse("recovery:consent_event", args=[consent.pk])
    assert browser(cast["chief"]).post(url).status_code == 404
    detail = prs.get(reverse("recovery:consent_detail", args=[consent.pk])).content.decode()
    assert url in detail
    assert prs.post(url).status_code == 302
    consent.refresh_from_db()
    assert consent.ended_at is not None
    assert consent.ended_by == cast["prs"]
    assert not consent.is_in_force()
    assert consent.state == "Ended"
    refused = share(prs, client, court)
    assert "event on which this consent ends has occurred" in refused.content.decode()
    assert Disclosure.objects.count() == 1
    event = AuditEvent.objects.get(action="recovery.consent_event_ended")
    assert event.object_id == str(consent.pk)

    dated = services.consent_create(
        acting_user=cast["prs"],
        client=client,
        data={
            **{k: v for k, v in consent_post(court).items() if k != "signature_confirmed"},
            "recipient": court,
            "starts_on": timezone.localdate(),
            "expires_on": timezone.localdate() + timedelta(days=30),
            "signed_on": timezone.localdate(),
        },
    )
    with pytest.raises(ValidationError):
        services.consent_event_occurred(acting_user=cast["prs"], consent=dated)
    dated.refresh_from_db()
    assert dated.ended_at is None


def test_a_civilian_holding_the_aro_role_cannot_record_safety_assessments(
    agency: Any, cast: dict[str, Any]
) -> None:
    client = new_client(cast["aro"])
    planned = plan(cast, client)
    civilian = make_user(agency, "civilianaro", "aro", sworn=False)
    checklist = list(agency.policy_model().recovery.safety_checklist)
    session = browser(civilian)
    url = reverse("recovery:planned_assess", args=[planned.pk])
    assert session.post(url, {"confirmed": checklist}).status_code == 404
    page = session.get(reverse("recovery:planned_detail", args=[planned.pk])).content.decode()
    assert url not in page
    with pytest.raises(ValidationError):
        services.safety_assessment_record(
            acting_user=civilian, planned=planned, confirmed=checklist
        )
    assert not planned.assessments.exists()


def test_a_double_submit_key_reused_for_another_client_is_refused(cast: dict[str, Any]) -> None:
    first = new_client(cast["aro"])
    second = new_client(cast["aro"], first_name="Other", last_name="Person", phone="")
    prs = browser(cast["prs"])
    ok = prs.post(
        reverse("recovery:contact_create", args=[first.pk]), contact_post(idempotency_key="k-7")
    )
    assert ok.status_code == 302
    reused = prs.post(
        reverse("recovery:contact_create", args=[second.pk]), contact_post(idempotency_key="k-7")
    )
    assert reused.status_code == 400
    assert "another client" in reused.content.decode()
    assert not second.contacts.exists()

    court = resource(cast["aro"], "County Drug Court", "drug_court")
    for client in (first, second):
        prs.post(
            reverse("recovery:consent_create", args=[client.pk]),
            consent_post(court, idempotency_key=f"consent-{client.pk}"),
        )
    assert share(prs, first, court, idempotency_key="d-7").status_code == 302
    again = share(prs, second, court, idempotency_key="d-7")
    assert again.status_code == 400
    assert "another client" in again.content.decode()
    assert not second.disclosures.exists()


def hidden_version(body: str) -> str:
    found = re.search(r'name="version" value="(\d+)"', body)
    assert found is not None
    return found.group(1)


def test_after_a_stale_refusal_the_user_sees_the_newer_values_and_can_save_again(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    aro, prs = browser(cast["aro"]), browser(cast["prs"])
    url = reverse("recovery:client_edit", args=[client.pk])
    assert prs.post(url, client_post(phone="540-555-1111", version="1")).status_code == 302
    stale = aro.post(url, client_post(phone="540-555-2222", version="1"))
    assert stale.status_code == 409
    body = stale.content.decode()
    assert "540-555-2222" in body  # the user's input
    assert "540-555-1111" in body  # the newer saved value, to review
    assert hidden_version(body) == "2"
    again = aro.post(url, client_post(phone="540-555-2222", version=hidden_version(body)))
    assert again.status_code == 302
    client.refresh_from_db()
    assert (client.phone, client.version) == ("540-555-2222", 3)

    contact = phone_call(cast["prs"], client)
    url = reverse("recovery:contact_edit", args=[contact.pk])
    assert aro.post(url, contact_post(duration_minutes="30", version="1")).status_code == 302
    stale = prs.post(url, contact_post(duration_minutes="45", version="1"))
    assert stale.status_code == 409
    body = stale.content.decode()
    assert 'value="45"' in body
    assert "Newer values" in body
    assert ">30<" in body
    again = prs.post(url, contact_post(duration_minutes="45", version=hidden_version(body)))
    assert again.status_code == 302
    contact.refresh_from_db()
    assert contact.duration_minutes == 45


def test_reads_of_consents_disclosures_photos_and_referrals_are_audited(
    agency: Any, cast: dict[str, Any]
) -> None:
    world = make_world(agency, cast, [build_world])
    prs = browser(cast["prs"])
    reads = [
        ("consent_detail", "consent", "recovery.consent_view"),
        ("disclosure_detail", "disclosure", "recovery.disclosure_view"),
        ("client_photo", "client", "recovery.client_photo_view"),
        ("referral_detail", "referral", "recovery.referral_view"),
    ]
    for name, key, action in reads:
        obj = world.objects[key]
        assert prs.get(reverse(f"recovery:{name}", args=[obj.pk])).status_code == 200
        event = AuditEvent.objects.filter(action=action, object_id=str(obj.pk)).get()
        assert event.actor_id == cast["prs"].pk, action


def test_no_form_sent_back_with_errors_shows_cji_to_the_prs(
    agency: Any, cast: dict[str, Any]
) -> None:
    world = make_world(agency, cast, [build_world])
    client = world.objects["client"]
    gate_update(user=cast["aro"], peer_support=False, cji=True)
    plant_cji(cast, client)
    prs = browser(cast["prs"])
    posted = 0
    for row in ROWS:
        if "prs" not in row.allowed or row.method != "get":
            continue
        path = row.build(world)
        response = prs.post(path, {"idempotency_key": "", "version": "1", "q": MARKER})
        assert MARKER.encode() not in response.content, path
        if response.status_code == 400:
            posted += 1
    assert posted >= 12
    pdf = prs.get(reverse("recovery:accounting_pdf", args=[client.pk])).content
    text = pdf_text(pdf)
    assert "Intake confirmation" in text  # the extraction reads the drawn text
    assert b"Intake confirmation" not in pdf  # which a raw search of the bytes would miss
    assert MARKER not in text
