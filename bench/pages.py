"""Page benchmark: every list page at the product's scale against a minimal view, same run.

Seeds (``tandem seed``) an agency of 50,000 members, 1,000 supporters on call in a primary
and a backup rotation, 20,000 recovery clients with 200,000 contacts and 300,000 peer-support
usage records over ten years, serves it with gunicorn and measures p50 and p95 latency of
each page over keep-alive HTTP: home, member directory and search, on call now, the PSP
roster, an ARO's caseload (about 750 active clients), client list, search and detail (the
client with the most contacts), the annual peer-support report, accounts and the audit
trail. It prints the ratios to the minimal view (``/health/live/``, which passes through the
whole middleware stack but does no work). Absolute numbers depend on the machine; the
ratios are what to compare.

    .venv/bin/python bench/pages.py [--members 50000] [--requests 300]
    .venv/bin/python bench/pages.py --database-url postgres://postgres@127.0.0.1:5432/bench

``--database-url`` names a scratch PostgreSQL database, dropped and created afresh (or a
``sqlite:///`` file); without it a scratch SQLite file is used. ``--no-seed`` measures the
database as it is (one seeded by an earlier run or by ``tandem seed``) instead. Beside each
page it prints the number of SQL queries the page makes, counted once in process after the
timed run.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tandem(env: dict[str, str], *args: str) -> str:
    out = subprocess.run(
        [sys.executable, "-m", "tandem.cli", *args],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout


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


def make_session(env: dict[str, str]) -> str:
    """A fully signed-in session (banner, password, TOTP) for an administrator+coordinator."""
    script = """
import django, time
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.sessions.backends.db import SessionStore
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice
from tandem.accounts.middleware import SESSION_AUTH_AT, SESSION_BANNER_OK, SESSION_LAST_SEEN
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
device, _ = TOTPDevice.objects.get_or_create(user=user, name="bench", defaults={"confirmed": True})
s = SessionStore()
s[SESSION_KEY] = str(user.pk)
s[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
s[HASH_SESSION_KEY] = user.get_session_auth_hash()
s[DEVICE_ID_SESSION_KEY] = device.persistent_id
s[SESSION_AUTH_AT] = s[SESSION_LAST_SEEN] = time.time()
s[SESSION_BANNER_OK] = True
s.create()
print(s.session_key)
"""
    out = subprocess.run(
        [sys.executable, "-c", script],
        env={**env, "DJANGO_SETTINGS_MODULE": "tandem.settings"},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip().splitlines()[-1]


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
    import json

    out = subprocess.run(
        [sys.executable, "-c", COUNT_QUERIES, cookie, *paths],
        env={**env, "DJANGO_SETTINGS_MODULE": "tandem.settings"},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def report(
    title: str,
    pages: list[tuple[str, str]],
    results: dict[str, list[float]],
    counts: dict[str, int],
) -> None:
    base50 = pct(results["minimal view"], 50)
    base95 = pct(results["minimal view"], 95)
    print(f"\n{title}\n")
    print(f"{'page':28} {'p50 ms':>8} {'p95 ms':>8} {'p50 ×min':>9} {'p95 ×min':>9} {'queries':>8}")
    for label, path in pages:
        values = results[label]
        p50, p95 = pct(values, 50), pct(values, 95)
        print(
            f"{label:28} {p50:8.2f} {p95:8.2f} {p50 / base50:9.2f} {p95 / base95:9.2f} "
            f"{counts.get(path, 0):8}"
        )


def measure(port: int, path: str, cookie: str, n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": f"sessionid={cookie}"}
    timings = []
    for i in range(n + 20):
        start = time.perf_counter()
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            raise SystemExit(f"{path} answered {response.status}")
        if i >= 20:  # warm-up requests are not counted
            timings.append(elapsed * 1000)
    conn.close()
    return timings


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1]


def seed(env: dict[str, str], args: argparse.Namespace) -> None:
    """Migrate and seed the scratch database with the issue's data set (bulk inserts)."""
    started = time.perf_counter()
    tandem(env, "migrate", "--noinput")
    tandem(
        env,
        "seed",
        "--members",
        str(args.members),
        "--agency",
        "scale",
        "--supporters",
        str(args.supporters),
        "--clients",
        str(args.clients),
        "--contacts",
        str(args.contacts),
        "--usage",
        str(args.usage),
    )
    print(
        f"seeded {args.members} members, {args.supporters} supporters, {args.clients} "
        f"clients, {args.contacts} contacts, {args.usage} usage records in "
        f"{time.perf_counter() - started:.1f} s"
    )


PAGE_FACTS = """
import django
django.setup()
from django.db.models import Count
from django.utils import timezone
from tandem.recovery.models import Client
busiest = (Client.objects.filter(agency__slug="scale").annotate(n=Count("contacts"))
           .order_by("-n").values_list("pk", "n").first() or (0, 0))
print(busiest[0], busiest[1], timezone.localdate().year - 1)
"""


def page_list(env: dict[str, str]) -> list[tuple[str, str]]:
    out = subprocess.run(
        [sys.executable, "-c", PAGE_FACTS],
        env={**env, "DJANGO_SETTINGS_MODULE": "tandem.settings"},
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    client, contacts, year = out.stdout.split()[-3:]
    pages = [
        ("minimal view", "/health/live/"),
        ("home page", "/"),
        ("member directory", "/agency/members/"),
        ("member directory, search", "/agency/members/?q=smith"),
        ("on call now", "/support/on-call/"),
        ("PSP roster", "/support/roster/"),
        ("ARO caseload", "/recovery/caseload/"),
        ("client list", "/recovery/clients/"),
        ("client search", "/recovery/clients/?q=smith"),
        (f"client detail ({contacts} contacts)", f"/recovery/clients/{client}/"),
        (
            "PSP report, annual",
            f"/reports/peer-support/?start={year}-01&end={year}-12&audience=department",
        ),
        ("accounts", "/accounts/users/"),
        ("audit trail", "/audit/"),
    ]
    return pages if client != "0" else [p for p in pages if "client" not in p[0]]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--supporters", type=int, default=1_000)
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--usage", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--database-url", help="scratch database (PostgreSQL: dropped first)")
    parser.add_argument(
        "--no-seed", action="store_true", help="measure the database as it is (seeded before)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as scratch:
        env = {
            **os.environ,
            "TANDEM_INSECURE_HTTP": "1",
            "TANDEM_VAR_DIR": scratch,
            "TANDEM_SECRET_KEY": "bench-" + "k" * 50,
            "TANDEM_LOG_LEVEL": "WARNING",
        }
        fresh_database(env, args.database_url, keep=args.no_seed)
        if not args.no_seed:
            seed(env, args)
        cookie = make_session(env)
        pages = page_list(env)
        with serving(env) as port:
            results = {label: measure(port, path, cookie, args.requests) for label, path in pages}
        counts = query_counts(env, cookie, [path for _, path in pages])

    engine = "PostgreSQL" if (args.database_url or "").startswith("postgres") else "SQLite"
    report(
        f"{engine}, {args.members} members, {args.supporters} supporters, {args.clients} "
        f"clients, {args.contacts} contacts, {args.usage} usage records, "
        f"{args.requests} requests per page, gunicorn 1 worker",
        pages,
        results,
        counts,
    )


if __name__ == "__main__":
    main()
