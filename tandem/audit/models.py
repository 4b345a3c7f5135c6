"""The audit trail: append-only, keyed, hash-chained per agency (X-4, P3).

Each agency's events form their own chain (``chain`` = the agency's id; events of no agency,
such as operator commands, form the deployment chain ``0``), numbered ``seq`` 1, 2, 3, ...
Each row's ``hash`` is HMAC-SHA256, under the audit key named by ``key_id`` (a file outside
the database, ``audit/keys.py``), over its canonical content, its chain and seq and the
previous row's hash. So an altered, removed or re-ordered row breaks the chain at that
point, and nobody without the key file can recompute the chain after a rewrite. Signed
checkpoints of each chain head, kept outside the database (``audit/checkpoints.py``), catch
the removal of the newest rows. The database refuses UPDATE and DELETE on this table
(triggers in migrations 0003 and 0004); rows older than the retention period (never under
365 days) are the only ones that may be purged, and a purge leaves an ``AuditCheckpoint``
so the first remaining row of that chain still links to something.

Nothing here may name a peer-support requester: ``detail`` holds ids and categories only.
"""

from __future__ import annotations

import hmac
import json
from datetime import UTC
from decimal import Decimal
from typing import Any

from django.db import models

GENESIS_HASH = "0" * 64
#: The floor for every retention setting, enforced by the database triggers as well.
MIN_RETENTION_DAYS = 365


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    DENIED = "denied", "Denied"
    FAILED = "failed", "Failed"


def canonical_json(value: Any) -> str:
    """Deterministic JSON text for hashing, identical before and after a database round trip.

    ``json.dumps`` alone is not: PostgreSQL's jsonb rewrites numbers (``1e20`` comes back as
    the integer ``100000000000000000000``), which would make an untouched row look altered.
    Numbers are therefore written as exact plain decimals (``1.0`` and ``1`` both give ``1``).
    """
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    if isinstance(value, int | float):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        if not number.is_finite():
            return json.dumps(str(value))
        return format(number.normalize(), "f")
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        items = sorted((str(key), item) for key, item in value.items())
        return "{" + ",".join(f"{json.dumps(k)}:{canonical_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_json(item) for item in value) + "]"
    return json.dumps(str(value))


DEPLOYMENT_CHAIN = 0


def chain_for(agency_id: int | None) -> int:
    return DEPLOYMENT_CHAIN if agency_id is None else int(agency_id)


class AuditEvent(models.Model):
    # Plain integers, not foreign keys: deleting an account or agency must never cascade here.
    agency_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_label = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=80, db_index=True)
    object_type = models.CharField(max_length=80, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    occurred_at = models.DateTimeField(db_index=True)
    ip_address = models.CharField(max_length=45, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.SUCCESS)
    purpose = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    #: The agency's id, or 0 for the deployment chain; ``seq`` numbers events within it.
    chain = models.BigIntegerField()
    seq = models.BigIntegerField()
    key_id = models.CharField(max_length=40)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "seq"], name="audit_event_chain_seq"),
            models.CheckConstraint(
                condition=models.Q(agency_id__isnull=True, chain=0)
                | models.Q(chain=models.F("agency_id")),
                name="audit_event_chain_is_agency",
            ),
        ]
        indexes = [
            models.Index(fields=["agency_id", "occurred_at"]),
            # The auditor's screen: one agency, newest first, keyset-paginated on id.
            models.Index(fields=["agency_id", "id"], name="audit_event_agency_id_idx"),
        ]

    def __str__(self) -> str:
        when = f"{self.occurred_at:%Y-%m-%d %H:%M:%S}"
        return f"{when} {self.action} {self.object_type}:{self.object_id}"

    def canonical(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "seq": self.seq,
            "key_id": self.key_id,
            "agency_id": self.agency_id,
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            # Always UTC: the connection's time zone must not change the hash.
            "occurred_at": self.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            "ip_address": self.ip_address,
            "outcome": self.outcome,
            "purpose": self.purpose,
            "detail": self.detail,
        }

    def compute_hash(self, prev_hash: str) -> str:
        """The keyed hash of this row after ``prev_hash`` (needs the audit key file)."""
        from tandem.audit.keys import audit_keys

        payload = canonical_json(self.canonical())
        return audit_keys().mac(self.key_id, prev_hash + "\n" + payload)

    @property
    def content_intact(self) -> bool:
        from tandem.audit.keys import AuditKeyUnavailable

        try:
            return hmac.compare_digest(self.hash, self.compute_hash(self.prev_hash))
        except AuditKeyUnavailable:
            return False


class AuditCheckpoint(models.Model):
    """Written by a retention purge: the last purged event of one chain (seq, id and hash).

    After a purge the first remaining event of the chain links to ``through_hash`` instead of
    the genesis hash. The purge also records an ``audit.purge`` event naming the same seq and
    hash, inside the chain, so a purge checkpoint cannot be forged without breaking the
    chain. Like the events, these rows are protected by the database: no UPDATE, no DELETE.
    (The signed checkpoints of chain heads are a different thing, kept outside the database.)
    """

    chain = models.BigIntegerField(default=DEPLOYMENT_CHAIN)
    through_seq = models.BigIntegerField()
    through_id = models.BigIntegerField(unique=True)
    through_hash = models.CharField(max_length=64)
    deleted_count = models.BigIntegerField()
    cutoff = models.DateTimeField(help_text="Events before this moment were eligible.")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["through_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain", "through_seq"], name="audit_checkpoint_chain_seq"
            )
        ]

    def __str__(self) -> str:
        return f"Audit events up to #{self.through_seq} of chain {self.chain} purged"
