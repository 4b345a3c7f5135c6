"""Signed checkpoints of each chain's head, kept outside the database (X-4).

A checkpoint is one JSON line ``{"type": "tandem.audit.checkpoint", "n", "prev", "chain",
"agency", "seq", "hash", "at", "key_id", "mac"}``; its MAC is HMAC-SHA256 under the audit
key. The lines form a chain of their own: ``n`` counts them from 1 and ``prev`` is the MAC
of the line before (64 zeros for the first), both inside the signed text, so a line cannot
be removed, moved or edited without breaking the lines after it. Lines are appended to
``TANDEM_AUDIT_CHECKPOINT_FILE`` (default ``var/audit-checkpoints.jsonl``, opened
append-only, under an exclusive lock) and, when ``TANDEM_AUDIT_SYSLOG`` is set
("/dev/log" or "host:port"), sent to syslog as well, from where a SIEM or an object store
with a retention lock keeps them out of any DBA's reach.

After each batch of lines an ``audit.checkpoint`` event in the deployment chain records
the number and MAC of the newest line, and the next batch's line of the deployment chain
covers that event. So a file shorter than the database knows, or cut and written again,
fails ``tandem audit verify``; so does a file whose newest line is older than twice the
interval (the job writes a heartbeat line every interval even when nothing changed), and a
missing or empty file while the trail holds events older than one interval.

Checkpoints are written by a periodic job (``audit_checkpoint_job``, every
``CHECKPOINT_INTERVAL``), by ``tandem audit checkpoint``, and with every export. Rows written
after the latest checkpoint are protected by their MACs and links only: that window is the
job's interval. Whoever can rewrite both the database and this file can still roll both back
to an older consistent state; ``verify`` warns of the pause between line times that leaves,
and a copy in syslog that they cannot reach proves it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hmac
import json
import logging
import logging.handlers
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from tandem.audit.keys import audit_keys
from tandem.audit.models import DEPLOYMENT_CHAIN, GENESIS_HASH, AuditEvent, canonical_json

CHECKPOINT_TYPE = "tandem.audit.checkpoint"
#: How often the worker writes checkpoints (a heartbeat line at the least).
CHECKPOINT_INTERVAL = timedelta(minutes=15)
RECORDED_ACTION = "audit.checkpoint"
_OUT_OF_ORDER = (
    "checkpoint file line {number} does not follow the line before it "
    "(checkpoint lines were removed, reordered or inserted)"
)
_NOT_RECORDED = (
    "checkpoint #{n} in the file is not the one the database recorded "
    "(the file was cut and written again)"
)


@dataclass(frozen=True)
class Checkpoint:
    chain: int
    agency: str
    seq: int
    hash: str
    at: str
    key_id: str
    mac: str = ""
    n: int = 0  # the line's number in the file, from 1
    prev: str = GENESIS_HASH  # the MAC of the line before

    def body(self) -> dict[str, Any]:
        return {
            "type": CHECKPOINT_TYPE,
            "n": self.n,
            "prev": self.prev,
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


@dataclass
class CheckpointFile:
    """What reading the checkpoint file found: the newest authentic checkpoint of each
    chain, the problems (with the chain a bad line names, or None for the whole file), and
    the newest authentic line."""

    latest: dict[int, Checkpoint] = field(default_factory=dict)
    problems: list[tuple[int | None, str]] = field(default_factory=list)
    last: Checkpoint | None = None
    #: Times between consecutive lines longer than twice the interval: (from, to).
    gaps: list[tuple[str, str]] = field(default_factory=list)

    @property
    def newest_at(self) -> datetime | None:
        return checkpoint_time(self.last) if self.last else None


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


def sign(
    chain: int, agency: str, seq: int, digest: str, *, n: int = 1, prev: str = GENESIS_HASH
) -> Checkpoint:
    ring = audit_keys()
    at = timezone.now().astimezone(UTC).isoformat(timespec="seconds")
    unsigned = Checkpoint(chain, agency, seq, digest, at, ring.current_id, "", n, prev)
    return replace(unsigned, mac=ring.mac(ring.current_id, unsigned.signed_text()))


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
            n=int(data["n"]),
            prev=str(data["prev"]),
        )
        if data.get("type") != CHECKPOINT_TYPE:
            raise ValueError
    except (ValueError, KeyError, TypeError, AttributeError):
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
    return hmac.compare_digest(a.encode(), b.encode())


def read_checkpoints(path: Path | None = None) -> Iterator[CheckpointLine]:
    path = path or checkpoint_file_path()
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                yield _parse(number, text)


def _follows(point: Checkpoint, last: Checkpoint | None) -> bool:
    if last is None:
        return point.n == 1 and point.prev == GENESIS_HASH
    return point.n == last.n + 1 and _equal(point.prev, last.mac)


def read_checkpoint_file(
    path: Path | None = None, *, recorded: tuple[int, str] | None = None
) -> CheckpointFile:
    """Read every line: each must be authentic and follow the authentic line before it.
    ``recorded`` is the (number, MAC) of the newest line the database knows of."""
    found = CheckpointFile()
    recorded_found = False
    for entry in read_checkpoints(path):
        point = entry.checkpoint
        if point is None:
            found.problems.append((entry.chain, entry.problem))
            continue
        if not _follows(point, found.last):
            found.problems.append((None, _OUT_OF_ORDER.format(number=entry.number)))
        if recorded is not None and point.n == recorded[0]:
            recorded_found = True
            if not _equal(point.mac, recorded[1]):
                found.problems.append((None, _NOT_RECORDED.format(n=point.n)))
        if found.last is not None and _gap(found.last, point):
            found.gaps.append((found.last.at, point.at))
        found.last = point
        previous = found.latest.get(point.chain)
        if previous is None or point.seq >= previous.seq:
            found.latest[point.chain] = point
    short = found.last is None or (recorded is not None and found.last.n < recorded[0])
    if recorded is not None and not recorded_found and short:
        found.problems.append((None, _shorter_than_recorded(recorded[0], found.last)))
    return found


def _gap(before: Checkpoint, after: Checkpoint) -> bool:
    start, end = checkpoint_time(before), checkpoint_time(after)
    return start is not None and end is not None and end - start > 2 * CHECKPOINT_INTERVAL


def _shorter_than_recorded(number: int, last: Checkpoint | None) -> str:
    ends = f"ends at #{last.n}" if last is not None else "is missing or empty"
    return (
        f"the database recorded signed checkpoint #{number}, but the checkpoint file {ends}: "
        "checkpoint lines were removed"
    )


def recorded_checkpoint() -> tuple[tuple[int, str] | None, str]:
    """The (number, MAC) of the newest checkpoint line the deployment chain recorded, and a
    problem when that record is not authentic."""
    event = (
        AuditEvent.objects.filter(chain=DEPLOYMENT_CHAIN, action=RECORDED_ACTION)
        .order_by("-seq")
        .first()
    )
    if event is None:
        return None, ""
    detail = event.detail if isinstance(event.detail, dict) else {}
    if not event.content_intact or not isinstance(detail.get("line"), int):
        return None, (
            f"the deployment chain's record of the newest checkpoint (event #{event.seq}) is "
            "not authentic"
        )
    return (detail["line"], str(detail.get("mac", ""))), ""


@contextlib.contextmanager
def _locked_for_append(path: Path) -> Iterator[int]:
    """The checkpoint file opened append-only under an exclusive lock, so two writers (the
    worker, an export, the command) never give two lines the same number."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield fd
    finally:
        os.close(fd)


