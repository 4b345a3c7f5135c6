"""The directory's first page straight from an index, and indexed name search on SQLite.

* ``member_directory_order`` covers the directory's whole sort (agency, last name, first
  name, employee number; the row id comes with every SQLite index entry and is the last
  tie-breaker): the first page and every "Next" read 51 index entries instead of sorting
  the agency. The older (agency, active, last_name) index cannot serve it on SQLite, where
  Django writes ``active = true`` as a bare column test the planner does not match to the
  index's second column.
* On SQLite, ``agencies_member_fts`` is an FTS5 index with the trigram tokenizer over the
  first and last names (external content: the names are not stored a second time), kept in
  step by triggers on every insert, update and delete — bulk loads and imports included. A
  search of three characters or more (``MemberQuerySet.search``) matches the same substrings
  ``icontains`` does, from the index. PostgreSQL has its trigram GIN indexes (0003); the
  virtual table and triggers are created on SQLite only.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

FTS = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS agencies_member_fts USING fts5("
    "first_name, last_name, content='agencies_member', content_rowid='id', "
    "tokenize='trigram')",
    "CREATE TRIGGER IF NOT EXISTS agencies_member_fts_insert AFTER INSERT ON agencies_member "
    "BEGIN INSERT INTO agencies_member_fts(rowid, first_name, last_name) "
    "VALUES (new.id, new.first_name, new.last_name); END",
    "CREATE TRIGGER IF NOT EXISTS agencies_member_fts_delete AFTER DELETE ON agencies_member "
    "BEGIN INSERT INTO agencies_member_fts(agencies_member_fts, rowid, first_name, last_name) "
    "VALUES ('delete', old.id, old.first_name, old.last_name); END",
    "CREATE TRIGGER IF NOT EXISTS agencies_member_fts_update "
    "AFTER UPDATE OF first_name, last_name ON agencies_member "
    "BEGIN INSERT INTO agencies_member_fts(agencies_member_fts, rowid, first_name, last_name) "
    "VALUES ('delete', old.id, old.first_name, old.last_name); "
    "INSERT INTO agencies_member_fts(rowid, first_name, last_name) "
    "VALUES (new.id, new.first_name, new.last_name); END",
    "INSERT INTO agencies_member_fts(agencies_member_fts) VALUES ('rebuild')",
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
        schema_editor.execute(f"DROP TRIGGER IF EXISTS agencies_member_fts_{name}")
    schema_editor.execute("DROP TABLE IF EXISTS agencies_member_fts")


class Migration(migrations.Migration):
    dependencies = [("agencies", "0003_trigram_search_indexes")]
    operations = [
        migrations.AddIndex(
            model_name="member",
            index=models.Index(
                fields=["agency", "last_name", "first_name", "employee_number"],
                name="member_directory_order",
            ),
        ),
        migrations.RunPython(create, drop),
    ]
