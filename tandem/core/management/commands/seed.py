"""``tandem seed --members N [--supporters N --clients N --contacts N --usage N]``: synthetic
data at scale, for benchmarks and load tests. Everything is inserted in bulk (the issue's
full set — 50,000 members, 1,000 supporters, 20,000 clients, 200,000 contacts and 300,000
usage records — takes about a minute)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from tandem.agencies.models import Agency, Member, Unit, UnitKind
from tandem.core.hooks import audit_record
from tandem.core.synthetic import DEMO_UNITS, create_members, create_units


class Command(BaseCommand):
    help = "Generate a synthetic agency (or add to one) with N members spread over units."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--members", type=int, required=True)
        parser.add_argument("--agency", default="scale", help="Agency slug (created if missing).")
        parser.add_argument("--preset", default="colorado-springs")
        parser.add_argument("--seed", type=int, default=702, help="Random seed (repeatable data).")
        parser.add_argument(
            "--supporters",
            type=int,
            default=0,
            help="Make this many members designated, compliant supporters, "
            "in a primary and a backup rotation.",
        )
        parser.add_argument(
            "--clients",
            type=int,
            default=0,
            help="Recovery clients, spread over 16 ARO accounts (aro-1…).",
        )
        parser.add_argument(
            "--contacts", type=int, default=0, help="Recovery contacts over ten years."
        )
        parser.add_argument(
            "--usage",
            type=int,
            default=0,
            help="Published peer-support usage records over ten years.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        count = options["members"]
        if count < 1 or count > 1_000_000:
            raise CommandError("--members must be between 1 and 1,000,000.")
        agency = Agency.objects.filter(slug=options["agency"]).first()
        if agency is None:
            from tandem.agencies.services import agency_create

            agency = agency_create(
                slug=options["agency"],
                name=f"{options['agency'].title()} Police Department",
                preset=options["preset"],
            )
        with transaction.atomic():
            create_units(agency, DEMO_UNITS)
            # About 200 members per patrol unit, like a real shift roster.
            district = Unit.objects.get(agency=agency, code="PAT-C")
            wanted = max(0, count // 200 - Unit.objects.filter(agency=agency).count())
            existing = set(Unit.objects.filter(agency=agency).values_list("code", flat=True))
            Unit.objects.bulk_create(
                [
                    Unit(
                        agency=agency,
                        code=f"PCT-{i:03d}",
                        name=f"Precinct {i}",
                        kind=UnitKind.UNIT,
                        parent=district,
                    )
                    for i in range(1, wanted + 1)
                    if f"PCT-{i:03d}" not in existing
                ]
            )
            start = Member.objects.filter(agency=agency).count() + 100_000
            made = create_members(agency, count, seed=options["seed"], start=start)
            detail = {"members": made}
            # Each program makes its own data (tandem/<app>/synthetic.py), as each fills in
            # its own demo: core sits below the programs and imports none of them.
            support = import_module("tandem.support.synthetic")
            recovery = import_module("tandem.recovery.synthetic")
            if options["supporters"]:
                profiles = support.create_supporters(
                    agency, options["supporters"], seed=options["seed"]
                )
                support.create_rotations(agency, profiles)
                detail["supporters"] = len(profiles)
            for key, make in (
                ("clients", recovery.create_clients),
                ("contacts", recovery.create_contacts),
                ("usage", support.create_usage),
            ):
                if options[key]:
                    detail[key] = make(agency, options[key], seed=options["seed"])
            audit_record(
                action="seed.generate",
                agency_id=agency.pk,
                obj=agency,
                detail=detail,
            )
        # Fresh statistics on both engines: until autovacuum gets to it PostgreSQL's planner
        # thinks the bulk-loaded tables are empty and sorts the whole agency for the
        # directory's first page; SQLite's planner has no statistics at all without it.
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        self.stdout.write(self.style.SUCCESS(f"Added {detail} to {agency.name} ({agency.slug})."))
