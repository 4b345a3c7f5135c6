"""Sign-in (X-2): acceptance tests from the user's side."""

from __future__ import annotations

import json
from base64 import b32encode
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts import services
from tandem.accounts.models import RoleAssignment, RoleRequest, User
from tandem.accounts.passwords import BREACHED_MESSAGE, BreachedPasswordValidator
from tandem.agencies.models import Member, Role
from tandem.audit.models import AuditEvent
from tests.conftest import PASSWORD, make_user, sign_in
from tests.helpers import code_for

pytestmark = pytest.mark.django_db


# ========================================================================================
# 4. Sign-in
# Sign-in and account administration, from the user's side.
#
# Banner → password → TOTP (enrolment with QR code and backup codes at first sign-in),
# lockout on the 5th failure until an administrator releases it, idle and absolute session
# limits, deactivation that ends sessions at once, the inactive-accounts job, breached
# passwords refused with the reason, and administrator screens scoped to one agency.
# ========================================================================================


START = datetime(2026, 3, 2, 14, 0, 5, tzinfo=UTC)


LOGIN = reverse("accounts:login")


BANNER = reverse("accounts:banner")


MFA = reverse("accounts:mfa")


ENROL = reverse("accounts:mfa_enrol")


HOME = reverse("core:home")


SIGNIN_FAILED_TEXT = "Sign-in failed: the username or password is not correct"


# --- helpers -------------------------------------------------------------------------------


def password_step(client: Client, username: str, password: str = PASSWORD) -> Any:
    client.post(BANNER)
    return client.post(LOGIN, {"username": username, "password": password})


def full_sign_in(client: Client, user: User, password: str = PASSWORD) -> Any:
    password_step(client, user.username, password)
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return client.post(MFA, {"code": code_for(device)})


def page_text(response: Any) -> str:
    return response.content.decode()


def actions_for(user: User) -> list[str]:
    """The account events about ``user`` (readiness writes its gate changes about them too)."""
    return list(
        AuditEvent.objects.filter(object_type="accounts.User", object_id=str(user.pk))
        .exclude(action__startswith="readiness.")
        .order_by("id")
        .values_list("action", flat=True)
    )


def sessions_of(user: User) -> list[str]:
    keys = []
    for session in Session.objects.all():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            keys.append(session.session_key)
    return keys


CLOCK_START = START  # where the shared ``clock`` fixture stops time


# --- the full walk -------------------------------------------------------------------------


def test_first_sign_in_walks_banner_password_enrolment_backup_codes_to_home(
    newcomer: User, clock: Any
) -> None:
    client = Client()
    # Step 1: the use banner comes first; the password form is not shown before it.
    response = client.get(LOGIN)
    assert response.status_code == 302
    assert response["Location"] == BANNER
    banner = client.get(BANNER)
    assert "Authorized use only" in page_text(banner)
    assert "monitored, recorded and subject to audit" in page_text(banner)
    assert client.post(BANNER)["Location"] == LOGIN
    assert "Sign in" in page_text(client.get(LOGIN))
    key_before = client.cookies[settings.SESSION_COOKIE_NAME].value

    # Step 2: password. The session key changes at sign-in.
    response = client.post(LOGIN, {"username": "newcomer", "password": PASSWORD})
    assert response["Location"] == MFA
    key_after_password = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert key_after_password != key_before
    assert client.get(HOME).status_code == 302  # not yet: second factor missing

    # Step 3: no app yet → enrolment with a QR code and the key in text.
    assert client.get(MFA)["Location"] == ENROL
    enrol = client.get(ENROL)
    device = TOTPDevice.objects.get(user=newcomer, confirmed=False)
    secret = b32encode(device.bin_key).decode().rstrip("=")
    assert 'src="data:image/svg+xml' in page_text(enrol)
    assert secret[:4] + " " + secret[4:8] in page_text(enrol)
    assert device.config_url.startswith(f"otpauth://totp/{settings.OTP_TOTP_ISSUER}")
    assert f"issuer={settings.OTP_TOTP_ISSUER}" in device.config_url

    response = client.post(ENROL, {"code": code_for(device)})
    assert response["Location"] == reverse("accounts:backup_codes")
    key_after_mfa = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert key_after_mfa != key_after_password
    device.refresh_from_db()
    assert device.confirmed

    # Ten backup codes, shown once.
    codes_page = page_text(client.get(reverse("accounts:backup_codes")))
    stored = list(StaticToken.objects.filter(device__user=newcomer).values_list("token", flat=True))
    assert len(stored) == 10
    for token in stored:
        assert f"{token[:4]}-{token[4:]}" in codes_page
    again = page_text(client.get(reverse("accounts:backup_codes")))
    assert stored[0][:4] + "-" not in again
    assert "shown only once" in again

    home = client.get(HOME)
    assert home.status_code == 200
    assert home["Cache-Control"].startswith("no-store")
    newcomer.refresh_from_db()
    assert newcomer.last_login == START
    assert actions_for(newcomer)[-2:] == ["account.mfa_enrolled", "signin.succeeded"]


