"""Which sessions belong to which account, so they can all be ended at once.

Every ``django.contrib.auth.login()`` (and every key rotation done here) records the new
session key in ``SignInSession``. Ending an account's sessions deletes each recorded key
from the session store, whatever the store is. As a second line of defence, Django itself
refuses a session whose account is inactive or whose password has changed.
"""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.http import HttpRequest

from tandem.accounts.models import SignInSession, User


class SessionStore(DatabaseSessionStore):
    """The database session store, with ``expire_date`` floored to the session time
    granularity: the stored expiry must not give away the second a session was written."""

    def get_expiry_date(self, **kwargs: Any) -> datetime:
        exact = super().get_expiry_date(**kwargs)
        step = settings.TANDEM_SESSION_GRANULARITY_SECONDS
        return datetime.fromtimestamp(int(exact.timestamp() // step) * step, tz=exact.tzinfo)


def _store() -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    store: SessionBase = engine.SessionStore()
    return store


def remember_session(user: User, session_key: str | None) -> None:
    """Record ``session_key`` as one of ``user``'s sessions; forget keys that expired."""
    if not session_key or user.pk is None:
        return
    SignInSession.objects.update_or_create(session_key=session_key, defaults={"user": user})
    store = _store()
    gone = [
        row.pk
        for row in SignInSession.objects.filter(user=user).exclude(session_key=session_key)
        if not store.exists(row.session_key)
    ]
    if gone:
        SignInSession.objects.filter(pk__in=gone).delete()


def rotate_session(request: HttpRequest) -> None:
    """New session key, same contents: done whenever the session gains privileges."""
    request.session.cycle_key()
    remember_session(request.user, request.session.session_key)  # type: ignore[arg-type]


def end_sessions(user: User) -> int:
    """Delete every session of ``user`` from the session store; returns how many."""
    store = _store()
    rows = list(SignInSession.objects.filter(user=user))
    ended = 0
    for row in rows:
        if store.exists(row.session_key):
            store.delete(row.session_key)
            ended += 1
    SignInSession.objects.filter(pk__in=[row.pk for row in rows]).delete()
    return ended


def on_user_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    """``user_logged_in`` receiver: bookkeeping only, no rules."""
    session = getattr(request, "session", None)
    if session is not None:
        if session.session_key is None:
            session.save()
        remember_session(user, session.session_key)
