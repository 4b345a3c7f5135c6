"""Monthly usage counts (``UsageMonth``, see ``tandem.reports.rollups``) and the triggers that
keep them exact: any insert, change or delete of a usage record deletes the row of the month
the record was (and is) closed in, on SQLite and PostgreSQL, whoever writes (the daily batch,
the seed, a purge, SQL typed by an operator). On PostgreSQL the trigger first takes the
agency's advisory lock (namespace 714622) that ``rollups.months_make`` holds while it counts,
and a TRUNCATE of the usage records empties the table of counts.

The SQL is frozen here on purpose: later changes go in a new migration.
"""

import uuid

import django.db.models.deletion
from django.db import migrations, models

POSTGRESQL_INSTALL = [
    """
    CREATE OR REPLACE FUNCTION tandem_usage_month_forget() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' OR TG_OP = 'UPDATE' THEN
            PERFORM pg_advisory_xact_lock(714622, (NEW.agency_id % 2147483648)::integer);
            IF NEW.closed_at IS NOT NULL THEN
                DELETE FROM reports_usagemonth
                WHERE agency_id = NEW.agency_id
                  AND starts_at <= NEW.closed_at AND ends_before > NEW.closed_at;
            END IF;
        END IF;
        IF TG_OP = 'UPDATE' OR TG_OP = 'DELETE' THEN
            PERFORM pg_advisory_xact_lock(714622, (OLD.agency_id % 2147483648)::integer);
            IF OLD.closed_at IS NOT NULL THEN
                DELETE FROM reports_usagemonth
                WHERE agency_id = OLD.agency_id
                  AND starts_at <= OLD.closed_at AND ends_before > OLD.closed_at;
            END IF;
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE OR REPLACE FUNCTION tandem_usage_month_forget_all() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        DELETE FROM reports_usagemonth;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER tandem_usage_month_forget
    AFTER INSERT OR UPDATE OR DELETE ON support_usagerecord
    FOR EACH ROW EXECUTE FUNCTION tandem_usage_month_forget()
    """,
    """
    CREATE TRIGGER tandem_usage_month_forget_all
    AFTER TRUNCATE ON support_usagerecord
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_usage_month_forget_all()
    """,
]

POSTGRESQL_REMOVE = [
    "DROP TRIGGER IF EXISTS tandem_usage_month_forget ON support_usagerecord",
    "DROP TRIGGER IF EXISTS tandem_usage_month_forget_all ON support_usagerecord",
    "DROP FUNCTION IF EXISTS tandem_usage_month_forget()",
    "DROP FUNCTION IF EXISTS tandem_usage_month_forget_all()",
]

_FORGET = """
    DELETE FROM reports_usagemonth
    WHERE agency_id = {row}.agency_id
      AND starts_at <= {row}.closed_at AND ends_before > {row}.closed_at;
"""

SQLITE_INSTALL = [
    f"""
    CREATE TRIGGER tandem_usage_month_forget_insert AFTER INSERT ON support_usagerecord
    WHEN NEW.closed_at IS NOT NULL
    BEGIN {_FORGET.format(row="NEW")} END
    """,
    f"""
    CREATE TRIGGER tandem_usage_month_forget_update AFTER UPDATE ON support_usagerecord
    BEGIN {_FORGET.format(row="OLD")} {_FORGET.format(row="NEW")} END
    """,
    f"""
    CREATE TRIGGER tandem_usage_month_forget_delete AFTER DELETE ON support_usagerecord
    WHEN OLD.closed_at IS NOT NULL
    BEGIN {_FORGET.format(row="OLD")} END
    """,
]

SQLITE_REMOVE = [
    "DROP TRIGGER IF EXISTS tandem_usage_month_forget_insert",
    "DROP TRIGGER IF EXISTS tandem_usage_month_forget_update",
    "DROP TRIGGER IF EXISTS tandem_usage_month_forget_delete",
]


def _statements(vendor, install):
    if vendor == "postgresql":
        return POSTGRESQL_INSTALL if install else POSTGRESQL_REMOVE
    if vendor == "sqlite":
        return SQLITE_INSTALL if install else SQLITE_REMOVE
    raise RuntimeError(
        f"Tandem keeps monthly usage counts on SQLite and PostgreSQL only, not on {vendor}."
    )


def install(apps, schema_editor):
    for sql in _statements(schema_editor.connection.vendor, install=True):
        schema_editor.execute(sql, params=None)


def remove(apps, schema_editor):
    for sql in _statements(schema_editor.connection.vendor, install=False):
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("agencies", "0004_directory_order_and_sqlite_search"),
        ("reports", "0001_initial"),
        ("support", "0006_coverage_snapshot"),
    ]

    operations = [
        migrations.CreateModel(
            name="UsageMonth",
            fields=[
                (
                    "id",
                    models.UUIDField(
                        default=uuid.uuid4, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("starts_at", models.DateTimeField()),
                ("ends_before", models.DateTimeField()),
                ("shape", models.CharField(max_length=64)),
                ("counts", models.JSONField(default=dict)),
                (
                    "agency",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="+",
                        to="agencies.agency",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.UniqueConstraint(
                        fields=("agency", "starts_at", "ends_before"),
                        name="reports_usage_month_once",
                    )
                ],
            },
        ),
        migrations.RunPython(install, remove, elidable=False),
    ]
