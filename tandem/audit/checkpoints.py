"""Signed checkpoints of each chain's head, kept outside the database (X-4).

A checkpoint is one JSON line ``{"type": "tandem.audit.checkpoint", "chain", "agency",
"seq", "hash", "at", "key_id", "mac"}``; its MAC is HMAC-SHA256 under the audit key. Lines
are appended to ``TANDEM_AUDIT_CHECKPOINT_FILE`` (default ``var/audit-checkpoints.jsonl``,
opened append-only) and, when ``TANDEM_AUDIT_SYSLOG`` is set ("/dev/log" or "host:port"),
sent to syslog as well, from where a SIEM or an object store with a retention lock keeps
them out of any DBA's reach. ``tandem audit verify`` demands that each chain still holds
the latest checkpointed event with the same hash, so deleting the newest rows is caught.

Checkpoints are written by a periodic job (``audit_checkpoint_job``, every 15 minutes),
by ``tandem audit checkpoint``, and with every export. Rows written after the latest
checkpoint are protected by their MACs and links only: that window is the job's interval.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from tandem.audit.keys import audit_keys
from tandem.audit.models import DEPLOYMENT_CHAIN, AuditEvent, canonical_json

CHECKPOINT_TYPE = "tandem.audit.checkpoint"
_FIELDS = ("type", "chain", "agency", "seq", "hash", "at", "key_id")


@dataclass(frozen=True)
class Checkpoint:
    chain: int
    agency: str
    seq: int
    hash: str
    at: str
    key_id: str
    mac: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "type": CHECKPOINT_TYPE,
            "chain": self.chain,
            "agency": self.agency,
            "seq": self.seq,
            "hash": self.hash,
            "at": self.at,
            "key_id": self.key_id,
        }

    def signed_text(self) -> str:
        return "checkpoint\n" + canonical_json(self.body())

    def line(self) -> str:
        return json.dumps({**self.body(), "mac": self.mac}, sort_keys=True)


@dataclass(frozen=True)
class CheckpointLine:
    number: int
    checkpoint: Checkpoint | None
    problem: str = ""
    chain: int | None = None  # the chain a bad line claims, when it can be read


def checkpoint_file_path() -> Path:
    default = Path(settings.VAR_DIR) / "audit-checkpoints.jsonl"
    return Path(getattr(settings, "TANDEM_AUDIT_CHECKPOINT_FILE", "") or default)


def chain_labels() -> dict[int, str]:
    """Chain number → agency slug ("" for the deployment chain), for every agency."""
    from tandem.agencies.models import Agency

    labels = {DEPLOYMENT_CHAIN: ""}
    labels.update(Agency.objects.values_list("pk", "slug"))
    return labels


def chain_head(chain: int) -> tuple[int, str] | None:
    row = AuditEvent.objects.filter(chain=chain).order_by("-seq").values_list("seq", "hash")
    return row.first()


def sign(chain: int, agency: str, seq: int, digest: str) -> Checkpoint:
    ring = audit_keys()
    at = timezone.now().astimezone(UTC).isoformat(timespec="seconds")
    unsigned = Checkpoint(chain, agency, seq, digest, at, ring.current_id)
    mac = ring.mac(ring.current_id, unsigned.signed_text())
    return Checkpoint(chain, agency, seq, digest, at, ring.current_id, mac)


def _parse(number: int, text: str) -> CheckpointLine:
    try:
        data = json.loads(text)
        point = Checkpoint(
            chain=int(data["chain"]),
            agency=str(data["agency"]),
            seq=int(data["seq"]),
            hash=str(data["hash"]),
            at=str(data["at"]),
            key_id=str(data["key_id"]),
            mac=str(data["mac"]),
        )
        if data.get("type") != CHECKPOINT_TYPE:
            raise ValueError
    except (ValueError, KeyError, TypeError):
        return CheckpointLine(number, None, f"checkpoint file line {number} is not a checkpoint")
    try:
        expected = audit_keys().mac(point.key_id, point.signed_text())
    except ImproperlyConfigured:
        expected = ""
    if not expected or not _equal(expected, point.mac):
        problem = f"checkpoint file line {number} is not authentic (its MAC is wrong)"
        return CheckpointLine(number, None, problem, point.chain)
    return CheckpointLine(number, point, chain=point.chain)


def _equal(a: str, b: str) -> bool:
    import hmac

    return hmac.compare_digest(a.encode(), b.encode())


def read_checkpoints(path: Path | None = None) -> Iterator[CheckpointLine]:
    path = path or checkpoint_file_path()
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                yield _parse(number, text)


def latest_checkpoints() -> tuple[dict[int, Checkpoint], list[tuple[int | None, str]]]:
    """The highest authentic checkpoint of each chain, and the problems found in the file
    (with the chain a bad line names, or None when the line cannot even be read)."""
    latest: dict[int, Checkpoint] = {}
    problems: list[tuple[int | None, str]] = []
    for entry in read_checkpoints():
        if entry.checkpoint is None:
            problems.append((entry.chain, entry.problem))
            continue
        point = entry.checkpoint
        if point.chain not in latest or point.seq >= latest[point.chain].seq:
            latest[point.chain] = point
    return latest, problems


def _append(points: Iterable[Checkpoint]) -> None:
    lines = "".join(point.line() + "\n" for point in points)
    if not lines:
        return
    path = checkpoint_file_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, lines.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _syslog(points: Iterable[Checkpoint]) -> None:
    target = (getattr(settings, "TANDEM_AUDIT_SYSLOG", "") or "").strip()
    if not target:
        return
    host, _, port = target.rpartition(":")
    address: Any = (host, int(port)) if host and port.isdigit() else target
    handler = logging.handlers.SysLogHandler(
        address=address, facility=logging.handlers.SysLogHandler.LOG_AUTHPRIV
    )
    try:
        for point in points:
            record = logging.LogRecord("tandem.audit", logging.INFO, "", 0, "", None, None)
            record.msg = "tandem-audit: " + point.line()
            handler.emit(record)
    finally:
        handler.close()


def audit_checkpoint(
    *, chains: Iterable[int] | None = None, force: bool = False
) -> list[Checkpoint]:
    """Sign the head of each chain (all chains, or ``chains``) and write it out.

    Without ``force`` a chain whose head is already the latest checkpoint is skipped."""
    labels = chain_labels()
    latest, _problems = latest_checkpoints()
    wanted = sorted(set(labels) | set(latest)) if chains is None else sorted(set(chains))
    points = []
    for chain in wanted:
        head = chain_head(chain)
        if head is None:
            continue
        seq, digest = head
        previous = latest.get(chain)
        if not force and previous is not None and (previous.seq, previous.hash) == head:
            continue
        points.append(sign(chain, labels.get(chain, str(chain)), seq, digest))
    _append(points)
    _syslog(points)
    return points


def audit_checkpoint_job() -> None:
    """The periodic job (registered in ``apps.py``)."""
    audit_checkpoint()


def checkpoint_time(point: Checkpoint) -> datetime | None:
    try:
        return datetime.fromisoformat(point.at)
    except ValueError:
        return None
