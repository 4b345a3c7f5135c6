"""``tandem backup FILE``: a consistent copy of the database while Tandem keeps running.

SQLite: the online backup API (a consistent snapshot even with writers active).
PostgreSQL: ``pg_dump --format=custom`` (restore with ``pg_restore --clean``).

Master keys are NOT in the backup, on purpose: keep the key file (or TANDEM_MASTER_KEYS) in
a separate, access-controlled place. Data keys shredded before the backup are not in it.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from tandem.core.hooks import audit_record


class Command(BaseCommand):
    help = "Write a consistent backup of the database to FILE."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("file", help="Where to write the backup (must not exist).")

    def handle(self, *args: Any, **options: Any) -> None:
        target = Path(options["file"])
        if target.exists():
            raise CommandError(f"{target} already exists; choose a new file name.")
        target.parent.mkdir(parents=True, exist_ok=True)
        settings_dict = connection.settings_dict
        if connection.vendor == "sqlite":
            connection.ensure_connection()
            destination = sqlite3.connect(target)
            try:
                connection.connection.backup(destination)
            finally:
                destination.close()
        elif connection.vendor == "postgresql":
            env = {**os.environ, "PGPASSWORD": str(settings_dict.get("PASSWORD") or "")}
            command = [
                "pg_dump",
                "--format=custom",
                "--no-owner",
                f"--file={target}",
                f"--host={settings_dict.get('HOST') or 'localhost'}",
                f"--port={settings_dict.get('PORT') or 5432}",
                f"--username={settings_dict.get('USER') or 'postgres'}",
                str(settings_dict["NAME"]),
            ]
            result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
            if result.returncode != 0:
                raise CommandError(f"pg_dump failed: {result.stderr.strip()}")
        else:
            raise CommandError(f"Backups of {connection.vendor} databases are not supported.")
        os.chmod(target, 0o600)
        audit_record(
            action="backup.create",
            object_type="core.Database",
            detail={"vendor": connection.vendor},
        )
        self.stdout.write(
            self.style.SUCCESS(f"Backup written to {target} ({target.stat().st_size:,} bytes).")
        )
