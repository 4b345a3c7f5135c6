"""What Tandem believes about the HTTP client.

``client_ip`` is the one place that decides which address a request came from. Behind the
documented reverse proxy (``TANDEM_BEHIND_PROXY``) every request's ``REMOTE_ADDR`` is the
proxy itself, so the address is taken from the right-most ``X-Forwarded-For`` entry the proxy
appended; without the setting the header is ignored, since any client can send it.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid_ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return ""


def client_ip(request: HttpRequest | None) -> str:
    """The client's address: from the proxy's ``X-Forwarded-For`` when behind one, else the
    socket's peer. Empty when nothing valid is known."""
    if request is None:
        return ""
    if getattr(settings, "BEHIND_PROXY", False):
        forwarded = str(request.META.get("HTTP_X_FORWARDED_FOR", ""))
        hops = [hop for hop in forwarded.split(",") if hop.strip()]
        if hops:
            found = _valid_ip(hops[-1])
            if found:
                return found
    return _valid_ip(str(request.META.get("REMOTE_ADDR", "")))
