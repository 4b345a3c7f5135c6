"""``tandem roster import FILE --agency SLUG [--commit]``: the HR roster import from the
command line. Without ``--commit`` it only shows what would change (dry run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from tandem.agencies.models import Agency
from tandem.agencies.roster import MAX_BYTES, RosterError, RosterPlan, roster_plan
from tandem.agencies.services import roster_import_file


class Command(BaseCommand):
    help = "Import an HR roster CSV into an agency (dry run unless --commit)."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        imp = sub.add_parser("import", help="Check, and with --commit import, a roster CSV.")
        imp.add_argument("file", help="CSV file with a header row.")
        imp.add_argument("--agency", required=True, help="Agency slug.")
        imp.add_argument("--commit", action="store_true", help="Apply the changes.")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = Agency.objects.filter(slug=options["agency"]).first()
        if agency is None:
            raise CommandError(f"No agency with the slug '{options['agency']}'.")
        path = Path(options["file"])
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        try:
            if options["commit"]:
                plan = roster_import_file(
                    acting_user=None, agency=agency, data=data, filename=path.name
                )
            else:
                plan = roster_plan(agency, data)
        except RosterError as exc:
            raise CommandError("The file was not imported:\n" + "\n".join(exc.errors)) from None
        self._report(plan, committed=options["commit"])

    def _report(self, plan: RosterPlan, *, committed: bool) -> None:
        for warning in plan.warnings:
            self.stdout.write(self.style.WARNING(warning))
        for row in plan.added:
            self.stdout.write(
                f"+ row {row.row}: {row.employee_number} {row.last_name}, {row.first_name}"
            )
        for change in plan.changed:
            fields = ", ".join(f"{n}: {b!r} -> {a!r}" for n, b, a in change.fields)
            self.stdout.write(f"~ row {change.row.row}: {change.member.employee_number} {fields}")
        for member in plan.deactivated:
            self.stdout.write(f"- {member.employee_number} {member.last_name}, {member.first_name}")
        verb = "Imported" if committed else "Dry run (use --commit to apply)"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb}: {len(plan.added)} added, {len(plan.changed)} changed, "
                f"{len(plan.deactivated)} deactivated, {plan.unchanged} unchanged."
            )
        )
