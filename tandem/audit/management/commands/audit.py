"""``tandem audit verify`` and ``tandem audit purge``.

verify: walks the hash chain; exit status 0 when intact, 1 naming the first broken link,
        2 when the chain is intact but the database protection (triggers) is missing.
purge:  deletes the events older than the retention period (the longest audit retention of
        any agency's policy, never under 365 days) and records a checkpoint; audited itself.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from tandem.audit.services import audit_purge
from tandem.audit.verify import DEFAULT_BATCH_SIZE, verify_chain


def _when(moment: Any) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if moment else "-"


class Command(BaseCommand):
    help = "Verify or purge the audit trail."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="{verify,purge}")
        verify = sub.add_parser("verify", help="Check the hash chain; non-zero exit when broken.")
        verify.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help="Events read per query (memory stays bounded).",
        )
        purge = sub.add_parser("purge", help="Delete events older than the retention period.")
        purge.add_argument(
            "--dry-run", action="store_true", help="Only say how many events would be deleted."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "verify":
            self._verify(max(1, options["batch_size"]))
        else:
            self._purge(dry_run=options["dry_run"])

    def _verify(self, batch_size: int) -> None:
        result = verify_chain(batch_size=batch_size)
        if not result.ok:
            raise CommandError(result.message, returncode=1)
        self.stdout.write(self.style.SUCCESS(result.message))
        if result.count:
            self.stdout.write(
                f"First event at {_when(result.first_at)}, last at {_when(result.last_at)}."
            )
        if not result.protected:
            raise CommandError(
                "The database protection of the audit tables is missing or disabled: "
                + ", ".join(result.missing_protection)
                + ". Find out who removed it, then reinstall it: "
                "`tandem migrate audit 0002 && tandem migrate audit`.",
                returncode=2,
            )

    def _purge(self, *, dry_run: bool) -> None:
        try:
            result = audit_purge(dry_run=dry_run)
        except DatabaseError as error:
            raise CommandError(f"The database refused the purge: {error}") from error
        cutoff = _when(result.cutoff)
        if dry_run:
            self.stdout.write(
                f"{result.deleted:,} events from before {cutoff} would be deleted "
                f"(retention {result.retention_days} days)."
            )
        elif result.deleted:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Deleted {result.deleted:,} events from before {cutoff} "
                    f"(up to #{result.through_id}; retention {result.retention_days} days). "
                    "Checkpoint recorded."
                )
            )
        else:
            self.stdout.write(f"Nothing to purge: no events from before {cutoff}.")
