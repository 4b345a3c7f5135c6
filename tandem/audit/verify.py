"""Checking the audit chains (``tandem audit verify`` and the auditor's "Verify chain" button).

Each chain (one per agency, plus the deployment chain) is walked on its own, in seq order,
in keyset batches, so memory stays bounded however long the trail is. For each event:

1. its ``prev_hash`` is the stored hash of the event before it (or of the chain's purge
   checkpoint, or the genesis hash) — otherwise a row was removed or inserted out of order;
2. its MAC, under the audit key it names, still gives its ``hash`` — otherwise the row was
   altered, or written by someone without the audit key;
3. its seq follows the previous one — otherwise events were skipped or forged.

Then the chain is held against the latest signed checkpoint of its head, read from outside
the database (``checkpoints.py``): the checkpointed seq must still be there with the same
hash, so removing the newest events is caught too. The file itself must hold every line the
deployment chain recorded (``audit.checkpoint`` events), its lines must follow one another,
and its newest line must be fresh (under twice the job's interval) while the chain holds
events; a missing or empty file passes only while every event is younger than one interval.
After a purge an ``audit.purge`` event
naming the purge checkpoint must be in the chain, so a purge checkpoint cannot simply be
invented to hide removed rows. Results name agencies, event numbers and counts only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from tandem.audit.checkpoints import (
    CHECKPOINT_INTERVAL,
    Checkpoint,
    CheckpointFile,
    chain_labels,
    read_checkpoint_file,
    recorded_checkpoint,
)
from tandem.audit.models import DEPLOYMENT_CHAIN, GENESIS_HASH, AuditCheckpoint, AuditEvent
from tandem.audit.protection import missing_protection

ALTERED = "content does not match its MAC (altered, or written without the audit key)"
RELINKED = "previous-hash mismatch (event removed or inserted out of order)"
DEFAULT_BATCH_SIZE = 2000
#: Events older than this and not yet covered by a signed checkpoint earn a warning.
STALE_AFTER = timedelta(hours=1)


def chain_name(chain: int, labels: dict[int, str]) -> str:
    if chain == DEPLOYMENT_CHAIN:
        return "Deployment chain"
    return f"Agency {labels.get(chain) or f'#{chain}'}"


@dataclass(frozen=True)
class ChainResult:
    chain: int
    name: str
    ok: bool
    count: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    first_at: datetime | None = None
    last_at: datetime | None = None
    purged_through: int | None = None
    checkpoint: Checkpoint | None = None
    broken_seq: int | None = None
    reason: str = ""
    unanchored_since: int | None = None  # first seq after the checkpoint, when stale

    @property
    def message(self) -> str:
        if not self.ok:
            return f"{self.name} broken at event #{self.broken_seq}: {self.reason}"
        if self.count == 0:
            return f"{self.name} intact: no events yet."
        text = (
            f"{self.name} intact: {self.count:,} events, "
            f"first #{self.first_seq}, last #{self.last_seq}"
        )
        if self.purged_through is not None:
            text += f" (events up to #{self.purged_through} were purged under the retention policy)"
        if self.checkpoint is None:
            text += "; no signed checkpoint yet"
        else:
            text += f"; signed checkpoint at #{self.checkpoint.seq} ({self.checkpoint.at}) matches"
        text += "."
        if self.unanchored_since is not None:
            text += (
                f" Warning: events from #{self.unanchored_since} on are over an hour old and "
                "not yet covered by a signed checkpoint; is `tandem worker` running and the "
                "checkpoint file in place?"
            )
        return text


@dataclass(frozen=True)
class VerifyResult:
    chains: list[ChainResult]
    file_problems: list[str] = field(default_factory=list)
    missing_protection: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.file_problems and all(result.ok for result in self.chains)

    @property
    def protected(self) -> bool:
        return not self.missing_protection

    @property
    def count(self) -> int:
        return sum(result.count for result in self.chains)

    @property
    def broken(self) -> ChainResult | None:
        return next((result for result in self.chains if not result.ok), None)

    @property
    def broken_seq(self) -> int | None:
        broken = self.broken
        return broken.broken_seq if broken else None

    @property
    def message(self) -> str:
        lines = [*self.file_problems, *(r.message for r in self.chains if not r.ok)]
        if lines:
            return "\n".join(lines)
        text = "\n".join(result.message for result in self.chains) or "No audit chains."
        return "\n".join([text, *self.warnings])


def _fault(event: AuditEvent, expected_seq: int, expected_prev: str) -> str:
    if event.prev_hash != expected_prev:
        return RELINKED
    if not event.content_intact:
        return ALTERED
    if event.seq > expected_seq:
        return f"events #{expected_seq} to #{event.seq - 1} are missing (removed or forged)"
    return ""


def _confirms(event: AuditEvent, purge: AuditCheckpoint) -> bool:
    detail = event.detail if isinstance(event.detail, dict) else {}
    return (
        event.action == "audit.purge"
        and detail.get("through_seq") == purge.through_seq
        and detail.get("through_hash") == purge.through_hash
    )


def verify_chain(
    *,
    agency_id: int | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
) -> VerifyResult:
    """Verify one agency's chain (``agency_id``), or every chain."""
    labels = chain_labels()
    recorded, record_problem = recorded_checkpoint()
    found = read_checkpoint_file(recorded=recorded)
    latest, bad_lines = found.latest, list(found.problems)
    if record_problem:
        bad_lines.append((None, record_problem))
    if agency_id is not None:
        chains = [int(agency_id)]
    else:
        chains = sorted(
            set(labels)
            | {c for c in latest if c >= 0}
            | set(AuditEvent.objects.values_list("chain", flat=True).distinct())
        )
    results = [
        _verify_one(chain, chain_name(chain, labels), latest.get(chain), batch_size)
        for chain in chains
    ]
    bad_lines += [(None, text) for text in _freshness(found, results)]
    # One agency's check reports the bad lines that claim its chain (or no readable chain).
    problems = [text for chain, text in bad_lines if agency_id is None or chain in (None, *chains)]
    return VerifyResult(results, problems, missing_protection(connection), _gap_warnings(found))


