"""The second factor: TOTP apps (RFC 6238) and one-time backup codes, through django-otp.

``check_code`` tells the caller not only whether a code was accepted but why not, so the
person signing in gets a message they can act on (wrong, already used, expired, or too
many tries in a row). It never accepts a code django-otp would refuse: acceptance is
always django-otp's own ``verify_token``, which also refuses replays (``last_t``).
"""

from __future__ import annotations

import re
import time
from base64 import b32encode
from dataclasses import dataclass
from enum import StrEnum

import segno
from django.db import transaction
from django_otp.models import Device
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import User

BACKUP_CODE_COUNT = 10
APP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"
#: How far outside the accepted window a code is still recognised as "expired", in steps.
_EXPIRED_WINDOW = 20


class CodeProblem(StrEnum):
    WRONG = "wrong"
    REPLAYED = "replayed"
    EXPIRED = "expired"
    THROTTLED = "throttled"
    MALFORMED = "malformed"


PROBLEM_MESSAGES = {
    CodeProblem.WRONG: (
        "That code is not correct. Enter the 6-digit code your authenticator app shows "
        "now, or one of your backup codes."
    ),
    CodeProblem.REPLAYED: (
        "That code has already been used. Each code works only once: wait for your app to "
        "show the next code (they change every 30 seconds) and enter that one."
    ),
    CodeProblem.EXPIRED: (
        "That code has expired. Enter the code your app shows now. If this keeps happening, "
        "set your phone's clock to update automatically."
    ),
    CodeProblem.THROTTLED: (
        "Too many wrong codes in a row. Wait a few seconds, then enter the newest code."
    ),
    CodeProblem.MALFORMED: (
        "Enter the 6 digits from your authenticator app, or a backup code of 8 letters and digits."
    ),
}


@dataclass(frozen=True)
class CodeResult:
    device: Device | None
    problem: CodeProblem | None = None
    method: str = ""


def normalise(code: str) -> str:
    return re.sub(r"[\s-]+", "", code or "").lower()


def app_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("id").first()


def has_app_device(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def enrolment_device(user: User) -> TOTPDevice:
    """The not-yet-confirmed device shown during enrolment (the same one on every reload)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=APP_DEVICE_NAME, confirmed=False)
    return device


def secret_text(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for typing into an app by hand."""
    secret = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_data_uri(device: TOTPDevice) -> str:
    """The otpauth:// URI as an SVG QR code in a data: URI (allowed by the CSP for images)."""
    qr = segno.make(device.config_url, error="m")
    return str(qr.svg_data_uri(scale=4, border=2, dark="#000", light="#fff"))


def backup_codes_left(user: User) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def _recognise_totp(device: TOTPDevice, token: int) -> CodeProblem:
    """Why django-otp refused ``token``: used before, expired, or simply wrong."""
    now = time.time()
    seen = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    seen.time = now
    if seen.verify(token, device.tolerance, 0):
        return CodeProblem.REPLAYED
    wide = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    wide.time = now
    if wide.verify(token, _EXPIRED_WINDOW, device.last_t + 1):
        return CodeProblem.EXPIRED
    return CodeProblem.WRONG


@transaction.atomic
def check_totp(device: TOTPDevice, code: str) -> CodeResult:
    """Row-locked, so two requests racing with the same code cannot both succeed."""
    code = normalise(code)
    if not re.fullmatch(r"\d{6}", code):
        return CodeResult(None, CodeProblem.MALFORMED)
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk)
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return CodeResult(None, CodeProblem.THROTTLED)
    if device.verify_token(code):
        return CodeResult(device, method="totp")
    return CodeResult(None, _recognise_totp(device, int(code)))


@transaction.atomic
def check_backup_code(user: User, code: str) -> CodeResult:
    code = normalise(code)
    devices = list(StaticDevice.objects.select_for_update().filter(user=user, confirmed=True))
    if not devices:
        return CodeResult(None, CodeProblem.WRONG)
    for device in devices:
        allowed, _ = device.verify_is_allowed()
        if not allowed:
            return CodeResult(None, CodeProblem.THROTTLED)
        if device.verify_token(code):
            return CodeResult(device, method="backup_code")
    return CodeResult(None, CodeProblem.WRONG)


def check_code(user: User, code: str) -> CodeResult:
    """A 6-digit code is checked against the app, anything else against the backup codes."""
    cleaned = normalise(code)
    if re.fullmatch(r"\d{6}", cleaned):
        device = app_device(user)
        if device is None:
            return CodeResult(None, CodeProblem.WRONG)
        return check_totp(device, cleaned)
    if re.fullmatch(r"[a-z2-7]{8}", cleaned):
        return check_backup_code(user, cleaned)
    return CodeResult(None, CodeProblem.MALFORMED)


def new_backup_codes(user: User) -> list[str]:
    """Replace the user's backup codes with a fresh set; returns them (shown only once)."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes: list[str] = []
    while len(codes) < BACKUP_CODE_COUNT:
        token = StaticToken.random_token()
        if token not in codes:
            codes.append(token)
    StaticToken.objects.bulk_create([StaticToken(device=device, token=t) for t in codes])
    return codes


def format_code(code: str) -> str:
    return f"{code[:4]}-{code[4:]}"


def delete_devices(user: User) -> int:
    totp, _ = TOTPDevice.objects.filter(user=user).delete()
    static, _ = StaticDevice.objects.filter(user=user).delete()
    return int(totp + static)
