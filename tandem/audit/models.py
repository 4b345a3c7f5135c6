"""The audit trail: append-only, hash-chained (X-4, P3).

Each row's ``hash`` is SHA-256 over its canonical content and the previous row's hash, so an
altered, removed or re-ordered row breaks the chain at that point (``tandem audit verify``).
The database refuses UPDATE and DELETE on this table (triggers in the migrations); rows older
than the retention period (never under 365 days) are the only ones that may be purged.

Nothing here may name a peer-support requester: ``detail`` holds ids and categories only.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import models

GENESIS_HASH = "0" * 64


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    DENIED = "denied", "Denied"
    FAILED = "failed", "Failed"


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
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["agency_id", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M:%S} {self.action} {self.object_type}:{self.object_id}"

    def canonical(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "agency_id": self.agency_id,
            "actor_id": self.actor_id,
            "actor_label": self.actor_label,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "occurred_at": self.occurred_at.isoformat(timespec="microseconds"),
            "ip_address": self.ip_address,
            "outcome": self.outcome,
            "purpose": self.purpose,
            "detail": self.detail,
        }

    def compute_hash(self, prev_hash: str) -> str:
        payload = json.dumps(self.canonical(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256((prev_hash + "\n" + payload).encode()).hexdigest()
