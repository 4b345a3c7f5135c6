"""Page benchmark: every list page at the product's scale against a minimal view, same run.

Seeds (``tandem seed``) an agency of 50,000 members, 1,000 supporters on call in a primary
and a backup rotation, 20,000 recovery clients with 200,000 contacts and 300,000 peer-support
usage records over ten years, serves it with gunicorn and measures p50 and p95 latency of
each page over keep-alive HTTP: home, member directory and search, on call now, the PSP
roster, an ARO's caseload (about 750 active clients), client list, search and detail (the
client with the most contacts), the annual peer-support report, accounts and the audit
trail. It prints the ratios to the minimal view (``/health/live/``, which passes through the
whole middleware stack but does no work) and to a signed-in floor (the roles page: session,
account, menu and layout, two small queries), which every signed-in page pays before its own
work. Absolute numbers depend on the machine; the
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
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    engine_name,
    make_session,
    measure,
    query_counts,
    report,
    run_script,
    scale_arguments,
    scratch,
    seed_scale,
    serving,
)


def seed(env: dict[str, str], args: argparse.Namespace) -> None:
    """Migrate and seed the scratch database with the issue's data set (bulk inserts)."""
    started = time.perf_counter()
    seed_scale(
        env,
        args.members,
        supporters=args.supporters,
        clients=args.clients,
        contacts=args.contacts,
        usage=args.usage,
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


#: A signed-in page that does almost nothing (two small queries): session, account, roles,
#: menu and the layout every page pays. Each page's "×floor" is the cost of its own work.
FLOOR = "signed-in floor (roles page)"


def page_list(env: dict[str, str]) -> list[tuple[str, str]]:
    client, contacts, year = run_script(env, PAGE_FACTS).split()[-3:]
    pages = [
        ("minimal view", "/health/live/"),
        (FLOOR, "/accounts/roles/"),
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
    parser = scale_arguments(requests=300)
    parser.add_argument("--clients", type=int, default=20_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--usage", type=int, default=300_000)
    args = parser.parse_args()

    with scratch(args.database_url, keep=args.no_seed) as env:
        if not args.no_seed:
            seed(env, args)
        cookie = make_session(env)
        pages = page_list(env)
        with serving(env) as port:
            results = {label: measure(port, path, cookie, args.requests) for label, path in pages}
        counts = query_counts(env, cookie, [path for _, path in pages])

    title = (
        f"{engine_name(args.database_url)}, {args.members} members, {args.supporters} "
        f"supporters, {args.clients} clients, {args.contacts} contacts, {args.usage} usage "
        f"records, {args.requests} requests per page, gunicorn 1 worker"
    )
    report(title, pages, results, counts, floor=FLOOR)


if __name__ == "__main__":
    main()
