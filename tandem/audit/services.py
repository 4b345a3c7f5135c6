"""Writing the audit trail. Every sensitive read and write calls ``audit_record`` inside the
same transaction as the change it describes, so either both are stored or neither is.
``audit_purge`` is the retention purge: the only way events ever leave the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from tandem.audit.models import (
    GENESIS_HASH,
    MIN_RETENTION_DAYS,
    AuditCheckpoint,
    AuditEvent,
    Outcome,
)
from tandem.core.http import client_ip

# Any constant: the advisory lock that serialises appends to the chain on PostgreSQL.
_CHAIN_LOCK_KEY = 7_146_212_001


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite: transactions begin IMMEDIATE (settings), so writers are already serialised.


def _chain_head() -> tuple[int, str]:
    """The id and hash the next event follows. After a purge that removed every event the
    chain continues from the latest checkpoint, not from the genesis hash."""
    last = AuditEvent.objects.order_by("-id").only("id", "hash").first()
    if last is not None:
        return last.id, last.hash
    checkpoint = AuditCheckpoint.objects.order_by("-through_id").first()
    if checkpoint is not None:
        return checkpoint.through_id, checkpoint.through_hash
    return 0, GENESIS_HASH


def audit_record(
    *,
    action: str,
    actor: Any = None,
    agency_id: int | None = None,
    object_type: str = "",
    object_id: Any = "",
    outcome: str = Outcome.SUCCESS,
    purpose: str = "",
    request: HttpRequest | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event to the chain. ``detail`` must hold ids and categories, never names
    or contact details of a peer-support requester."""
    with transaction.atomic():
        _lock_chain()
        head_id, head_hash = _chain_head()
        event = AuditEvent(
            id=head_id + 1,
            agency_id=agency_id if agency_id is not None else getattr(actor, "agency_id", None),
            actor_id=getattr(actor, "pk", None) if actor is not None else None,
            actor_label=(getattr(actor, "username", "") or "")[:150] if actor else "",
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id not in (None, "") else "",
            occurred_at=timezone.now(),
            ip_address=client_ip(request),
            outcome=outcome,
            purpose=purpose[:200],
            detail=detail or {},
        )
        event.prev_hash = head_hash
        event.hash = event.compute_hash(event.prev_hash)
        event.save(force_insert=True)
    return event


def audit_retention_days() -> int:
    """How long audit events are kept: the longest ``retention.audit_days`` of any agency's
    policy, never less than 365 days. The chain is shared by all agencies and is purged from
    its start only, so the longest period wins."""
    from tandem.agencies.models import Agency

    days = MIN_RETENTION_DAYS
    for policy in Agency.objects.values_list("policy", flat=True):
        value = (policy or {}).get("retention", {}).get("audit_days")
        if isinstance(value, int) and not isinstance(value, bool):
            days = max(days, value)
    return days


@dataclass(frozen=True)
class PurgeResult:
    retention_days: int
    cutoff: datetime
    deleted: int
    through_id: int | None
    dry_run: bool = False


@transaction.atomic
def audit_purge(
    *, acting_user: Any = None, request: HttpRequest | None = None, dry_run: bool = False
) -> PurgeResult:
    """Delete the events older than the retention period, from the start of the chain.

    Only a contiguous run of the oldest events goes (everything before the first event that
    is still inside the retention period), so the rest of the chain stays linked. A
    checkpoint keeps the last purged id and hash, and the purge records itself as an
    ``audit.purge`` event naming the same id and hash. The database triggers allow these
    deletes because every purged row is older than 365 days.
    """
    _lock_chain()
    days = audit_retention_days()
    now = timezone.now()
    cutoff = now - timedelta(days=days)
    first_kept = (
        AuditEvent.objects.filter(occurred_at__gte=cutoff)
        .order_by("id")
        .values_list("id", flat=True)
        .first()
    )
    old = (
        AuditEvent.objects.all()
        if first_kept is None
        else AuditEvent.objects.filter(id__lt=first_kept)
    )
    last = old.order_by("-id").only("id", "hash").first()
    if last is None or dry_run:
        count = old.count() if last is not None else 0
        return PurgeResult(days, cutoff, count, last.id if last else None, dry_run=dry_run)
    deleted, _ = AuditEvent.objects.filter(id__lte=last.id).delete()
    checkpoint = AuditCheckpoint.objects.create(
        through_id=last.id,
        through_hash=last.hash,
        deleted_count=deleted,
        cutoff=cutoff,
        created_at=now,
    )
    audit_record(
        action="audit.purge",
        actor=acting_user,
        object_type="audit.AuditCheckpoint",
        object_id=checkpoint.pk,
        purpose=f"retention purge ({days} days)",
        request=request,
        detail={
            "through_id": last.id,
            "through_hash": last.hash,
            "deleted": deleted,
            "retention_days": days,
        },
    )
    return PurgeResult(days, cutoff, deleted, last.id)
