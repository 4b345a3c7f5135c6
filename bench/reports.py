"""Report benchmark: the annual reports against the same aggregation run in DuckDB.

Builds a scratch database with a 50,000-member agency, ten years of peer-support usage
records (300,000) and of recovery contacts (200,000), inserted with ``bulk_create`` in
batches directly on the models. Then, in the same run, it exports the same rows to DuckDB
and prints, best of N:

* the annual peer-support report as Tandem produces it (``services.report_build``: every
  GROUP BY in the database, then disclosure control and the release log), once as the
  first read with no month's usage counts kept (it counts the year's records and keeps
  each month's counts when it commits, see ``reports.rollups``) and then best of N,
* the annual recovery evaluation the same way,
* the same peer-support aggregation written directly in DuckDB (the baseline),

and the ratios. Target: the annual peer-support report in under one second.

    .venv/bin/python bench/reports.py [--usage 300000] [--contacts 200000] [--runs 5]
                                      [--keep DIR]

``--keep DIR`` puts the scratch database in DIR and reuses it when it is already seeded
(seeding takes minutes; the timings take seconds).

Set DATABASE_URL to benchmark PostgreSQL instead of a scratch SQLite file.
"""

# The DuckDB SQL below is put together from this file's own constants, never from input.
# ruff: noqa: S608

from __future__ import annotations

import argparse
import csv
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BATCH = 5_000


