"""Envelope encryption with crypto-shredding (X-5, P1).

Every protected record owns a :class:`~tandem.core.models.DataKey`: a random 256-bit
AES-GCM key that is stored only *wrapped* (encrypted) by a master key. Master keys never
touch the database; they come from ``TANDEM_MASTER_KEYS`` ("id:base64,id:base64", the first
one encrypts) or, when that is empty, from the key file ``TANDEM_MASTER_KEY_FILE`` (same
entries, one per line, readable by its owner only).

* :func:`seal` / :func:`unseal` encrypt one value under a record's data key. The additional
  authenticated data (AAD) binds the ciphertext to the data key and to a caller-chosen
  context (``EncryptedTextField`` uses "<app_label.model>.<field>"), so a token moved to
  another record or field fails authentication instead of decrypting.
* :func:`crypto_shred` destroys the wrapped data key: afterwards no ciphertext sealed under
  it can ever be read again, by anyone, including from backups taken later.
* :func:`keys_rotate` re-wraps every live data key under the current master key, after which
  older master keys can be removed from the configuration.
* Peer-support data keys (purpose ``psp.*``) are wrapped under the master key *and* a
  short-lived epoch key held outside the database (:mod:`tandem.core.epochs`): the wrapping
  key is derived from both, so neither the master key file nor the epoch key directory alone
  opens them, and once an epoch key is destroyed every copy of a key wrapped under it (dead
  rows, write-ahead log, snapshots, backups) is useless.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
import re
import secrets
import stat
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from tandem.core.hooks import audit_record

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.core.epochs import EpochKey
    from tandem.core.models import DataKey

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # 96-bit GCM nonce, fresh for every encryption
TOKEN_VERSION = "v1"  # noqa: S105 - a format tag, not a secret
# Plaintexts are padded to a multiple of this many bytes so ciphertext length does not give
# away the exact length of a name or phone number.
PAD_BLOCK = 32
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class CryptoError(Exception):
    """Base class for failures to read or write protected data."""


class KeyShredded(CryptoError):
    """The data key was crypto-shredded: the data it protected is gone for good."""


class DecryptionFailed(CryptoError):
    """A ciphertext failed authentication: it was altered, or moved to another record/field."""


class MasterKeyUnavailable(CryptoError):
    """A data key is wrapped by a master key that is not in the current configuration."""


class EpochKeyUnavailable(KeyShredded):
    """A data key is wrapped under an epoch key that was destroyed (or is not in this
    process's epoch key directory): its data reads as shredded."""


# --- Master keys ------------------------------------------------------------------------


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    key: bytes = field(repr=False)


@dataclass(frozen=True)
class MasterKeyRing:
    keys: tuple[MasterKey, ...]
    source: str

    @property
    def current(self) -> MasterKey:
        return self.keys[0]

    @property
    def ids(self) -> list[str]:
        return [k.key_id for k in self.keys]

    def get(self, key_id: str) -> MasterKey:
        for key in self.keys:
            if key.key_id == key_id:
                return key
        raise MasterKeyUnavailable(
            f"Master key '{key_id}' is not configured (configured: {', '.join(self.ids)}). "
            f"Add it back to {self.source} to read data keys wrapped by it."
        )


def parse_master_keys(entries: Iterable[str], *, source: str) -> MasterKeyRing:
    """Parse "id:base64key" entries. Errors name the entry's position, never key material."""
    keys: list[MasterKey] = []
    for number, raw in enumerate(entries, start=1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID_RE.match(key_id):
            raise ImproperlyConfigured(
                f"Master key entry {number} in {source} must look like 'id:base64key' with an id "
                "of letters, digits, '.', '_' or '-' (at most 40)."
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(
                f"Master key '{key_id}' in {source} is not valid base64."
            ) from None
        if len(key) != KEY_BYTES:
            raise ImproperlyConfigured(
                f"Master key '{key_id}' in {source} is {len(key)} bytes; it must be exactly "
                f"{KEY_BYTES} bytes (256 bits). Generate one with `tandem keys generate`."
            )
        if any(k.key_id == key_id for k in keys):
            raise ImproperlyConfigured(f"Master key id '{key_id}' appears twice in {source}.")
        keys.append(MasterKey(key_id=key_id, key=key))
    if not keys:
        raise ImproperlyConfigured(f"{source} holds no master key.")
    return MasterKeyRing(keys=tuple(keys), source=source)


def _check_key_file_permissions(path: Path, st: os.stat_result) -> None:
    if os.name == "posix" and st.st_mode & 0o077:
        raise ImproperlyConfigured(
            f"Master key file {path} can be read by other users (mode "
            f"{stat.filemode(st.st_mode)}). Restrict it to its owner: chmod 600 {path}"
        )


_ring_cache: dict[tuple[Any, ...], MasterKeyRing] = {}


def master_keys() -> MasterKeyRing:
    """The configured master keys; the first one wraps new data keys."""
    inline = (getattr(settings, "TANDEM_MASTER_KEYS", "") or "").strip()
    if inline:
        cache_key: tuple[Any, ...] = ("env", inline)
        if cache_key not in _ring_cache:
            _ring_cache.clear()
            _ring_cache[cache_key] = parse_master_keys(
                inline.split(","), source="TANDEM_MASTER_KEYS"
            )
        return _ring_cache[cache_key]
    path = Path(getattr(settings, "TANDEM_MASTER_KEY_FILE", "") or "")
    if not str(path) or str(path) == ".":
        raise ImproperlyConfigured(
            "No master key configured: set TANDEM_MASTER_KEYS or TANDEM_MASTER_KEY_FILE."
        )
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"No master key configured: TANDEM_MASTER_KEYS is empty and the key file {path} "
            "does not exist. Create it with `tandem keys generate > FILE && chmod 600 FILE`, "
            "or set TANDEM_MASTER_KEYS=id:base64key."
        ) from None
    _check_key_file_permissions(path, st)
    cache_key = ("file", str(path), st.st_ino, st.st_mtime_ns, st.st_size, st.st_mode)
    if cache_key not in _ring_cache:
        _ring_cache.clear()
        _ring_cache[cache_key] = parse_master_keys(
            path.read_text(encoding="utf-8").splitlines(), source=f"key file {path}"
        )
    return _ring_cache[cache_key]


@checks.register(checks.Tags.security, deploy=True)
def check_master_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``tandem check --deploy``: the master key configuration loads."""
    try:
        master_keys()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="tandem.E002")]
    return []


@checks.register(checks.Tags.security, deploy=True)
def check_epoch_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``tandem check --deploy``: the epoch key directory exists (or can be made) and is
    private, and its files are readable."""
    from tandem.core.epochs import list_epochs

    try:
        list_epochs()
    except (ImproperlyConfigured, OSError) as exc:
        return [checks.Error(str(exc), id="tandem.E003")]
    return []


def generate_master_key_line(key_id: str | None = None) -> str:
    """A fresh "id:base64key" entry for TANDEM_MASTER_KEYS or the key file."""
    key_id = key_id or f"mk-{timezone.now():%Y%m%d}-{secrets.token_hex(3)}"
    if not _KEY_ID_RE.match(key_id):
        raise ValueError("A master key id uses letters, digits, '.', '_' or '-' (at most 40).")
    return f"{key_id}:{base64.b64encode(AESGCM.generate_key(bit_length=256)).decode()}"


def ensure_demo_master_key() -> Path | None:
    """Create the master key file (mode 0600) if no master key is configured yet.

    Used by ``tandem demo`` and the test suite. Returns the key file path, or ``None`` when
    keys come from TANDEM_MASTER_KEYS. An existing file is never changed.
    """
    if (getattr(settings, "TANDEM_MASTER_KEYS", "") or "").strip():
        return None
    path = Path(settings.TANDEM_MASTER_KEY_FILE)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write a private temporary file, then link it into place: readers never see a partial
    # file, and a concurrent creator (parallel test workers) wins without being overwritten.
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(generate_master_key_line("demo-1") + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


# --- Data keys --------------------------------------------------------------------------


def _wrap_aad(data_key_id: uuid.UUID, purpose: str, master_key_id: str) -> bytes:
    return f"tandem:datakey:v1:{data_key_id}:{purpose}:{master_key_id}".encode()


def wrap_data_key(
    plain_key: bytes, *, data_key_id: uuid.UUID, purpose: str, master: MasterKey
) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    aad = _wrap_aad(data_key_id, purpose, master.key_id)
    return nonce + AESGCM(master.key).encrypt(nonce, plain_key, aad)


# Epoch-wrapped keys start with this tag, so a scan of raw storage (heap pages, WAL, journal)
# finds every copy; the tag reveals nothing the code does not already say.
EPOCH_WRAP_TAG = b"TEK1"


def _epoch_wrap_aad(data_key_id: Any, purpose: str, master_key_id: str, epoch_id: str) -> bytes:
    return f"tandem:datakey:e1:{data_key_id}:{purpose}:{master_key_id}:{epoch_id}".encode()


def _epoch_wrapping_key(master: MasterKey, epoch: EpochKey) -> bytes:
    """HKDF over both keys: opening the data key needs the master key AND the epoch key."""
    return HKDF(
        algorithm=SHA256(),
        length=KEY_BYTES,
        salt=b"tandem:epoch-wrap:v1",
        info=f"{master.key_id}:{epoch.epoch_id}".encode(),
    ).derive(epoch.key + master.key)


def wrap_data_key_epoch(
    plain_key: bytes, *, data_key_id: Any, purpose: str, master: MasterKey, epoch: EpochKey
) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    aad = _epoch_wrap_aad(data_key_id, purpose, master.key_id, epoch.epoch_id)
    sealed = AESGCM(_epoch_wrapping_key(master, epoch)).encrypt(nonce, plain_key, aad)
    return EPOCH_WRAP_TAG + nonce + sealed


def unwrap_epoch_blob(
    wrapped: bytes, *, data_key_id: Any, purpose: str, master: MasterKey, epoch: EpochKey
) -> bytes:
    """Open an epoch-wrapped key with the given keys; raises DecryptionFailed otherwise."""
    body = wrapped[len(EPOCH_WRAP_TAG) :] if wrapped.startswith(EPOCH_WRAP_TAG) else b""
    aad = _epoch_wrap_aad(data_key_id, purpose, master.key_id, epoch.epoch_id)
    try:
        key = AESGCM(_epoch_wrapping_key(master, epoch)).decrypt(
            body[:NONCE_BYTES], body[NONCE_BYTES:], aad
        )
    except (InvalidTag, ValueError):
        raise DecryptionFailed(
            f"Data key {data_key_id} failed authentication under master key "
            f"'{master.key_id}' and epoch '{epoch.epoch_id}': the stored key was altered."
        ) from None
    if len(key) != KEY_BYTES:
        raise DecryptionFailed(f"Data key {data_key_id} has the wrong length.")
    return key


def unwrap_data_key(data_key: DataKey) -> bytes:
    """The plaintext data key. Raises KeyShredded (EpochKeyUnavailable once its epoch key is
    destroyed), MasterKeyUnavailable or DecryptionFailed."""
    if data_key.shredded_at is not None or data_key.wrapped_key is None:
        raise KeyShredded(f"Data key {data_key.pk} was shredded; its data cannot be read.")
    master = master_keys().get(data_key.master_key_id)
    wrapped = bytes(data_key.wrapped_key)
    if data_key.epoch_id:
        from tandem.core.epochs import epoch_key

        return unwrap_epoch_blob(
            wrapped,
            data_key_id=data_key.pk,
            purpose=data_key.purpose,
            master=master,
            epoch=epoch_key(data_key.epoch_id),
        )
    aad = _wrap_aad(data_key.pk, data_key.purpose, data_key.master_key_id)
    try:
        key = AESGCM(master.key).decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], aad)
    except InvalidTag:
        raise DecryptionFailed(
            f"Data key {data_key.pk} failed authentication under master key "
            f"'{data_key.master_key_id}': the stored key was altered."
        ) from None
    if len(key) != KEY_BYTES:
        raise DecryptionFailed(f"Data key {data_key.pk} has the wrong length.")
    return key


def wrap_into(data_key: DataKey, plain_key: bytes, *, epoch: EpochKey | None = None) -> None:
    """Set ``data_key``'s wrapped key (not saved): under the current master key, and for
    peer-support purposes also under ``epoch`` (default: the newest epoch key)."""
    from tandem.core.epochs import current_epoch, uses_epoch

    master = master_keys().current
    data_key.master_key_id = master.key_id
    if uses_epoch(data_key.purpose):
        epoch = epoch or current_epoch()
        data_key.epoch_id = epoch.epoch_id
        data_key.wrapped_key = wrap_data_key_epoch(
            plain_key,
            data_key_id=data_key.pk,
            purpose=data_key.purpose,
            master=master,
            epoch=epoch,
        )
    else:
        data_key.epoch_id = ""
        data_key.wrapped_key = wrap_data_key(
            plain_key, data_key_id=data_key.pk, purpose=data_key.purpose, master=master
        )


def new_data_key(*, purpose: str) -> DataKey:
    """Create and store a fresh data key wrapped by the current master (and epoch) key."""
    from tandem.core.models import DataKey

    plain = AESGCM.generate_key(bit_length=256)
    data_key = DataKey(id=uuid.uuid4(), purpose=purpose[:64])
    if data_key.purpose.startswith("psp."):
        # A peer-support key made at the second a request came in would date the request.
        data_key.created_at = _to_hour(timezone.now())
    wrap_into(data_key, plain)
    data_key.save(force_insert=True)
    data_key.remember_plain_key(plain)
    return data_key


# --- Sealing values ---------------------------------------------------------------------


def _pad(data: bytes) -> bytes:
    # ISO/IEC 7816-4: a 0x80 marker, then zeros up to the next block boundary.
    padded = data + b"\x80"
    return padded + b"\x00" * (-len(padded) % PAD_BLOCK)


def _unpad(data: bytes) -> bytes:
    end = data.rfind(b"\x80")
    if end < 0 or data[end + 1 :].strip(b"\x00"):
        raise DecryptionFailed("Decrypted value has invalid padding.")
    return data[:end]


def _seal_aad(data_key_id: Any, aad: str) -> bytes:
    return f"tandem:seal:{TOKEN_VERSION}:{data_key_id}:{aad}".encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(data_key: DataKey, plaintext: str, *, aad: str) -> str:
    """Encrypt ``plaintext`` under ``data_key``; returns "v1:<key id>:<nonce>:<ciphertext>".

    ``aad`` names where the value belongs (e.g. "support.request.phone"); :func:`unseal`
    must be given the same string. A fresh random nonce makes every token different.
    """
    key = data_key.plain_key()
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(key).encrypt(
        nonce, _pad(plaintext.encode("utf-8")), _seal_aad(data_key.pk, aad)
    )
    return f"{TOKEN_VERSION}:{data_key.pk}:{_b64(nonce)}:{_b64(ciphertext)}"


def token_data_key_id(token: str) -> str:
    """The data key id a token names (no decryption)."""
    parts = token.split(":")
    if len(parts) != 4 or parts[0] != TOKEN_VERSION:
        raise DecryptionFailed("Malformed ciphertext token.")
    return parts[1]


def unseal(data_key: DataKey, token: str, *, aad: str) -> str:
    """Decrypt a token made by :func:`seal`.

    Raises KeyShredded after shredding, DecryptionFailed when the token was altered, sealed
    under another data key, or sealed for another ``aad`` (another record or field).
    """
    key_id = token_data_key_id(token)
    if key_id != str(data_key.pk):
        raise DecryptionFailed(
            "Ciphertext was sealed under a different data key (moved from another record?)."
        )
    _, _, nonce_text, body_text = token.split(":")
    try:
        nonce, body = _unb64(nonce_text), _unb64(body_text)
    except (binascii.Error, ValueError):
        raise DecryptionFailed("Malformed ciphertext token.") from None
    key = data_key.plain_key()
    try:
        padded = AESGCM(key).decrypt(nonce, body, _seal_aad(data_key.pk, aad))
    except (InvalidTag, ValueError):
        raise DecryptionFailed(
            f"Ciphertext for '{aad}' failed authentication: it was altered, or moved from "
            "another record or field."
        ) from None
    return _unpad(padded).decode("utf-8")


# --- Services ---------------------------------------------------------------------------


def _to_hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


@transaction.atomic
def crypto_shred(
    *,
    data_key: DataKey,
    acting_user: User | None = None,
    reason: str,
    agency_id: int | None = None,
    audited: bool = True,
) -> DataKey:
    """Destroy ``data_key`` for good: every ciphertext sealed under it becomes unreadable.

    The wrapped key is overwritten with NULL (SQLite runs with secure_delete, so the freed
    bytes are zeroed) and the event is audited with the key id only. ``audited=False`` is
    for callers that record the event later themselves (peer support writes it in its
    shuffled daily batch: an audit row at the moment of a withdrawal would date it).
    """
    from tandem.core.models import DataKey

    locked = DataKey.objects.select_for_update().get(pk=data_key.pk)
    already = locked.shredded_at is not None
    if not already:
        # Keep only the hour of creation and of shredding: an exact creation second could
        # be matched against other activity to guess whose record this key sealed.
        # The row no longer names its epoch either: nothing ties it to a rotation period.
        locked.wrapped_key = None
        locked.epoch_id = ""
        locked.created_at = _to_hour(locked.created_at)
        locked.shredded_at = _to_hour(timezone.now())
        locked.save(update_fields=["wrapped_key", "epoch_id", "created_at", "shredded_at"])
    data_key.wrapped_key = None
    data_key.epoch_id = ""
    data_key.created_at = locked.created_at
    data_key.shredded_at = locked.shredded_at
    data_key.forget_plain_key()
    if not audited:
        return data_key
    audit_record(
        action="crypto.shred",
        actor=acting_user,
        agency_id=agency_id,
        object_type="core.DataKey",
        object_id=str(data_key.pk),
        purpose=reason,
        detail={"purpose": data_key.purpose, "already_shredded": already},
    )
    return data_key


@dataclass
class RotationResult:
    current: str
    rewrapped: int = 0
    by_previous_master: dict[str, int] = field(default_factory=dict)
    batches: int = 0


def keys_rotate(*, acting_user: User | None = None, batch_size: int = 500) -> RotationResult:
    """Re-wrap every unshredded data key under the current master key, batch by batch.

    Each batch is one transaction with its own audit event (counts only). Stops with
    MasterKeyUnavailable if a data key's master key is not configured, before changing it.
    Keys under an epoch key that no longer exists cannot be opened by anyone: they are left
    as they are (``tandem keys status`` reports them).
    """
    from tandem.core.epochs import list_epochs

    ring = master_keys()
    result = RotationResult(current=ring.current.key_id)
    epoch_ids = [epoch.epoch_id for epoch in list_epochs()]
    while True:
        done = _rotate_batch(
            ring=ring, acting_user=acting_user, batch_size=batch_size, epoch_ids=epoch_ids
        )
        if done is None:
            break
        result.batches += 1
        for old_id, count in done.items():
            result.by_previous_master[old_id] = result.by_previous_master.get(old_id, 0) + count
            result.rewrapped += count
    if result.batches == 0:
        audit_record(
            action="crypto.rotate",
            actor=acting_user,
            object_type="core.DataKey",
            purpose="master key rotation",
            detail={"to": ring.current.key_id, "rewrapped": 0, "from": {}},
        )
    return result


@transaction.atomic
def _rotate_batch(
    *, ring: MasterKeyRing, acting_user: User | None, batch_size: int, epoch_ids: list[str]
) -> dict[str, int] | None:
    from django.db.models import Q

    from tandem.core.models import DataKey

    current = ring.current
    batch = list(
        DataKey.objects.select_for_update()
        .filter(Q(epoch_id="") | Q(epoch_id__in=epoch_ids), shredded_at__isnull=True)
        .exclude(master_key_id=current.key_id)
        .order_by("id")[:batch_size]
    )
    if not batch:
        return None
    counts: dict[str, int] = {}
    for data_key in batch:
        plain = unwrap_data_key(data_key)
        counts[data_key.master_key_id] = counts.get(data_key.master_key_id, 0) + 1
        wrap_into(data_key, plain)
        data_key.rotated_at = timezone.now()
    DataKey.objects.bulk_update(batch, ["master_key_id", "epoch_id", "wrapped_key", "rotated_at"])
    audit_record(
        action="crypto.rotate",
        actor=acting_user,
        object_type="core.DataKey",
        purpose="master key rotation",
        detail={"to": current.key_id, "rewrapped": sum(counts.values()), "from": counts},
    )
    return counts


@dataclass
class KeyStatus:
    current: str
    configured: list[str]
    live_by_master: dict[str, int]
    shredded: int

    @property
    def unreadable(self) -> dict[str, int]:
        """Live data keys whose master key is missing from the configuration."""
        return {k: n for k, n in self.live_by_master.items() if k not in self.configured}


def keys_status() -> KeyStatus:
    from django.db.models import Count

    from tandem.core.models import DataKey

    ring = master_keys()
    rows = (
        DataKey.objects.filter(shredded_at__isnull=True)
        .values("master_key_id")
        .annotate(n=Count("id"))
        .order_by("master_key_id")
    )
    return KeyStatus(
        current=ring.current.key_id,
        configured=ring.ids,
        live_by_master={row["master_key_id"]: row["n"] for row in rows},
        shredded=DataKey.objects.filter(shredded_at__isnull=False).count(),
    )
