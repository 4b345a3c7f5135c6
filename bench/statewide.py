"""Statewide benchmark: one agency's pages with 1 agency in the database, then with 300.

Seeds the measured agency (``tandem seed``), measures its pages against the minimal view,
then adds 299 other agencies of the same shape (members, accounts with roles, audit events)
in one process with bulk inserts, runs ANALYZE, and measures the same pages again. Every
per-agency index leads with the agency, so the second round should be within 10% of the
first. Prints p50/p95 of both rounds, their ratio, and query counts.

    .venv/bin/python bench/statewide.py --database-url postgres://postgres@127.0.0.1:5432/bench
    .venv/bin/python bench/statewide.py --agencies 300 --members 5000 --other-members 1000

``--database-url`` names a scratch PostgreSQL database (dropped and created afresh); without
it a scratch SQLite file is used (a statewide deployment runs on PostgreSQL).
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
    pct,
    query_counts,
    run_script,
    scratch,
    seed_scale,
    serving,
)

OTHERS = """
import django, sys
django.setup()
from django.db import connection, transaction
from tandem.accounts.models import RoleAssignment, User
from tandem.agencies.services import agency_create
from tandem.audit.services import audit_record
from tandem.core.synthetic import DEMO_UNITS, create_members, create_units
count, members = int(sys.argv[1]), int(sys.argv[2])
for i in range(1, count):
    agency = agency_create(slug=f"agency-{i:03d}", name=f"Agency {i}",
                           preset="colorado-springs")
    with transaction.atomic():
        create_units(agency, DEMO_UNITS)
        create_members(agency, members, seed=i, start=100_000)
        users = User.objects.bulk_create(
            User(username=f"a{i:03d}-u{n}", agency=agency, password="!") for n in range(50))
        RoleAssignment.objects.bulk_create(
            RoleAssignment(user=u, agency=agency, role=role)
            for u in users for role in ("member", "supporter"))
        for n in range(20):
            audit_record(action="seed.generate", agency_id=agency.pk,
                         detail={"members": members, "n": n})
if connection.vendor == "postgresql":
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
print("done")
"""

PAGES = [
    ("minimal view", "/health/live/"),
    ("home page", "/"),
    ("member directory", "/agency/members/"),
    ("member directory, search", "/agency/members/?q=smith"),
    ("accounts", "/accounts/users/"),
    ("audit trail", "/audit/"),
]


def serve_and_measure(env: dict[str, str], cookie: str, requests: int) -> dict[str, list[float]]:
    with serving(env) as port:
        return {label: measure(port, path, cookie, requests) for label, path in PAGES}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", help="scratch database (PostgreSQL: dropped first)")
    parser.add_argument("--agencies", type=int, default=300)
    parser.add_argument("--members", type=int, default=5_000, help="in the measured agency")
    parser.add_argument("--other-members", type=int, default=1_000, help="in each other one")
    parser.add_argument("--requests", type=int, default=100)
    args = parser.parse_args()

    with scratch(args.database_url) as env:
        seed_scale(env, args.members)
        cookie = make_session(env)
        one = serve_and_measure(env, cookie, args.requests)
        started = time.perf_counter()
        run_script(env, OTHERS, str(args.agencies), str(args.other_members))
        print(
            f"added {args.agencies - 1} agencies of {args.other_members} members in "
            f"{time.perf_counter() - started:.0f} s"
        )
        many = serve_and_measure(env, cookie, args.requests)
        counts = query_counts(env, cookie, [path for _, path in PAGES])

    engine = engine_name(args.database_url)
    print(
        f"\n{engine}: the measured agency has {args.members} members; p50 in ms with 1 "
        f"agency and with {args.agencies}, {args.requests} requests per page\n"
    )
    print(
        f"{'page':28} {'1 p50':>8} {'N p50':>8} {'N/1 p50':>8} {'1 ×min':>7} {'N ×min':>7} "
        f"{'queries':>8}"
    )
    base1, basen = pct(one["minimal view"], 50), pct(many["minimal view"], 50)
    for label, path in PAGES:
        a, b = pct(one[label], 50), pct(many[label], 50)
        print(
            f"{label:28} {a:8.2f} {b:8.2f} {b / a:8.2f} {a / base1:7.2f} {b / basen:7.2f} "
            f"{counts.get(path, 0):8}"
        )


if __name__ == "__main__":
    main()
