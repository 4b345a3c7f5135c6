"""Helpers more than one test file needs: what an authenticator app shows, what a PDF reader
reads. Fixtures shared by every file live in ``conftest.py`` (the frozen ``clock`` among them)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import socket
import subprocess
import zlib

from django.db import connection
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import User


def code_for(who: User | TOTPDevice, offset_steps: int = 0) -> str:
    """The code an authenticator app would show now (RFC 6238, the device's own key) for a
    user's confirmed device or for ``device``; ``offset_steps`` moves the app's clock."""
    if isinstance(who, TOTPDevice):
        device = who
        device.refresh_from_db()
    else:
        device = TOTPDevice.objects.get(user=who, confirmed=True)
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = timezone.now().timestamp() + offset_steps * device.step
    return f"{totp.token():0{device.digits}d}"


def pdf_text(data: bytes, *, drawing: bool = False) -> str:
    """The text of a PDF as a reader extracts it, every page. ``drawing=True`` adds the raw
    file and its drawing commands (streams inflated), for checks that nothing is in it."""
    from pypdf import PdfReader

    out = []
    if drawing:
        out.append(data.decode("latin-1"))
        for match in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
            with contextlib.suppress(zlib.error):
                out.append(zlib.decompress(match.group(1)).decode("latin-1"))
    out += [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]
    return "\n".join(out)


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def pg_dump() -> str:
    """The PostgreSQL test database as `pg_dump` prints it: what a stolen backup holds."""
    settings_dict = connection.settings_dict
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = settings_dict["PASSWORD"]
    command = [shutil.which("pg_dump") or "pg_dump", "--data-only", "--no-owner"]
    if settings_dict.get("HOST"):
        command += ["--host", settings_dict["HOST"]]
    if settings_dict.get("PORT"):
        command += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        command += ["--username", settings_dict["USER"]]
    command.append(settings_dict["NAME"])
    done = subprocess.run(  # noqa: S603
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
