"""The client search's trigram GIN indexes take each change at once (``fastupdate = off``),
as the directory's do (agencies 0005): PostgreSQL's default pending list, read whole by
every search until a vacuum merges it, made a search of 20,000 bulk-loaded clients read
thousands of unsorted entries. Entries already pending are merged now."""

from __future__ import annotations

from typing import Any

from django.db import migrations

INDEXES = ["recovery_client_name_trgm", "recovery_client_phone_trgm"]


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
    dependencies = [("recovery", "0008_client_list_order")]
    operations = [migrations.RunPython(written_at_once, pending_list)]
