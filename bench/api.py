"""API benchmark: "on call now" over the API against the minimal view and the dispatcher's
page, and paging through the whole member roster by cursor.

Seeds an agency of 50,000 members with 1,000 designated, compliant supporters in a primary
and a backup rotation (as ``bench/support.py`` does), issues API tokens (``oncall:read``,
approved by a second person, and ``members:read``), serves it with gunicorn and measures over
keep-alive HTTP:

* ``GET /api/v1/on-call/`` (token auth, scope, rate limit, one audit row per call) against
  the minimal view (``/health/live/``) and the dispatcher's HTML page, same run;
* paging through all members with ``GET /api/v1/members/?limit=500`` by ``next`` cursors:
  time per page at the start, middle and end, and — in process — the SQL queries per page,
  which must not grow with the depth.

    .venv/bin/python bench/api.py [--members 50000] [--supporters 1000] [--requests 200]

Set DATABASE_URL to benchmark PostgreSQL instead of a scratch SQLite file.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pages import ROOT, make_session, measure, pct, serving, tandem  # noqa: E402
from support import SETUP  # noqa: E402

TOKENS = """
import django
django.setup()
from tandem.accounts.models import RoleAssignment, User
from tandem.agencies.models import Agency
from tandem.api import services
agency = Agency.objects.get(slug="scale")
admin, _ = User.objects.get_or_create(username="bench-admin", defaults={"agency": agency})
chief, _ = User.objects.get_or_create(username="bench-chief", defaults={"agency": agency})
RoleAssignment.objects.get_or_create(user=admin, agency=agency, role="administrator")
RoleAssignment.objects.get_or_create(user=chief, agency=agency, role="chief")
cad = services.api_client_create(acting_user=admin, name="CAD", scopes=["oncall:read"])
services.api_client_approve(acting_user=chief, client=cad)
hr = services.api_client_create(acting_user=admin, name="HR", scopes=["members:read"])
print(services.api_token_issue(acting_user=admin, client=cad)[1],
      services.api_token_issue(acting_user=admin, client=hr)[1])
"""

QUERIES = """
import django, json, sys
django.setup()
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
client, url, counts = Client(), "/api/v1/members/?limit=500", []
headers = {"HTTP_AUTHORIZATION": "Bearer " + sys.argv[1]}
seen = 0
while url:
    with CaptureQueriesContext(connection) as queries:
        page = client.get(url, **headers).json()
    counts.append(len(queries))
    seen += len(page["results"])
    url = page["next"]
print(json.dumps({"pages": len(counts), "members": seen, "queries": counts}))
"""


def measure_api(port: int, path: str, secret: str, n: int, warmup: int = 20) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {secret}"}
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


def page_through(port: int, secret: str) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {secret}"}
    url: str | None = "/api/v1/members/?limit=500"
    timings = []
    while url:
        start = time.perf_counter()
        conn.request("GET", url, headers=headers)
        response = conn.getresponse()
        page = json.loads(response.read())
        timings.append((time.perf_counter() - start) * 1000)
        url = page["next"].split(f"127.0.0.1:{port}", 1)[-1] if page["next"] else None
    conn.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--supporters", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as scratch:
        env = {
            **os.environ,
            "TANDEM_INSECURE_HTTP": "1",
            "TANDEM_VAR_DIR": scratch,
            "TANDEM_SECRET_KEY": "bench-" + "k" * 50,
            "TANDEM_LOG_LEVEL": "WARNING",
            "TANDEM_API_RATE": "1000000/s",  # measure the work, not the limiter's refusals
            "DJANGO_SETTINGS_MODULE": "tandem.settings",
            "TANDEM_MASTER_KEYS": "bench:" + base64.b64encode(os.urandom(32)).decode(),
        }
        started = time.perf_counter()
        tandem(env, "migrate", "--noinput")
        tandem(env, "seed", "--members", str(args.members), "--agency", "scale")
        subprocess.run(
            [sys.executable, "-c", SETUP, str(args.supporters)],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        tokens = subprocess.run(
            [sys.executable, "-c", TOKENS],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        cad, hr = tokens.stdout.strip().splitlines()[-1].split()
        print(
            f"seeded {args.members} members and {args.supporters} supporters "
            f"in {time.perf_counter() - started:.1f} s"
        )
        cookie = make_session(env)
        queries = json.loads(
            subprocess.run(
                [sys.executable, "-c", QUERIES, hr],
                env=env,
                cwd=ROOT,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with serving(env) as port:
            results = {
                "minimal view": measure(port, "/health/live/", cookie, args.requests),
                "on call now (page)": measure(port, "/support/on-call/", cookie, args.requests),
                "on call now (API)": measure_api(port, "/api/v1/on-call/", cad, args.requests),
            }
            pages = page_through(port, hr)

    base50 = pct(results["minimal view"], 50)
    base95 = pct(results["minimal view"], 95)
    print(
        f"\n{args.members} members, {args.supporters} supporters, "
        f"{args.requests} requests per page, gunicorn 1 worker\n"
    )
    print(f"{'page':28} {'p50 ms':>8} {'p95 ms':>8} {'p50 ×min':>9} {'p95 ×min':>9}")
    for label, values in results.items():
        p50, p95 = pct(values, 50), pct(values, 95)
        print(f"{label:28} {p50:8.2f} {p95:8.2f} {p50 / base50:9.2f} {p95 / base95:9.2f}")
    counts = queries["queries"]
    third = max(len(pages) // 3, 1)
    print(
        f"\nmembers by cursor: {queries['members']} members in {queries['pages']} pages "
        f"of 500; SQL queries per page min {min(counts)} max {max(counts[1:] or counts)} "
        f"(first page {counts[0]}, which also notes the token's daily use)"
    )
    print(
        "ms per page: "
        + ", ".join(
            f"{name} {sum(part) / len(part):.1f}"
            for name, part in (
                ("first third", pages[:third]),
                ("middle third", pages[third : 2 * third]),
                ("last third", pages[2 * third :]),
            )
            if part
        )
    )


if __name__ == "__main__":
    main()