def _append(fd: int, points: Iterable[Checkpoint]) -> None:
    lines = "".join(point.line() + "\n" for point in points)
    if lines:
        os.write(fd, lines.encode())
        os.fsync(fd)


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


def _heads(
    wanted: Iterable[int], latest: dict[int, Checkpoint], force: bool
) -> list[tuple[int, int, str]]:
    heads = []
    for chain in wanted:
        head = chain_head(chain)
        previous = latest.get(chain)
        if head is None or (not force and previous and (previous.seq, previous.hash) == head):
            continue
        heads.append((chain, *head))
    return heads


def audit_checkpoint(
    *, chains: Iterable[int] | None = None, force: bool = False, heartbeat: bool = False
) -> list[Checkpoint]:
    """Sign the head of each chain (all chains, or ``chains``), append the lines and record
    the newest line in the deployment chain.

    Without ``force`` a chain whose head is already the latest checkpoint is skipped; with
    ``heartbeat`` the deployment chain's head is written even when no head moved."""
    labels = chain_labels()
    path = checkpoint_file_path()
    with _locked_for_append(path) as fd:
        found = read_checkpoint_file(path)
        wanted = sorted(set(labels) | set(found.latest) if chains is None else set(chains))
        heads = _heads(wanted, found.latest, force)
        if not heads and heartbeat:
            heads = _heads([DEPLOYMENT_CHAIN], found.latest, True)
        n, prev = _continue_from(found)
        points: list[Checkpoint] = []
        for chain, seq, digest in heads:
            n += 1
            points.append(sign(chain, labels.get(chain, str(chain)), seq, digest, n=n, prev=prev))
            prev = points[-1].mac
        _append(fd, points)
        _syslog(points)
        if points:
            _record(points)
    return points


def _continue_from(found: CheckpointFile) -> tuple[int, str]:
    """The number and MAC the next line follows: the file's last line, or the line the
    database recorded when the file is shorter (it was cut: the gap stays visible)."""
    recorded, _problem = recorded_checkpoint()
    last = (found.last.n, found.last.mac) if found.last else (0, GENESIS_HASH)
    if recorded is not None and recorded[0] > last[0]:
        return recorded
    return last


def _record(points: list[Checkpoint]) -> None:
    from tandem.audit.services import audit_record

    newest = points[-1]
    with transaction.atomic():
        audit_record(
            action=RECORDED_ACTION,
            object_type="audit.CheckpointLine",
            object_id=newest.n,
            detail={"line": newest.n, "mac": newest.mac, "lines": len(points)},
        )


def audit_checkpoint_job() -> None:
    """The periodic job (registered in ``apps.py``): the heads that moved, or a heartbeat."""
    audit_checkpoint(heartbeat=True)


def checkpoint_time(point: Checkpoint) -> datetime | None:
    try:
        return datetime.fromisoformat(point.at)
    except ValueError:
        return None


@checks.register(checks.Tags.security, deploy=True)
def check_checkpoint_destination(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    """``tandem check --deploy``: checkpoints only in a local file under the var directory
    (next to the database and its backups) do not keep them out of a DBA's reach."""
    if (getattr(settings, "TANDEM_AUDIT_SYSLOG", "") or "").strip():
        return []
    path = checkpoint_file_path().resolve()
    var_dir = Path(settings.VAR_DIR).resolve()
    if not path.is_relative_to(var_dir):
        return []
    return [
        checks.Warning(
            f"Signed audit checkpoints go only to {path}, a local file in the var directory, "
            "where whoever administers this server or its database can cut it.",
            hint='Set TANDEM_AUDIT_SYSLOG ("/dev/log" or "host:port") to send them to a SIEM '
            "or a store the database administrators cannot write.",
            id="tandem.audit.W001",
        )
    ]
