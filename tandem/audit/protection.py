"""Inspecting the database-level protection of the audit tables (migrations 0003 and 0004).

``missing_protection()`` names the triggers that are absent or disabled, so ``tandem audit
verify`` can warn when someone switched the protection off (for example an SQLite table
rebuild by a later migration, which silently drops the table's triggers).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db.backends.base.base import BaseDatabaseWrapper

AUDIT_TABLES = ("audit_auditevent", "audit_auditcheckpoint")

EXPECTED_TRIGGERS = {
    "postgresql": (
        "tandem_audit_event_guard",
        "tandem_audit_event_no_truncate",
        "tandem_audit_checkpoint_guard",
        "tandem_audit_checkpoint_no_truncate",
    ),
    "sqlite": (
        "tandem_audit_event_no_update",
        "tandem_audit_event_no_delete",
        "tandem_audit_checkpoint_no_update",
        "tandem_audit_checkpoint_no_delete",
        "tandem_audit_event_append_only",
        "tandem_audit_event_id_ascending",
        "tandem_audit_checkpoint_append_only",
        "tandem_audit_checkpoint_id_ascending",
    ),
}


def _present_triggers(connection: BaseDatabaseWrapper) -> set[str]:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE c.relname = ANY(%s) AND NOT t.tgisinternal AND t.tgenabled <> 'D' "
                "AND c.relnamespace = to_regnamespace(current_schema())",
                [list(AUDIT_TABLES)],
            )
        else:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)",
                list(AUDIT_TABLES),
            )
        return {row[0] for row in cursor.fetchall()}


def missing_protection(connection: BaseDatabaseWrapper) -> list[str]:
    """Names of protection triggers that are missing or disabled (empty when all is well)."""
    expected = EXPECTED_TRIGGERS.get(connection.vendor)
    if expected is None:
        return [f"no protection exists for {connection.vendor} databases"]
    present = _present_triggers(connection)
    return [name for name in expected if name not in present]


@contextmanager
def protection_lifted(connection: BaseDatabaseWrapper) -> Iterator[None]:
    """Switch the triggers off for the enclosed block; the caller must hold a transaction, so
    the protection is back (or never went) whatever happens. Only ``flush`` in the test
    environment uses this (see management/commands/flush.py)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in AUDIT_TABLES:
                cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")  # noqa: S608
            yield
            for table in AUDIT_TABLES:
                cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")  # noqa: S608
            return
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN (%s, %s)",
            list(AUDIT_TABLES),
        )
        saved = cursor.fetchall()
        for name, _sql in saved:
            cursor.execute(f'DROP TRIGGER "{name}"')
        yield
        for _name, sql in saved:
            cursor.execute(sql)
