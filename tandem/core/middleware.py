"""Cross-cutting HTTP behaviour: request ids for logs, a Permissions-Policy on every
response, no caching of signed-in pages, and cookie-free public paths."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from tandem.core.logging import access_log, request_id_var


class RequestIdMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    """Give each request an id (``X-Request-Id``, and in every log line it causes), and write
    one access-log line when it ends: method, path, status, duration. Never the query string."""

    def __call__(self, request: HttpRequest) -> HttpResponse:
        rid = uuid.uuid4().hex[:16]
        token = request_id_var.set(rid)
        started = time.monotonic()
        try:
            response = self.get_response(request)
            access_log(request, response.status_code, (time.monotonic() - started) * 1000)
        finally:
            request_id_var.reset(token)
        response["X-Request-Id"] = rid
        return response


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on every page shown to a signed-in user."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if (user is not None and user.is_authenticated) or "Cache-Control" not in response:
            add_never_cache_headers(response)
            response["Cache-Control"] = "no-store, no-cache, must-revalidate, private, max-age=0"
        return response


#: Browser features Tandem never uses, switched off for every page (and anything framed).
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "camera",
        "display-capture",
        "encrypted-media",
        "fullscreen",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "web-share",
        "xr-spatial-tracking",
    )
)


class PermissionsPolicyMiddleware:
    """``Permissions-Policy`` on every response, static files and error pages included."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class CookielessPathsMiddleware:
    """Paths under ``TANDEM_COOKIELESS_PATH_PREFIXES`` (the peer-support help pages) are
    served as if the browser had no cookie: the ``Cookie`` header is dropped before the
    session, CSRF, authentication and message layers see it, and any ``Set-Cookie`` is
    removed from the answer. So a signed-in browser that asks for help neither reads nor
    writes its session (no session row, no ``last seen`` bucket ties the visit to the
    account), and nobody gets a cookie there. Must come first in ``MIDDLEWARE``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.prefixes = tuple(getattr(settings, "TANDEM_COOKIELESS_PATH_PREFIXES", ()))

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not (self.prefixes and request.path.startswith(self.prefixes)):
            return self.get_response(request)
        request.META.pop("HTTP_COOKIE", None)
        request.COOKIES = {}
        response = self.get_response(request)
        response.cookies.clear()
        return response


class AgencyLocaleMiddleware:
    """Write dates and times in the signed-in person's agency's locale (its policy's
    ``locale``; see ``tandem.core.when``) and in the agency's time zone, for the length of the
    request: a dispatcher in Denver reads "until 07:00" in Denver time, whatever the server's
    ``TIME_ZONE``."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        from zoneinfo import ZoneInfo

        from django.utils import timezone, translation

        from tandem.core.when import agency_locale_name, language_code

        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        agency = getattr(user, "agency", None) if signed_in else None
        zone = None
        if agency is not None:
            try:
                zone = ZoneInfo(agency.time_zone)
            except (KeyError, ValueError):
                zone = None
        with translation.override(language_code(agency_locale_name(agency))):
            if zone is None:
                return self.get_response(request)
            with timezone.override(zone):
                return self.get_response(request)
