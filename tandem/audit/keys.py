"""The audit key: the secret that authenticates every audit event and checkpoint (X-4).

The key never touches the database. It lives in a file outside it (``TANDEM_AUDIT_KEY_FILE``,
default ``var/audit.key``, mode 0600), one ``id:base64key`` line per key; the first line
signs new events, the others still verify events signed before a rotation. Each event
records the id of its key, so rotating is: ``tandem audit keygen --rotate`` (prepends a new
key), and keep the old lines as long as events signed with them are kept.

A DBA who can rewrite every row of the audit table cannot make a row whose MAC verifies
without this file, so a rewritten or forged event is caught by ``tandem audit verify``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

KEY_BYTES = 32
_KEY_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")


class AuditKeyUnavailable(ImproperlyConfigured):
    """The key an event names is not in the key file."""


@dataclass(frozen=True)
class AuditKeyRing:
    keys: tuple[tuple[str, bytes], ...]
    source: str

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    def get(self, key_id: str) -> bytes:
        for candidate, key in self.keys:
            if candidate == key_id:
                return key
        raise AuditKeyUnavailable(f"Audit key '{key_id}' is not in {self.source}.")

    def mac(self, key_id: str, message: str) -> str:
        return hmac.new(self.get(key_id), message.encode(), hashlib.sha256).hexdigest()


def key_file_path() -> Path:
    default = Path(settings.VAR_DIR) / "audit.key"
    return Path(getattr(settings, "TANDEM_AUDIT_KEY_FILE", "") or default)


def parse_audit_keys(lines: list[str], *, source: str) -> AuditKeyRing:
    """Parse ``id:base64key`` lines. Errors name the line, never key material."""
    keys: list[tuple[str, bytes]] = []
    for number, raw in enumerate(lines, start=1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        key_id, sep, encoded = entry.partition(":")
        if not sep or not _KEY_ID_RE.match(key_id.strip()):
            raise ImproperlyConfigured(
                f"Line {number} of {source} must look like 'id:base64key' (id of letters, "
                "digits, '.', '_' or '-', at most 40)."
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(
                f"Audit key on line {number} of {source} is not base64."
            ) from None
        if len(key) != KEY_BYTES:
            raise ImproperlyConfigured(
                f"Audit key on line {number} of {source} is {len(key)} bytes; it must be "
                f"{KEY_BYTES}. Make one with `tandem audit keygen`."
            )
        if any(existing == key_id.strip() for existing, _ in keys):
            raise ImproperlyConfigured(f"Audit key id '{key_id}' appears twice in {source}.")
        keys.append((key_id.strip(), key))
    if not keys:
        raise ImproperlyConfigured(f"{source} holds no audit key.")
    return AuditKeyRing(keys=tuple(keys), source=source)


_cache: dict[tuple[Any, ...], AuditKeyRing] = {}


def audit_keys() -> AuditKeyRing:
    """The configured audit keys. Outside production (demo mode, DEBUG, or plain HTTP for
    development and tests) a missing file is created; in production it is an error."""
    path = key_file_path()
    development = settings.DEMO_MODE or settings.DEBUG or getattr(settings, "INSECURE_HTTP", False)
    if not path.exists() and development:
        ensure_demo_audit_key()
    try:
        st = path.stat()
    except FileNotFoundError:
        raise ImproperlyConfigured(
            f"No audit key: the file {path} (TANDEM_AUDIT_KEY_FILE) does not exist. Create it "
            "with `tandem audit keygen`, and keep it out of the database's backups."
        ) from None
    if os.name == "posix" and st.st_mode & 0o077:
        raise ImproperlyConfigured(
            f"Audit key file {path} can be read by other users (mode "
            f"{stat.filemode(st.st_mode)}). Restrict it to its owner: chmod 600 {path}"
        )
    cache_key = (str(path), st.st_ino, st.st_mtime_ns, st.st_size)
    if cache_key not in _cache:
        _cache.clear()
        lines = path.read_text(encoding="utf-8").splitlines()
        _cache[cache_key] = parse_audit_keys(lines, source=f"audit key file {path}")
    return _cache[cache_key]


def generate_audit_key_line(key_id: str | None = None) -> str:
    key_id = key_id or f"ak-{timezone.now():%Y%m%d}-{secrets.token_hex(3)}"
    if not _KEY_ID_RE.match(key_id):
        raise ValueError("An audit key id uses letters, digits, '.', '_' or '-' (at most 40).")
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


def _write_private(path: Path, text: str, *, replace: bool) -> None:
    """Write a 0600 file atomically; without ``replace`` an existing file is kept."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        if replace:
            os.replace(temporary, path)
        else:
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def ensure_demo_audit_key(key_id: str | None = "demo-1") -> Path:
    """Create the audit key file (mode 0600) if it does not exist; never changes one."""
    path = key_file_path()
    if not path.exists():
        _write_private(path, generate_audit_key_line(key_id) + "\n", replace=False)
    return path


def audit_key_rotate() -> str:
    """Put a new key first in the key file (it signs from now on); returns its id."""
    path = key_file_path()
    line = generate_audit_key_line()
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    _write_private(path, line + "\n" + old, replace=True)
    return line.partition(":")[0]


@checks.register(checks.Tags.security, deploy=True)
def check_audit_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``tandem check --deploy``: the audit key file loads."""
    try:
        audit_keys()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="tandem.audit.E001")]
    return []
