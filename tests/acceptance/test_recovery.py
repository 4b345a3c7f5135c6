"""Peer recovery (issue 5): clients, contacts and field safety, readiness and plans,
closed-loop referrals, consent and disclosures, the CJI compartment, overdoses, outreach,
public statements and the caseload — tested from the users' side with the fixed cast."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.authz import check_no_session, check_row, make_world
from tests.authz_recovery import ROWS, build_world
from tests.helpers import pdf_text


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.url_name)
def test_every_recovery_url_answers_only_the_program(
    row: Any, agency: Any, cast: dict[str, Any], stranger: Any
) -> None:
    check_row(row, make_world(agency, cast, [build_world]), stranger)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.url_name)
def test_no_recovery_page_without_a_verified_session(
    row: Any, agency: Any, cast: dict[str, Any]
) -> None:
    check_no_session(row, make_world(agency, cast, [build_world]))


# ========================================================================================
# Helpers
# ========================================================================================

from datetime import date, datetime, timedelta  # noqa: E402

from django.db import connection  # noqa: E402
from django.test import Client as Browser  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from tandem.audit.models import AuditEvent  # noqa: E402
from tandem.readiness.gates import gate_update  # noqa: E402
from tandem.recovery import services  # noqa: E402
from tandem.recovery.models import (  # noqa: E402
    Client,
    Contact,
    Disclosure,
    PlannedContact,
    Referral,
)
from tests.conftest import make_user, sign_in  # noqa: E402


def browser(user: Any) -> Browser:
    return sign_in(Browser(), user)


def local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def new_client(user: Any, **extra: Any) -> Client:
    data = {
        "first_name": "Jamie",
        "last_name": "Rivera",
        "date_of_birth": date(1990, 4, 5),
        "phone": "(540) 555-0199",
        "address": "12 Elm Street",
        "substances": ["opioids"],
        "notes": "Wants to try outpatient.",
    }
    data.update(extra)
    return services.client_create(acting_user=user, data=data)


def client_post(**extra: Any) -> dict[str, Any]:
    data = {
        "first_name": "Jamie",
        "last_name": "Rivera",
        "date_of_birth": "1990-04-05",
        "phone": "540-555-0199",
        "address": "12 Elm Street",
        "gender": "not_stated",
        "race": "not_stated",
        "ethnicity": "not_stated",
        "veteran": "unknown",
        "substances": ["opioids"],
        "status": "active",
        "notes": "",
        "idempotency_key": "k1",
    }
    data.update(extra)
    return data


def contact_post(**extra: Any) -> dict[str, Any]:
    data = {
        "kind": "phone",
        "occurred_at": local(timezone.now()),
        "duration_minutes": "20",
        "prs_present": "on",
        "location_type": "phone",
        "services": ["referral"],
        "outcome": "engaged",
        "notes": "Called back about detox.",
        "idempotency_key": "",
    }
    data.update(extra)
    return data


def raw_rows(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
        return repr(cursor.fetchall())


def resource(user: Any, name: str = "Valley Treatment", category: str = "treatment_detox") -> Any:
    return services.resource_save(
        acting_user=user, data={"name": name, "category": category, "active": True}
    )


# ========================================================================================
# 1. Clients: registry, duplicates, encryption at rest, optimistic locking
# ========================================================================================


def test_program_staff_add_a_client_and_find_them_by_name_alias_phone_or_birth_date(
    cast: dict[str, Any],
) -> None:
    prs = browser(cast["prs"])
    response = prs.post(
        reverse("recovery:client_create"),
        client_post(aliases="JR, Jimmy", aro=cast["aro"].pk, prs=cast["prs"].pk),
    )
    assert response.status_code == 302
    client = Client.objects.get()
    assert client.aro == cast["aro"]
    assert client.prs == cast["prs"]
    assert client.phone_digits == "5405550199"
    for query in ("rivera", "Jimmy", "555-0199", "1990-04-05", "jamie riv"):
        page = prs.get(reverse("recovery:client_list"), {"q": query})
        assert "Jamie Rivera" in page.content.decode(), query
    assert (
        "Jamie Rivera"
        not in prs.get(reverse("recovery:client_list"), {"q": "nobody-like-this"}).content.decode()
    )


def test_sensitive_client_details_are_ciphertext_in_the_database(cast: dict[str, Any]) -> None:
    new_client(
        cast["aro"], address="77 Secret Lane", notes="Relapsed in March", substances=["stimulants"]
    )
    raw = raw_rows("recovery_client")
    assert "Jamie" in raw  # searchable identity stays queryable
    for secret in ("77 Secret Lane", "Relapsed in March", "stimulants"):
        assert secret not in raw


def test_a_date_of_birth_in_the_future_is_refused_with_a_clear_message(
    cast: dict[str, Any],
) -> None:
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = browser(cast["aro"]).post(
        reverse("recovery:client_create"), client_post(date_of_birth=future)
    )
    assert response.status_code == 400
    assert "cannot be in the future" in response.content.decode()
    assert not Client.objects.exists()


def test_likely_duplicates_appear_while_typing_and_block_the_submit_until_confirmed(
    cast: dict[str, Any],
) -> None:
    existing = new_client(cast["aro"], first_name="Jamie", last_name="Rivera", aliases="Jay")
    aro = browser(cast["aro"])
    partial = aro.get(
        reverse("recovery:client_duplicates"),
        {"first_name": "Jaime", "last_name": "Riviera", "date_of_birth": "1990-04-05", "phone": ""},
        HTTP_HX_REQUEST="true",
    )
    body = partial.content.decode()
    assert "Possibly already in the registry" in body
    assert reverse("recovery:client_detail", args=[existing.pk]) in body
    assert "Date of birth: the same" in body
    # Swapped day and month, same phone, different spelling: still found.
    swapped = aro.get(
        reverse("recovery:client_duplicates"),
        {
            "first_name": "Jamie",
            "last_name": "Rivera",
            "date_of_birth": "1990-05-04",
            "phone": "540 555 0199",
        },
    )
    assert "day and month swapped" in swapped.content.decode()
    unrelated = aro.get(
        reverse("recovery:client_duplicates"), {"first_name": "Zed", "last_name": "Quorum"}
    )
    assert "Possibly" not in unrelated.content.decode()

    refused = aro.post(
        reverse("recovery:client_create"), client_post(first_name="Jaime", idempotency_key="dup-1")
    )
    assert refused.status_code == 400
    assert "may already be in the registry" in refused.content.decode()
    assert Client.objects.count() == 1
    accepted = aro.post(
        reverse("recovery:client_create"),
        client_post(first_name="Jaime", idempotency_key="dup-1", confirm_new="1"),
    )
    assert accepted.status_code == 302
    assert Client.objects.count() == 2


def test_a_double_submit_creates_one_client(cast: dict[str, Any]) -> None:
    aro = browser(cast["aro"])
    for _ in range(2):
        aro.post(reverse("recovery:client_create"), client_post(idempotency_key="same-key"))
    assert Client.objects.count() == 1


def test_a_stale_client_form_is_refused_and_keeps_the_users_input(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    aro, prs = browser(cast["aro"]), browser(cast["prs"])
    url = reverse("recovery:client_edit", args=[client.pk])
    first = prs.post(url, client_post(phone="540-555-1111", version=client.version))
    assert first.status_code == 302
    stale = aro.post(url, client_post(phone="540-555-2222", version=client.version))
    assert stale.status_code == 409
    body = stale.content.decode()
    assert "Someone else saved this record" in body
    assert "540-555-2222" in body  # the user's input is still in the form
    client.refresh_from_db()
    assert client.phone == "540-555-1111"
    assert client.version == 2


def test_a_photo_is_stored_encrypted_and_served_only_to_the_program(cast: dict[str, Any]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.authz_recovery import PNG

    aro = browser(cast["aro"])
    upload = SimpleUploadedFile("me.png", PNG, content_type="image/png")
    aro.post(reverse("recovery:client_create"), client_post(photo=upload))
    client = Client.objects.get()
    photo_url = reverse("recovery:client_photo", args=[client.pk])
    assert aro.get(photo_url).content == PNG
    assert browser(cast["chief"]).get(photo_url).status_code == 404
    bad = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    response = aro.post(
        reverse("recovery:client_create"),
        client_post(
            photo=bad,
            idempotency_key="k2",
            first_name="Other",
            last_name="Person",
            date_of_birth="1970-01-01",
            phone="",
        ),
    )
    assert "must be a PNG or JPEG" in response.content.decode()


def test_nobody_outside_the_program_searches_recovery_clients(
    agency: Any, cast: dict[str, Any]
) -> None:
    new_client(cast["aro"])
    sworn_outsider = make_user(agency, "patrolofficer", "member", sworn=True)
    gate_update(user=sworn_outsider, peer_support=False, cji=True)
    for user in (
        sworn_outsider,
        cast["chief"],
        cast["administrator"],
        cast["supervisor"],
        cast["auditor"],
    ):
        session = browser(user)
        assert session.get(reverse("recovery:client_list"), {"q": "Rivera"}).status_code == 404
        assert (
            session.get(
                reverse("recovery:client_duplicates"),
                {"first_name": "Jamie", "last_name": "Rivera"},
            ).status_code
            == 404
        )


# ========================================================================================
# 2. Contacts
# ========================================================================================


def test_the_prs_logs_a_contact_with_services_outcome_and_a_diverted_arrest(
    agency: Any, cast: dict[str, Any]
) -> None:
    client = new_client(cast["aro"])
    planned = plan(cast, client, kind="co_response")
    assess(agency, cast, planned)
    response = browser(cast["prs"]).post(
        reverse("recovery:contact_create", args=[client.pk]),
        contact_post(
            planned=planned.pk,
            kind="co_response",
            aro_present="on",
            arrest_diverted="on",
            location_type="street",
            services=["naloxone_kit", "transport_treatment"],
        ),
    )
    assert response.status_code == 302
    contact = Contact.objects.get()
    assert contact.kind == "co_response"
    assert contact.arrest_diverted
    assert contact.aro_present
    assert contact.prs_present
    assert contact.services == ["naloxone_kit", "transport_treatment"]
    assert "Called back about detox." not in raw_rows("recovery_contact")


def test_a_contact_before_the_client_existed_is_refused(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    Client.objects.filter(pk=client.pk).update(created_at=timezone.now() - timedelta(days=2))
    before = timezone.now() - timedelta(days=5)
    response = browser(cast["prs"]).post(
        reverse("recovery:contact_create", args=[client.pk]),
        contact_post(occurred_at=local(before)),
    )
    assert response.status_code == 400
    assert "a contact cannot be dated before that" in response.content.decode()
    assert not Contact.objects.exists()


def test_a_stale_contact_edit_does_not_overwrite_the_newer_one(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    contact = services.contact_create(
        acting_user=cast["prs"],
        client=client,
        data={
            "kind": "phone",
            "occurred_at": timezone.now(),
            "duration_minutes": 5,
            "prs_present": True,
            "location_type": "phone",
            "services": [],
            "outcome": "engaged",
        },
    )
    url = reverse("recovery:contact_edit", args=[contact.pk])
    assert (
        browser(cast["aro"]).post(url, contact_post(duration_minutes="30", version="1")).status_code
        == 302
    )
    stale = browser(cast["prs"]).post(url, contact_post(duration_minutes="45", version="1"))
    assert stale.status_code == 409
    assert "Someone else saved this record" in stale.content.decode()
    contact.refresh_from_db()
    assert contact.duration_minutes == 30


def test_a_double_submitted_contact_is_recorded_once(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    prs = browser(cast["prs"])
    for _ in range(2):
        prs.post(
            reverse("recovery:contact_create", args=[client.pk]),
            contact_post(idempotency_key="contact-key"),
        )
    assert Contact.objects.count() == 1


# ========================================================================================
# 3. Field safety: the assessment gate, reassessment, overlapping visits
# ========================================================================================


def plan(
    cast: dict[str, Any], client: Client, start: datetime | None = None, **extra: Any
) -> PlannedContact:
    begin = start or timezone.now() - timedelta(minutes=5)
    return services.planned_create(
        acting_user=cast["aro"],
        client=client,
        kind=extra.get("kind", "field"),
        starts_at=begin,
        ends_at=begin + timedelta(hours=1),
        aro=cast["aro"],
        prs=cast["prs"],
        with_prs=extra.get("with_prs", True),
    )


def test_a_field_contact_with_the_prs_waits_for_the_aros_safety_assessment(
    agency: Any, cast: dict[str, Any]
) -> None:
    client = new_client(cast["aro"])
    planned = plan(cast, client)
    prs, aro = browser(cast["prs"]), browser(cast["aro"])
    url = reverse("recovery:contact_create", args=[client.pk])
    field = {"kind": "field", "location_type": "home", "aro_present": "on"}

    no_plan = prs.post(url, contact_post(**field))
    assert no_plan.status_code == 400
    assert "needs the planned visit" in no_plan.content.decode()
    not_assessed = prs.post(url, contact_post(planned=planned.pk, **field))
    assert not_assessed.status_code == 400
    # Starting is refused too, and the PRS cannot record the assessment.
    prs.post(reverse("recovery:planned_start", args=[planned.pk]))
    planned.refresh_from_db()
    assert planned.status == "planned"
    assert (
        prs.post(
            reverse("recovery:planned_assess", args=[planned.pk]), {"confirmed": []}
        ).status_code
        == 404
    )

    checklist = list(agency.policy_model().recovery.safety_checklist)
    aro.post(reverse("recovery:planned_assess", args=[planned.pk]), {"confirmed": checklist[:-1]})
    planned.refresh_from_db()
    assert planned.status == "planned"  # an incomplete checklist does not open the gate
    assert prs.post(url, contact_post(planned=planned.pk, **field)).status_code == 400

    aro.post(reverse("recovery:planned_assess", args=[planned.pk]), {"confirmed": checklist})
    planned.refresh_from_db()
    assert planned.status == "started"
    # During the contact the ARO reassesses.
    aro.post(reverse("recovery:planned_assess", args=[planned.pk]), {"confirmed": checklist})
    assert list(planned.assessments.values_list("reassessment", flat=True)) == [False, False, True]
    assert prs.post(url, contact_post(planned=planned.pk, **field)).status_code == 302
    planned.refresh_from_db()
    assert planned.status == "done"
    assert Contact.objects.get().planned == planned


def test_a_phone_contact_and_a_field_visit_without_the_prs_need_no_assessment(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    aro = browser(cast["aro"])
    solo = plan(cast, client, with_prs=False)
    aro.post(reverse("recovery:planned_start", args=[solo.pk]))
    solo.refresh_from_db()
    assert solo.status == "started"
    response = aro.post(
        reverse("recovery:contact_create", args=[client.pk]),
        contact_post(kind="field", prs_present="", aro_present="on", location_type="home"),
    )
    assert response.status_code == 302


def test_the_shared_calendar_warns_when_two_visits_to_a_client_overlap(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    start = timezone.now() + timedelta(hours=2)
    plan(cast, client, start)
    response = browser(cast["prs"]).post(
        reverse("recovery:planned_create"),
        {
            "client": client.pk,
            "kind": "follow_up",
            "starts_at": local(start + timedelta(minutes=30)),
            "ends_at": local(start + timedelta(hours=2)),
            "prs": cast["prs"].pk,
            "with_prs": "on",
        },
        follow=True,
    )
    assert "overlapping time" in response.content.decode()
    calendar = browser(cast["aro"]).get(reverse("recovery:planned_list")).content.decode()
    assert calendar.count("Overlaps 1 other visit") == 2
    backwards = browser(cast["aro"]).post(
        reverse("recovery:planned_create"),
        {
            "client": client.pk,
            "kind": "field",
            "starts_at": local(start),
            "ends_at": local(start - timedelta(hours=1)),
        },
    )
    assert "must end after it starts" in backwards.content.decode()


# ========================================================================================
# 4. Readiness and plan, one timeline
# ========================================================================================


def test_stage_of_change_goals_and_the_timeline(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    prs = browser(cast["prs"])
    prs.post(reverse("recovery:stage_create", args=[client.pk]), {"stage": "contemplation"})
    browser(cast["aro"]).post(
        reverse("recovery:stage_create", args=[client.pk]), {"stage": "preparation"}
    )
    assert client.current_stage().stage == "preparation"
    assert client.current_stage().assessed_by == cast["aro"]
    prs.post(
        reverse("recovery:goal_create", args=[client.pk]), {"text": "Attend three meetings a week"}
    )
    goal = client.goals.get()
    prs.post(reverse("recovery:goal_status", args=[goal.pk]), {"status": "achieved"})
    goal.refresh_from_db()
    assert goal.status == "achieved"
    assert "Attend three" not in raw_rows("recovery_goal")
    prs.post(reverse("recovery:stage_create", args=[client.pk]), {"stage": "not-a-stage"})
    assert client.stages.count() == 2
    page = prs.get(reverse("recovery:client_detail", args=[client.pk])).content.decode()
    for text in ("Timeline", "Preparation", "Contemplation", "Attend three meetings"):
        assert text in page
    assert AuditEvent.objects.filter(
        action="recovery.client_view", object_id=str(client.pk)
    ).exists()


# ========================================================================================
# 5. Referrals: the closed loop
# ========================================================================================


def test_a_referral_moves_through_the_closed_loop_and_refuses_invalid_steps(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    center = resource(cast["aro"])
    prs = browser(cast["prs"])
    today = timezone.localdate().isoformat()
    prs.post(
        reverse("recovery:referral_create", args=[client.pk]),
        {"resource": center.pk, "follow_up_on": today},
    )
    referral = Referral.objects.get()
    step = reverse("recovery:referral_advance", args=[referral.pk])
    skipped = prs.post(step, {"status": "engaged", "on": today})
    assert skipped.status_code == 400  # proposed cannot jump to engaged
    for status in ("sent", "accepted", "engaged", "completed"):
        assert prs.post(step, {"status": status, "on": today}).status_code == 302, status
    referral.refresh_from_db()
    assert referral.status == "completed"
    assert referral.sent_on == referral.accepted_on == referral.completed_on
    assert [h["status"] for h in referral.history] == [
        "proposed",
        "sent",
        "accepted",
        "engaged",
        "completed",
    ]
    assert prs.post(step, {"status": "sent", "on": today}).status_code == 400  # closed
    page = prs.get(reverse("recovery:referral_detail", args=[referral.pk])).content.decode()
    assert '<th scope="row">Completed</th>' in page
    assert "This referral is closed." in page


def test_declining_needs_a_reason_and_dates_cannot_go_backwards(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    referral = services.referral_create(
        acting_user=cast["prs"], client=client, resource=resource(cast["aro"]), sent=True
    )
    step = reverse("recovery:referral_advance", args=[referral.pk])
    prs = browser(cast["prs"])
    no_reason = prs.post(step, {"status": "declined", "on": timezone.localdate().isoformat()})
    assert "Give the reason" in no_reason.content.decode()
    earlier = (timezone.localdate() - timedelta(days=3)).isoformat()
    backwards = prs.post(step, {"status": "accepted", "on": earlier})
    assert "cannot be before the previous step" in backwards.content.decode()
    prs.post(
        step, {"status": "declined", "on": timezone.localdate().isoformat(), "reason": "No beds"}
    )
    referral.refresh_from_db()
    assert referral.status == "declined"
    assert referral.reason == "No beds"
    assert "No beds" not in raw_rows("recovery_referral")


def test_a_referral_to_another_agencys_organisation_is_refused(
    cast: dict[str, Any], stranger: Any
) -> None:
    from django.core.exceptions import ValidationError

    client = new_client(cast["aro"])
    foreign = resource(stranger, "Bravo Detox")
    response = browser(cast["prs"]).post(
        reverse("recovery:referral_create", args=[client.pk]), {"resource": foreign.pk}
    )
    assert response.status_code == 400
    assert "your agency&#x27;s directory" in response.content.decode()
    with pytest.raises(ValidationError):
        services.referral_create(acting_user=cast["prs"], client=client, resource=foreign)
    assert not Referral.objects.exists()
    assert (
        browser(cast["prs"]).get(reverse("recovery:resource_edit", args=[foreign.pk])).status_code
        == 404
    )


def test_due_follow_ups_show_on_the_caseload_of_the_assigned_staff(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"], aro=cast["aro"], prs=cast["prs"])
    services.referral_create(
        acting_user=cast["prs"],
        client=client,
        resource=resource(cast["aro"], "Due Center"),
        follow_up_on=timezone.localdate() - timedelta(days=1),
    )
    page = browser(cast["prs"]).get(reverse("recovery:caseload")).content.decode()
    assert "Due Center" in page
    assert "Jamie Rivera" in page
    other = browser(cast["crt_supervisor"]).get(reverse("recovery:caseload")).content.decode()
    assert "Due Center" not in other


# ========================================================================================
# 6. Consent and disclosures (42 CFR Part 2)
# ========================================================================================


def consent_post(recipient: Any, **extra: Any) -> dict[str, Any]:
    today = timezone.localdate()
    data = {
        "discloser": "Peer Recovery Program",
        "recipient": recipient.pk,
        "purpose": "court",
        "information": ["identity", "substance_use", "attendance"],
        "starts_on": today.isoformat(),
        "expires_on": (today + timedelta(days=90)).isoformat(),
        "expiry_event": "",
        "revocation_method": "In writing, at any time.",
        "signed_by": "client",
        "signer_name": "Jamie Rivera",
        "signed_on": today.isoformat(),
        "signature_confirmed": "on",
    }
    data.update(extra)
    return data


def share(session: Browser, client: Client, recipient: Any, **extra: Any) -> Any:
    data = {
        "recipient": recipient.pk,
        "purpose": "court",
        "information": ["substance_use"],
        "description": "Substance-use history for the docket",
        "idempotency_key": "",
    }
    data.update(extra)
    return session.post(reverse("recovery:disclosure_create", args=[client.pk]), data)


def test_sharing_needs_a_matching_unexpired_unrevoked_consent(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    court = resource(cast["aro"], "County Drug Court", "drug_court")
    housing = resource(cast["aro"], "Housing Authority", "housing_assistance")
    prs = browser(cast["prs"])

    missing = share(prs, client, court)
    assert "There is no consent to disclose to this recipient" in missing.content.decode()
    assert (
        prs.post(
            reverse("recovery:consent_create", args=[client.pk]), consent_post(court)
        ).status_code
        == 302
    )
    consent = client.consents.get()
    wrong_recipient = share(prs, client, housing)
    assert "no consent to disclose to this recipient" in wrong_recipient.content.decode()
    wrong_purpose = share(prs, client, court, purpose="treatment")
    assert "for another purpose" in wrong_purpose.content.decode()
    not_covered = share(prs, client, court, information=["progress"])
    assert "does not cover all of this information" in not_covered.content.decode()
    assert not Disclosure.objects.exists()

    ok = share(prs, client, court)
    assert ok.status_code == 302
    disclosure = Disclosure.objects.get()
    assert disclosure.consent == consent
    assert "42 CFR part 2" in disclosure.notice
    detail = prs.get(ok["Location"]).content.decode()
    assert "prohibit you from making any" in detail  # the redisclosure notice travels along

    prs.post(reverse("recovery:consent_revoke", args=[consent.pk]))
    revoked = share(prs, client, court)
    assert "revoked this consent" in revoked.content.decode()
    assert Disclosure.objects.count() == 1
    assert AuditEvent.objects.filter(action="recovery.disclosure_refused").count() >= 5


def test_an_expired_consent_refuses_the_disclosure(cast: dict[str, Any]) -> None:
    import time_machine

    client = new_client(cast["aro"])
    court = resource(cast["aro"], "County Drug Court", "drug_court")
    browser(cast["prs"]).post(
        reverse("recovery:consent_create", args=[client.pk]),
        consent_post(court, expires_on=timezone.localdate().isoformat()),
    )
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        expired = share(browser(cast["prs"]), client, court)
        assert "expired" in expired.content.decode()
    assert not Disclosure.objects.exists()


def test_a_consent_expiring_before_it_starts_is_refused(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    court = resource(cast["aro"], "County Drug Court", "drug_court")
    today = timezone.localdate()
    response = browser(cast["prs"]).post(
        reverse("recovery:consent_create", args=[client.pk]),
        consent_post(
            court, starts_on=today.isoformat(), expires_on=(today - timedelta(days=1)).isoformat()
        ),
    )
    assert response.status_code == 400
    assert "cannot expire before it starts" in response.content.decode()
    no_end = browser(cast["prs"]).post(
        reverse("recovery:consent_create", args=[client.pk]), consent_post(court, expires_on="")
    )
    assert "expiry date or the event" in no_end.content.decode()
    assert not client.consents.exists()


def test_the_accounting_of_disclosures_is_listed_and_printable(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    court = resource(cast["aro"], "County Drug Court", "drug_court")
    prs = browser(cast["prs"])
    prs.post(reverse("recovery:consent_create", args=[client.pk]), consent_post(court))
    share(prs, client, court, description="Attendance for March")
    page = prs.get(reverse("recovery:accounting", args=[client.pk])).content.decode()
    assert "County Drug Court" in page
    assert "Attendance for March" in page
    pdf = prs.get(reverse("recovery:accounting_pdf", args=[client.pk]))
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert "Attendance for March" not in raw_rows("recovery_disclosure")


# ========================================================================================
# 7. The CJI compartment
# ========================================================================================

MARKER = "CJI-MARKER-7f3a9c"


def plant_cji(cast: dict[str, Any], client: Client) -> None:
    aro = cast["aro"]
    services.cji_entry_create(
        acting_user=aro,
        client=client,
        source="chri",
        queried_on=timezone.localdate(),
        purpose=f"{MARKER}-purpose",
        summary=f"{MARKER}-summary",
    )
    services.sworn_note_create(acting_user=aro, client=client, text=f"{MARKER}-note")


def test_cji_is_shown_only_after_the_officer_states_a_purpose_and_every_read_is_audited(
    cast: dict[str, Any],
) -> None:
    gate_update(user=cast["aro"], peer_support=False, cji=True)
    client = new_client(cast["aro"])
    plant_cji(cast, client)
    aro = browser(cast["aro"])
    url = reverse("recovery:cji", args=[client.pk])
    assert MARKER not in aro.get(url).content.decode()  # the purpose comes first
    assert aro.post(url, {"purpose": "x"}).status_code == 400
    shown = aro.post(url, {"purpose": "Safety check before home visit"}).content.decode()
    assert f"{MARKER}-summary" in shown
    assert f"{MARKER}-note" in shown
    event = AuditEvent.objects.filter(action="recovery.cji_read").get()
    assert event.purpose == "Safety check before home visit"
    assert event.actor_id == cast["aro"].pk
    for table in ("recovery_cjientry", "recovery_swornnote"):
        assert MARKER not in raw_rows(table)


def test_cji_needs_a_sworn_program_officer_with_an_open_gate(
    agency: Any, cast: dict[str, Any]
) -> None:
    client = new_client(cast["aro"])
    url = reverse("recovery:cji", args=[client.pk])
    assert browser(cast["aro"]).get(url).status_code == 404  # no gate yet
    gate_update(user=cast["aro"], peer_support=False, cji=True)
    assert browser(cast["aro"]).get(url).status_code == 200
    gate_update(user=cast["aro"], peer_support=False, cji=False)
    assert browser(cast["aro"]).get(url).status_code == 404  # closes at once
    civilian_aro = make_user(agency, "civilianaro", "aro", sworn=False)
    gate_update(user=civilian_aro, peer_support=False, cji=True)
    assert browser(civilian_aro).get(url).status_code == 404
    sworn_outsider = make_user(agency, "detective", "member", sworn=True)
    gate_update(user=sworn_outsider, peer_support=False, cji=True)
    assert browser(sworn_outsider).get(url).status_code == 404


def test_cji_never_reaches_a_page_export_search_or_partial_the_prs_can_open(
    agency: Any, cast: dict[str, Any], stranger: Any
) -> None:
    world = make_world(agency, cast, [build_world])
    client = world.objects["client"]
    gate_update(user=cast["aro"], peer_support=False, cji=True)
    plant_cji(cast, client)
    services.client_flags_set(
        acting_user=cast["aro"], client=client, flags=["officer_safety", "do_not_visit_alone"]
    )
    prs = browser(cast["prs"])
    seen: list[str] = []
    for row in ROWS:
        if "prs" not in row.allowed or row.method != "get":
            continue
        path = row.build(world)
        response = prs.get(path)
        assert response.status_code == 200, path
        assert MARKER.encode() not in response.content, path
        seen.append(row.url_name)
    extra = [
        (reverse("recovery:client_list"), {"q": "Casey"}),
        (reverse("recovery:client_list"), {"q": MARKER}),
        (reverse("recovery:client_duplicates"), {"first_name": "Casey", "last_name": "World"}),
        (reverse("recovery:client_detail", args=[client.pk]), {}),
        (reverse("recovery:overdose_export"), {}),
        (reverse("recovery:accounting_pdf", args=[client.pk]), {}),
    ]
    for path, params in extra:
        response = prs.get(path, params, HTTP_HX_REQUEST="true")
        assert MARKER.encode() not in response.content, path
    assert len(seen) >= 25
    detail = prs.get(reverse("recovery:client_detail", args=[client.pk])).content.decode()
    assert "Officer safety caution" in detail
    assert "Do not visit alone" in detail
    assert reverse("recovery:cji", args=[client.pk]) not in detail
    # Nor in notifications or the audit trail.
    from tandem.notifications.models import Delivery

    assert MARKER not in repr(list(Delivery.objects.values()))
    assert MARKER not in repr(list(AuditEvent.objects.values("detail", "purpose")))


def test_only_the_officer_sets_the_safety_flags_the_prs_sees(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    url = reverse("recovery:client_flags", args=[client.pk])
    assert browser(cast["prs"]).post(url, {"flags": ["officer_safety"]}).status_code == 404
    browser(cast["aro"]).post(url, {"flags": ["officer_safety", "not-a-flag"]})
    client.refresh_from_db()
    assert client.safety_flags == []  # an unknown flag refuses the whole change
    browser(cast["aro"]).post(url, {"flags": ["do_not_visit_alone"]})
    client.refresh_from_db()
    assert client.safety_flag_labels() == ["Do not visit alone"]


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
    assert header == [
        "Date",
        "Time",
        "Latitude",
        "Longitude",
        "Address",
        "Fatal/Non-Fatal",
        "Naloxone Administered",
        "Naloxone Doses",
        "Suspected Drug",
        "Agency Case Number",
    ]
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


# ========================================================================================
# 10. Caseload, navigation, demo
# ========================================================================================


def test_the_caseload_lists_my_clients_and_todays_visits(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"], aro=cast["aro"], prs=cast["prs"])
    new_client(cast["aro"], first_name="Other", last_name="Person", phone="")
    plan(cast, client, timezone.now() + timedelta(minutes=30))
    page = browser(cast["prs"]).get(reverse("recovery:caseload")).content.decode()
    assert "Jamie Rivera" in page
    assert "Other Person" not in page
    assert "Safety assessment needed" in page


def test_the_menu_shows_recovery_only_to_the_program_and_statements_to_the_chief(
    cast: dict[str, Any],
) -> None:
    from tandem.core.navigation import navigation_for

    labels = {
        role: [i["label"] for i in navigation_for(cast[role], "/")]
        for role in ("aro", "prs", "chief", "supervisor")
    }
    assert "Clients" in labels["aro"]
    assert "Caseload" in labels["prs"]
    assert "Clients" not in labels["chief"]
    assert "Public statements" in labels["chief"]
    assert "Clients" not in labels["supervisor"]


def test_the_demo_is_idempotent_and_keeps_cji_to_the_aro(agency: Any, cast: dict[str, Any]) -> None:
    from tandem.recovery.demo import populate
    from tandem.recovery.models import CJIEntry

    populate(agency=agency, users=cast)
    populate(agency=agency, users=cast)
    assert Client.objects.filter(agency=agency).count() == 12
    assert CJIEntry.objects.count() == 1
    client = CJIEntry.objects.get().client
    assert browser(cast["aro"]).get(reverse("recovery:cji", args=[client.pk])).status_code == 200
    assert browser(cast["prs"]).get(reverse("recovery:cji", args=[client.pk])).status_code == 404


# ========================================================================================
# In the browser: a co-responder day on a phone
# ========================================================================================


def browser_sign_in(page: Any, base: str, user: Any) -> None:
    from django_otp.oath import TOTP
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from tests.conftest import PASSWORD

    page.goto(f"{base}/")
    page.get_by_role("button", name="I understand and agree").click()
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    page.locator("input[name=code]").fill(f"{totp.token():0{device.digits}d}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_aro_plans_and_assesses_prs_logs_refers_and_the_stage_moves_forward(
    live_server: Any, agency: Any
) -> None:
    from tests.browser import browser_page

    aro = make_user(agency, "officer", "aro")
    prs = make_user(agency, "peer", "prs", sworn=False)
    client = services.client_create(
        acting_user=aro,
        data={"first_name": "Jordan", "last_name": "Alder", "aro": aro, "prs": prs},
    )
    resource(aro, "Valley Outpatient", "treatment_outpatient")
    services.stage_record(acting_user=prs, client=client, stage="contemplation")
    checklist = list(agency.policy_model().recovery.safety_checklist)
    base = live_server.url
    start = timezone.now() - timedelta(minutes=5)

    with browser_page(viewport={"width": 390, "height": 844}) as page:  # a phone
        browser_sign_in(page, base, aro)
        # Typing a name close to a registered client shows the likely duplicate at once.
        page.goto(f"{base}{reverse('recovery:client_create')}")
        page.locator("#id_first_name").fill("Jordn")
        page.locator("#id_last_name").fill("Alder")
        page.get_by_text("Possibly already in the registry").wait_for()
        assert page.get_by_role("link", name="Jordan Alder").count() == 1
        page.goto(f"{base}{reverse('recovery:planned_create')}?client={client.pk}")
        page.locator("#id_starts_at").fill(local(start))
        page.locator("#id_ends_at").fill(local(start + timedelta(hours=1)))
        page.locator("#id_prs").select_option(str(prs.pk))
        page.get_by_role("button", name="Plan visit").click()
        page.get_by_role("heading", name="Safety assessment").wait_for()
        for item in checklist:
            page.get_by_label(item, exact=True).check()
        page.get_by_role("button", name="Record safety assessment").click()
        page.get_by_text("the contact may go ahead").wait_for()
        page.goto(f"{base}{reverse('recovery:caseload')}")
        page.get_by_role("heading", name="My caseload").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.context.clear_cookies()

        browser_sign_in(page, base, prs)
        page.goto(f"{base}{reverse('recovery:caseload')}")
        page.get_by_role("link", name="Jordan Alder").first.click()
        page.get_by_role("heading", name="Jordan Alder").wait_for()
        planned = PlannedContact.objects.get()
        page.goto(f"{base}{reverse('recovery:planned_detail', args=[planned.pk])}")
        page.get_by_role("link", name="Log the contact").click()
        page.locator("#id_kind").select_option("field")
        page.locator("#id_aro_present").check()
        page.locator("#id_location_type").select_option("home")
        page.locator("#id_duration_minutes").fill("40")
        page.get_by_label("Transport to treatment").check()
        page.locator("#id_outcome").select_option("engaged")
        page.get_by_role("button", name="Record contact").click()
        page.get_by_text("The contact was recorded.").wait_for()

        page.get_by_role("link", name="Refer").click()
        page.locator("#id_resource").select_option(
            label="Valley Outpatient (Treatment — outpatient)"
        )
        page.locator("#id_sent").check()
        page.get_by_role("button", name="Record referral").click()
        page.locator("#id_status").select_option("accepted")
        page.get_by_role("button", name="Record step").click()
        page.get_by_text("The referral was updated.").wait_for()

        page.get_by_role("link", name="Jordan Alder").click()
        # On a phone the client page puts the summary first and folds the sections.
        assert not page.locator("#id_stage").is_visible()
        page.locator("#stages summary").click()
        page.locator("#id_stage").select_option("preparation")
        page.get_by_role("button", name="Record stage").click()
        page.get_by_text("The stage of change was recorded.").wait_for()
        # Back on the page, the section just changed is open again.
        assert page.locator("#stages").get_attribute("open") is not None
        assert page.locator("#stages summary").inner_text().startswith("Stage of change")
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    contact = Contact.objects.get()
    assert contact.kind == "field"
    assert contact.prs_present
    assert contact.planned == planned
    assert contact.recorded_by == prs
    referral = Referral.objects.get()
    assert referral.status == "accepted"
    assert referral.sent_on is not None
    assert client.current_stage().stage == "preparation"
    planned.refresh_from_db()
    assert planned.status == "done"


def test_double_submitted_referrals_visits_and_overdoses_are_written_once(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    center = resource(cast["aro"])
    aro = browser(cast["aro"])
    start = timezone.now() + timedelta(hours=3)
    posts = [
        (reverse("recovery:referral_create", args=[client.pk]), {"resource": center.pk}),
        (
            reverse("recovery:planned_create"),
            {
                "client": client.pk,
                "kind": "office",
                "starts_at": local(start),
                "ends_at": local(start + timedelta(hours=1)),
            },
        ),
        (
            reverse("recovery:overdose_list"),
            {
                "occurred_at": local(timezone.now()),
                "location": "1 Main St",
                "suspected_drug": "unknown",
            },
        ),
        (
            reverse("recovery:naloxone_list"),
            {
                "given_on": timezone.localdate().isoformat(),
                "quantity": "2",
                "recipient_type": "client",
            },
        ),
    ]
    for n, (url, data) in enumerate(posts):
        first = aro.post(url, {**data, "idempotency_key": f"once-{n}"})
        assert first.status_code == 302, url
        again = aro.post(url, {**data, "idempotency_key": f"once-{n}"})
        assert "already submitted" in again.content.decode(), url
    from tandem.recovery.models import NaloxoneKit, OverdoseResponse

    assert Referral.objects.count() == 1
    assert PlannedContact.objects.count() == 1
    assert OverdoseResponse.objects.count() == 1
    assert NaloxoneKit.objects.count() == 1


def test_the_client_search_answers_htmx_with_only_the_result_rows(cast: dict[str, Any]) -> None:
    new_client(cast["aro"])
    partial = browser(cast["prs"]).get(
        reverse("recovery:client_list"), {"q": "Rivera"}, HTTP_HX_REQUEST="true"
    )
    body = partial.content.decode()
    assert "Jamie Rivera" in body
    assert "<html" not in body


def test_list_pages_cost_the_same_number_of_queries_however_many_clients(
    cast: dict[str, Any],
) -> None:
    from django.test.utils import CaptureQueriesContext

    def counts() -> list[int]:
        session = browser(cast["aro"])
        found = []
        for url in (
            reverse("recovery:client_list"),
            reverse("recovery:caseload"),
            reverse("recovery:planned_list"),
        ):
            with CaptureQueriesContext(connection) as queries:
                assert session.get(url).status_code == 200
            found.append(len(queries))
        return found

    def add(n: int) -> None:
        for i in range(n):
            client = new_client(
                cast["aro"],
                first_name=f"Person{i}",
                last_name=f"Count{n}",
                phone="",
                aro=cast["aro"],
                prs=cast["prs"],
            )
            plan(cast, client, timezone.now() + timedelta(minutes=10 + i))

    add(2)
    few = counts()
    add(8)
    assert counts() == few


def test_the_daily_reminder_reaches_staff_with_work_due_and_carries_no_content(
    cast: dict[str, Any],
) -> None:
    from tandem.notifications.models import Delivery

    client = new_client(cast["aro"], aro=cast["aro"], prs=cast["prs"])
    services.referral_create(
        acting_user=cast["prs"],
        client=client,
        resource=resource(cast["aro"]),
        follow_up_on=timezone.localdate(),
    )
    assert services.follow_up_reminders_send() == 2
    deliveries = list(Delivery.objects.filter(kind="recovery.reminder"))
    assert {d.recipient_user_id for d in deliveries} == {cast["aro"].pk, cast["prs"].pk}
    assert "Rivera" not in repr([vars(d) for d in deliveries])


def test_the_retention_purge_shreds_and_removes_inactive_clients_only(
    agency: Any, cast: dict[str, Any]
) -> None:
    import time_machine

    from tandem.core.models import DataKey

    gate_update(user=cast["aro"], peer_support=False, cji=True)
    gone = new_client(cast["aro"], status="inactive")
    kept = new_client(cast["aro"], first_name="Still", last_name="Here", phone="")
    plant_cji(cast, gone)
    court = resource(cast["aro"], "County Drug Court", "drug_court")
    browser(cast["prs"]).post(
        reverse("recovery:consent_create", args=[gone.pk]),
        consent_post(court, idempotency_key="consent-once"),
    )
    share(browser(cast["prs"]), gone, court)
    keys = list(DataKey.objects.filter(purpose__startswith="prp.").values_list("pk", flat=True))
    days = agency.policy_model().retention.recovery_record_days
    assert services.records_purge() == 0  # nothing is old enough yet
    with time_machine.travel(timezone.now() + timedelta(days=days + 1)):
        assert services.records_purge() == 1
    assert not Client.objects.filter(pk=gone.pk).exists()
    assert Client.objects.filter(pk=kept.pk).exists()
    assert not Disclosure.objects.exists()
    shredded = DataKey.objects.filter(pk__in=keys, shredded_at__isnull=False).count()
    assert shredded >= 5  # client, CJI entry, note, consent, disclosure
    assert AuditEvent.objects.filter(action="recovery.client_purged").count() == 1
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert services.submissions_purge() >= 1


def test_the_deconfliction_page_shows_twice_registered_clients_and_double_logged_visits(
    cast: dict[str, Any],
) -> None:
    first = new_client(cast["aro"])
    new_client(cast["prs"], first_name="Jaime", phone="")
    moment = timezone.now() - timedelta(hours=1)
    for user, minutes in ((cast["aro"], 0), (cast["prs"], 20)):
        services.contact_create(
            acting_user=user,
            client=first,
            data={
                "kind": "co_response",
                "occurred_at": moment + timedelta(minutes=minutes),
                "duration_minutes": 30,
                "aro_present": True,
                "prs_present": False,
                "location_type": "street",
                "services": [],
                "outcome": "engaged",
            },
        )
    page = browser(cast["prs"]).get(reverse("recovery:deconflict")).content.decode()
    assert "Jaime Rivera" in page
    assert "Date of birth: the same" in page
    assert page.count(reverse("recovery:contact_edit", args=[first.contacts.last().pk])) == 1
    assert "No encounter was logged twice" not in page


def test_the_visits_calendar_feed_is_secret_revocable_and_names_no_client(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"], aro=cast["aro"], prs=cast["prs"])
    plan(cast, client, timezone.now() + timedelta(hours=4))
    prs = browser(cast["prs"])
    page = prs.post(reverse("recovery:feed_issue"), follow=True).content.decode()
    url = page.split('<code class="secret">')[1].split("</code>")[0]
    path = url.split("testserver")[1]
    feed = Browser().get(path)
    assert feed.status_code == 200
    body = feed.content.decode()
    assert "Peer recovery visit" in body
    assert "Rivera" not in body
    assert "Jamie" not in body
    prs.post(reverse("recovery:feed_issue"))  # a new link revokes the old one
    assert Browser().get(path).status_code == 404
    assert Browser().get(reverse("recovery:feed", args=["nonsense"])).status_code == 404


# ========================================================================================
# Security review: the gates, the consent recipient, event-bound consents, stale forms
# ========================================================================================

import re  # noqa: E402

from django.core.exceptions import ValidationError  # noqa: E402

from tandem.recovery.models import Consent, Resource  # noqa: E402

FIELD = {"kind": "field", "location_type": "home", "aro_present": "on"}


def assess(agency: Any, cast: dict[str, Any], planned: PlannedContact, clear: bool = True) -> Any:
    checklist = list(agency.policy_model().recovery.safety_checklist)
    return services.safety_assessment_record(
        acting_user=cast["aro"],
        planned=planned,
        confirmed=checklist if clear else [],
        reassessment=PlannedContact.objects.get(pk=planned.pk).status == "started",
    )


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
    call = services.contact_create(
        acting_user=cast["prs"],
        client=client,
        data={
            "kind": "phone",
            "occurred_at": timezone.now(),
            "duration_minutes": 5,
            "prs_present": True,
            "location_type": "phone",
            "services": [],
            "outcome": "engaged",
        },
    )
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

    contact = services.contact_create(
        acting_user=cast["prs"],
        client=client,
        data={
            "kind": "phone",
            "occurred_at": timezone.now(),
            "duration_minutes": 5,
            "prs_present": True,
            "location_type": "phone",
            "services": [],
            "outcome": "engaged",
        },
    )
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
