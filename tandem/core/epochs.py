"""Epoch keys: short-lived keys, held outside the database, for peer-support data keys (P1).

Crypto-shredding deletes a wrapped data key from its row, but a database engine keeps old
row versions (PostgreSQL's dead tuples and write-ahead log, WAL archives, disk snapshots,
physical backups, SQLite's journal). Whoever holds such a copy and the master key file
could unwrap a shredded key again. So data keys whose purpose starts with ``psp.`` are
wrapped under the master key *and* an *epoch key* that lives only in a file in
``TANDEM_EPOCH_KEY_DIR`` (one file per epoch, directory 0700, files 0600), and epoch keys
are destroyed on a schedule:

* Every ``TANDEM_EPOCH_HOURS`` (default 6) :func:`epoch_rotate` creates a new epoch,
  re-wraps every live epoch data key (the open requests) under it, then destroys every epoch
  older than the previous one. The previous one survives one more period because a web
  process may have wrapped a new key under it just before the rotation. Before an epoch is
  destroyed, any live data key still wrapped under it is re-wrapped first; an epoch whose
  keys cannot be re-wrapped is kept. So a rotation never loses an open request, and a long
  outage only delays destruction.
* Destroying overwrites the file with random bytes, fsyncs it, unlinks it and fsyncs the
  directory. Afterwards every wrapped copy of a key that was shredded while that epoch (or
  an older one) was current is useless, wherever the database engine kept it.

Processes read epoch keys lazily, by id, and forget the ones whose file is gone.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import os
import re
import secrets
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from tandem.core.hooks import audit_record

if TYPE_CHECKING:
    from tandem.accounts.models import User

# Data keys whose purpose starts with one of these are wrapped under an epoch key.
EPOCH_PURPOSE_PREFIXES = ("psp.",)
EPOCH_KEY_BYTES = 32
FILE_HEADER = "tandem-epoch-key v1"
FILE_SUFFIX = ".key"
_ID_RE = re.compile(r"^ep-[0-9a-f]{16}$")
_LOCK_NAME = ".rotation.lock"


class EpochKeyError(ImproperlyConfigured):
    """The epoch key directory or one of its files is unusable."""


@dataclass(frozen=True)
class EpochKey:
    epoch_id: str
    created_at: datetime
    key: bytes = field(repr=False)
    # Order of creation (1, 2, ...): the newest epoch is the one with the highest number,
    # whatever the clocks of the processes that made them said.
    sequence: int = 0


def uses_epoch(purpose: str) -> bool:
    return purpose.startswith(EPOCH_PURPOSE_PREFIXES)


def epoch_purpose_q() -> Q:
    """Data keys whose purpose makes them epoch-wrapped."""
    query = Q()
    for prefix in EPOCH_PURPOSE_PREFIXES:
        query |= Q(purpose__startswith=prefix)
    return query


def epoch_hours() -> int:
    hours = int(getattr(settings, "TANDEM_EPOCH_HOURS", 6))
    if hours < 1:
        raise ImproperlyConfigured("TANDEM_EPOCH_HOURS must be at least 1.")
    return hours


def epoch_dir() -> Path:
    """The epoch key directory, created (mode 0700) if missing; refused if others can read it."""
    configured = str(getattr(settings, "TANDEM_EPOCH_KEY_DIR", "") or "")
    path = Path(configured) if configured else Path(settings.VAR_DIR) / "epoch-keys"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = path.stat().st_mode
    if os.name == "posix" and mode & 0o077:
        raise EpochKeyError(
            f"Epoch key directory {path} can be read by other users (mode "
            f"{stat.filemode(mode)}). Restrict it to its owner: chmod 700 {path}"
        )
    return path


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _parse(path: Path) -> EpochKey:
    mode = path.stat().st_mode
    if os.name == "posix" and mode & 0o077:
        raise EpochKeyError(f"Epoch key file {path} can be read by other users: chmod 600 {path}")
    lines = path.read_text(encoding="ascii").splitlines()
    values = dict(line.split(" ", 1) for line in lines[1:] if " " in line)
    try:
        if lines[0] != FILE_HEADER:
            raise ValueError
        key = base64.b64decode(values["key"], validate=True)
        created_at = datetime.fromisoformat(values["created"])
        sequence = int(values["sequence"])
    except (IndexError, KeyError, ValueError, binascii.Error):
        raise EpochKeyError(f"Epoch key file {path} is malformed.") from None
    if len(key) != EPOCH_KEY_BYTES or created_at.tzinfo is None:
        raise EpochKeyError(f"Epoch key file {path} is malformed.")
    return EpochKey(
        epoch_id=path.name.removesuffix(FILE_SUFFIX),
        created_at=created_at,
        key=key,
        sequence=sequence,
    )


def read_epoch_file(path: Path) -> EpochKey:
    """One epoch key file (for the key store, and for tests acting as the operator)."""
    return _parse(path)


# Keys read by this process, by (directory, id). Entries whose file is gone are forgotten.
_cache: dict[tuple[str, str], EpochKey] = {}


def _forget_missing(directory: Path, present: set[str]) -> None:
    for cache_key in [k for k in _cache if k[0] == str(directory) and k[1] not in present]:
        del _cache[cache_key]


def list_epochs() -> list[EpochKey]:
    """Every epoch key on disk, oldest first."""
    directory = epoch_dir()
    found: list[EpochKey] = []
    for path in directory.iterdir():
        epoch_id = path.name.removesuffix(FILE_SUFFIX)
        if not path.name.endswith(FILE_SUFFIX) or not _ID_RE.match(epoch_id):
            continue
        cache_key = (str(directory), epoch_id)
        if cache_key not in _cache:
            try:
                _cache[cache_key] = _parse(path)
            except FileNotFoundError:
                continue  # destroyed while we listed
        found.append(_cache[cache_key])
    _forget_missing(directory, {e.epoch_id for e in found})
    return sorted(found, key=lambda e: (e.sequence, e.created_at, e.epoch_id))


def epoch_key(epoch_id: str) -> EpochKey:
    """The epoch key ``epoch_id``; raises EpochKeyUnavailable once it was destroyed."""
    from tandem.core.crypto import EpochKeyUnavailable

    directory = epoch_dir()
    path = directory / f"{epoch_id}{FILE_SUFFIX}"
    cache_key = (str(directory), epoch_id)
    if not _ID_RE.match(epoch_id) or not path.exists():
        _cache.pop(cache_key, None)
        raise EpochKeyUnavailable(
            f"Epoch key '{epoch_id}' is not in {directory}: data keys wrapped under it can no "
            "longer be read (destroyed on schedule, or the directory is not the one the "
            "other Tandem processes use)."
        )
    if cache_key not in _cache:
        _cache[cache_key] = _parse(path)
    return _cache[cache_key]


def create_epoch() -> EpochKey:
    """Write a new epoch key file (0600, fsynced) and return it; it becomes the newest."""
    directory = epoch_dir()
    existing = list_epochs()
    epoch = EpochKey(
        epoch_id=f"ep-{secrets.token_hex(8)}",
        created_at=timezone.now(),
        key=os.urandom(EPOCH_KEY_BYTES),
        sequence=(existing[-1].sequence if existing else 0) + 1,
    )
    text = (
        f"{FILE_HEADER}\nsequence {epoch.sequence}\ncreated {epoch.created_at.isoformat()}\n"
        f"key {base64.b64encode(epoch.key).decode()}\n"
    )
    path = directory / f"{epoch.epoch_id}{FILE_SUFFIX}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    _fsync_dir(directory)
    _cache[(str(directory), epoch.epoch_id)] = epoch
    return epoch


def current_epoch() -> EpochKey:
    """The newest epoch, which wraps new data keys; the first one is created on first use."""
    epochs = list_epochs()
    if epochs:
        return epochs[-1]
    with _rotation_lock():
        epochs = list_epochs()
        return epochs[-1] if epochs else create_epoch()


def destroy_epoch_file(epoch_id: str) -> None:
    """Overwrite the key file with random bytes, fsync, unlink, fsync the directory."""
    directory = epoch_dir()
    path = directory / f"{epoch_id}{FILE_SUFFIX}"
    _cache.pop((str(directory), epoch_id), None)
    with contextlib.suppress(FileNotFoundError):
        size = max(path.stat().st_size, 128)
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, os.urandom(size))
            os.fsync(fd)
        finally:
            os.close(fd)
        path.unlink()
    _fsync_dir(directory)


@contextlib.contextmanager
def _rotation_lock() -> Iterator[None]:
    """One rotation (or first epoch creation) at a time among processes sharing the dir."""
    fd = os.open(epoch_dir() / _LOCK_NAME, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


# --- Rotation -------------------------------------------------------------------------------


@dataclass
class EpochRotation:
    rotated: bool = False
    current: str = ""
    rewrapped: int = 0
    stragglers: int = 0
    destroyed: int = 0
    kept: int = 0
    unreadable: int = 0


def _live_epoch_keys() -> Any:
    from tandem.core.models import DataKey

    return DataKey.objects.filter(epoch_purpose_q(), shredded_at__isnull=True)


@transaction.atomic
def _rewrap_batch(
    query: Any, skip: set[Any], batch_size: int, epoch: EpochKey
) -> tuple[int, set[Any]]:
    """Re-wrap one batch under the current master key and ``epoch``; returns (done, failed
    ids)."""
    from tandem.core import crypto
    from tandem.core.models import DataKey

    batch = list(query.select_for_update().exclude(pk__in=skip).order_by("id")[:batch_size])
    done: list[DataKey] = []
    failed: set[Any] = set()
    for data_key in batch:
        try:
            plain = crypto.unwrap_data_key(data_key)
        except crypto.CryptoError:
            failed.add(data_key.pk)
            continue
        crypto.wrap_into(data_key, plain, epoch=epoch)
        data_key.rotated_at = timezone.now()
        done.append(data_key)
    DataKey.objects.bulk_update(done, ["master_key_id", "epoch_id", "wrapped_key", "rotated_at"])
    return len(done), failed


def _rewrap(query: Any, batch_size: int, epoch: EpochKey) -> tuple[int, set[Any]]:
    total = 0
    failed: set[Any] = set()
    query = query.exclude(epoch_id=epoch.epoch_id)  # each pass shrinks the set: it ends
    while True:
        done, newly_failed = _rewrap_batch(query, failed, batch_size, epoch)
        failed |= newly_failed
        total += done
        if not done and not newly_failed:
            return total, failed


def _rewrap_all(current: EpochKey, batch_size: int) -> tuple[int, set[Any]]:
    return _rewrap(_live_epoch_keys(), batch_size, current)


def epoch_rotate(
    *, acting_user: User | None = None, force: bool = False, batch_size: int = 500
) -> EpochRotation:
    """Rotate when the newest epoch is older than TANDEM_EPOCH_HOURS (or ``force``), then
    destroy every epoch older than the previous one that no live data key needs."""
    hours = epoch_hours()
    result = EpochRotation()
    with _rotation_lock():
        epochs = list_epochs()
        due = (
            force
            or not epochs
            or (timezone.now() - epochs[-1].created_at >= timedelta(hours=hours))
        )
        if due:
            epochs.append(create_epoch())
            result.rotated = True
            result.rewrapped, failed = _rewrap_all(epochs[-1], batch_size)
            result.unreadable = len(failed)
        result.current = epochs[-1].epoch_id
        for old in epochs[:-2]:
            _destroy_if_unused(old, epochs[-1], result, batch_size)
    if result.rotated or result.destroyed or result.stragglers:
        with transaction.atomic():
            audit_record(
                action="crypto.epoch_rotate",
                actor=acting_user,
                object_type="core.DataKey",
                purpose="epoch key rotation",
                detail={
                    "rotated": result.rotated,
                    "forced": force,
                    "rewrapped": result.rewrapped,
                    "stragglers": result.stragglers,
                    "destroyed": result.destroyed,
                    "kept": result.kept,
                    "unreadable": result.unreadable,
                },
            )
    return result


def _destroy_if_unused(
    old: EpochKey, current: EpochKey, result: EpochRotation, batch_size: int
) -> None:
    """Re-wrap any live key still under ``old`` (a straggler), then destroy ``old`` if none
    is left. The check runs after the re-wrap, so a key can never be left behind."""
    stragglers = _live_epoch_keys().filter(epoch_id=old.epoch_id)
    moved, failed = _rewrap(stragglers, batch_size, current)
    result.stragglers += moved
    if failed or stragglers.exists():
        result.kept += 1
        result.unreadable += len(failed)
        return
    destroy_epoch_file(old.epoch_id)
    result.destroyed += 1


def epoch_rotate_if_due() -> EpochRotation:
    """The periodic job (``core/jobs.py``)."""
    return epoch_rotate()


@dataclass
class EpochStatus:
    directory: Path
    hours: int
    epochs: list[tuple[EpochKey, int]]  # (epoch, live data keys wrapped under it)
    not_epoch_wrapped: int  # live peer-support keys still under the master key alone
    missing: dict[str, int]  # epoch id -> live data keys whose epoch key is gone


def epoch_status() -> EpochStatus:
    from django.db.models import Count

    live = {
        row["epoch_id"]: row["n"]
        for row in _live_epoch_keys().values("epoch_id").annotate(n=Count("id")).order_by()
    }
    epochs = list_epochs()
    present = {e.epoch_id for e in epochs}
    return EpochStatus(
        directory=epoch_dir(),
        hours=epoch_hours(),
        epochs=[(e, live.get(e.epoch_id, 0)) for e in epochs],
        not_epoch_wrapped=live.get("", 0),
        missing={k: n for k, n in live.items() if k and k not in present},
    )
