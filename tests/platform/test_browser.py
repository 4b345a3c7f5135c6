"""In the browser: acceptance tests from the user's side."""

from __future__ import annotations

from binascii import unhexlify
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import User
from tests.browser import browser_page
from tests.conftest import PASSWORD, make_user

pytestmark = pytest.mark.django_db


# ========================================================================================
# 9. In the browser
# A person signs in for the first time in Chromium: banner, password, authenticator, home.
# ========================================================================================


def current_code_for_secret(base32_secret: str) -> str:
    import base64

    padded = base32_secret + "=" * (-len(base32_secret) % 8)
    return f"{totp(base64.b32decode(padded)):06d}"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_first_sign_in_enrols_an_authenticator_and_reaches_the_home_page(
    live_server: Any, agency: Any
) -> None:
    user = make_user(agency, "newcomer", "member")
    TOTPDevice.objects.filter(user=user).delete()  # first sign-in: no authenticator yet

    with browser_page(viewport={"width": 390, "height": 844}) as page:  # a phone
        page.goto(f"{live_server.url}/")
        page.get_by_role("button", name="I understand and agree").click()
        page.get_by_label("Username").fill("newcomer")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()

        page.get_by_role("heading", name="Set up your authenticator app").wait_for()
        secret = page.locator("#setup-key").inner_text().replace(" ", "")
        page.locator("input[name=code]").fill(current_code_for_secret(secret))
        page.get_by_role("button", name="Confirm and continue").click()

        page.get_by_role("heading", name="Backup codes", exact=True).wait_for()
        assert page.locator("ol.codes li").count() == 10
        page.get_by_role("link", name="I have saved my codes, continue").click()

        page.get_by_role("heading", name="Welcome, Newcomer").wait_for()
        assert "Alpha Police Department" in page.content()

    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed
    assert unhexlify(device.key)  # the enrolled key is the one the page showed


def test_an_administrator_cannot_give_themselves_a_role(cast: dict[str, User]) -> None:
    from tandem.accounts.services import role_grant

    admin = cast["administrator"]
    with pytest.raises(ValidationError, match="cannot give yourself a role"):
        role_grant(acting_user=admin, user=admin, role="auditor")
    admin.forget_roles()
    assert not admin.has_role("auditor")


def test_deactivating_a_member_by_hand_also_ends_their_account(
    cast: dict[str, User],
) -> None:
    from tandem.agencies.services import member_deactivate

    leaver = cast["supporter"]
    member_deactivate(acting_user=cast["administrator"], member=leaver.member)
    leaver.refresh_from_db()
    assert not leaver.is_active
