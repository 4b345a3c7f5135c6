"""Programs: an agency starts from nothing (command, operator screen, set-up link)."""

from __future__ import annotations

from base64 import b32encode
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import User
from tandem.accounts.services import account_invite
from tandem.accounts.setup import setup_path
from tandem.agencies.models import Agency, Role
from tandem.audit.models import AuditEvent
from tests.conftest import make_agency, make_user, sign_in
from tests.helpers import agency_create, code_for
from tests.programs.support import text

NEW_PASSWORD = "a long new passphrase 9 for setup"


def setup_and_first_sign_in(client: Client, user: User, link_path: str) -> Any:
    """Follow a set-up link, choose a password, sign in and enrol an authenticator."""
    page = client.get(link_path)
    assert page.status_code == 200
    assert user.username in text(page)
    done = client.post(link_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == reverse("accounts:login")
    client.post(reverse("accounts:banner"))
    step = client.post(
        reverse("accounts:login"), {"username": user.username, "password": NEW_PASSWORD}
    )
    assert step["Location"] == reverse("accounts:mfa")
    assert client.get(reverse("accounts:mfa"))["Location"] == reverse("accounts:mfa_enrol")
    enrol = client.get(reverse("accounts:mfa_enrol"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = b32encode(device.bin_key).decode().rstrip("=")
    assert secret[:4] in text(enrol)
    finished = client.post(reverse("accounts:mfa_enrol"), {"code": code_for(device)})
    assert finished["Location"] == reverse("accounts:backup_codes")
    return finished


# ========================================================================================
# 1. An agency starts from nothing
# ========================================================================================


@pytest.mark.django_db
def test_agency_create_command_invites_a_first_administrator_who_can_then_manage_it() -> None:
    printed = agency_create(
        "joplin", "joplin", "Joplin Police Department", "--admin-email", "it@joplin.test"
    )
    agency = Agency.objects.get(slug="joplin")
    admin = User.objects.get(username="joplin-admin")
    assert admin.agency == agency
    assert admin.has_role(Role.ADMINISTRATOR)
    assert not admin.has_usable_password()
    link = next(line.strip() for line in printed.splitlines() if "/accounts/setup/" in line)
    link_path = link[link.index("/accounts/setup/") :]

    client = Client()
    setup_and_first_sign_in(client, admin, link_path)
    # Fully signed in: the administrator manages the agency's accounts and policy.
    assert client.get(reverse("accounts:user_list")).status_code == 200
    policy = client.get(reverse("agencies:policy"))
    assert policy.status_code == 200
    assert "SOG 2-13" in text(policy)
    actions = list(
        AuditEvent.objects.filter(object_id=str(admin.pk), object_type="accounts.User").values_list(
            "action", flat=True
        )
    )
    assert "account.invited" in actions
    assert "account.setup_completed" in actions
    # The link worked once: used again it is the one answer for "no such page".
    assert Client().get(link_path).status_code == 404


@pytest.mark.django_db
def test_a_set_up_link_cannot_be_forged_reused_or_used_after_it_expires() -> None:
    agency = make_agency("delta", "Delta PD")
    admin = account_invite(
        acting_user=None, agency_id=agency.pk, username="delta-admin", roles=[Role.ADMINISTRATOR]
    )
    good = setup_path(admin)
    uid = good.split("/")[3]
    assert Client().get(f"/accounts/setup/{uid}/1-forged0token/").status_code == 404
    assert (
        Client()
        .post(
            f"/accounts/setup/{uid}/1-forged0token/",
            {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
        )
        .status_code
        == 404
    )
    admin.refresh_from_db()
    assert not admin.has_usable_password()
    with time_machine.travel(timezone.now() + timedelta(days=10)):
        assert Client().get(good).status_code == 404
    weak = Client().post(good, {"password1": "short", "password2": "short"})
    assert weak.status_code == 200  # the form says why; the link still works
    assert (
        Client().post(good, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}).status_code
        == 302
    )
    assert Client().get(good).status_code == 404


@pytest.mark.django_db
def test_agency_create_refuses_a_taken_slug_or_username_in_one_line_and_creates_nothing(
    agency: Agency,
) -> None:
    with pytest.raises(CommandError, match="already exists"):
        agency_create("columbus", "alpha", "Again")
    make_user(agency, "echo-admin")
    with pytest.raises(CommandError, match="already exists"):
        agency_create("columbus", "echo", "Echo PD")
    assert not Agency.objects.filter(slug="echo").exists()


@pytest.mark.django_db
def test_an_operator_made_by_command_lists_and_creates_agencies_on_a_screen(
    agency: Agency, cast: dict[str, User]
) -> None:
    out = StringIO()
    call_command("operator", "create", "ops", stdout=out)
    operator = User.objects.get(username="ops")
    assert operator.agency is None
    assert operator.is_staff
    link = out.getvalue()
    client = Client()
    setup_and_first_sign_in(client, operator, link[link.index("/accounts/setup/") :].split()[0])
    listing = client.get(reverse("operator:agency_list"))
    assert listing.status_code == 200
    assert "Alpha Police Department" in text(listing)
    assert "Agencies" in text(client.get(reverse("core:home")))
    # Nothing inside an agency: no roster, no accounts, no policy, no program page.
    for name in (
        "agencies:member_list",
        "accounts:user_list",
        "agencies:policy",
        "support:directory",
        "recovery:client_list",
        "audit:event_list",
    ):
        assert client.get(reverse(name)).status_code == 404, name

    bad = client.post(
        reverse("operator:agency_create"),
        {
            "name": "Foxtrot PD",
            "slug": "alpha",
            "preset": "winchester",
            "time_zone": "America/New_York",
            "admin_username": "fox-admin",
        },
    )
    assert bad.status_code == 400
    assert "already exists" in text(bad)
    made = client.post(
        reverse("operator:agency_create"),
        {
            "name": "Winchester Police Department",
            "slug": "winchester",
            "preset": "winchester",
            "time_zone": "America/New_York",
            "admin_username": "win-admin",
            "admin_email": "admin@winchester.test",
        },
    )
    assert made.status_code == 200
    page = text(made)
    assert "/accounts/setup/" in page
    admin = User.objects.get(username="win-admin")
    assert admin.agency is not None
    assert admin.agency.preset == "winchester"
    assert admin.has_role(Role.ADMINISTRATOR)
    # People inside an agency never reach the operator's screen, administrators included.
    for role in ("administrator", "chief", "auditor"):
        staff = sign_in(Client(), cast[role])
        assert staff.get(reverse("operator:agency_list")).status_code == 404
        assert staff.post(reverse("operator:agency_create"), {}).status_code == 404


@pytest.mark.django_db
def test_an_administrator_cannot_invite_into_another_agency_or_make_an_operator(
    cast: dict[str, User], other_agency: Agency
) -> None:
    from django.core.exceptions import PermissionDenied

    admin = cast["administrator"]
    with pytest.raises(PermissionDenied):
        account_invite(
            acting_user=admin,
            agency_id=other_agency.pk,
            username="sneaky",
            roles=[Role.ADMINISTRATOR],
        )
    with pytest.raises(PermissionDenied):
        account_invite(acting_user=admin, agency_id=None, username="sneaky", operator=True)
    assert not User.objects.filter(username="sneaky").exists()


def test_the_demo_command_says_in_one_line_that_it_needs_demo_mode(settings: Any) -> None:
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="TANDEM_DEMO=1"):
        call_command("demo", stdout=StringIO())
