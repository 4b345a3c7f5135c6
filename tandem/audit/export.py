"""Exporting one agency's trail in a form a SIEM takes: JSON lines or RFC 5424 syslog lines.

The export ends with a freshly signed checkpoint of the chain head (also appended to the
checkpoint file), so the agency can keep its trail outside Tandem for the retention period
and later prove that Tandem's copy still matches it: every event carries its seq, its hash
and the previous hash, and the checkpoint pins the head.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from tandem.audit.checkpoints import Checkpoint, audit_checkpoint
from tandem.audit.models import AuditEvent

FORMATS = ("jsonl", "syslog")
_BATCH = 2000


def event_record(event: AuditEvent, agency: str) -> dict[str, Any]:
    return {
        "type": "tandem.audit.event",
        "agency": agency,
        "seq": event.seq,
        "occurred_at": event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        "action": event.action,
        "outcome": event.outcome,
        "actor_id": event.actor_id,
        "actor_label": event.actor_label,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "purpose": event.purpose,
        "ip_address": event.ip_address,
        "detail": event.detail,
        "key_id": event.key_id,
        "prev_hash": event.prev_hash,
        "hash": event.hash,
    }


def _syslog_line(message: dict[str, Any], when: str, msgid: str) -> str:
    # RFC 5424: <PRI>VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG; authpriv.info.
    host = socket.gethostname() or "-"
    return f"<86>1 {when} {host} tandem - {msgid} - {json.dumps(message, sort_keys=True)}"


def export_lines(
    *, agency_id: int, agency_slug: str, fmt: str, since: datetime | None = None
) -> Iterator[str]:
    """The agency's events (from ``since``) up to a new signed checkpoint, then the
    checkpoint itself. Memory stays bounded: events are read in keyset batches."""
    if fmt not in FORMATS:
        raise ValueError(f"Unknown export format {fmt!r}; use one of {', '.join(FORMATS)}.")
    points = audit_checkpoint(chains=[agency_id], force=True)
    checkpoint: Checkpoint | None = points[0] if points else None
    last_seq = 0
    head = checkpoint.seq if checkpoint else 0
    while True:
        query = AuditEvent.objects.filter(chain=agency_id, seq__gt=last_seq, seq__lte=head)
        if since is not None:
            query = query.filter(occurred_at__gte=since)
        batch = list(query.order_by("seq")[:_BATCH])
        if not batch:
            break
        for event in batch:
            record = event_record(event, agency_slug)
            if fmt == "jsonl":
                yield json.dumps(record, sort_keys=True)
            else:
                yield _syslog_line(record, record["occurred_at"], "audit")
        last_seq = batch[-1].seq
    if checkpoint is not None:
        if fmt == "jsonl":
            yield checkpoint.line()
        else:
            yield _syslog_line(json.loads(checkpoint.line()), checkpoint.at, "checkpoint")
