"""Peer-support benchmark: "on call now" and routing one request, against the minimal view.

Seeds an agency of 50,000 members (``tandem seed --supporters``) and makes 1,000 of them
designated, compliant supporters with roster entries, in a primary and a backup rotation. Serves it
with gunicorn and measures, over keep-alive HTTP:

* the dispatcher's "on call now" page;
* routing one request: the coordinator's "request support for someone" form posted with a
  new member each time (conflict checks through the chain of command, the on-call lookup,
  the offer, its notification and the audit rows, all in one transaction);

and prints p50/p95 and the ratios to the minimal view (``/health/live/``), measured in the
same run. Absolute numbers depend on the machine; the ratios are what to compare.

    .venv/bin/python bench/support.py [--members 50000] [--supporters 1000] [--requests 200]

``--database-url`` names a scratch PostgreSQL database (dropped and created afresh) or a
``sqlite:///`` file; without it a scratch SQLite file is used; ``--no-seed`` uses the database
as it is (seeded before, e.g. by ``bench/pages.py``). Query counts are printed beside.
"""

from __future__ import annotations

import http.client
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

NUMBERS = """
import django
django.setup()
from tandem.agencies.models import Member
print(" ".join(Member.objects.filter(agency__slug="scale").order_by("-pk")
               .values_list("employee_number", flat=True)[:5000]))
"""


def post_requests(port: int, cookie: str, numbers: list[str], n: int) -> list[float]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Cookie": f"sessionid={cookie}"}
    conn.request("GET", "/support/on-behalf/", headers=headers)
    response = conn.getresponse()
    csrf = common.csrf_of(response, response.read().decode())
    if csrf is None:
        raise SystemExit("could not read the CSRF token of the request form")
    headers = {
        "Cookie": f"sessionid={cookie}; csrftoken={csrf[0]}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Referer": f"http://127.0.0.1:{port}/support/on-behalf/",
    }
    timings = []
    for i in range(n + 10):
        body = common.on_behalf_body(
            csrf[1], f"bench-{i}", "Bench Person", numbers[i % len(numbers)]
        )
        start = time.perf_counter()
        conn.request("POST", "/support/on-behalf/", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        elapsed = time.perf_counter() - start
        if answer.status != 200:  # the page with the receipt; a refused form is a 400
            raise SystemExit(f"routing a request answered {answer.status}")
        if i >= 10:
            timings.append(elapsed * 1000)
    conn.close()
    return timings


def main() -> None:
    args = common.scale_arguments().parse_args()

    with common.scratch(args.database_url, keep=args.no_seed) as env:
        started = time.perf_counter()
        if not args.no_seed:
            common.seed_scale(env, args.members, supporters=args.supporters)
            print(
                f"seeded {args.members} members and {args.supporters} supporters "
                f"in {time.perf_counter() - started:.1f} s"
            )
        numbers = common.last_line(common.run_script(env, NUMBERS)).split()
        cookie = common.make_session(env)
        with common.serving(env) as port:
            results = {
                "minimal view": common.measure(port, "/health/live/", cookie, args.requests),
                "on call now": common.measure(port, "/support/on-call/", cookie, args.requests),
                "route one request": post_requests(port, cookie, numbers, args.requests),
            }
        counts = common.query_counts(env, cookie, ["/health/live/", "/support/on-call/"])

    pages = [
        ("minimal view", "/health/live/"),
        ("on call now", "/support/on-call/"),
        ("route one request", "POST /support/on-behalf/"),
    ]
    title = (
        f"{common.engine_name(args.database_url)}, {args.members} members, {args.supporters} "
        f"supporters, {args.requests} requests per page, gunicorn 1 worker"
    )
    common.report(title, pages, results, counts)


if __name__ == "__main__":
    main()
