"""gunicorn settings for Tandem: ``gunicorn -c python:tandem.gunicorn_conf``.

``tandem serve`` uses it too. gunicorn names itself in a ``Server`` header on every response
and offers no setting to stop it; telling strangers which server (and so which bugs) answers
helps nobody but them, so the header is left out and the ``SERVER_SOFTWARE`` it passes to the
application is blanked. ``test_gunicorn_does_not_announce_itself`` checks this against a real
gunicorn, so an upgrade that changes gunicorn's internals fails the suite rather than silently
announcing it again.

Before it listens, gunicorn runs Tandem's system checks (``on_starting``), so settings that
``tandem check`` refuses (an unknown e-mail or SMS backend, say) stop the server at start-up
with one line each instead of failing on the first request that needs them.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import gunicorn.arbiter
import gunicorn.http.wsgi

_default_headers = gunicorn.http.wsgi.Response.default_headers


def _headers_without_server(self: Any) -> list[str]:
    return [h for h in _default_headers(self) if not h.lower().startswith("server:")]


gunicorn.http.wsgi.Response.default_headers = _headers_without_server
gunicorn.http.wsgi.SERVER_SOFTWARE = ""
gunicorn.arbiter.SERVER_SOFTWARE = ""

wsgi_app = "tandem.wsgi:application"
# Idle keep-alive connections stay open 30 s (gunicorn's default is 2 s). Under load a
# request queued behind busy threads found its connection closed under it: 10 connection
# resets in a 30-second round at 100 users on PostgreSQL with the default, none with 30 s
# (bench/load.py, docs/scale.md). A browser or proxy reuses the connection the same way.
keepalive = 30


def on_starting(server: Any) -> None:
    import django
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    try:
        django.setup()
        call_command("check")
    except (ImproperlyConfigured, SystemCheckError) as exc:
        sys.stderr.write(f"tandem: configuration error: {exc}\n")
        raise SystemExit(1) from None