def test_returning_user_signs_in_with_app_code(cast: dict[str, User], clock: Any) -> None:
    client = Client()
    response = full_sign_in(client, cast["coordinator"])
    assert response["Location"] == HOME
    assert client.get(HOME).status_code == 200
    session = client.session
    # Kept to the five-minute bucket, so no session dates what the user did next.
    assert session["tandem_auth_at"] == START.timestamp() // 300 * 300
    assert session["tandem_banner_ok"] is True


def test_sign_in_returns_to_the_page_asked_for(cast: dict[str, User], clock: Any) -> None:
    client = Client()
    target = reverse("accounts:account")
    assert client.get(target)["Location"] == f"{LOGIN}?next={target}"
    client.get(f"{LOGIN}?next={target}")
    password_step(client, "coordinator")
    device = TOTPDevice.objects.get(user=cast["coordinator"])
    assert client.post(MFA, {"code": code_for(device)})["Location"] == target


def test_outside_next_url_is_ignored(cast: dict[str, User], clock: Any) -> None:
    client = Client()
    client.get(f"{LOGIN}?next=https://evil.example/")
    assert full_sign_in(client, cast["coordinator"])["Location"] == HOME


def test_password_is_not_accepted_before_the_banner_is_acknowledged(
    cast: dict[str, User],
) -> None:
    client = Client()
    response = client.post(LOGIN, {"username": "coordinator", "password": PASSWORD})
    assert response["Location"] == BANNER
    assert "_auth_user_id" not in client.session
    cast["coordinator"].refresh_from_db()
    assert cast["coordinator"].failed_attempts == 0


def test_banner_must_be_acknowledged_again_after_signing_out(
    cast: dict[str, User], clock: Any
) -> None:
    client = Client()
    full_sign_in(client, cast["member"])
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response["Location"] == LOGIN
    assert client.get(HOME).status_code == 302
    assert client.get(LOGIN)["Location"] == BANNER
    assert actions_for(cast["member"])[-1] == "signout"


# --- wrong, replayed, expired codes; backup codes ---------------------------------------------


def test_wrong_code_gets_a_clear_message_and_counts_as_a_failure(
    cast: dict[str, User], clock: Any
) -> None:
    client = Client()
    user = cast["supporter"]
    password_step(client, user.username)
    device = TOTPDevice.objects.get(user=user)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = client.post(MFA, {"code": wrong})
    assert response.status_code == 200
    assert "That code is not correct" in page_text(response)
    assert client.get(HOME).status_code == 302
    user.refresh_from_db()
    assert user.failed_attempts == 1


def test_replayed_code_is_rejected(cast: dict[str, User], clock: Any) -> None:
    user = cast["supporter"]
    device = TOTPDevice.objects.get(user=user)
    first = Client()
    password_step(first, user.username)
    code = code_for(device)
    assert first.post(MFA, {"code": code})["Location"] == HOME

    # Someone who saw the code uses it again within the same 30 seconds.
    clock.shift(5)
    second = Client()
    password_step(second, user.username)
    response = second.post(MFA, {"code": code})
    assert response.status_code == 200
    assert "already been used" in page_text(response)
    assert second.get(HOME).status_code == 302


def test_expired_code_is_rejected_with_its_own_message(cast: dict[str, User], clock: Any) -> None:
    user = cast["supporter"]
    device = TOTPDevice.objects.get(user=user)
    client = Client()
    password_step(client, user.username)
    response = client.post(MFA, {"code": code_for(device, offset_steps=-6)})
    assert "has expired" in page_text(response)
    assert client.get(HOME).status_code == 302


