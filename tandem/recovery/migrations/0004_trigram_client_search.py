"""Indexed client search on PostgreSQL: trigram GIN indexes for the substring search of the
normalised name and phone digits (``contains`` compiles to ``LIKE %s`` with wildcards on both
sides, which a b-tree cannot serve). SQLite keeps its b-tree indexes."""

from __future__ import annotations

from typing import Any

from django.db import migrations

INDEXES = [
    ("recovery_client_name_trgm",
     "CREATE INDEX IF NOT EXISTS recovery_client_name_trgm ON recovery_client "
     "USING gin (name_key gin_trgm_ops)"),
    ("recovery_client_phone_trgm",
     "CREATE INDEX IF NOT EXISTS recovery_client_phone_trgm ON recovery_client "
     "USING gin (phone_digits gin_trgm_ops)"),
]


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for _, sql in INDEXES:
        schema_editor.execute(sql)


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("recovery", "0003_patrol_call")]
    operations = [migrations.RunPython(create, drop)]
