"""No request fails for contention, and none is left half-written by a crash.

SQLite allows one writer at a time. Two transactions that both read and then write must
both succeed, the second waiting for the first (``BEGIN IMMEDIATE`` and a busy timeout),
whether the database is named by ``TANDEM_SQLITE_PATH`` or by a ``sqlite:///`` address.
A web worker killed with ``kill -9`` in the middle of an audited write leaves nothing of it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from django.db import connection

from tandem.core import crypto
from tests.helpers import (
    ROOT,
    child_database,
    child_env,
    django_output,
    free_port,
    python_output,
    wait_for,
)

WRITER = r"""
import os, sys, time
import django
django.setup()
from django.db import connection, transaction
with connection.cursor() as c:
    c.execute("CREATE TABLE IF NOT EXISTS contention (n INTEGER, who TEXT)")
    c.execute("PRAGMA secure_delete"); secure = c.fetchone()[0]
    c.execute("PRAGMA busy_timeout"); busy = c.fetchone()[0]
print("ready", secure, busy, flush=True)
sys.stdin.readline()  # both writers start together
with transaction.atomic(), connection.cursor() as c:
    c.execute("SELECT count(*) FROM contention")  # read first ...
    seen = c.fetchone()[0]
    time.sleep(0.5)  # ... while the other writer reads too ...
    c.execute("INSERT INTO contention VALUES (%s, %s)", [seen, sys.argv[1]])  # ... then write
print("wrote", seen, flush=True)
"""


def _sqlite_env(tmp_path: Path, how: str) -> dict[str, str]:
    env = child_env(
        TANDEM_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="tandem.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    path = tmp_path / "contention.sqlite3"
    if how == "url":
        env["DATABASE_URL"] = f"sqlite:///{path}"
    else:
        env["TANDEM_SQLITE_PATH"] = str(path)
    return env


@pytest.mark.parametrize("how", ["path", "url"])
def test_two_concurrent_writers_on_sqlite_both_succeed(tmp_path: Path, how: str) -> None:
    env = _sqlite_env(tmp_path, how)
    writers = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", WRITER, name],
            cwd=ROOT,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for name in ("first", "second")
    ]
    for writer in writers:
        ready = writer.stdout.readline().split()  # type: ignore[union-attr]
        # Secure deletion and a busy timeout hold however the database is named.
        assert ready[:2] == ["ready", "1"], writer.stderr.read()  # type: ignore[union-attr]
        assert int(ready[2]) >= 5000
    for writer in writers:
        writer.stdin.write("go\n")  # type: ignore[union-attr]
        writer.stdin.flush()  # type: ignore[union-attr]
    results = [writer.communicate(timeout=60) for writer in writers]
    for writer, (out, err) in zip(writers, results, strict=True):
        assert writer.returncode == 0, err[-2000:]
        assert "wrote" in out
    # Each saw what the other committed before it: the second read after the first wrote.
    seen = sorted(int(out.split()[-1]) for out, _ in results)
    assert seen == [0, 1]


# --- kill -9 of a web worker in the middle of a request ------------------------------------

SETUP = r"""
from django.core.management import call_command
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from tandem.accounts.models import RoleAssignment, User
from tandem.agencies.models import Agency, Member
from tests.conftest import sign_in
call_command("seed", "--members", "5", "--agency", "crash", verbosity=0)
agency = Agency.objects.get(slug="crash")
user = User.objects.create(username="crash-coordinator", agency=agency)
RoleAssignment.objects.create(user=user, agency=agency, role="coordinator")
TOTPDevice.objects.create(user=user, name="crash", confirmed=True)
browser = sign_in(Client(), user)  # banner, password and TOTP passed
print(browser.session.session_key, Member.objects.filter(agency=agency).first().employee_number)
"""

COUNTS = r"""
import json
from tandem.audit.models import AuditEvent
from tandem.notifications.models import Delivery, PeerSupportDelivery
from tandem.support.models import RequestOffer, SupportRequest
print(json.dumps([SupportRequest.objects.count(), RequestOffer.objects.count(),
                  Delivery.objects.count(), PeerSupportDelivery.objects.count(),
                  AuditEvent.objects.count()]))
