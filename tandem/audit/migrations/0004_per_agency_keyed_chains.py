"""Per-agency, keyed chains (issue 11).

* Every event gets its chain (the agency's id, or 0 for deployment-level events), its number
  ``seq`` in that chain, and the id of the audit key whose HMAC its ``hash`` now is.
* Existing events are re-sealed once, chain by chain, under the current audit key (the file
  must exist when there are events: `tandem audit keygen`). Run `tandem audit verify` with
  the previous release before upgrading: the old, unkeyed chain is not kept. Purge
  checkpoints of the old global chain are kept, moved to chain -1, which verify ignores.
* SQLite: INSERT triggers refuse a seq at or below the last of its chain, an id that exists
  and an id below the highest, which is what ``INSERT OR REPLACE`` needs to rewrite or
  remove a row (REPLACE deletes the old row without firing DELETE triggers). BEFORE INSERT
  triggers run while the row REPLACE would delete is still there.
* PostgreSQL: ``tandem_audit_purge(chain, through_seq)``, a SECURITY DEFINER function, is the
  only way the retention purge deletes, so the application role needs no DELETE privilege
  once `tandem audit setup-roles` has made another role the owner of the audit tables.

The SQL is frozen here on purpose: later changes go in a new migration.
"""

import hashlib
import hmac
from datetime import UTC

from django.db import migrations, models

from tandem.audit.models import canonical_json

GENESIS = "0" * 64
LEGACY_CHAIN = -1

SQLITE_OLD = [
    "DROP TRIGGER IF EXISTS tandem_audit_event_no_update",
    "DROP TRIGGER IF EXISTS tandem_audit_event_no_delete",
    "DROP TRIGGER IF EXISTS tandem_audit_checkpoint_no_update",
    "DROP TRIGGER IF EXISTS tandem_audit_checkpoint_no_delete",
]
SQLITE_NEW = SQLITE_OLD + [
    "DROP TRIGGER IF EXISTS tandem_audit_event_append_only",
    "DROP TRIGGER IF EXISTS tandem_audit_event_id_ascending",
    "DROP TRIGGER IF EXISTS tandem_audit_checkpoint_append_only",
    "DROP TRIGGER IF EXISTS tandem_audit_checkpoint_id_ascending",
]

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
    # BEFORE INSERT runs while the row that INSERT OR REPLACE would delete is still there.
    """
    CREATE TRIGGER tandem_audit_event_append_only BEFORE INSERT ON audit_auditevent
    WHEN NEW.seq <= COALESCE((SELECT MAX(seq) FROM audit_auditevent WHERE chain = NEW.chain), 0)
      OR NEW.seq <= COALESCE(
        (SELECT MAX(through_seq) FROM audit_auditcheckpoint WHERE chain = NEW.chain), 0)
      OR EXISTS (SELECT 1 FROM audit_auditevent WHERE id = NEW.id)
    BEGIN
        SELECT RAISE(ABORT, 'audit events are append-only: seq or id at or below the last');
    END
    """,
    """
    CREATE TRIGGER tandem_audit_event_id_ascending AFTER INSERT ON audit_auditevent
    WHEN NEW.id < (SELECT MAX(id) FROM audit_auditevent)
    BEGIN
        SELECT RAISE(ABORT, 'audit events are append-only: id below the last one');
    END
    """,
    """
    CREATE TRIGGER tandem_audit_checkpoint_append_only BEFORE INSERT ON audit_auditcheckpoint
    WHEN NEW.through_seq <= COALESCE(
        (SELECT MAX(through_seq) FROM audit_auditcheckpoint WHERE chain = NEW.chain), 0)
      OR EXISTS (SELECT 1 FROM audit_auditcheckpoint WHERE id = NEW.id)
    BEGIN
        SELECT RAISE(ABORT, 'audit checkpoints are append-only');
    END
    """,
    """
    CREATE TRIGGER tandem_audit_checkpoint_id_ascending AFTER INSERT ON audit_auditcheckpoint
    WHEN NEW.id < (SELECT MAX(id) FROM audit_auditcheckpoint)
    BEGIN
        SELECT RAISE(ABORT, 'audit checkpoints are append-only: id below the last one');
    END
    """,
]

