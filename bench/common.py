"""What the benchmarks share: a scratch environment and database, the seed, a signed-in
session, gunicorn on a free port, timed requests over keep-alive HTTP, query counts and the
table of results.

The benchmarks import it as ``from common import …`` (each puts its own folder first on
``sys.path``); the scripts they run in a child process (``run_script``) are Python source
with ``django.setup()`` at their top.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]


def bench_env(scratch: str, **extra: str) -> dict[str, str]:
    """The environment of a benchmark's processes: plain HTTP on loopback, files in
    ``scratch``, a throw-away secret key and (unless one is set) master key for the scratch
    database's envelope encryption, warnings only in the log."""
    return {
        **os.environ,
        "TANDEM_INSECURE_HTTP": "1",
        "TANDEM_VAR_DIR": scratch,
        "TANDEM_SECRET_KEY": "bench-" + "k" * 50,
        "TANDEM_LOG_LEVEL": "WARNING",
        "DJANGO_SETTINGS_MODULE": "tandem.settings",
        "TANDEM_MASTER_KEYS": os.environ.get("TANDEM_MASTER_KEYS")
        or "bench:" + base64.b64encode(os.urandom(32)).decode(),
        **extra,
    }


def scale_arguments(
    *, members: int = 50_000, supporters: int = 1_000, requests: int = 200, seeded: bool = True
) -> argparse.ArgumentParser:
    """The options every benchmark of the ``scale`` agency takes: how many members and
    supporters to seed, how many requests per page, and (``seeded``) a scratch database or
    one seeded before."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=members)
    parser.add_argument("--supporters", type=int, default=supporters)
    parser.add_argument("--requests", type=int, default=requests)
    if seeded:
        parser.add_argument("--database-url", help="scratch database (PostgreSQL: dropped first)")
        parser.add_argument(
            "--no-seed", action="store_true", help="use the database as it is (seeded before)"
        )
    return parser


@contextlib.contextmanager
def scratch(url: str | None, *, keep: bool = False, **extra: str) -> Iterator[dict[str, str]]:
    """The environment of a run (``bench_env`` with ``extra``) on the database at ``url``
    (see ``fresh_database``), its files in a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as folder:
        env = bench_env(folder, **extra)
        fresh_database(env, url, keep=keep)
        yield env


