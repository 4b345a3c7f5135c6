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

import argparse
import base64
import http.client
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pages import (  # noqa: E402
    ROOT,
    fresh_database,
    make_session,
    measure,
    query_counts,
    report,
    serving,
    tandem,
)

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
    page = response.read().decode()
    csrf_cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie") or "")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if not (csrf_cookie and token):
        raise SystemExit("could not read the CSRF token of the request form")
    headers = {
        "Cookie": f"sessionid={cookie}; csrftoken={csrf_cookie.group(1)}",
        "Content-Type": "application/x-www-form-urlencoded",
        "Referer": f"http://127.0.0.1:{port}/support/on-behalf/",
    }
    timings = []
    for i in range(n + 10):
        body = urlencode(
            {
                "csrfmiddlewaretoken": token.group(1),
                "idempotency_key": f"bench-{i}",
                "name": "Bench Person",
                "employee_number": numbers[i % len(numbers)],
                "phone": "+1 555 0199",
                "contact_method": "phone",
                "urgency": "now",
                "best_time": "any",
                "channel": "critical_incident",
            }
        )
        start = time.perf_counter()
        conn.request("POST", "/support/on-behalf/", body=body, headers=headers)
        answer = conn.getresponse()
        answer.read()
        elapsed = time.perf_counter() - start
        if answer.status != 302:
            raise SystemExit(f"routing a request answered {answer.status}")
        if i >= 10:
            timings.append(elapsed * 1000)
    conn.close()
    return timings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--members", type=int, default=50_000)
    parser.add_argument("--supporters", type=int, default=1_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--database-url", help="scratch database (PostgreSQL: dropped first)")
    parser.add_argument(
        "--no-seed", action="store_true", help="use the database as it is (seeded before)"
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as scratch:
        env = {
            **os.environ,
            "TANDEM_INSECURE_HTTP": "1",
            "TANDEM_VAR_DIR": scratch,
            "TANDEM_SECRET_KEY": "bench-" + "k" * 50,
            "TANDEM_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "tandem.settings",
            # A throw-away master key for the scratch database's envelope encryption.
            "TANDEM_MASTER_KEYS": os.environ.get("TANDEM_MASTER_KEYS")
            or "bench:" + base64.b64encode(os.urandom(32)).decode(),
        }
        fresh_database(env, args.database_url, keep=args.no_seed)
        started = time.perf_counter()
        if not args.no_seed:
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
            )
            print(
                f"seeded {args.members} members and {args.supporters} supporters "
                f"in {time.perf_counter() - started:.1f} s"
            )
        found = subprocess.run(
            [sys.executable, "-c", NUMBERS],
            env=env,
            cwd=ROOT,
            check=True,
            capture_output=True,
            text=True,
        )
        numbers = found.stdout.strip().splitlines()[-1].split()
        cookie = make_session(env)
        with serving(env) as port:
            results = {
                "minimal view": measure(port, "/health/live/", cookie, args.requests),
                "on call now": measure(port, "/support/on-call/", cookie, args.requests),
                "route one request": post_requests(port, cookie, numbers, args.requests),
            }
        counts = query_counts(env, cookie, ["/health/live/", "/support/on-call/"])

    engine = "PostgreSQL" if (args.database_url or "").startswith("postgres") else "SQLite"
    pages = [
        ("minimal view", "/health/live/"),
        ("on call now", "/support/on-call/"),
        ("route one request", "POST /support/on-behalf/"),
    ]
    report(
        f"{engine}, {args.members} members, {args.supporters} supporters, "
        f"{args.requests} requests per page, gunicorn 1 worker",
        pages,
        results,
        counts,
    )


if __name__ == "__main__":
    main()
