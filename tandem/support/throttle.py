"""The help page's flood limit, kept only in this process's memory.

Only *valid* submissions are counted (an empty or malformed post costs the sender nothing
and cannot shut the page for anyone else). A client is counted under an HMAC of its address
(``tandem.core.http.client_ip``) keyed with a random key that lives only in memory and is
replaced, together with every count, at the start of each hour. Nothing is written to the
database, so neither the operator, the holder of the Django secret key, nor a backup can
later confirm which address asked.

Trade-off: with several server processes each keeps its own counts, so the effective limit
is the per-process limit times the number of processes (a load balancer spreading one
client over N workers lets it send up to N times the limit). For a flood guard on a form
that only takes closed choices that is acceptable; a shared store would be an address log.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

#: Valid submissions per client per hour, and per agency (all clients) per hour.
PER_CLIENT_PER_HOUR = 5
PER_AGENCY_PER_HOUR = 60


@dataclass
class _Hour:
    start: datetime | None = None
    key: bytes = b""
    counts: dict[str, int] = field(default_factory=dict)


_lock = threading.Lock()
_hour = _Hour()


def _current(now: datetime) -> _Hour:
    """This hour's key and counts; a new hour forgets the old key and every count."""
    start = now.replace(minute=0, second=0, microsecond=0)
    if _hour.start != start:
        _hour.start = start
        _hour.key = secrets.token_bytes(32)
        _hour.counts = {}
    return _hour


def client_bucket(ip: str, now: datetime | None = None) -> str:
    """The name a client is counted under this hour (unlinkable once the hour is over)."""
    with _lock:
        key = _current(now or timezone.now()).key
    return "client:" + hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()[:32]


def allow(buckets: Iterable[tuple[str, int]], now: datetime | None = None) -> bool:
    """Count one valid submission in every ``(bucket, limit)``; False, counting nothing,
    when any bucket has reached its limit this hour."""
    wanted = list(buckets)
    with _lock:
        hour = _current(now or timezone.now())
        if any(hour.counts.get(name, 0) >= limit for name, limit in wanted):
            return False
        for name, _ in wanted:
            hour.counts[name] = hour.counts.get(name, 0) + 1
    return True


def forget_all() -> None:
    """Drop the key and every count now (as a process restart does)."""
    with _lock:
        _hour.start = None
        _hour.key = b""
        _hour.counts = {}
