"""``tandem audit verify | purge | checkpoint | export | keygen | setup-roles``.

verify:      checks every chain (or one agency's with ``--agency SLUG``): each event's MAC,
             the links, seq continuity and the latest signed checkpoint; and the checkpoint
             file: its lines chained, as long as the database recorded, fresh. Exit status 0 when
             intact, 1 naming the chain, the event and what is wrong, 2 when the chains are
             intact but the database protection (triggers) is missing.
purge:       deletes each chain's events older than its agency's retention period (never
             under 365 days) and records a purge checkpoint; audited itself.
checkpoint:  signs the head of every chain and appends it to the checkpoint file (and syslog),
             recording the newest line as an ``audit.checkpoint`` event.
export:      one agency's trail as JSON lines or syslog lines, ending with a signed checkpoint.
keygen:      creates the audit key file (0600); ``--rotate`` puts a new signing key first.
setup-roles: PostgreSQL least privilege: another role owns the audit tables, the application
             role may only SELECT and INSERT them (see ``audit/roles.py``).
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from tandem.audit.checkpoints import audit_checkpoint, checkpoint_file_path
from tandem.audit.export import FORMATS, export_lines
from tandem.audit.keys import (
    audit_key_rotate,
    audit_keys,
    ensure_demo_audit_key,
    generate_audit_key_line,
    key_file_path,
)
from tandem.audit.roles import setup_roles, setup_roles_sql
from tandem.audit.services import audit_purge, audit_record
from tandem.audit.verify import DEFAULT_BATCH_SIZE, verify_chain


def _when(moment: Any) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if moment else "-"


def _agency(slug: str) -> Any:
    from tandem.agencies.models import Agency

    agency = Agency.objects.filter(slug=slug).first()
    if agency is None:
        raise CommandError(f"No agency with the slug {slug!r}.")
    return agency


def _since(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise CommandError(f"--since {value!r} is not a date (YYYY-MM-DD[THH:MM]).") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Verify, purge, checkpoint or export the audit trail; manage its key and roles."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        verify = sub.add_parser("verify", help="Check the chains; non-zero exit when broken.")
        verify.add_argument("--agency", metavar="SLUG", help="Only this agency's chain.")
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
        sub.add_parser("checkpoint", help="Sign every chain head and write it out now.")
        export = sub.add_parser("export", help="One agency's trail for a SIEM or an archive.")
        export.add_argument("--agency", metavar="SLUG", required=True)
        export.add_argument("--format", choices=FORMATS, default="jsonl")
        export.add_argument("--since", help="Only events from this UTC date or moment on.")
        export.add_argument("--output", help="Write to this file instead of standard output.")
        keygen = sub.add_parser("keygen", help="Create the audit key file (mode 0600).")
        keygen.add_argument(
            "--rotate", action="store_true", help="Put a new signing key first; keep the old."
        )
        keygen.add_argument(
            "--print", action="store_true", help="Only print a new 'id:base64key' line."
        )
        roles = sub.add_parser("setup-roles", help="PostgreSQL: least privilege on audit tables.")
        roles.add_argument("--owner", default="tandem_audit_owner")
        roles.add_argument("--app-role", help="The application's role (default: current user).")
        roles.add_argument(
            "--print-sql", action="store_true", help="Print the SQL instead of running it."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        handler = getattr(self, "_" + options["subcommand"].replace("-", "_"))
        handler(options)

    def _verify(self, options: dict[str, Any]) -> None:
        agency_id = _agency(options["agency"]).pk if options["agency"] else None
        result = verify_chain(agency_id=agency_id, batch_size=max(1, options["batch_size"]))
        if not result.ok:
            raise CommandError(result.message, returncode=1)
        self.stdout.write(self.style.SUCCESS(result.message))
        if not result.protected:
            raise CommandError(
                "The database protection of the audit tables is missing or disabled: "
                + ", ".join(result.missing_protection)
                + ". Find out who removed it, then reinstall it: "
                "`tandem migrate audit 0003 && tandem migrate audit`.",
                returncode=2,
            )

    def _purge(self, options: dict[str, Any]) -> None:
        dry_run = options["dry_run"]
        try:
            result = audit_purge(dry_run=dry_run)
        except DatabaseError as error:
            raise CommandError(f"The database refused the purge: {error}") from error
        cutoff = _when(result.cutoff)
        if dry_run:
            self.stdout.write(
                f"{result.deleted:,} events from before their chain's retention cut-off would "
                f"be deleted (longest retention {result.retention_days} days, {cutoff})."
            )
        elif result.deleted:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Deleted {result.deleted:,} events older than their chain's retention "
                    f"period (longest {result.retention_days} days). Purge checkpoints recorded."
                )
            )
        else:
            self.stdout.write("Nothing to purge: no events older than their retention period.")

    def _checkpoint(self, options: dict[str, Any]) -> None:
        points = audit_checkpoint(force=True)
        for point in points:
            name = f"agency {point.agency}" if point.chain else "deployment chain"
            self.stdout.write(f"Checkpoint: {name} at #{point.seq}.")
        self.stdout.write(f"{len(points)} checkpoint(s) appended to {checkpoint_file_path()}.")

    def _export(self, options: dict[str, Any]) -> None:
        agency = _agency(options["agency"])
        since = _since(options["since"]) if options["since"] else None
        audit_record(
            action="audit.export",
            agency_id=agency.pk,
            object_type="agencies.Agency",
            object_id=agency.pk,
            detail={"format": options["format"], "since": options["since"] or ""},
        )
        lines = export_lines(
            agency_id=agency.pk, agency_slug=agency.slug, fmt=options["format"], since=since
        )
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8") as handle:
                for line in lines:
                    handle.write(line + "\n")
        else:
            for line in lines:
                self.stdout.write(line)

    def _keygen(self, options: dict[str, Any]) -> None:
        if options["print"]:
            self.stdout.write(generate_audit_key_line())
            return
        path = key_file_path()
        if options["rotate"]:
            key_id = audit_key_rotate()
            audit_record(action="audit.key_rotated", detail={"key_id": key_id})
            self.stdout.write(f"New audit key {key_id} signs from now on ({path}).")
            return
        if path.exists():
            audit_keys()  # fails loudly when the existing file is unusable
            self.stdout.write(f"The audit key file {path} exists already; nothing changed.")
            return
        ensure_demo_audit_key(key_id=None)
        self.stdout.write(
            f"Audit key file created: {path} (mode 0600). Back it up apart from the database."
        )

    def _setup_roles(self, options: dict[str, Any]) -> None:
        app_role = options["app_role"] or connection.settings_dict.get("USER") or ""
        try:
            if options["print_sql"]:
                for sql in setup_roles_sql(owner=options["owner"], app_role=app_role):
                    sys.stdout.write(sql + ";\n")
                return
            setup_roles(owner=options["owner"], app_role=app_role)
        except (ValueError, DatabaseError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"The audit tables now belong to {options['owner']}; {app_role} may only "
            "SELECT and INSERT them."
        )