POSTGRESQL_INSTALL = [
    "ALTER TABLE audit_auditevent ENABLE TRIGGER USER",
    "ALTER TABLE audit_auditcheckpoint ENABLE TRIGGER USER",
    """
    CREATE OR REPLACE FUNCTION tandem_audit_purge(p_chain bigint, p_through_seq bigint)
    RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path FROM CURRENT AS $$
    DECLARE
        deleted bigint;
    BEGIN
        DELETE FROM audit_auditevent WHERE chain = p_chain AND seq <= p_through_seq;
        GET DIAGNOSTICS deleted = ROW_COUNT;
        RETURN deleted;
    END
    $$
    """,
    "REVOKE ALL ON FUNCTION tandem_audit_purge(bigint, bigint) FROM PUBLIC",
    # Ids were assigned by the application before; the database assigns them from now on.
    """
    SELECT setval(pg_get_serial_sequence('audit_auditevent', 'id'),
                  COALESCE((SELECT MAX(id) FROM audit_auditevent), 0) + 1, false)
    """,
]


def lift(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        schema_editor.execute("ALTER TABLE audit_auditcheckpoint DISABLE TRIGGER USER")
    else:
        for sql in SQLITE_NEW:
            schema_editor.execute(sql)


def install(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        statements = POSTGRESQL_INSTALL
    else:
        statements = SQLITE_NEW + SQLITE_INSTALL
    for sql in statements:
        schema_editor.execute(sql, params=None)


def _current_key():
    """The signing key; outside production a missing key file is created (``keys.py``)."""
    from tandem.audit.keys import audit_keys

    ring = audit_keys()
    return ring.current_id, ring.get(ring.current_id)


def _payload(event, chain, seq, key_id):
    return canonical_json({
        "chain": chain, "seq": seq, "key_id": key_id,
        "agency_id": event.agency_id, "actor_id": event.actor_id,
        "actor_label": event.actor_label, "action": event.action,
        "object_type": event.object_type, "object_id": event.object_id,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "ip_address": event.ip_address, "outcome": event.outcome,
        "purpose": event.purpose, "detail": event.detail,
    })


def reseal(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    AuditCheckpoint = apps.get_model("audit", "AuditCheckpoint")
    AuditCheckpoint.objects.update(chain=LEGACY_CHAIN, through_seq=models.F("through_id"))
    if not AuditEvent.objects.exists():
        return
    key_id, key = _current_key()
    heads = {}
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=2000):
        chain = event.agency_id if event.agency_id is not None else 0
        seq, prev = heads.get(chain, (0, GENESIS))
        seq += 1
        message = prev + "\n" + _payload(event, chain, seq, key_id)
        digest = hmac.new(key, message.encode(), hashlib.sha256).hexdigest()
        AuditEvent.objects.filter(pk=event.pk).update(
            chain=chain, seq=seq, key_id=key_id, prev_hash=prev, hash=digest
        )
        heads[chain] = (seq, digest)


def restore_0003(apps, schema_editor):
    """Back to migration 0003's protection."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS tandem_audit_purge(bigint, bigint)")
        schema_editor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
        schema_editor.execute("ALTER TABLE audit_auditcheckpoint ENABLE TRIGGER USER")
        return
    for sql in SQLITE_NEW + SQLITE_INSTALL[:4]:
        schema_editor.execute(sql, params=None)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0003_database_protection"),
    ]

    operations = [
        migrations.RunPython(lift, restore_0003, elidable=False),
        migrations.AddField(
            model_name="auditevent",
            name="chain",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="seq",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditevent",
            name="key_id",
            field=models.CharField(default="", max_length=40),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="auditcheckpoint",
            name="chain",
            field=models.BigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="auditcheckpoint",
            name="through_seq",
            field=models.BigIntegerField(default=0),
            preserve_default=False,
        ),
        migrations.RunPython(reseal, migrations.RunPython.noop, elidable=False),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.UniqueConstraint(
                fields=("chain", "seq"), name="audit_event_chain_seq"
            ),
        ),
        migrations.AddConstraint(
            model_name="auditevent",
            constraint=models.CheckConstraint(
                condition=models.Q(("agency_id__isnull", True), ("chain", 0))
                | models.Q(("chain", models.F("agency_id"))),
                name="audit_event_chain_is_agency",
            ),
        ),
        migrations.AddConstraint(
            model_name="auditcheckpoint",
            constraint=models.UniqueConstraint(
                fields=("chain", "through_seq"), name="audit_checkpoint_chain_seq"
            ),
        ),
        migrations.RunPython(install, lift, elidable=False),
    ]
