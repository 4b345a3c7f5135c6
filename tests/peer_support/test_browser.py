"""Peer support, a Chromium journey: acceptance tests from the user's side."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.support import vocab
from tandem.support.models import (
    SupportRequest,
    UsageRecord,
)
from tests.browser import browser_page
from tests.conftest import PASSWORD, make_user
from tests.peer_support.support import deliveries, make_supporter, publish, rotation

pytestmark = pytest.mark.django_db


# ========================================================================================
# A Chromium journey
# ========================================================================================


def _browser_sign_in(page: Any, base: str, user: User) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    page.goto(f"{base}/")
    page.get_by_role("button", name="I understand and agree").click()
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    device = TOTPDevice.objects.get(user=user)
    page.locator("input[name=code]").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name=re.compile("Sign in|Continue|Verify")).click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_member_asks_on_call_supporter_accepts_and_closes_in_chromium(
    live_server: Any, agency: Agency
) -> None:
    member = make_user(agency, "asker", "member")
    supporter = make_supporter(agency, "oncall", phone="+1 555 0190")
    dispatcher = make_user(agency, "disp", "dispatcher")
    coordinator = make_user(agency, "coord", "coordinator")
    rotation(
        agency,
        coordinator,
        vocab.Layer.PRIMARY,
        [supporter],
        starts_on=timezone.localdate() - timedelta(days=1),
    )
    base = live_server.url

    with browser_page(viewport={"width": 390, "height": 844}) as page:
        _browser_sign_in(page, base, member)
        page.goto(f"{base}{reverse('support:directory')}")
        page.get_by_role("link", name="Ask for support", exact=True).click()
        page.get_by_label(re.compile("I work for")).check()
        page.get_by_label("How should the supporter reach you?").select_option("phone")
        page.get_by_label("Phone").fill("+1 555 0123")
        page.get_by_role("button", name="Send my request").click()
        page.get_by_role("button", name="See where it stands").click()
        page.get_by_text("Looking for a supporter").wait_for()
    assert deliveries("psp.request.assigned", supporter)

    with browser_page() as page:
        _browser_sign_in(page, base, supporter)
        page.goto(f"{base}{reverse('support:workspace')}")
        page.get_by_role("button", name=re.compile("Accept request")).click()
        page.get_by_label(re.compile("limits of confidentiality")).check()
        page.get_by_role("button", name="Record first contact").click()
        page.get_by_role("link", name="Close the request").click()
        page.get_by_label("Gender").select_option("female")
        page.get_by_label("Sworn / civilian / volunteer / family").select_option("sworn")
        page.get_by_label("Length of contact").select_option("15_60")
        page.get_by_label("Listening and support").check()
        page.get_by_role("button", name="Close and erase identity").click()
        page.get_by_text("erased for good").wait_for()
    publish()
    record = UsageRecord.objects.get()
    assert record.services == ["listening"]
    assert record.supporter.user == supporter
    assert not SupportRequest.objects.exists()  # shredded, then deleted

    with browser_page() as page:
        _browser_sign_in(page, base, dispatcher)
        page.goto(f"{base}{reverse('support:on_call_now')}")
        page.get_by_role("heading", name="On call now").wait_for()
        assert "+1 555 0190" in page.content()
