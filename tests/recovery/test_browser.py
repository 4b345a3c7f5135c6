"""Peer recovery in the browser: a co-responder day on a phone."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tandem.recovery import services
from tandem.recovery.models import (
    Contact,
    PlannedContact,
    Referral,
)
from tests.conftest import make_user
from tests.recovery.support import local, resource

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
