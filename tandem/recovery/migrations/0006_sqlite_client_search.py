"""Indexed client search on SQLite: ``recovery_client_fts``, an FTS5 index with the trigram
tokenizer over the normalised name key and the phone digits (external content: nothing is
stored a second time), kept in step by triggers on every insert, update (a rename, a merge,
a shredding) and delete. ``selectors.client_search`` reads it for words and digits of three
characters or more; PostgreSQL has its trigram GIN indexes (0004), and nothing is created
there."""

from __future__ import annotations

from typing import Any

from django.db import migrations

FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS recovery_client_fts USING fts5("
    "name_key, phone_digits, content='recovery_client', content_rowid='id', "
    "tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS recovery_client_fts_insert AFTER INSERT ON recovery_client "
    "BEGIN INSERT INTO recovery_client_fts(rowid, name_key, phone_digits) "
    "VALUES (new.id, new.name_key, new.phone_digits); END",
    "CREATE TRIGGER IF NOT EXISTS recovery_client_fts_delete AFTER DELETE ON recovery_client "
    "BEGIN INSERT INTO recovery_client_fts(recovery_client_fts, rowid, name_key, phone_digits) "
    "VALUES ('delete', old.id, old.name_key, old.phone_digits); END",
    "CREATE TRIGGER IF NOT EXISTS recovery_client_fts_update "
    "AFTER UPDATE OF name_key, phone_digits ON recovery_client "
    "BEGIN INSERT INTO recovery_client_fts(recovery_client_fts, rowid, name_key, phone_digits) "
    "VALUES ('delete', old.id, old.name_key, old.phone_digits); "
    "INSERT INTO recovery_client_fts(rowid, name_key, phone_digits) "
    "VALUES (new.id, new.name_key, new.phone_digits); END",
    "INSERT INTO recovery_client_fts(recovery_client_fts) VALUES ('rebuild')",
]


def create(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for sql in FTS:
        schema_editor.execute(sql)


def drop(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "sqlite":
        return
    for name in ("insert", "delete", "update"):
        schema_editor.execute(f"DROP TRIGGER IF EXISTS recovery_client_fts_{name}")
    schema_editor.execute("DROP TABLE IF EXISTS recovery_client_fts")


class Migration(migrations.Migration):
    dependencies = [("recovery", "0005_personnel_evaluation_feedback")]
    operations = [migrations.RunPython(create, drop)]
