"""The database itself protects the audit trail (X-4), on SQLite and on PostgreSQL.

* ``audit_auditevent``: UPDATE is always refused; DELETE is refused unless the row is older
  than 365 days (the retention purge is the only delete there is); TRUNCATE is refused.
* ``audit_auditcheckpoint``: UPDATE, DELETE and TRUNCATE are always refused.

Refusals raise SQLSTATE 23001 / SQLITE_CONSTRAINT, i.e. ``django.db.IntegrityError``.
The SQL is frozen here on purpose: later changes go in a new migration.
"""

from django.db import migrations

POSTGRESQL_INSTALL = [
    """
    CREATE OR REPLACE FUNCTION tandem_audit_event_guard() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' AND OLD.occurred_at < now() - interval '365 days' THEN
            RETURN OLD;
        END IF;
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'audit event % is protected: only events older than 365 days may be deleted', OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        RAISE EXCEPTION 'audit event % is protected: audit events can never be changed', OLD.id
            USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION tandem_audit_refuse() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit table % is protected: % is not allowed', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER tandem_audit_event_guard BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION tandem_audit_event_guard()
    """,
    """
    CREATE TRIGGER tandem_audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_audit_refuse()
    """,
    """
    CREATE TRIGGER tandem_audit_checkpoint_guard BEFORE UPDATE OR DELETE ON audit_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION tandem_audit_refuse()
    """,
    """
    CREATE TRIGGER tandem_audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_auditcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_audit_refuse()
    """,
]

POSTGRESQL_REMOVE = [
    "DROP TRIGGER IF EXISTS tandem_audit_event_guard ON audit_auditevent",
    "DROP TRIGGER IF EXISTS tandem_audit_event_no_truncate ON audit_auditevent",
    "DROP TRIGGER IF EXISTS tandem_audit_checkpoint_guard ON audit_auditcheckpoint",
    "DROP TRIGGER IF EXISTS tandem_audit_checkpoint_no_truncate ON audit_auditcheckpoint",
    "DROP FUNCTION IF EXISTS tandem_audit_event_guard()",
    "DROP FUNCTION IF EXISTS tandem_audit_refuse()",
]

# Django stores datetimes in SQLite as UTC text 'YYYY-MM-DD HH:MM:SS[.ffffff]', which sorts
# like datetime('now', '-365 days') ('YYYY-MM-DD HH:MM:SS', also UTC).
SQLITE_INSTALL = [
    """
    CREATE TRIGGER tandem_audit_event_no_update BEFORE UPDATE ON audit_auditevent
    BEGIN
        SELECT RAISE(ABORT, 'audit events are protected: they can never be changed');
    END
    """,
    """
    CREATE TRIGGER tandem_audit_event_no_delete BEFORE DELETE ON audit_auditevent
    WHEN OLD.occurred_at >= datetime('now', '-365 days')
    BEGIN
        SELECT RAISE(ABORT, 'audit events are protected: only events older than 365 days may be deleted');
    END
    """,
    """
    CREATE TRIGGER tandem_audit_checkpoint_no_update BEFORE UPDATE ON audit_auditcheckpoint
    BEGIN
        SELECT RAISE(ABORT, 'audit checkpoints are protected: they can never be changed');
    END
    """,
    """
    CREATE TRIGGER tandem_audit_checkpoint_no_delete BEFORE DELETE ON audit_auditcheckpoint
    BEGIN
        SELECT RAISE(ABORT, 'audit checkpoints are protected: they can never be deleted');
    END
    """,
]

SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS tandem_audit_event_no_update",
    "DROP TRIGGER IF EXISTS tandem_audit_event_no_delete",
    "DROP TRIGGER IF EXISTS tandem_audit_checkpoint_no_update",
    "DROP TRIGGER IF EXISTS tandem_audit_checkpoint_no_delete",
]


def _statements(vendor, install):
    if vendor == "postgresql":
        return POSTGRESQL_INSTALL if install else POSTGRESQL_REMOVE
    if vendor == "sqlite":
        return SQLITE_INSTALL if install else SQLITE_REMOVE
    raise RuntimeError(
        f"Tandem protects its audit trail on SQLite and PostgreSQL only, not on {vendor}."
    )


def install(apps, schema_editor):
    for sql in _statements(schema_editor.connection.vendor, install=True):
        schema_editor.execute(sql, params=None)


def remove(apps, schema_editor):
    for sql in _statements(schema_editor.connection.vendor, install=False):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0002_auditcheckpoint"),
    ]

    operations = [
        migrations.RunPython(install, remove, elidable=False),
    ]
