"""Peer recovery, contacts, from the users' side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tandem.recovery.models import (
    Client,
    Contact,
)
from tests.recovery.support import (
    assess,
    browser,
    contact_post,
    local,
    new_client,
    phone_call,
    plan,
    raw_rows,
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
    contact = phone_call(cast["prs"], client)
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
