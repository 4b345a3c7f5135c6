"""The request type of signed-in views.

``RequireVerifiedMiddleware`` lets no anonymous visitor reach a view that is not ``@public``
or a sign-in step, so in every other view ``request.user`` is an ``accounts.User``. Views say
so with ``request: AuthenticatedHttpRequest`` and pass ``request.user`` to services typed
``acting_user: User`` without a cast.
"""

from __future__ import annotations

from django.http import HttpRequest
from django_htmx.middleware import HtmxDetails

from tandem.accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    user: User
    htmx: HtmxDetails  # set by django_htmx's middleware on every request
