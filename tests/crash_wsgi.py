"""Tandem's WSGI application with one change for the crash test: routing a peer-support
request writes its rows, says so in a marker file, then hangs inside the transaction, so the
test can ``kill -9`` the web worker in the middle of the request."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from tandem.wsgi import application  # first: it sets Django up

from tandem.support.services import requests  # noqa: E402  # isort: skip

_route = requests._route


def _route_then_hang(*args: Any, **kwargs: Any) -> None:
    _route(*args, **kwargs)
    Path(os.environ["TANDEM_TEST_CRASH_MARKER"]).write_text("routed")
    time.sleep(600)


requests._route = _route_then_hang  # where routing is looked up

__all__ = ["application"]
