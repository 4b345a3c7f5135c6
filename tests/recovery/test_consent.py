"""Peer recovery, consent and disclosures (42 CFR Part 2), from the users' side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.recovery.models import (
    Disclosure,
)
from tests.recovery.support import browser, consent_post, new_client, raw_rows, resource, share

# ========================================================================================
# 6. Consent and disclosures (42 CFR Part 2)
# ========================================================================================


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
