"""Findings 5-7 of the outside security test (issue 11), each proved from the attacker's or
the operator's side: uploaded logos, the letterhead, CSV exports, the client address in the
audit trail, sign-in rules, start-up validation of settings and the response headers."""

from __future__ import annotations

import csv
import http.client
import io
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticToken
from PIL import Image

from tandem.accounts import services as account_services
from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.audit.models import AuditEvent
from tandem.core.exports import csv_bytes
from tandem.recovery import services as recovery_services
from tests.conftest import PASSWORD
from tests.helpers import ROOT, code_for, free_port, run_python, run_tandem

SignedIn = Callable[[User], Client]
POLICY = reverse("agencies:policy")


# --- images --------------------------------------------------------------------------------


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def png_declaring(width: int, height: int) -> bytes:
    """A few dozen bytes of PNG whose header claims ``width`` × ``height`` pixels."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1-bit greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + _chunk(b"IEND", b"")
    )


def real_image(width: int, height: int, fmt: str = "PNG", colour: str = "navy") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buffer, format=fmt)
    return buffer.getvalue()


BOMB = png_declaring(20000, 20000)
PNG_THEN_HTML = b"\x89PNG\r\n\x1a\n<html><script>alert(document.cookie)</script></html>"


def upload_logo(client: Client, name: str, data: bytes) -> Any:
    return client.post(POLICY, {"action": "logo", "logo": SimpleUploadedFile(name, data)})


@pytest.fixture
def media(settings: Any, tmp_path: Path) -> Path:
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


# ========================================================================================
# Finding 5: logo upload breaks every PDF
# ========================================================================================


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("bomb.png", BOMB, "too large"),
        ("page.png", PNG_THEN_HTML, "not a readable PNG or JPEG"),
        ("page.jpg", b"\xff\xd8\xff\xe0<html>hello</html>", "not a readable PNG or JPEG"),
    ],
)
def test_logo_that_is_not_a_real_image_or_a_decompression_bomb_is_refused(
    cast: dict[str, User],
    signed_in: SignedIn,
    media: Path,
    name: str,
    data: bytes,
    message: str,
) -> None:
    response = upload_logo(signed_in(cast["administrator"]), name, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Agency.objects.get(slug="alpha").logo


def test_logo_with_too_many_pixels_is_refused_before_it_is_decoded(
    cast: dict[str, User], signed_in: SignedIn, media: Path
) -> None:
    big = real_image(6000, 6000)  # a few KB on disk, 36 million pixels
    assert len(big) < 512 * 1024
    response = upload_logo(signed_in(cast["administrator"]), "wide.png", big)
    assert response.status_code == 400
    assert "too large" in response.content.decode()
    assert not Agency.objects.get(slug="alpha").logo


def test_uploaded_logo_is_stored_as_a_clean_re_encoded_png_of_bounded_size(
    cast: dict[str, User], signed_in: SignedIn, media: Path
) -> None:
    jpeg = real_image(2400, 1200, fmt="JPEG") + b"<html>trailing page</html>"
    response = upload_logo(signed_in(cast["administrator"]), "logo.jpg", jpeg)
    assert response.status_code == 302
    agency = Agency.objects.get(slug="alpha")
    assert agency.logo.name.endswith(".png")
    stored = agency.logo.read()
    assert stored.startswith(b"\x89PNG\r\n\x1a\n")
    assert b"<html>" not in stored
    with Image.open(io.BytesIO(stored)) as image:
        assert image.format == "PNG"
        assert max(image.size) <= 512
        assert image.size == (512, 256)
    served = signed_in(cast["member"]).get(reverse("agencies:logo"))
    assert served["Content-Type"] == "image/png"


@pytest.fixture
def bad_logo(agency: Agency, media: Path, request: Any) -> Agency:
    agency.logo.save("logo.png", ContentFile(request.param), save=True)
    return agency


def _pdf_urls(cast: dict[str, User]) -> list[tuple[User, str, dict[str, str]]]:
    client = recovery_services.client_create(
        acting_user=cast["aro"],
        data={
            "first_name": "Jamie",
            "last_name": "Rivera",
            "date_of_birth": date(1990, 4, 5),
            "substances": ["opioids"],
        },
    )
    return [
        (cast["member"], reverse("support:poster_pdf"), {}),
        (
            cast["coordinator"],
            reverse("reports:peer_support_pdf"),
            {"start": "2026-01", "end": "2026-03"},
        ),
        (cast["aro"], reverse("recovery:accounting_pdf", args=[client.pk]), {}),
    ]


@pytest.mark.parametrize(
    "bad_logo", [BOMB, PNG_THEN_HTML, b""], indirect=True, ids=["bomb", "png-then-html", "empty"]
)
def test_documents_are_made_without_a_stored_logo_that_cannot_be_read(
    bad_logo: Agency, cast: dict[str, User], signed_in: SignedIn, caplog: Any
) -> None:
    with caplog.at_level(logging.WARNING, logger="tandem.core.pdf"):
        for user, url, params in _pdf_urls(cast):
            response = signed_in(user).get(url, params)
            assert response.status_code == 200, url
            assert response.content.startswith(b"%PDF"), url
    assert any("logo" in r.getMessage() for r in caplog.records)


def test_documents_still_carry_a_good_logo(
    agency: Agency, cast: dict[str, User], signed_in: SignedIn, media: Path
) -> None:
    agency.logo.save("logo.png", ContentFile(real_image(40, 20)), save=True)
    response = signed_in(cast["member"]).get(reverse("support:poster_pdf"))
    assert response.status_code == 200
    assert b"/Subtype /Image" in response.content


# ========================================================================================
# Finding 6 (second half): the client address in the audit trail
# ========================================================================================


def _failed_signin_ip(client_kwargs: dict[str, str]) -> str:
    client = Client()
    client.post(reverse("accounts:banner"))
    client.post(
        reverse("accounts:login"), {"username": "nobody-here", "password": "x"}, **client_kwargs
    )  # type: ignore[arg-type]
    return AuditEvent.objects.filter(action="signin.failed").latest("id").ip_address


def test_audit_records_the_forwarded_client_behind_the_proxy(db: Any, settings: Any) -> None:
    settings.BEHIND_PROXY = True
    ip = _failed_signin_ip(
        {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "198.51.100.9, 203.0.113.7"}
    )
    assert ip == "203.0.113.7"


def test_audit_records_the_socket_address_without_the_proxy_setting(db: Any, settings: Any) -> None:
    settings.BEHIND_PROXY = False
    assert _failed_signin_ip({"REMOTE_ADDR": "192.0.2.44"}) == "192.0.2.44"


def test_spoofed_forwarded_header_is_ignored_without_the_proxy_setting(
    db: Any, settings: Any
) -> None:
    settings.BEHIND_PROXY = False
    ip = _failed_signin_ip({"REMOTE_ADDR": "192.0.2.44", "HTTP_X_FORWARDED_FOR": "203.0.113.7"})
    assert ip == "192.0.2.44"


# ========================================================================================
# Finding 7: CSV exports
# ========================================================================================


def _parsed(data: bytes, delimiter: str = ",") -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=delimiter))


def test_every_csv_field_is_quoted() -> None:
    data = csv_bytes(["Name", "Hours"], [["Ann", 2.5], [None, 3]])
    lines = data.decode("utf-8-sig").splitlines()
    assert lines == ['"Name","Hours"', '"Ann","2.5"', '"","3"']


FORMULAS = [
    "=1+1",
    "+1+1",
    "-1+1",
    "@SUM(A1)",
    "\t=1+1",
    "\r=1+1",
    "a;=1+1",
    "a; =1+1",
    "a;+cmd|' /C calc'!A0",
    "a;@SUM(A1)",
    "a\n=1+1",
    "a\t-2+3",
    'x;y;=HYPERLINK("http://evil")',
]


@pytest.mark.parametrize("value", FORMULAS)
def test_no_csv_cell_starts_a_formula_even_where_a_semicolon_locale_splits_it(
    value: str,
) -> None:
    data = csv_bytes(["Name"], [[value]])
    cell = _parsed(data)[1][0]
    # Read as a semicolon-locale spreadsheet would (split at ; tab and line breaks, quotes
    # ignored), no piece may begin with a formula character.
    text = data.decode("utf-8-sig")
    pieces = [
        p.strip(' "') for line in text.splitlines() for p in line.replace("\t", ";").split(";")
    ]
    assert not [p for p in pieces if p[:1] in ("=", "+", "-", "@")], pieces
    assert cell.replace("'", "") == value.replace("'", "")  # only apostrophes added


def test_numbers_and_plain_text_are_unchanged() -> None:
    rows = _parsed(csv_bytes(["a", "b", "c", "d"], [[-3, 1.5, "Smith; Jones", "O'Neil-Ray"]]))
    assert rows[1] == ["-3", "1.5", "Smith; Jones", "O'Neil-Ray"]


# ========================================================================================
# Finding 7: sign-in
# ========================================================================================

BANNER = reverse("accounts:banner")
LOGIN = reverse("accounts:login")
MFA = reverse("accounts:mfa")
BACKUP = reverse("accounts:backup_codes")
SIGNIN_FAILED_TEXT = "Sign-in failed: the username or password is not correct"
START = datetime(2026, 3, 2, 14, 0, 5, tzinfo=UTC)


def test_account_idle_beyond_the_limit_is_refused_at_sign_in_before_the_daily_job(
    cast: dict[str, User],
) -> None:
    user = cast["auditor"]
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(
        date_joined=now - timedelta(days=365), last_login=now - timedelta(days=120)
    )
    client = Client()
    client.post(BANNER)
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response.status_code == 200
    assert SIGNIN_FAILED_TEXT in response.content.decode()
    assert client.get(MFA).status_code == 302
    user.refresh_from_db()
    assert not user.is_active
    event = AuditEvent.objects.filter(action="account.deactivated", object_id=str(user.pk)).get()
    assert "inactive" in event.detail["reason"]


def test_recently_used_account_still_signs_in(cast: dict[str, User]) -> None:
    user = cast["auditor"]
    User.objects.filter(pk=user.pk).update(last_login=timezone.now() - timedelta(days=89))
    client = Client()
    client.post(BANNER)
    response = client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    assert response["Location"] == MFA


CLOCK_START = START  # where the shared ``clock`` fixture stops time


def _stale_session(user: User, clock: Any, signed_in: SignedIn) -> Client:
    """Signed in 20 minutes ago, active since (so the idle limit has not ended it)."""
    client = signed_in(user)
    clock.shift(timedelta(minutes=10))
    assert client.get(reverse("accounts:account")).status_code == 200
    clock.shift(timedelta(minutes=10))
    return client


def test_new_backup_codes_need_re_authentication_when_sign_in_is_not_fresh(
    cast: dict[str, User], signed_in: SignedIn, clock: Any
) -> None:
    user = cast["coordinator"]
    old = set(account_services.backup_codes_regenerate(acting_user=user))
    client = _stale_session(user, clock, signed_in)
    page = client.get(BACKUP).content.decode()
    assert 'name="password"' in page
    response = client.post(BACKUP)
    assert response.status_code == 400
    assert "Your new backup codes" not in response.content.decode()
    assert set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True)) == old


def test_wrong_password_at_re_authentication_counts_as_a_failed_sign_in(
    cast: dict[str, User], signed_in: SignedIn, clock: Any
) -> None:
    user = cast["coordinator"]
    client = _stale_session(user, clock, signed_in)
    response = client.post(BACKUP, {"password": "not it", "code": code_for(user)})
    assert response.status_code == 400
    assert "not correct" in response.content.decode()
    user.refresh_from_db()
    assert user.failed_attempts == 1
    assert not StaticToken.objects.filter(device__user=user).exists()


def test_password_and_current_app_code_make_new_backup_codes(
    cast: dict[str, User], signed_in: SignedIn, clock: Any
) -> None:
    user = cast["coordinator"]
    client = _stale_session(user, clock, signed_in)
    response = client.post(BACKUP, {"password": PASSWORD, "code": code_for(user)}, follow=True)
    assert "Your new backup codes" in response.content.decode()
    assert StaticToken.objects.filter(device__user=user).count() == 10
    event = AuditEvent.objects.filter(action="account.backup_codes_generated").latest("id")
    assert event.detail["reauthenticated"] == "password_and_code"


def test_fresh_sign_in_makes_new_backup_codes_without_asking_again(
    cast: dict[str, User], signed_in: SignedIn, clock: Any
) -> None:
    user = cast["coordinator"]
    client = signed_in(user)
    assert 'name="password"' not in client.get(BACKUP).content.decode()
    response = client.post(BACKUP, follow=True)
    assert "Your new backup codes" in response.content.decode()
    event = AuditEvent.objects.filter(action="account.backup_codes_generated").latest("id")
    assert event.detail["reauthenticated"] == "recent_sign_in"


# ========================================================================================
# Finding 7: settings validated at start-up, check --deploy and the fallback key
# ========================================================================================


def tandem_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TANDEM_") and k not in {"DATABASE_URL"}
    }
    env.update(TANDEM_INSECURE_HTTP="1", TANDEM_VAR_DIR=str(tmp_path), **extra)
    return env


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("TANDEM_IDLE_TIMEOUT_SECONDS", "120", "at least 300"),
        ("TANDEM_ABSOLUTE_TIMEOUT_SECONDS", "60", "at least 300"),
        ("TANDEM_IDLE_TIMEOUT_SECONDS", "thirty", "whole number"),
        ("TANDEM_LOCKOUT_ATTEMPTS", "0", "at least 1"),
        ("TANDEM_INACTIVE_ACCOUNT_DAYS", "-5", "at least 1"),
        ("TANDEM_EMAIL_PORT", "smtp", "whole number"),
        ("TANDEM_REPORTS_EPSILON_BUDGET", "lots", "number"),
        ("TANDEM_DEBUG", "maybe", "on or off"),
        ("TANDEM_EMAIL_BACKEND", "no.such.Backend", "cannot be imported"),
        ("TANDEM_SMS_BACKEND", "tandem.core.sms.NoSuchBackend", "cannot be imported"),
        ("TANDEM_TASK_BACKEND", "nowhere.Backend", "cannot be imported"),
        ("DATABASE_URL", "mongodb://db/tandem", "DATABASE_URL"),
        ("TANDEM_TIME_ZONE", "Mars/Olympus_Mons", "time zone"),
        ("TANDEM_LOG_LEVEL", "LOUD", "log level"),
    ],
)
def test_bad_settings_stop_start_up_with_one_clear_line(
    tmp_path: Path, variable: str, value: str, says: str
) -> None:
    result = run_tandem(tandem_env(tmp_path, **{variable: value}), "check")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert variable in output
    assert says in output
    line = next(line for line in output.splitlines() if variable in line)
    assert says in line


def test_gunicorn_refuses_to_start_with_settings_the_checks_reject(tmp_path: Path) -> None:
    env = tandem_env(tmp_path, TANDEM_EMAIL_BACKEND="no.such.Backend")
    result = run_python(
        env,
        "-m",
        "gunicorn",
        "-c",
        "python:tandem.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{free_port()}",
        "--workers",
        "1",
        timeout=120,
    )
    assert result.returncode != 0
    line = next(line for line in result.stderr.splitlines() if "TANDEM_EMAIL_BACKEND" in line)
    assert "cannot be imported" in line
    assert "Traceback" not in result.stderr


def test_check_deploy_warns_when_the_built_in_fallback_secret_key_is_in_use(
    tmp_path: Path,
) -> None:
    env = tandem_env(tmp_path, TANDEM_MASTER_KEYS="k1:" + "A" * 43 + "=")
    result = run_tandem(env, "check", "--deploy")
    assert "fallback" in result.stdout + result.stderr
    assert "TANDEM_SECRET_KEY" in result.stdout + result.stderr
    env["TANDEM_SECRET_KEY"] = "a-real-secret-" + "k3y!x" * 12
    again = run_tandem(env, "check", "--deploy")
    assert "fallback" not in again.stdout + again.stderr


# ========================================================================================
# Finding 7: headers
# ========================================================================================

FEATURES = ("camera", "microphone", "geolocation", "payment", "usb")


def _assert_permissions_policy(value: str) -> None:
    directives = {d.split("=")[0].strip(): d.split("=")[1].strip() for d in value.split(",")}
    for feature in FEATURES:
        assert directives.get(feature) == "()", feature


@pytest.mark.parametrize(
    "path", ["/accounts/banner/", "/health/live/", "/no/such/page/", "/static/tandem/tandem.css"]
)
def test_every_response_carries_a_permissions_policy(db: Any, path: str) -> None:
    response = Client().get(path)
    _assert_permissions_policy(response["Permissions-Policy"])


def test_signed_in_pages_carry_the_permissions_policy(
    cast: dict[str, User], signed_in: SignedIn
) -> None:
    response = signed_in(cast["member"]).get(reverse("core:home"))
    _assert_permissions_policy(response["Permissions-Policy"])


@pytest.fixture
def served(tmp_path: Path) -> Iterator[int]:
    """``tandem serve`` (gunicorn, as shipped) on a free local port, stopped afterwards."""
    port = free_port()
    process = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "tandem.cli",
            "serve",
            "--no-worker",
            "--workers",
            "1",
            "--addr",
            f"127.0.0.1:{port}",
        ],
        cwd=ROOT,
        env=tandem_env(tmp_path),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, "the server stopped"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_gunicorn_does_not_announce_itself(served: int) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", served, timeout=10)
    connection.request("GET", "/health/live/")
    response = connection.getresponse()
    response.read()
    connection.close()
    headers = {k.lower(): v for k, v in response.getheaders()}
    assert "gunicorn" not in str(response.getheaders()).lower()
    assert "server" not in headers
    _assert_permissions_policy(headers["permissions-policy"])
