"""API benchmark: "on call now" over the API against the minimal view and the dispatcher's
page, and paging through the whole member roster by cursor.

Seeds an agency of 50,000 members with 1,000 designated, compliant supporters in a primary
and a backup rotation (as ``bench/support.py`` does), issues API tokens (``oncall:read``,
approved by a second person, and ``members:read``), serves it with gunicorn and measures over
keep-alive HTTP:

* ``GET /api/v1/on-call/`` (token auth, scope, rate limit, one audit row per call) against
  the minimal view (``/health/live/``), the dispatcher's HTML page and the API's floor
  (``GET /api/v1/units/``: the same token, scope, limiter and committed audit row around one
  small query), same run;
* paging through all members with ``GET /api/v1/members/?limit=500`` by ``next`` cursors:
  time per page at the start, middle and end, and — in process — the SQL queries per page,
  which must not grow with the depth.

    .venv/bin/python bench/api.py [--members 50000] [--supporters 1000] [--requests 200]

Set DATABASE_URL to benchmark PostgreSQL instead of a scratch SQLite file.
"""

from __future__ import annotations

import http.client
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    bench_env,
    last_line,
    make_session,
    measure,
    report,
    run_script,
    scale_arguments,
    seed_scale,
    serving,
    timed_gets,
)

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


#: The least an API call does: token, scope, rate limit, one small query and the audit row
#: that every call writes and commits. "×floor" is the cost of on call now's own work.
FLOOR = "API floor (units)"


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
    args = scale_arguments(seeded=False).parse_args()

    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as scratch:
        env = bench_env(
            scratch,
            TANDEM_API_RATE="1000000/s",  # measure the work, not the limiter's refusals
        )
        started = time.perf_counter()
        seed_scale(env, args.members, supporters=args.supporters)
        cad, hr = last_line(run_script(env, TOKENS)).split()
        print(
            f"seeded {args.members} members and {args.supporters} supporters "
            f"in {time.perf_counter() - started:.1f} s"
        )
        cookie = make_session(env)
        queries = json.loads(last_line(run_script(env, QUERIES, hr)))
        with serving(env) as port:
            api = {"Authorization": f"Bearer {cad}"}
            results = {
                "minimal view": measure(port, "/health/live/", cookie, args.requests),
                "on call now (page)": measure(port, "/support/on-call/", cookie, args.requests),
                "on call now (API)": timed_gets(port, "/api/v1/on-call/", api, args.requests),
                FLOOR: timed_gets(
                    port, "/api/v1/units/", {"Authorization": f"Bearer {hr}"}, args.requests
                ),
            }
            pages = page_through(port, hr)

    report(
        f"{args.members} members, {args.supporters} supporters, "
        f"{args.requests} requests per page, gunicorn 1 worker",
        [
            ("minimal view", "/health/live/"),
            ("on call now (page)", "/support/on-call/"),
            ("on call now (API)", "/api/v1/on-call/"),
            (FLOOR, "/api/v1/units/"),
        ],
        results,
        floor=FLOOR,
    )
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