def engine_name(url: str | None) -> str:
    return "PostgreSQL" if (url or "").startswith("postgres") else "SQLite"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tandem(env: dict[str, str], *args: str) -> str:
    """Run ``tandem <args>``; its standard output."""
    out = subprocess.run(
        [sys.executable, "-m", "tandem.cli", *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def run_script(env: dict[str, str], source: str, *args: str) -> str:
    """Run the Python ``source`` with ``args`` in a child process; its standard output."""
    out = subprocess.run(
        [sys.executable, "-c", source, *args],
        env={**env, "DJANGO_SETTINGS_MODULE": "tandem.settings"},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


def last_line(output: str) -> str:
    return output.strip().splitlines()[-1]


def seed_scale(env: dict[str, str], members: int, **counts: int) -> None:
    """Migrate, then ``tandem seed`` the agency ``scale`` with ``members`` members and the
    other ``counts`` (``supporters=…``, ``clients=…``, ``contacts=…``, ``usage=…``)."""
    tandem(env, "migrate", "--noinput")
    options = [part for name, n in counts.items() for part in (f"--{name}", str(n))]
    tandem(env, "seed", "--members", str(members), "--agency", "scale", *options)


def fresh_database(env: dict[str, str], url: str | None, *, keep: bool = False) -> None:
    """Point ``env`` at ``url`` (a scratch PostgreSQL database is dropped and created, unless
    ``keep``)."""
    env.pop("DATABASE_URL", None)
    if not url:
        return
    if url.startswith("postgres") and not keep:
        from urllib.parse import urlparse

        import psycopg

        name = urlparse(url).path.lstrip("/")
        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    env["DATABASE_URL"] = url


# The body of a script that makes sessions: ``signed_in(user, device_name)`` gives the key
# of a session of ``user`` past the banner, the password and TOTP.
SIGNED_IN = """
import time
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from tandem.accounts.middleware import SESSION_AUTH_AT, SESSION_BANNER_OK, SESSION_LAST_SEEN
from tandem.accounts.sessions import SessionStore


def signed_in(user, device_name):
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, name=device_name, defaults={"confirmed": True}
    )
    s = SessionStore()
    s[SESSION_KEY] = str(user.pk)
    s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    s[HASH_SESSION_KEY] = user.get_session_auth_hash()
    s[DEVICE_ID_SESSION_KEY] = device.persistent_id
    s[SESSION_AUTH_AT] = s[SESSION_LAST_SEEN] = time.time()
    s[SESSION_BANNER_OK] = True
    s.create()
    return s.session_key
"""

BENCH_USER = (
    """
import django
django.setup()
"""
    + SIGNED_IN
    + """
from tandem.accounts.models import RoleAssignment, User
from tandem.agencies.models import Agency
agency = Agency.objects.get(slug="scale")
user, _ = User.objects.get_or_create(username="bench", defaults={"agency": agency})
user.set_password("bench-password-not-used-elsewhere"); user.save()
for role in ("administrator", "coordinator", "member", "auditor", "aro", "dispatcher"):
    RoleAssignment.objects.get_or_create(user=user, agency=agency, role=role)
# The first ARO's caseload (``tandem seed --clients``) becomes the bench user's.
from tandem.recovery.models import Client
Client.objects.filter(agency=agency, aro__username="aro-1").update(aro=user)
# Gate and stored standing, as the daily recompute leaves every team member's.
from tandem.readiness.services import person_recompute
person_recompute(user=user, cause="bench")
print(signed_in(user, "bench"))
"""
)


def make_session(env: dict[str, str]) -> str:
    """A fully signed-in session (banner, password, TOTP) for an administrator+coordinator."""
    return last_line(run_script(env, BENCH_USER))


@contextlib.contextmanager
def serving(
    env: dict[str, str], *, workers: int = 1, threads: int = 1, config: bool = False
) -> Iterator[int]:
    """Serve Tandem with gunicorn (1 worker, 1 thread unless told) on a free port until the
    block ends; yields the port once it accepts connections. ``config`` uses the production
    settings file (``tandem.gunicorn_conf``: keep-alive, 120 s timeout) as ``tandem serve`` does."""
    port = free_port()
    command = [sys.executable, "-m", "gunicorn"]
    if config:
        command += ["--config", "python:tandem.gunicorn_conf", "--timeout", "120"]
    command += [
        "tandem.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    ]
    server = subprocess.Popen(
        command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def timed_gets(
    port: int, path: str, headers: dict[str, str], n: int, warmup: int = 20
) -> list[float]:
    """Milliseconds of ``n`` GETs of ``path`` on one keep-alive connection, after ``warmup``
    that are not counted; any answer but 200 stops the benchmark."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    timings = []
    for i in range(n + warmup):
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status}")
        if i >= warmup:
            timings.append(elapsed * 1000)
    conn.close()
    return timings


def measure(port: int, path: str, cookie: str, n: int) -> list[float]:
    """Milliseconds of ``n`` GETs of ``path`` in the session ``cookie`` (after 20 warm-ups)."""
    return timed_gets(port, path, {"Cookie": f"sessionid={cookie}"}, n)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def csrf_of(response: http.client.HTTPResponse, page: str) -> tuple[str, str] | None:
    """The CSRF cookie ``response`` sets and the token of the form on ``page``."""
    cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    return (cookie.group(1), token.group(1)) if cookie and token else None


def on_behalf_body(token: str, key: str, name: str, employee_number: str) -> str:
    """The form "request support for someone" filled in for a critical incident."""
    return urlencode(
        {
            "csrfmiddlewaretoken": token,
            "idempotency_key": key,
            "name": name,
            "employee_number": employee_number,
            "phone": "+1 555 0199",
            "contact_method": "phone",
            "urgency": "now",
            "best_time": "any",
            "channel": "critical_incident",
        }
    )


COUNT_QUERIES = """
import django, json, sys
django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
client = Client()
client.cookies["sessionid"] = sys.argv[1]
counts = {}
for path in sys.argv[2:]:
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    counts[path] = len(queries)
print(json.dumps(counts))
"""


def query_counts(env: dict[str, str], cookie: str, paths: list[str]) -> dict[str, int]:
    return dict(json.loads(last_line(run_script(env, COUNT_QUERIES, cookie, *paths))))


def report(
    title: str,
    pages: list[tuple[str, str]],
    results: dict[str, list[float]],
    counts: dict[str, int] | None = None,
    *,
    floor: str | None = None,
) -> None:
    """p50 and p95 of each page and their ratios to the minimal view (and the page's query
    count, when ``counts`` are given). With ``floor`` (the label of a page that does the
    least a signed-in page can do: session, account, menu, layout), a last column gives each
    page's p50 as a multiple of that floor: the cost of the page's own work."""
    base50 = pct(results["minimal view"], 50)
    base95 = pct(results["minimal view"], 95)
    floor50 = pct(results[floor], 50) if floor else None
    queries = f" {'queries':>8}" if counts is not None else ""
    over_floor = f" {'p50 ×floor':>10}" if floor50 else ""
    print(f"\n{title}\n")
    print(
        f"{'page':28} {'p50 ms':>8} {'p95 ms':>8} {'p50 ×min':>9} {'p95 ×min':>9}"
        f"{queries}{over_floor}"
    )
    for label, path in pages:
        values = results[label]
        p50, p95 = pct(values, 50), pct(values, 95)
        count = f" {counts.get(path, 0):8}" if counts is not None else ""
        above = f" {p50 / floor50:10.2f}" if floor50 else ""
        print(
            f"{label:28} {p50:8.2f} {p95:8.2f} {p50 / base50:9.2f} {p95 / base95:9.2f}"
            f"{count}{above}"
        )
