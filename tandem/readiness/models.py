"""Team readiness (PS-11 … PS-16, PR-7, PR-8, PR-11).

``Gate`` is the one place other programs read readiness from: peer support asks
``gates.peer_support_ready_users()`` who may be on the roster and on call, recovery asks
``gates.has_cji_access()`` before showing criminal justice information. Readiness
services recompute a person's gate whenever something it depends on changes, and a daily
job catches dates passing; ``*_until`` makes a lapse take effect at the exact moment even
before that job runs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class GateQuerySet(models.QuerySet["Gate"]):
    def peer_support_open(self, at: datetime | None = None) -> GateQuerySet:
        at = at or timezone.now()
        return self.filter(peer_support=True).filter(
            Q(peer_support_until__isnull=True) | Q(peer_support_until__gt=at)
        )

    def cji_open(self, at: datetime | None = None) -> GateQuerySet:
        at = at or timezone.now()
        return self.filter(cji=True).filter(Q(cji_until__isnull=True) | Q(cji_until__gt=at))


class Gate(models.Model):
    """Whether one person may serve now: on the peer-support roster and on call
    (designated and compliant), and whether they may see criminal justice information
    (sworn, current fingerprint background check and CJIS awareness, NDA where required).
    ``reasons`` lists why a gate is closed, in words a coordinator can act on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness_gate"
    )
    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    peer_support = models.BooleanField(default=False)
    peer_support_until = models.DateTimeField(null=True, blank=True)
    cji = models.BooleanField(default=False)
    cji_until = models.DateTimeField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    objects = GateQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["agency", "peer_support"]),
            models.Index(fields=["agency", "cji"]),
        ]

    def __str__(self) -> str:
        return f"Gate for user {self.user_id}"

    def peer_support_open_at(self, at: datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.peer_support and (
            self.peer_support_until is None or self.peer_support_until > at
        )

    def cji_open_at(self, at: datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.cji and (self.cji_until is None or self.cji_until > at)

    def as_state(self) -> dict[str, Any]:
        return {
            "peer_support": self.peer_support,
            "peer_support_until": self.peer_support_until,
            "cji": self.cji,
            "cji_until": self.cji_until,
            "reasons": list(self.reasons),
        }
