"""``tandem seed --members N``: synthetic data at scale, for benchmarks and load tests."""

from __future__ import annotations

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
            audit_record(
                action="seed.generate",
                agency_id=agency.pk,
                obj=agency,
                detail={"members": made},
            )
        if connection.vendor == "postgresql":
            # Fresh statistics: until autovacuum gets to it the planner thinks the bulk-loaded
            # table is empty and sorts the whole agency for the directory's first page.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE agencies_member")
        self.stdout.write(
            self.style.SUCCESS(f"Added {made} members to {agency.name} ({agency.slug}).")
        )
