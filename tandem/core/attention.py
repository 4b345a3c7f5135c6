"""What needs the signed-in person's attention now, for their home page.

Each program lists its own items in ``tandem/<app>/attention.py`` (``items(user, now)``),
the way it lists its menu entries in ``navigation.py``. Items are counts with a plain
sentence and a link: no names, no identities (a waiting peer-support request is shown only
as how many and for how long).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from importlib import import_module
from typing import Any

APPS = ("support", "readiness", "recovery")
#: The program an app belongs to: its items show only where the agency runs it.
PROGRAM_OF = {"support": "peer_support", "recovery": "peer_recovery"}


@dataclass(frozen=True)
class Item:
    text: str  # e.g. "3 requests waiting, the longest for 5 hours"
    url: str
    urgent: bool = False


def attention_for(user: Any, now: datetime) -> list[Item]:
    if user.agency is None:
        return []
    found: list[Item] = []
    for app in APPS:
        if app in PROGRAM_OF and not user.agency.runs(PROGRAM_OF[app]):
            continue
        found += import_module(f"tandem.{app}.attention").items(user, now)
    return found


def plural(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"
