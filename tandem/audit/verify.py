"""Checking the audit chain (``tandem audit verify`` and the auditor's "Verify chain" button).

The walk goes through the events in id order, in keyset batches, so memory stays bounded
however long the trail is. For each event it checks, in this order:

1. its ``prev_hash`` is the stored hash of the event before it (or of the purge checkpoint,
   or the genesis hash) — otherwise a row was removed or inserted out of order;
2. its content still gives its ``hash`` — otherwise the row was altered;
3. its id follows the previous id — otherwise ids were skipped or forged.

After a purge the latest ``AuditCheckpoint`` starts the chain, and an ``audit.purge`` event
naming the same id and hash must be in the chain, so a checkpoint cannot simply be invented
to hide removed rows. The result names ids and counts only, never event content.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db import connection

from tandem.audit.models import GENESIS_HASH, AuditCheckpoint, AuditEvent
from tandem.audit.protection import missing_protection

ALTERED = "content does not match its hash (altered)"
RELINKED = "previous-hash mismatch (row removed or inserted out of order)"
DEFAULT_BATCH_SIZE = 2000


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    count: int = 0
    first_id: int | None = None
    last_id: int | None = None
    first_at: datetime | None = None
    last_at: datetime | None = None
    checkpoint_id: int | None = None
    broken_id: int | None = None
    reason: str = ""
    missing_protection: list[str] = field(default_factory=list)

    @property
    def protected(self) -> bool:
        return not self.missing_protection

    @property
    def message(self) -> str:
        if not self.ok:
            return f"Broken at event {self.broken_id}: {self.reason}"
        if self.count == 0:
            return "Audit trail intact: no events yet."
        text = (
            f"Audit trail intact: {self.count:,} events, "
            f"first #{self.first_id}, last #{self.last_id}"
        )
        if self.checkpoint_id is not None:
            text += f" (events up to #{self.checkpoint_id} were purged under the retention policy)"
        return text + "."


def _latest_checkpoint() -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.order_by("-through_id").first()


def _fault(event: AuditEvent, expected_id: int, expected_prev: str) -> str:
    if event.prev_hash != expected_prev:
        return RELINKED
    if not event.content_intact:
        return ALTERED
    if event.id < expected_id:
        return f"id is lower than expected #{expected_id} (inserted out of order)"
    if event.id > expected_id:
        return f"events #{expected_id} to #{event.id - 1} are missing (ids skipped or forged)"
    return ""


def _confirms(event: AuditEvent, checkpoint: AuditCheckpoint) -> bool:
    detail = event.detail if isinstance(event.detail, dict) else {}
    return (
        event.action == "audit.purge"
        and detail.get("through_id") == checkpoint.through_id
        and detail.get("through_hash") == checkpoint.through_hash
    )


def verify_chain(*, batch_size: int = DEFAULT_BATCH_SIZE) -> VerifyResult:
    """Walk the whole chain; stop at the first broken link."""
    result = _walk(batch_size)
    if not result.ok:
        # A purge that committed during the walk moves the start of the chain: look again.
        latest = _latest_checkpoint()
        if (latest.through_id if latest else None) != result.checkpoint_id:
            result = _walk(batch_size)
    return replace(result, missing_protection=missing_protection(connection))


def _walk(batch_size: int) -> VerifyResult:
    checkpoint = _latest_checkpoint()
    checkpoint_id = checkpoint.through_id if checkpoint else None
    expected_id = (checkpoint_id or 0) + 1
    expected_prev = checkpoint.through_hash if checkpoint else GENESIS_HASH
    confirmed = checkpoint is None
    count = 0
    first: AuditEvent | None = None
    last: AuditEvent | None = None
    while True:
        query = AuditEvent.objects.order_by("id")
        if last is not None:
            query = query.filter(id__gt=last.id)
        batch = list(query[:batch_size])
        if not batch:
            break
        for event in batch:
            fault = _fault(event, expected_id, expected_prev)
            if fault:
                return VerifyResult(
                    ok=False,
                    count=count,
                    checkpoint_id=checkpoint_id,
                    broken_id=event.id,
                    reason=fault,
                )
            confirmed = confirmed or _confirms(event, checkpoint)  # type: ignore[arg-type]
            count += 1
            if first is None:
                first = event
            last = event
            expected_id, expected_prev = event.id + 1, event.hash
    if checkpoint is not None and (first is None or not confirmed):
        return VerifyResult(
            ok=False,
            count=count,
            checkpoint_id=checkpoint_id,
            broken_id=first.id if first else expected_id,
            reason=f"no audit.purge event in the chain confirms the purge checkpoint at "
            f"#{checkpoint_id} (rows removed or checkpoint forged)",
        )
    return VerifyResult(
        ok=True,
        count=count,
        first_id=first.id if first else None,
        last_id=last.id if last else None,
        first_at=first.occurred_at if first else None,
        last_at=last.occurred_at if last else None,
        checkpoint_id=checkpoint_id,
    )