def test_quick_retries_are_slowed_down_and_not_counted(cast: dict[str, User], clock: Any) -> None:
    user = cast["supporter"]
    device = TOTPDevice.objects.get(user=user)
    client = Client()
    password_step(client, user.username)
    wrong = f"{(int(code_for(device)) + 3) % 1_000_000:06d}"
    client.post(MFA, {"code": wrong})
    response = client.post(MFA, {"code": code_for(device)})  # the same second
    assert "Wait a few seconds" in page_text(response)
    user.refresh_from_db()
    assert user.failed_attempts == 1
    clock.shift(2)
    assert client.post(MFA, {"code": code_for(device)})["Location"] == HOME


def test_wrong_code_at_enrolment_is_explained(newcomer: User, clock: Any) -> None:
    client = Client()
    password_step(client, newcomer.username)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=newcomer, confirmed=False)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = client.post(ENROL, {"code": wrong})
    assert "Check that the app shows the account you just added" in page_text(response)
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get(HOME).status_code == 302


def test_malformed_code_is_explained_and_not_counted(cast: dict[str, User], clock: Any) -> None:
    user = cast["supporter"]
    client = Client()
    password_step(client, user.username)
    response = client.post(MFA, {"code": "12ab"})
    assert "Enter the 6 digits" in page_text(response)
    user.refresh_from_db()
    assert user.failed_attempts == 0


def test_backup_code_signs_in_once_only(cast: dict[str, User], clock: Any) -> None:
    user = cast["chief"]
    codes = services.backup_codes_regenerate(acting_user=user)
    client = Client()
    password_step(client, user.username)
    spoken = f"{codes[0][:4]}-{codes[0][4:]}".upper()  # as read aloud from paper
    assert client.post(MFA, {"code": spoken})["Location"] == HOME
    assert client.get(HOME).status_code == 200
    assert StaticToken.objects.filter(device__user=user).count() == 9

    clock.shift(60)
    again = Client()
    password_step(again, user.username)
    response = again.post(MFA, {"code": codes[0]})
    assert "That code is not correct" in page_text(response)
    assert again.get(HOME).status_code == 302


def test_regenerating_backup_codes_cancels_the_old_ones(
    cast: dict[str, User], signed_in: Any
) -> None:
    user = cast["coordinator"]
    old = services.backup_codes_regenerate(acting_user=user)
    client = signed_in(user)
    response = client.post(reverse("accounts:backup_codes"), follow=True)
    assert "Your new backup codes" in page_text(response)
    tokens = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(tokens) == 10
    assert not tokens & set(old)


# --- lockout -------------------------------------------------------------------------------


def test_fifth_failed_password_locks_the_account(cast: dict[str, User]) -> None:
    user = cast["psychologist"]
    client = Client()
    client.post(BANNER)
    for attempt in range(1, 5):
        response = client.post(LOGIN, {"username": user.username, "password": "wrong " * 3})
        assert SIGNIN_FAILED_TEXT in page_text(response)
        user.refresh_from_db()
        assert (user.failed_attempts, user.locked_at) == (attempt, None)
    client.post(LOGIN, {"username": user.username, "password": "wrong " * 3})
    user.refresh_from_db()
    assert user.locked_at is not None
    assert "account.locked" in actions_for(user)


def test_locked_account_cannot_sign_in_even_with_right_password(cast: dict[str, User]) -> None:
    user = cast["psychologist"]
    User.objects.filter(pk=user.pk).update(locked_at=timezone.now(), failed_attempts=5)
    client = Client()
    response = password_step(client, user.username)
    assert response.status_code == 200
    assert SIGNIN_FAILED_TEXT in page_text(response)
    assert "_auth_user_id" not in client.session


def test_failure_message_does_not_reveal_whether_the_username_exists(
    cast: dict[str, User],
) -> None:
    def error_of(username: str, password: str) -> str:
        response = password_step(Client(), username, password)
        return str(response.context["form"].non_field_errors())

    locked = cast["auditor"]
    User.objects.filter(pk=locked.pk).update(locked_at=timezone.now())
    unknown = error_of("no-such-person", "whatever it is 1")
    assert unknown == error_of("coordinator", "not the password 1")
    assert unknown == error_of(locked.username, PASSWORD)
    # The unknown name is audited without the name or the password that was typed.
    event = AuditEvent.objects.filter(action="signin.failed", actor_id=None).last()
    assert event is not None
    assert event.detail == {"stage": "password", "reason": "unknown_account"}


