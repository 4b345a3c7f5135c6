"""Bearer-token authentication and the one-scope-per-call rule.

A call is authenticated by ``Authorization: Bearer tdm_<prefix>_<secret>``. The client's
service account becomes ``request.user``; the permission check then gives it exactly the
role of the scope the endpoint needs — and no other — so the screens' ``access`` helpers
decide what it may reach, as they do for a person holding that role.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from tandem.api.models import ApiToken
from tandem.api.scopes import SCOPES
from tandem.api.services import api_auth_failure_record, api_token_check

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class TokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: HttpRequest) -> tuple[Any, ApiToken] | None:
        header = get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            self._refuse("malformed")
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            self._refuse("malformed")
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        token, reason = api_token_check(secret)
        if token is None or reason:
            self._refuse(reason, token)
            raise exceptions.AuthenticationFailed("The token is unknown, expired or revoked.")
        account = token.client.account
        if not account.is_active:
            self._refuse("account_disabled", token)
            raise exceptions.AuthenticationFailed("The client's account is disabled.")
        account._role_cache = frozenset()  # no role until a scope grants one
        return account, token

    @staticmethod
    def _refuse(reason: str, token: ApiToken | None = None) -> None:
        """Audited per client, reason and minute (``api_auth_failure_record``)."""
        api_auth_failure_record(reason=reason, token=token)

    def authenticate_header(self, request: HttpRequest) -> str:
        return 'Bearer realm="tandem"'


def required_scope(view: Any, method: str) -> str:
    scopes: dict[str, str] = getattr(view, "scopes", {})
    return scopes.get(method, scopes.get("*", ""))


class HasScope(BasePermission):
    """The token carries the scope the endpoint names for this method; its role is granted
    to the service account for this one call."""

    message = "The token does not carry the scope this call needs."

    def has_permission(self, request: Request, view: APIView) -> bool:
        token = request.auth
        if not isinstance(token, ApiToken):
            raise exceptions.NotAuthenticated
        if request.method.lower() not in view.http_method_names or not hasattr(
            view, request.method.lower()
        ):
            return True  # no such operation: DRF answers 405, no role is granted
        scope = required_scope(view, request.method)
        if not scope or scope not in token.client.scopes or scope not in SCOPES:
            request.api_refusal = "scope"  # audited per minute, not per call
            return False
        request.user._role_cache = frozenset({SCOPES[scope].role})
        request.api_scope = scope
        return True


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "tandem.api.auth.TokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An API token issued by the agency's administrator.",
        }
