"""Indexed directory search on PostgreSQL: trigram GIN indexes for the case-insensitive
substring search of names (``icontains`` compiles to ``UPPER(col::text) LIKE UPPER(%s)``),
and an expression index for the exact employee number. Each index leads with nothing but
the expression; the agency filter is applied on the few matching rows. SQLite has no
trigram index: there the directory search scans the agency's members (a small
department's size), which the benchmark reports."""

from __future__ import annotations

from typing import Any

from django.db import migrations

INDEXES = [
    ("agencies_member_last_trgm",
     'CREATE INDEX IF NOT EXISTS agencies_member_last_trgm ON agencies_member '
     'USING gin ((UPPER("last_name"::text)) gin_trgm_ops)'),
    ("agencies_member_first_trgm",
     'CREATE INDEX IF NOT EXISTS agencies_member_first_trgm ON agencies_member '
     'USING gin ((UPPER("first_name"::text)) gin_trgm_ops)'),
    ("agencies_member_number_upper",
     'CREATE INDEX IF NOT EXISTS agencies_member_number_upper ON agencies_member '
     '((UPPER("employee_number"::text)))'),
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
    dependencies = [("agencies", "0002_roster_upload")]
    operations = [migrations.RunPython(create, drop)]
