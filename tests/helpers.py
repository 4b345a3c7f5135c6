"""Helpers more than one test file needs: what an authenticator app shows, what a PDF reader
reads, a 1×1 PNG, a free port, child processes of Python and ``tandem`` on this test's database.
Fixtures shared by every file live in ``conftest.py`` (the frozen ``clock`` among them)."""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Callable
from pathlib import Path

from django.core.management import call_command
from django.db import connection
from django.urls import Resolver404, resolve
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import User

ROOT = Path(__file__).resolve().parents[1]


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


# Addresses a crawl of every page leaves alone: signing out ends the session; the API's
# description and the agency's logo are not pages.
NOT_CRAWLED = {"accounts:logout", "api:schema", "agencies:logo"}


def url_pattern(path: str) -> str | None:
    """``namespace:name`` of the URL pattern ``path`` resolves to; ``None`` for an address
    Tandem does not serve or one a crawl leaves alone."""
    try:
        match = resolve(path)
    except Resolver404:
        return None
    name = f"{match.namespace}:{match.url_name}" if match.namespace else str(match.url_name)
    return None if name in NOT_CRAWLED else name


def agency_create(preset: str, slug: str, name: str, *more: str) -> str:
    """What ``tandem agency create --preset … --slug … --name … <more>`` prints."""
    out = io.StringIO()
    command = ["create", "--preset", preset, "--slug", slug, "--name", name, *more]
    call_command("agency", *command, stdout=out)
    return out.getvalue()


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


def child_env(**settings: str) -> dict[str, str]:
    """The environment of a child process: this one's without its database address, over
    plain HTTP, with ``settings`` on top."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(TANDEM_INSECURE_HTTP="1", **settings)
    return env


def postgres_url() -> str:
    """The address of the PostgreSQL test database, for a child process."""
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


def child_database(env: dict[str, str], sqlite_path: Path) -> dict[str, str]:
    """Point ``env`` at this test's engine: the PostgreSQL test database itself, or a new
    SQLite file at ``sqlite_path``."""
    if connection.vendor == "postgresql":
        env["DATABASE_URL"] = postgres_url()
    else:
        env["TANDEM_SQLITE_PATH"] = str(sqlite_path)
    return env


# The start of a script a child process runs on a new SQLite file (``child_env`` with
# ``TANDEM_SQLITE_PATH``): the tests importable, Django set up, the database migrated,
# passwords hashed fast.
MIGRATED_SQLITE = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
"""


def run_python(
    env: dict[str, str], *args: str, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """``python <args>`` in a child process at the project's root, its output captured as
    text; the caller looks at the exit code."""
    return subprocess.run(  # noqa: S603
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_tandem(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``tandem <args>`` in a child process (as ``run_python``)."""
    return run_python(env, "-m", "tandem.cli", *args, timeout=timeout)


def python_output(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """What ``python <args>`` prints, stripped; it must exit 0."""
    done = run_python(env, *args, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def django_output(env: dict[str, str], code: str, timeout: float = 300) -> str:
    """What ``code`` prints, run after ``django.setup()`` in a child process; it must exit 0."""
    env = {**env, "DJANGO_SETTINGS_MODULE": "tandem.settings"}
    return python_output(env, "-c", "import django; django.setup()\n" + code, timeout=timeout)


def wait_for(predicate: Callable[[], bool], seconds: float, step: float = 0.1) -> bool:
    """Whether ``predicate`` comes true within ``seconds`` (asked every ``step``)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


#: A valid 1×1 PNG: a client's or a supporter's photo in tests.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de0000000c4944415478"
    "9c63606060000000040001f61738550000000049454e44ae426082"
)