def test_failed_passwords_and_codes_together_lock_on_the_fifth(
    cast: dict[str, User], clock: Any
) -> None:
    user = cast["dispatcher"]
    device = TOTPDevice.objects.get(user=user)
    client = Client()
    client.post(BANNER)
    for _ in range(3):
        client.post(LOGIN, {"username": user.username, "password": "wrong password 99"})
    client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    wrong = f"{(int(code_for(device)) + 7) % 1_000_000:06d}"
    client.post(MFA, {"code": wrong})
    user.refresh_from_db()
    assert (user.failed_attempts, user.locked_at) == (4, None)
    clock.shift(2)  # past django-otp's one-second back-off
    response = client.post(MFA, {"code": wrong}, follow=True)
    user.refresh_from_db()
    assert user.locked_at is not None
    assert "now locked" in page_text(response)
    assert "_auth_user_id" not in client.session
    # Even the right code, from a fresh password step, gets nowhere.
    clock.shift(60)
    assert SIGNIN_FAILED_TEXT in page_text(password_step(Client(), user.username))


def test_successful_sign_in_resets_the_failure_count(cast: dict[str, User], clock: Any) -> None:
    user = cast["member"]
    client = Client()
    client.post(BANNER)
    for _ in range(4):
        client.post(LOGIN, {"username": user.username, "password": "wrong password 99"})
    full_sign_in(client, user)
    user.refresh_from_db()
    assert user.failed_attempts == 0