"""


def _env(tmp_path: Path) -> dict[str, str]:
    env = child_env(
        TANDEM_VAR_DIR=str(tmp_path / "var"),
        TANDEM_MASTER_KEYS=crypto.generate_master_key_line("crash-test"),
        TANDEM_TEST_CRASH_MARKER=str(tmp_path / "routed"),
        TANDEM_AUDIT_KEY_FILE=str(tmp_path / "audit.key"),
        TANDEM_AUDIT_CHECKPOINT_FILE=str(tmp_path / "checkpoints.jsonl"),
        DJANGO_SETTINGS_MODULE="tandem.settings",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    return child_database(env, tmp_path / "crash.sqlite3")


def _post_request(port: int, session: str, employee_number: str, seen: list[str]) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("GET", "/support/on-behalf/", headers={"Cookie": f"sessionid={session}"})
    response = conn.getresponse()
    page = response.read().decode()
    csrf = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    assert csrf, page[:500]
    assert token, page[:500]
    body = urlencode(
        {
            "csrfmiddlewaretoken": token.group(1),
            "idempotency_key": "crash-1",
            # A critical incident, now: routed at once (where the worker is killed) ...
            "channel": "critical_incident",
            "urgency": "now",
            # ... for a colleague, reached by phone at any time.
            "name": "Crash Person",
            "employee_number": employee_number,
            "contact_method": "phone",
            "phone": "+1 555 0199",
            "best_time": "any",
        }
    )
    conn.request(
        "POST",
        "/support/on-behalf/",
        body=body,
        headers={
            "Cookie": f"sessionid={session}; csrftoken={csrf.group(1)}",
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"http://127.0.0.1:{port}/support/on-behalf/",
        },
    )
    answer = conn.getresponse()  # never answers: the worker is killed first
    seen.append(f"{answer.status} {answer.read().decode(errors='replace')[:3000]}")


@pytest.mark.django_db(transaction=True)
def test_web_worker_killed_mid_request_leaves_no_half_written_change(tmp_path: Path) -> None:
    env = _env(tmp_path)
    if connection.vendor == "sqlite":
        python_output(env, "-m", "tandem.cli", "migrate", "--noinput", "-v0")
    session, employee_number = django_output(env, SETUP).splitlines()[-1].split()
    before = json.loads(django_output(env, COUNTS))
    port = free_port()
    server = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "gunicorn",
            "tests.crash_wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--timeout",
            "600",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 60)

        seen: list[str] = []
        poster = threading.Thread(
            target=lambda: _swallow(_post_request, port, session, employee_number, seen),
            daemon=True,
        )
        poster.start()
        marker = tmp_path / "routed"
        assert wait_for(marker.exists, 60), f"the request never reached routing: {seen}"
        worker_pids = _children(server.pid)
        assert worker_pids
        for pid in worker_pids:
            os.kill(pid, signal.SIGKILL)  # the web worker, mid-request, inside its transaction
    finally:
        server.kill()
        server.wait(timeout=30)
    # Nothing of the request is left: no request, no offer, no message, no audit row ...
    assert json.loads(django_output(env, COUNTS)) == before
    # ... the chain is intact, and the database takes the next write at once.
    python_output(env, "-m", "tandem.cli", "audit", "verify")
    django_output(
        env,
        "from tandem.accounts.models import User\n"
        "User.objects.filter(username='crash-coordinator').update(first_name='after')",
    )


def _swallow(function: Any, *args: Any) -> None:
    try:
        function(*args)
    except Exception as exc:  # noqa: BLE001 - the connection dies with the worker
        args[-1].append(repr(exc))


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found