def best_of(runs: int, work: Callable[[], Any]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def setup_django(scratch: Path) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{scratch / 'bench.sqlite3'}")
    os.environ.setdefault("TANDEM_INSECURE_HTTP", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    os.environ.setdefault("TANDEM_MASTER_KEY_FILE", str(scratch / "master.keys"))
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    from tandem.core.crypto import ensure_demo_master_key

    call_command("migrate", verbosity=0)
    ensure_demo_master_key()


def seed(usage_count: int, contact_count: int, last_year: int) -> Any:
    from django.core.management import call_command

    from tandem.accounts.models import User
    from tandem.agencies.models import Agency
    from tandem.recovery import vocab as rv
    from tandem.recovery.models import Client
    from tandem.recovery.synthetic import create_contacts
    from tandem.support import vocab as sv
    from tandem.support.models import SupporterProfile, UsageRecord
    from tandem.support.synthetic import usage_record

    call_command("seed", members=50_000, agency="scale")
    agency = Agency.objects.get(slug="scale")
    rng = random.Random(702)
    profiles = []
    for n in range(40):
        user = User.objects.create_user(username=f"supporter{n}", agency=agency)
        profiles.append(
            SupporterProfile.objects.create(
                agency=agency, user=user, affiliation=sv.Affiliation.values[0]
            )
        )
    first_day = datetime(last_year - 9, 1, 1, tzinfo=UTC)
    span = (datetime(last_year + 1, 1, 1, tzinfo=UTC) - first_day).total_seconds()

    def moment() -> datetime:
        return first_day + timedelta(seconds=rng.random() * span)

    batch: list[Any] = []
    for _ in range(usage_count):
        closed = moment()
        batch.append(usage_record(agency, rng.choice(profiles).pk, closed, rng))
        if len(batch) == BATCH:
            UsageRecord.objects.bulk_create(batch)
            batch = []
    UsageRecord.objects.bulk_create(batch)
    Client.objects.bulk_create(
        [
            Client(
                agency=agency,
                first_name="Bench",
                last_name=f"Client{n}",
                name_key=f"c{n}",
                status=rng.choice(rv.ClientStatus.values),
                created_at=first_day,
            )
            for n in range(5_000)
        ]
    )
    create_contacts(agency, contact_count, years=10)  # ten years back from today
    return agency


def to_duckdb(agency: Any, scratch: Path) -> Any:
    import duckdb

    from tandem.support.models import UsageRecord

    path = scratch / "usage.csv"
    # The CSV's columns, in the order the row below writes them.
    columns = (  # noqa: SIM905 - a long word list reads best as text split on spaces
        "closed_at channel topic incident_type intervention_type member_category gender "
        "duration_bucket services seconds_to_ack seconds_to_contact"
    ).split()
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for row in (
            UsageRecord.objects.filter(agency=agency)
            .values_list(*columns)
            .iterator(chunk_size=20_000)
        ):
            writer.writerow([row[0].isoformat(), *row[1:8], "|".join(row[8]), *row[9:]])
    db = duckdb.connect()
    db.execute(f"CREATE TABLE usage AS SELECT * FROM read_csv_auto('{path}', header=true)")
    return db


def duckdb_annual(db: Any, year: int) -> list[Any]:
    """The peer-support report's aggregation, written for DuckDB. Every piece of SQL below
    is built from constants of this file, never from input."""
    where = f"closed_at >= TIMESTAMP '{year}-01-01' AND closed_at < TIMESTAMP '{year + 1}-01-01'"
    out = [
        db.execute(
            f"SELECT incident_type, member_category, count(*) FROM usage WHERE {where} GROUP BY ALL"
        ).fetchall()
    ]
    for column in ("channel", "intervention_type", "duration_bucket", "gender", "topic"):
        out.append(
            db.execute(
                f"SELECT {column}, count(*) FROM usage WHERE {where} GROUP BY ALL"
            ).fetchall()
        )
    out.append(
        db.execute(
            "SELECT count(*) FILTER (WHERE services LIKE '%listening%'), "
            "count(*) FILTER (WHERE services LIKE '%crisis%'), count(*) "
            f"FROM usage WHERE {where}"
        ).fetchall()
    )
    for column in ("seconds_to_ack", "seconds_to_contact"):
        out.append(
            db.execute(
                f"SELECT CASE WHEN {column} IS NULL THEN 'n' WHEN {column} <= 300 THEN 'a' "
                f"WHEN {column} <= 900 THEN 'b' WHEN {column} <= 3600 THEN 'c' "
                f"WHEN {column} <= 14400 THEN 'd' WHEN {column} <= 86400 THEN 'e' ELSE 'f' END, "
                f"count(*) FROM usage WHERE {where} GROUP BY ALL"
            ).fetchall()
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--usage", type=int, default=300_000)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="Keep (and reuse) the database in DIR.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="tandem-bench-") as tmp:
        scratch = args.keep or Path(tmp)
        scratch.mkdir(parents=True, exist_ok=True)
        setup_django(scratch)
        from django.utils import timezone

        from tandem.agencies.models import Agency
        from tandem.reports.services import report_build
        from tandem.reports.statistics import Period, peer_support_sections

        year = timezone.localdate().year - 1
        agency = Agency.objects.filter(slug="scale").first()
        if agency is None:
            started = time.perf_counter()
            agency = seed(args.usage, args.contacts, year)
            print(
                f"seeded {args.usage} usage records and {args.contacts} contacts "
                f"in {time.perf_counter() - started:.1f} s"
            )
        period = Period(date(year, 1, 1), date(year, 12, 31))
        started = time.perf_counter()
        db = to_duckdb(agency, scratch)
        print(f"exported the usage records to DuckDB in {time.perf_counter() - started:.1f} s")

        from tandem.reports.models import UsageMonth

        UsageMonth.objects.filter(agency=agency).delete()
        first_read = best_of(
            1, lambda: report_build(agency=agency, report="peer-support", period=period)
        )
        psp = best_of(
            args.runs, lambda: report_build(agency=agency, report="peer-support", period=period)
        )
        psp_sql = best_of(args.runs, lambda: peer_support_sections(agency, period))
        prp = best_of(
            args.runs, lambda: report_build(agency=agency, report="recovery", period=period)
        )
        duck = best_of(args.runs, lambda: duckdb_annual(db, year))
        print(f"\nannual reports for {year}, best of {args.runs}:")
        print(
            f"  peer support, first read (months counted and kept)      {first_read * 1000:8.1f} ms"
        )
        print(f"  peer support, whole report (SQL + disclosure control)  {psp * 1000:8.1f} ms")
        print(f"  peer support, aggregation queries only                  {psp_sql * 1000:8.1f} ms")
        print(f"  recovery evaluation, whole report                       {prp * 1000:8.1f} ms")
        print(f"  peer support aggregation in DuckDB (baseline)           {duck * 1000:8.1f} ms")
        print(f"\n  ratio peer-support report / DuckDB   {psp / duck:6.1f}x")
        print(f"  ratio aggregation only / DuckDB      {psp_sql / duck:6.1f}x")
        print(f"  target: peer-support report under 1 s: {'met' if psp < 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
