"""Writing the audit trail. Every sensitive read and write calls ``audit_record`` inside the
same transaction as the change it describes, so either both are stored or neither is.
"""

from __future__ import annotations

from typing import Any

from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from tandem.audit.models import GENESIS_HASH, AuditEvent, Outcome

# Any constant: the advisory lock that serialises appends to the chain on PostgreSQL.
_CHAIN_LOCK_KEY = 7_146_212_001


def client_ip(request: HttpRequest | None) -> str:
    if request is None:
        return ""
    return str(request.META.get("REMOTE_ADDR", ""))[:45]


def _lock_chain() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
    # SQLite: transactions begin IMMEDIATE (settings), so writers are already serialised.


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
        last = AuditEvent.objects.order_by("-id").only("id", "hash").first()
        event = AuditEvent(
            id=(last.id + 1) if last else 1,
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
        event.prev_hash = last.hash if last else GENESIS_HASH
        event.hash = event.compute_hash(event.prev_hash)
        event.save(force_insert=True)
    return event