def _minutes(delta: timedelta) -> int:
    return int(delta.total_seconds() // 60)


def _freshness(found: CheckpointFile, results: list[ChainResult]) -> list[str]:
    """Checkpoints must keep coming while the chains hold events: the worker writes a line
    every interval, so a stale or missing file means it stopped, or lines were removed."""
    holding = [result for result in results if result.count]
    if not holding:
        return []
    now = timezone.now()
    if found.last is None:
        oldest = min(result.first_at or now for result in holding)
        if oldest >= now - CHECKPOINT_INTERVAL:
            return []
        return [
            "There is no signed checkpoint although the audit trail holds events older than "
            f"{_minutes(CHECKPOINT_INTERVAL)} minutes: the checkpoint file is missing or "
            "empty (removed?), or `tandem worker` has never run."
        ]
    newest = found.newest_at
    if newest is not None and newest >= now - 2 * CHECKPOINT_INTERVAL:
        return []
    return [
        f"The newest signed checkpoint ({found.last.at}) is older than "
        f"{_minutes(2 * CHECKPOINT_INTERVAL)} minutes although the audit trail holds events: "
        "checkpoints have stopped, or the newest were removed. Is `tandem worker` running, "
        "and the checkpoint file in place?"
    ]


def _gap_warnings(found: CheckpointFile) -> list[str]:
    """Checkpoints that stopped for a while and started again: the worker was down, or the
    newest lines were removed together with the database's record of them (a roll-back)."""
    if not found.gaps:
        return []
    start, end = found.gaps[-1]
    times = f"{len(found.gaps)} times, the latest" if len(found.gaps) > 1 else "once,"
    return [
        f"Warning: signed checkpoints stopped {times} between {start} and {end}; find out "
        "why (the worker was down, or checkpoint lines and events were removed)."
    ]


def _verify_one(
    chain: int, name: str, checkpoint: Checkpoint | None, batch_size: int
) -> ChainResult:
    result = _walk(chain, name, checkpoint, batch_size)
    if not result.ok:
        # A purge that committed during the walk moves the start of the chain: look again.
        purge = _latest_purge(chain)
        if (purge.through_seq if purge else None) != result.purged_through:
            result = _walk(chain, name, checkpoint, batch_size)
    return result


def _unanchored_since(chain: int, covered: int) -> int | None:
    """The first seq after ``covered`` when it is older than STALE_AFTER, else None."""
    first = AuditEvent.objects.filter(chain=chain, seq__gt=covered).order_by("seq").first()
    if first is None or first.occurred_at >= timezone.now() - STALE_AFTER:
        return None
    return first.seq


def _latest_purge(chain: int) -> AuditCheckpoint | None:
    return AuditCheckpoint.objects.filter(chain=chain).order_by("-through_seq").first()


def _walk(chain: int, name: str, checkpoint: Checkpoint | None, batch_size: int) -> ChainResult:
    purge = _latest_purge(chain)
    purged_through = purge.through_seq if purge else None
    expected_seq = (purged_through or 0) + 1
    expected_prev = purge.through_hash if purge else GENESIS_HASH
    confirmed = purge is None
    count = 0
    first: AuditEvent | None = None
    last: AuditEvent | None = None

    def broken(seq: int, reason: str) -> ChainResult:
        return ChainResult(
            chain,
            name,
            False,
            count,
            purged_through=purged_through,
            checkpoint=checkpoint,
            broken_seq=seq,
            reason=reason,
        )

    while True:
        query = AuditEvent.objects.filter(chain=chain).order_by("seq")
        if last is not None:
            query = query.filter(seq__gt=last.seq)
        batch = list(query[:batch_size])
        if not batch:
            break
        for event in batch:
            fault = _fault(event, expected_seq, expected_prev)
            if (
                not fault
                and checkpoint is not None
                and event.seq == checkpoint.seq
                and event.hash != checkpoint.hash
            ):
                fault = (
                    f"differs from the signed checkpoint of {checkpoint.at} "
                    "(rewritten after the checkpoint)"
                )
            if fault:
                return broken(event.seq, fault)
            confirmed = confirmed or _confirms(event, purge)  # type: ignore[arg-type]
            count += 1
            first = first or event
            last = event
            expected_seq, expected_prev = event.seq + 1, event.hash
    if purge is not None and (first is None or not confirmed):
        return broken(
            first.seq if first else expected_seq,
            f"no audit.purge event in the chain confirms the purge checkpoint at "
            f"#{purged_through} (events removed or checkpoint forged)",
        )
    last_seq = last.seq if last else (purged_through or 0)
    if checkpoint is not None and checkpoint.seq > last_seq:
        return broken(
            last_seq + 1,
            f"the chain ends at #{last_seq} but the signed checkpoint of {checkpoint.at} "
            f"records #{checkpoint.seq}: events #{last_seq + 1} to #{checkpoint.seq} "
            "were removed",
        )
    covered = checkpoint.seq if checkpoint else (purged_through or 0)
    return ChainResult(
        chain,
        name,
        True,
        count,
        unanchored_since=_unanchored_since(chain, covered) if last else None,
        first_seq=first.seq if first else None,
        last_seq=last.seq if last else None,
        first_at=first.occurred_at if first else None,
        last_at=last.occurred_at if last else None,
        purged_through=purged_through,
        checkpoint=checkpoint,
    )
