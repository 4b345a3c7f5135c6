"""Helpers shared by the tests of the five departments' programs."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.agencies.models import Agency
from tandem.readiness import services as readiness
from tandem.readiness.models import Course, TrainingSession

TZ = ZoneInfo("America/New_York")


def at(y: int, m: int, d: int, hour: int = 12) -> datetime:
    return datetime(y, m, d, hour, tzinfo=TZ)


def code_now(device: TOTPDevice) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = timezone.now().timestamp()
    return f"{totp.token():0{device.digits}d}"


def text(response: Any) -> str:
    return str(response.content.decode())


def _held(agency: Agency, code: str, when: datetime) -> TrainingSession:
    readiness.catalogue_seed(agency=agency)
    course = Course.objects.get(agency=agency, code=code)
    session, _ = TrainingSession.objects.get_or_create(
        course=course,
        starts_at=when,
        defaults={
            "agency": agency,
            "ends_at": when + timedelta(hours=2),
            "place": "Academy",
            "instructor": "Dr. Lane",
            "capacity": 30,
        },
    )
    return session


def sign_in_from_the_demo_listing(username: str) -> Client:
    """Read the account's password and current code off the demo sign-in page, as a
    newcomer does, and sign in through banner, password and code."""
    import re

    client = Client()
    client.post(reverse("accounts:banner"))
    page = text(client.get(reverse("accounts:login")))
    row = re.search(
        rf"<code>{re.escape(username)}</code></td><td><code>([^<]+)</code></td>"
        r"<td><code>(\d{6})</code>",
        page,
    )
    assert row, f"{username} is not listed on the demo sign-in page"
    password, code = row.groups()
    step = client.post(reverse("accounts:login"), {"username": username, "password": password})
    assert step["Location"] == reverse("accounts:mfa")
    done = client.post(reverse("accounts:mfa"), {"code": code})
    assert done.status_code == 302
    assert client.get(reverse("core:home")).status_code == 200
    return client