def test_administrator_releases_a_lock_and_the_user_signs_in(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["aro"]
    for _ in range(5):
        password_step(Client(), user.username, "wrong password 99")
    user.refresh_from_db()
    assert user.is_locked
    admin = signed_in(cast["administrator"])
    listing = page_text(admin.get(reverse("accounts:user_list") + "?status=locked"))
    assert user.username in listing
    assert admin.post(reverse("accounts:user_unlock", args=[user.pk])).status_code == 302
    user.refresh_from_db()
    assert (user.locked_at, user.failed_attempts) == (None, 0)
    event = AuditEvent.objects.filter(action="account.unlocked").last()
    assert event is not None
    assert event.actor_id == cast["administrator"].pk
    assert full_sign_in(Client(), user)["Location"] == HOME


def test_console_can_release_a_lock(cast: dict[str, User]) -> None:
    user = cast["administrator"]
    User.objects.filter(pk=user.pk).update(locked_at=timezone.now(), failed_attempts=5)
    call_command("accounts", "unlock", user.username)
    user.refresh_from_db()
    assert not user.is_locked


def test_locking_an_account_ends_access_of_its_open_sessions(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["supporter"]
    laptop = signed_in(user)
    assert laptop.get(HOME).status_code == 200
    attacker = Client()
    attacker.post(BANNER)
    for _ in range(5):
        attacker.post(LOGIN, {"username": user.username, "password": "wrong " * 3})
    user.refresh_from_db()
    assert user.is_locked
    response = laptop.get(HOME)
    assert response.status_code == 302
    laptop.get(response["Location"])
    assert "_auth_user_id" not in laptop.session
    assert laptop.get(HOME).status_code == 302


# --- sessions -------------------------------------------------------------------------------


def test_session_ends_after_30_minutes_idle(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    client = signed_in(cast["member"])
    assert client.get(HOME).status_code == 200
    clock.shift(timedelta(minutes=29))
    assert client.get(HOME).status_code == 200
    clock.shift(timedelta(minutes=30, seconds=1))
    response = client.get(HOME)
    assert response["Location"] == LOGIN
    assert client.get(HOME).status_code == 302
    notice = client.get(BANNER)
    assert "30 minutes without activity" in page_text(notice)


def test_session_ends_12_hours_after_sign_in_even_when_active(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    client = signed_in(cast["member"])
    for _ in range(36):  # a request every 20 minutes for 12 hours
        assert client.get(HOME).status_code == 200
        clock.shift(timedelta(minutes=20))
    clock.shift(timedelta(seconds=1))
    response = client.get(HOME)
    assert response["Location"] == LOGIN
    assert "12-hour limit" in page_text(client.get(BANNER))


def test_tampered_session_cookie_is_treated_as_signed_out(
    cast: dict[str, User], signed_in: Any
) -> None:
    client = signed_in(cast["coordinator"])
    name = settings.SESSION_COOKIE_NAME
    key = client.cookies[name].value
    client.cookies[name] = key[:-1] + ("a" if key[-1] != "a" else "b")
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    client.cookies[name] = "not-a-session-at-all"
    assert client.get(HOME).status_code == 302


def test_post_without_csrf_token_is_rejected_and_changes_nothing(cast: dict[str, User]) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(BANNER).status_code == 403
    page = client.get(BANNER)
    token = page.context["csrf_token"]
    assert client.post(BANNER, {"csrfmiddlewaretoken": str(token)}).status_code == 302
    before = AuditEvent.objects.count()
    response = client.post(LOGIN, {"username": "coordinator", "password": "wrong password 99"})
    assert response.status_code == 403
    assert AuditEvent.objects.count() == before
    cast["coordinator"].refresh_from_db()
    assert cast["coordinator"].failed_attempts == 0


def test_deactivation_ends_every_session_at_once(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["supporter"]
    phone = Client()
    full_sign_in(phone, user)  # a real sign-in, with its session-key rotations
    laptop = signed_in(user)
    assert phone.get(HOME).status_code == 200
    assert laptop.get(HOME).status_code == 200
    assert len(sessions_of(user)) == 2

    admin = signed_in(cast["administrator"])
    admin.post(reverse("accounts:user_deactivate", args=[user.pk]))
    user.refresh_from_db()
    assert not user.is_active
    assert user.deactivated_at == START
    assert sessions_of(user) == []
    assert phone.get(HOME).status_code == 302
    assert laptop.get(HOME).status_code == 302
    event = AuditEvent.objects.filter(action="account.deactivated").last()
    assert event is not None
    assert event.detail["sessions_ended"] == 2
    # …and the password no longer opens anything.
    assert SIGNIN_FAILED_TEXT in page_text(password_step(Client(), user.username))


def test_user_deactivate_service_ends_sessions(cast: dict[str, User], signed_in: Any) -> None:
    user = cast["prs"]
    client = signed_in(user)
    ended = services.user_deactivate(acting_user=cast["administrator"], user=user)
    assert ended == 1
    assert client.get(HOME).status_code == 302


def test_reactivated_account_can_sign_in_again(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["prs"]
    services.user_deactivate(acting_user=None, user=user)
    admin = signed_in(cast["administrator"])
    admin.post(reverse("accounts:user_reactivate", args=[user.pk]))
    user.refresh_from_db()
    assert user.is_active
    assert user.deactivated_at is None
    assert full_sign_in(Client(), user)["Location"] == HOME


# --- the inactive-accounts job -----------------------------------------------------------------


def test_job_disables_accounts_unused_for_90_days(cast: dict[str, User], agency: Any) -> None:
    now = timezone.now()
    stale = cast["supporter"]
    recent = cast["coordinator"]
    never = make_user(agency, "neverused")
    fresh = make_user(agency, "freshhire")
    back = cast["chief"]
    sign_in(Client(), stale)  # an open session, which the job must end
    User.objects.update(date_joined=now - timedelta(days=365))
    User.objects.filter(pk=stale.pk).update(last_login=now - timedelta(days=91))
    User.objects.filter(pk=recent.pk).update(last_login=now - timedelta(days=89))
    User.objects.filter(pk=never.pk).update(last_login=None, date_joined=now - timedelta(days=91))
    User.objects.filter(pk=fresh.pk).update(last_login=None, date_joined=now - timedelta(days=3))
    User.objects.filter(pk=back.pk).update(
        last_login=now - timedelta(days=200), reactivated_at=now - timedelta(days=1)
    )
    User.objects.exclude(pk__in=[stale.pk, recent.pk, never.pk, fresh.pk, back.pk]).update(
        last_login=now
    )

    assert services.disable_inactive_accounts(now=now) == 2
    states = dict(User.objects.values_list("username", "is_active"))
    assert states[stale.username] is False
    assert states[never.username] is False
    assert states[recent.username] is True
    assert states[fresh.username] is True
    assert states[back.username] is True
    assert sessions_of(stale) == []
    event = AuditEvent.objects.filter(action="account.deactivated", object_id=str(stale.pk)).get()
    assert event.actor_id is None
    assert "inactive" in event.detail["reason"]
    assert services.disable_inactive_accounts(now=now) == 0  # idempotent


def test_job_runs_from_the_console(cast: dict[str, User], capsys: Any) -> None:
    User.objects.update(last_login=timezone.now(), date_joined=timezone.now() - timedelta(days=365))
    User.objects.filter(pk=cast["auditor"].pk).update(
        last_login=timezone.now() - timedelta(days=120)
    )
    call_command("accounts", "disable-inactive", "--dry-run")
    assert "auditor" in capsys.readouterr().out
    assert User.objects.get(pk=cast["auditor"].pk).is_active
    call_command("accounts", "disable-inactive")
    assert "1 inactive account(s) disabled" in capsys.readouterr().out
    assert not User.objects.get(pk=cast["auditor"].pk).is_active


# --- passwords ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "backtheblue",
        "ThinBlueLine",
        "police123",
        "qwertyuiop",
        "1qaz2wsx3edc",
        "P@ssw0rd2024!",
        "Summer2024!",
        "iloveyou",
        "Sheriff#1",
    ],
)
def test_breached_and_agency_themed_passwords_are_refused(password: str) -> None:
    with pytest.raises(Exception, match="exposed in data breaches"):
        BreachedPasswordValidator().validate(password)


@pytest.mark.parametrize("password", [PASSWORD, "purple elephant dances at dawn", "Vq7!rT2m#kLp9z"])
def test_strong_passwords_pass_the_breach_check(password: str) -> None:
    BreachedPasswordValidator().validate(password)


def test_password_change_refuses_breached_password_with_the_reason(
    cast: dict[str, User], signed_in: Any
) -> None:
    user = cast["member"]
    client = signed_in(user)
    response = client.post(
        reverse("accounts:password_change"),
        {
            "current_password": PASSWORD,
            "password1": "Thinblueline1!",
            "password2": "Thinblueline1!",
        },
    )
    assert response.status_code == 200
    assert BREACHED_MESSAGE.split(",")[0] in page_text(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_passwords_are_stored_with_argon2(cast: dict[str, User], settings: Any) -> None:
    from tandem import settings as configured

    settings.PASSWORD_HASHERS = configured.PASSWORD_HASHERS
    user = cast["member"]
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSWORD)


def test_password_change_needs_the_current_password(cast: dict[str, User], signed_in: Any) -> None:
    client = signed_in(cast["member"])
    response = client.post(
        reverse("accounts:password_change"),
        {
            "current_password": "not it at all 1",
            "password1": "lantern orchard quietly 8",
            "password2": "lantern orchard quietly 8",
        },
    )
    assert "Your current password is not correct" in page_text(response)


def test_password_change_keeps_this_session_and_records_when(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["member"]
    client = signed_in(user)
    other = signed_in(user)
    new = "lantern orchard quietly 8"
    response = client.post(
        reverse("accounts:password_change"),
        {"current_password": PASSWORD, "password1": new, "password2": new},
    )
    assert response["Location"] == reverse("accounts:account")
    user.refresh_from_db()
    assert user.check_password(new)
    assert user.password_changed_at == START
    assert client.get(HOME).status_code == 200
    assert other.get(HOME).status_code == 302  # the other browser is signed out
    assert "account.password_changed" in actions_for(user)


def test_too_short_password_is_refused_with_the_reason(
    cast: dict[str, User], signed_in: Any
) -> None:
    client = signed_in(cast["member"])
    response = client.post(
        reverse("accounts:password_change"),
        {"current_password": PASSWORD, "password1": "Zq9!", "password2": "Zq9!"},
    )
    assert "at least 8 characters" in page_text(response)


# --- administrator screens ------------------------------------------------------------------------


ADMIN_GET_URLS = ["accounts:user_list", "accounts:user_create"]


ADMIN_POST_URLS = [
    "accounts:user_unlock",
    "accounts:user_reset_mfa",
    "accounts:user_deactivate",
    "accounts:user_reactivate",
    "accounts:user_role_grant",
    "accounts:user_role_revoke",
    "accounts:user_password",
]


def test_account_screens_are_404_for_everyone_but_administrators(
    cast: dict[str, User], signed_in: Any
) -> None:
    target = cast["nobody"]
    for role, user in cast.items():
        if role == Role.ADMINISTRATOR:
            continue
        client = signed_in(user)
        for name in ADMIN_GET_URLS:
            assert client.get(reverse(name)).status_code == 404, (role, name)
        assert client.get(reverse("accounts:user_detail", args=[target.pk])).status_code == 404
        for name in ADMIN_POST_URLS:
            response = client.post(reverse(name, args=[target.pk]), {"role": "chief"})
            assert response.status_code == 404, (role, name)
    target.refresh_from_db()
    assert target.is_active
    assert target.role_set() == frozenset()


def test_administrator_of_another_agency_gets_404_for_our_accounts(
    cast: dict[str, User], stranger: User, signed_in: Any
) -> None:
    client = signed_in(stranger)  # administrator — of Bravo
    target = cast["coordinator"]
    assert client.get(reverse("accounts:user_detail", args=[target.pk])).status_code == 404
    for name in ADMIN_POST_URLS:
        response = client.post(reverse(name, args=[target.pk]), {"role": "chief"})
        assert response.status_code == 404, name
    listing = page_text(client.get(reverse("accounts:user_list")))
    assert "coordinator" not in listing
    assert "stranger" in listing
    target.refresh_from_db()
    assert target.is_active
    assert target.role_set() == frozenset({"coordinator"})


def test_account_list_shows_status_and_a_fixed_number_of_queries(
    cast: dict[str, User], agency: Any, signed_in: Any
) -> None:
    admin = signed_in(cast["administrator"])
    User.objects.filter(pk=cast["aro"].pk).update(locked_at=timezone.now())
    TOTPDevice.objects.filter(user=cast["prs"]).delete()
    response = admin.get(reverse("accounts:user_list"))
    rows = {acc.username: roles for acc, roles in response.context["rows"]}
    assert rows["coordinator"] == [agency.title_for("coordinator")]
    text = page_text(response)
    for badge in ("Locked", "MFA not set up", "MFA enrolled", "Never"):
        assert badge in text

    with CaptureQueriesContext(connection) as few:
        admin.get(reverse("accounts:user_list"))
    for n in range(15):
        make_user(agency, f"extra{n}", Role.MEMBER)
    with CaptureQueriesContext(connection) as many:
        admin.get(reverse("accounts:user_list"))
    assert len(many) == len(few)


def test_administrator_creates_an_account_linked_to_a_member(
    cast: dict[str, User], agency: Any, signed_in: Any, clock: Any
) -> None:
    member = Member.objects.create(
        agency=agency,
        employee_number="7001",
        first_name="Dana",
        last_name="Reyes",
        category="sworn",
    )
    admin = signed_in(cast["administrator"])
    form = admin.get(reverse("accounts:user_create"))
    assert "Dana" in page_text(form)
    response = admin.post(
        reverse("accounts:user_create"),
        {
            "username": "dreyes",
            "first_name": "Dana",
            "last_name": "Reyes",
            "member": member.pk,
            "roles": ["supporter", "member"],
            "password1": "granite harbor window 42",
            "password2": "granite harbor window 42",
        },
    )
    account = User.objects.get(username="dreyes")
    assert response["Location"] == reverse("accounts:user_detail", args=[account.pk])
    assert account.agency == agency
    assert account.member == member
    # "member" is granted at once; "supporter" is a program role, so it waits for a second
    # person (the chief or a supporter) to approve it.
    assert account.role_set() == frozenset({"member"})
    assert account.password_changed_at == START
    event = AuditEvent.objects.get(action="account.created")
    assert event.detail["roles"] == ["member"]
    assert event.detail["proposed_roles"] == ["supporter"]
    proposal = RoleRequest.objects.get(user=account)
    services.role_grant_approve(acting_user=cast["chief"], role_request=proposal)
    account.forget_roles()
    assert account.role_set() == frozenset({"supporter", "member"})
    grants = {g.role: g.granted_by_id for g in RoleAssignment.objects.filter(user=account)}
    assert grants == {"member": cast["administrator"].pk, "supporter": cast["chief"].pk}
    assert "granite" not in json.dumps(list(AuditEvent.objects.values()), default=str)
    # The new person's first sign-in leads to enrolment.
    newcomer = Client()
    password_step(newcomer, "dreyes", "granite harbor window 42")
    assert newcomer.get(MFA)["Location"] == ENROL


def test_create_account_refuses_breached_password_and_other_agencies_member(
    cast: dict[str, User], other_agency: Any, signed_in: Any
) -> None:
    outsider = Member.objects.create(
        agency=other_agency,
        employee_number="9",
        first_name="O",
        last_name="Utsider",
        category="sworn",
    )
    admin = signed_in(cast["administrator"])
    response = admin.post(
        reverse("accounts:user_create"),
        {
            "username": "weak",
            "member": outsider.pk,
            "password1": "backtheblue2024",
            "password2": "backtheblue2024",
        },
    )
    assert response.status_code == 200
    text = page_text(response)
    assert "exposed in data breaches" in text
    assert "Select a valid choice" in text
    assert not User.objects.filter(username="weak").exists()


def test_administrator_grants_and_revokes_roles_with_audit(
    cast: dict[str, User], signed_in: Any
) -> None:
    admin_user = cast["administrator"]
    admin = signed_in(admin_user)
    target = cast["nobody"]
    admin.post(reverse("accounts:user_role_grant", args=[target.pk]), {"role": "supporter"})
    assert not RoleAssignment.objects.filter(user=target).exists()  # proposed, not granted
    chief = signed_in(cast["chief"])
    chief.post(
        reverse("accounts:role_request_approve", args=[RoleRequest.objects.get(user=target).pk])
    )
    assignment = RoleAssignment.objects.get(user=target)
    assert (assignment.role, assignment.granted_by_id) == ("supporter", cast["chief"].pk)
    detail = page_text(admin.get(reverse("accounts:user_detail", args=[target.pk])))
    assert target.agency.title_for("supporter") in detail
    admin.post(reverse("accounts:user_role_revoke", args=[target.pk]), {"role": "supporter"})
    assert not RoleAssignment.objects.filter(user=target).exists()
    assert actions_for(target)[-2:] == ["role.granted", "role.revoked"]
    response = admin.post(
        reverse("accounts:user_role_grant", args=[target.pk]), {"role": "emperor"}, follow=True
    )
    assert "Choose a role from the list" in page_text(response)


def test_administrator_cannot_remove_own_administrator_role_or_deactivate_self(
    cast: dict[str, User], signed_in: Any
) -> None:
    me = cast["administrator"]
    admin = signed_in(me)
    response = admin.post(
        reverse("accounts:user_role_revoke", args=[me.pk]), {"role": "administrator"}, follow=True
    )
    assert "cannot remove your own administrator role" in page_text(response)
    response = admin.post(reverse("accounts:user_deactivate", args=[me.pk]), follow=True)
    assert "cannot deactivate your own account" in page_text(response)
    me.refresh_from_db()
    assert me.is_active
    assert me.has_role("administrator")


def test_reset_mfa_makes_the_user_enrol_again_and_ends_sessions(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["crt_supervisor"]
    services.backup_codes_regenerate(acting_user=user)
    session = signed_in(user)
    admin = signed_in(cast["administrator"])
    admin.post(reverse("accounts:user_reset_mfa", args=[user.pk]))
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert session.get(HOME).status_code == 302
    client = Client()
    password_step(client, user.username)
    assert client.get(MFA)["Location"] == ENROL
    assert "account.credentials_reset" in actions_for(user)


def test_administrator_sets_a_new_password_with_validation(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["supervisor"]
    admin = signed_in(cast["administrator"])
    url = reverse("accounts:user_password", args=[user.pk])
    refused = admin.post(url, {"password1": "police2025", "password2": "police2025"})
    assert refused.status_code == 400
    assert "exposed in data breaches" in page_text(refused)
    admin.post(url, {"password1": "meadow copper violin 3", "password2": "meadow copper violin 3"})
    assert full_sign_in(Client(), user, "meadow copper violin 3")["Location"] == HOME


def test_audit_never_contains_passwords_or_codes(cast: dict[str, User], clock: Any) -> None:
    user = cast["coordinator"]
    password_step(Client(), user.username, "my secret guess 77")
    full_sign_in(Client(), user)
    dump = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert "my secret guess" not in dump
    assert PASSWORD not in dump
    assert "signin.succeeded" in dump
    assert "signin.failed" in dump
