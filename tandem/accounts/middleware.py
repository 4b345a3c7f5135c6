"""Session rules from the CJIS Security Policy, enforced for every request.

* ``SessionPolicyMiddleware`` ends a session 30 minutes after the last request (idle) and
  12 hours after sign-in (absolute); both limits come from settings.
* Session times are stored in 5-minute buckets (``coarse_timestamp``) and the session is
  written only when a bucket changes, so no session row dates a request to the second
  (peer-support requests must not be joined to a session by time). Both limits are
  measured from the bucket's start, so they never run longer than configured.
* ``PasswordResetRequiredMiddleware``: after an administrator reset someone's sign-in, the
  person can do nothing but choose their own password (or sign out).
* ``RequireVerifiedMiddleware`` denies by default: a view is reachable only by a user who
  acknowledged the use banner, entered their password *and* a second factor — unless the
  view is marked ``@public`` or ``@signin_step``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.contrib.messages import constants as message_levels
from django.contrib.messages.storage import default_storage
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

SESSION_AUTH_AT = "tandem_auth_at"
SESSION_LAST_SEEN = "tandem_last_seen"
SESSION_BANNER_OK = "tandem_banner_ok"


def coarse_timestamp(value: float) -> float:
    """``value`` (a POSIX timestamp) floored to the session time granularity."""
    step = settings.TANDEM_SESSION_GRANULARITY_SECONDS
    return float(int(value // step) * step)


class SessionPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            expired = self._expiry_reason(request)
            if expired:
                return self._signed_out(request, expired)
            session = request.session
            bucket = coarse_timestamp(timezone.now().timestamp())
            if session.get(SESSION_LAST_SEEN) != bucket:
                session[SESSION_LAST_SEEN] = bucket
            auth_at = float(session[SESSION_AUTH_AT])
            if auth_at != coarse_timestamp(auth_at):
                session[SESSION_AUTH_AT] = coarse_timestamp(auth_at)
        return self.get_response(request)

    @staticmethod
    def _signed_out(request: HttpRequest, text: str) -> HttpResponse:
        """End the session and say why. This runs before ``MessageMiddleware`` has set up
        message storage for the request, so the storage is created and written here."""
        logout(request)
        storage = default_storage(request)
        storage.add(message_levels.INFO, text)
        response = redirect(settings.LOGIN_URL)
        storage.update(response)
        return response

    @staticmethod
    def _expiry_reason(request: HttpRequest) -> str:
        now = timezone.now().timestamp()
        auth_at = request.session.get(SESSION_AUTH_AT)
        last_seen = request.session.get(SESSION_LAST_SEEN, auth_at)
        if auth_at is None or last_seen is None:
            return "Please sign in again."
        if now - float(auth_at) > settings.TANDEM_ABSOLUTE_TIMEOUT_SECONDS:
            return "You were signed out because your session reached its 12-hour limit."
        if now - float(last_seen) > settings.TANDEM_IDLE_TIMEOUT_SECONDS:
            return "You were signed out after 30 minutes without activity."
        return ""


def is_fully_signed_in(request: HttpRequest) -> bool:
    user: Any = request.user
    # A lock (5 failed attempts) shuts out the account's open sessions too, until an
    # administrator releases it.
    return bool(
        user.is_authenticated
        and user.is_verified()
        and not user.is_locked
        and request.session.get(SESSION_BANNER_OK)
    )


class _ViewMiddleware:
    """A middleware whose work is in ``process_view`` (it needs to know the view)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)


class RequireVerifiedMiddleware(_ViewMiddleware):
    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if getattr(view_func, "tandem_public", False):
            return None
        if is_fully_signed_in(request):
            return None
        if getattr(view_func, "tandem_signin_step", False) and request.user.is_authenticated:
            return None
        if request.user.is_authenticated:
            # Password accepted but MFA or the banner is pending: finish signing in.
            return redirect("accounts:mfa")
        return redirect_to_login(request.get_full_path())


#: What someone whose sign-in was reset may still open before choosing their own password.
RESET_ALLOWED_VIEWS = frozenset(
    {
        "accounts:password_change",
        "accounts:backup_codes",
        "accounts:logout",
    }
)


class PasswordResetRequiredMiddleware(_ViewMiddleware):
    """An administrator's reset set a temporary password: until the person chooses their
    own, every page but the password change (and signing out) leads there."""

    def process_view(
        self, request: HttpRequest, view_func: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        user: Any = request.user
        if not (user.is_authenticated and getattr(user, "password_reset_required", False)):
            return None
        if getattr(view_func, "tandem_public", False) or getattr(
            view_func, "tandem_signin_step", False
        ):
            return None
        match = request.resolver_match
        if match is not None and match.view_name in RESET_ALLOWED_VIEWS:
            return None
        return redirect("accounts:password_change")
