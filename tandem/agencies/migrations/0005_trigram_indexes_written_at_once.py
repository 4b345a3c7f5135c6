"""The directory's trigram GIN indexes take each change at once (``fastupdate = off``).

With PostgreSQL's default a GIN index collects new entries in an unsorted pending list
until a vacuum or the list's size limit (4 MB: about 20,000 names) merges them, and every
search reads that whole list: at 50,000 bulk-loaded members each name index answered in
8 ms instead of 0.1 ms, and its estimated cost drove the planner away from it. Members
change a few at a time (the roster import aside), so the small extra cost per write buys a
search that costs the same whenever it runs. Entries already pending are merged now."""

from __future__ import annotations

from typing import Any

from django.db import migrations

INDEXES = ["agencies_member_last_trgm", "agencies_member_first_trgm"]


def written_at_once(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX IF EXISTS {name} SET (fastupdate = off)")
        schema_editor.execute(
            f"SELECT gin_clean_pending_list(c.oid) FROM pg_class c WHERE c.relname = '{name}'"
        )


def pending_list(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"ALTER INDEX IF EXISTS {name} RESET (fastupdate)")


class Migration(migrations.Migration):
    dependencies = [("agencies", "0004_directory_order_and_sqlite_search")]
    operations = [migrations.RunPython(written_at_once, pending_list)]
