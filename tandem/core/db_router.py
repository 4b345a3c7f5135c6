"""Read replicas: list and report reads go to the ``replica`` database when one is set.

``TANDEM_REPLICA_DATABASE_URL`` adds a ``replica`` alias (a streaming replica of the
primary PostgreSQL, or for a test any second alias of the same database). Only reads made
inside ``replica_reads()`` — list pages and report counting, which tolerate the replica's
lag of a second or so — go there; everything else, every write, and every read inside a
transaction on the primary (an audit append reading its chain head, a service checking
before it writes) stays on the primary, so nothing that decides a write reads stale rows.
Without a replica configured ``replica_reads()`` changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import wraps
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"
_OFF, _OUTSIDE_TRANSACTIONS, _ALWAYS = 0, 1, 2
_mode: ContextVar[int] = ContextVar("tandem_replica_reads", default=_OFF)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


@contextmanager
def replica_reads(*, inside_transaction: bool = False) -> Iterator[None]:
    """Send reads to the replica while inside. ``inside_transaction=True`` also sends
    reads made inside a primary transaction there: only for counting that decides no write
    (a report's tables), never for a check before a write."""
    token = _mode.set(_ALWAYS if inside_transaction else _OUTSIDE_TRANSACTIONS)
    try:
        yield
    finally:
        _mode.reset(token)


def reads_from_replica(view: Any) -> Any:
    """View decorator: the view's reads go to the replica (see ``replica_reads``)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        with replica_reads():
            return view(*args, **kwargs)

    return wrapped


class ReplicaRouter:
    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        mode = _mode.get()
        if mode == _OFF or not replica_configured():
            return None
        if mode == _OUTSIDE_TRANSACTIONS and connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return REPLICA

    def db_for_write(self, model: Any, **hints: Any) -> str:
        return DEFAULT_DB_ALIAS  # even for an object that was read from the replica

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        both = {obj1._state.db, obj2._state.db}
        return True if both <= {DEFAULT_DB_ALIAS, REPLICA} else None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None
