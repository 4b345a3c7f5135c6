"""Single sign-on with OpenID Connect (issue 16), per agency, on mozilla-django-oidc.

The flow: the use banner (as always) → ``sso_start`` sends the browser to the agency's
provider with state, nonce and a PKCE challenge → ``sso_callback`` exchanges the code,
checks the ID token's signature (the provider's published keys), issuer, audience, expiry
and nonce with a small clock leeway, and finds the account by its stable subject. An
account that is disabled or locked is refused like a wrong password. A token that asserts
multi-factor (``amr``/``acr``, configured per provider) completes the sign-in; any other goes
on to Tandem's own second-factor step. Session limits apply unchanged afterwards.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import urlencode

import django_otp
import jwt
import requests
from django.contrib import auth, messages
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, SuspiciousOperation, ValidationError
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.crypto import get_random_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from mozilla_django_oidc.auth import OIDCAuthenticationBackend
from mozilla_django_oidc.utils import generate_code_challenge
from requests.exceptions import RequestException

from tandem.accounts import services
from tandem.accounts.middleware import SESSION_BANNER_OK
from tandem.accounts.models import User
from tandem.accounts.sessions import rotate_session
from tandem.agencies.models import PROGRAM_ROLES, Agency, Role
from tandem.api.models import ExternalIdentity, IdentityProvider, SsoMfaDevice
from tandem.audit.services import audit_record
from tandem.core.decorators import public

SESSION_SSO = "tandem_sso"
DISCOVERY_TTL = 3600
TIMEOUT = 10


class SsoRefused(Exception):
    """The provider's answer cannot sign anyone in; the reason goes to the audit trail."""


def discover(issuer: str) -> dict[str, Any]:
    """The provider's discovery document (cached), whose issuer must be the one configured."""
    key = f"oidc-discovery:{issuer}"
    document: dict[str, Any] | None = cache.get(key)
    if document is None:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = requests.get(url, timeout=TIMEOUT)
        response.raise_for_status()
        document = response.json()
        if document.get("issuer") != issuer:
            raise SsoRefused("discovery_issuer_mismatch")
        cache.set(key, document, DISCOVERY_TTL)
    return document


def asserts_mfa(provider: IdentityProvider, claims: dict[str, Any]) -> bool:
    amr = claims.get("amr") or []
    if isinstance(amr, str):
        amr = [amr]
    return bool(set(amr) & set(provider.mfa_amr)) or (
        bool(claims.get("acr")) and claims.get("acr") in provider.mfa_acr)


class AgencyOIDCBackend(OIDCAuthenticationBackend):
    """mozilla-django-oidc's code flow, configured from the agency's provider record."""

    def __init__(self, provider: IdentityProvider, redirect_uri: str) -> None:
        self.provider = provider
        self.redirect_uri = redirect_uri
        document = discover(provider.issuer)
        self._settings = {
            "OIDC_OP_TOKEN_ENDPOINT": document["token_endpoint"],
            "OIDC_AUTHENTICATION_CALLBACK_URL": "sso:callback",
            "OIDC_OP_USER_ENDPOINT": document.get("userinfo_endpoint", ""),
            "OIDC_OP_JWKS_ENDPOINT": document["jwks_uri"],
            "OIDC_RP_CLIENT_ID": provider.client_id,
            "OIDC_RP_CLIENT_SECRET": provider.client_secret or "",
            "OIDC_RP_SIGN_ALGO": "RS256",
            "OIDC_USE_NONCE": True,
            "OIDC_TIMEOUT": TIMEOUT,
            "OIDC_VERIFY_SSL": True,
        }
        super().__init__()
        self.claims: dict[str, Any] = {}

    def get_settings(self, attr: str, *args: Any) -> Any:
        if attr in self._settings:
            return self._settings[attr]
        if args:
            return args[0]
        raise SuspiciousOperation(f"{attr} is not configured")

    def _verify_jws(self, payload: Any, key: Any) -> dict[str, Any]:
        """Signature by the provider's key, for this client, from this issuer, not expired
        and not issued in the future (within the provider's clock leeway)."""
        try:
            claims: dict[str, Any] = jwt.decode(
                payload, key, algorithms=["RS256", "ES256", "PS256"],
                audience=self.provider.client_id, issuer=self.provider.issuer,
                leeway=self.provider.leeway_seconds,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]})
        except jwt.PyJWTError as exc:
            raise SuspiciousOperation(f"id_token refused: {type(exc).__name__}") from exc
        return claims

    def retrieve_matching_jwk(self, token: str) -> Any:
        try:
            return super().retrieve_matching_jwk(token)
        except (KeyError, jwt.PyJWTError) as exc:
            raise SuspiciousOperation("id_token refused: no matching key") from exc

    def get_token(self, payload: dict[str, Any]) -> dict[str, Any]:
        payload["redirect_uri"] = self.redirect_uri
        result: dict[str, Any] = super().get_token(payload)
        return result

    def get_or_create_user(self, access_token: str, id_token: str, payload: dict[str, Any]
                           ) -> User | None:
        self.claims = payload
        return account_for_subject(self.provider, payload)


def account_for_subject(provider: IdentityProvider, claims: dict[str, Any]) -> User | None:
    """The account linked to the token's subject; created only if the provider allows it."""
    link = (ExternalIdentity.objects.select_related("user")
            .filter(provider=provider, subject=str(claims["sub"])).first())
    if link is not None:
        return link.user if link.user.agency_id == provider.agency_id else None
    if not provider.jit_create:
        return None
    return _create_account(provider, claims)


@transaction.atomic
def _create_account(provider: IdentityProvider, claims: dict[str, Any]) -> User:
    user = User(username=f"sso.{provider.agency.slug}.{get_random_string(10).lower()}",
                agency=provider.agency, email=str(claims.get("email", ""))[:254])
    user.set_unusable_password()
    user.save()
    ExternalIdentity.objects.create(provider=provider, subject=str(claims["sub"]), user=user)
    audit_record(action="account.created", agency_id=provider.agency_id, obj=user,
                 detail={"source": "oidc_jit", "roles": []})
    return user


# --- Administration (services) ----------------------------------------------------------


@transaction.atomic
def identity_provider_set(*, acting_user: User, issuer: str, client_id: str,
                          client_secret: str = "", mfa_amr: list[str] | None = None,
                          mfa_acr: list[str] | None = None, jit_create: bool = False,
                          leeway_seconds: int = 60) -> IdentityProvider:
    if acting_user is None or not acting_user.has_role(Role.ADMINISTRATOR):
        raise PermissionDenied
    if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ValidationError("The issuer must be an https address.")
    provider = IdentityProvider.objects.filter(agency=acting_user.agency).first() or \
        IdentityProvider(agency=acting_user.agency)
    provider.issuer, provider.client_id = issuer, client_id
    provider.client_secret = client_secret
    if mfa_amr is not None:
        provider.mfa_amr = mfa_amr
    provider.mfa_acr = mfa_acr or []
    provider.jit_create, provider.leeway_seconds = jit_create, leeway_seconds
    provider.save()
    audit_record(action="sso.provider_set", actor=acting_user, agency_id=provider.agency_id,
                 obj=provider,
                 detail={"issuer": issuer, "jit_create": jit_create})
    return provider


def subject_digest(subject: str) -> str:
    """What the audit trail keeps of a subject at the identity provider."""
    return hashlib.sha256(f"sso.subject:{subject}".encode()).hexdigest()[:16] if subject else ""


def holds_power(user: User) -> bool:
    """An administrator or program role: a new way into such an account is a reset."""
    return user.agency_id is not None and user.role_assignments.filter(
        agency_id=user.agency_id, role__in=[*PROGRAM_ROLES, Role.ADMINISTRATOR]).exists()


@transaction.atomic
def external_identity_link(*, acting_user: User, user: User, subject: str,
                           source: str = "administrator") -> ExternalIdentity:
    """Tie an account to its subject at the agency's provider (administrator, SCIM, or the
    system when ``acting_user`` is None). A subject tied to another account is refused, and
    nobody changes their own. Changing an account's link, or giving one to an account with
    an administrator or program role, is a credential reset
    (``accounts.services.user_signin_relinked``): sessions end, program roles wait for a
    second person, the person is told. Audited with digests of the old and new subject."""
    if acting_user is not None and (not acting_user.has_role(Role.ADMINISTRATOR)
                                    or acting_user.agency_id != user.agency_id):
        raise PermissionDenied
    if user.agency_id is None:
        raise ValidationError("This account belongs to no agency.")
    subject = subject.strip()
    if not subject or len(subject) > 255:
        raise ValidationError("Give the subject the identity provider uses for this person.")
    if acting_user is not None and acting_user.pk == user.pk:
        raise ValidationError("Ask another administrator to change your own sign-in.")
    provider = IdentityProvider.objects.filter(agency_id=user.agency_id).first()
    if provider is None:
        raise ValidationError("Your agency has no identity provider.")
    current = (ExternalIdentity.objects.select_for_update()
               .filter(provider=provider, user=user).first())
    if current is not None and current.subject == subject:
        return current
    if ExternalIdentity.objects.filter(provider=provider, subject=subject).exists():
        raise ValidationError("This subject already signs in to another account.")
    detail: dict[str, Any] = {"source": source, "subject": subject_digest(subject),
                              "previous": subject_digest(current.subject if current else "")}
    if acting_user is not None and (current is not None or holds_power(user)):
        ended, suspended = services.user_signin_relinked(acting_user=acting_user, user=user)
        detail.update(sessions_ended=ended, roles_suspended=suspended)
    if current is None:
        current = ExternalIdentity.objects.create(provider=provider, user=user,
                                                  subject=subject)
    else:
        current.subject = subject
        current.save(update_fields=["subject"])
    audit_record(action="sso.identity_linked", actor=acting_user, agency_id=user.agency_id,
                 obj=user, detail=detail)
    return current


# --- The two views -----------------------------------------------------------------------


def _provider(slug: str) -> IdentityProvider:
    provider = IdentityProvider.objects.select_related("agency", "data_key").filter(
        agency__slug=slug, active=True).first()
    if provider is None:
        raise Http404
    return provider


def _callback_uri(request: HttpRequest) -> str:
    return request.build_absolute_uri(reverse("sso:callback"))


@public
@never_cache
@require_GET
def sso_start(request: HttpRequest, agency: str) -> HttpResponse:
    """Send the browser to the agency's provider (after the use banner, as always)."""
    provider = _provider(agency)
    if not request.session.get(SESSION_BANNER_OK):
        return redirect("accounts:banner")
    document = discover(provider.issuer)
    state, nonce = get_random_string(32), get_random_string(32)
    verifier = get_random_string(64)
    request.session[SESSION_SSO] = {"state": state, "nonce": nonce, "verifier": verifier,
                                    "provider": provider.pk}
    params = {
        "response_type": "code", "client_id": provider.client_id, "scope": provider.scopes,
        "redirect_uri": _callback_uri(request), "state": state, "nonce": nonce,
        "code_challenge": generate_code_challenge(verifier, "S256"),
        "code_challenge_method": "S256",
    }
    hint = request.GET.get("login_hint", "")[:200]
    if hint:
        params["login_hint"] = hint
    return redirect(f"{document['authorization_endpoint']}?{urlencode(params)}")


def _refuse(request: HttpRequest, reason: str, user: User | None = None,
            agency: Agency | None = None) -> HttpResponse:
    if user is not None:
        services.signin_failed(user=user, stage="sso", reason=reason, request=request)
    else:
        audit_record(action="signin.failed", outcome="failed", request=request,
                     agency_id=agency.pk if agency else None, object_type="user",
                     detail={"stage": "sso", "reason": reason})
    auth.logout(request)
    messages.error(request, "Single sign-on did not sign you in. Ask your Tandem "
                            "administrator if this keeps happening.")
    return redirect("accounts:login")


@public
@never_cache
@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(SESSION_SSO, None)
    if not pending or request.GET.get("state") != pending["state"]:
        return _refuse(request, "state_mismatch")
    provider = IdentityProvider.objects.select_related("agency", "data_key").get(
        pk=pending["provider"])
    if not request.session.get(SESSION_BANNER_OK):
        return _refuse(request, "no_banner", agency=provider.agency)
    try:
        backend = AgencyOIDCBackend(provider, _callback_uri(request))
        user = backend.authenticate(request, nonce=pending["nonce"],
                                    code_verifier=pending["verifier"])
    except (SuspiciousOperation, SsoRefused, RequestException, KeyError) as exc:
        return _refuse(request, str(exc)[:80] or type(exc).__name__, agency=provider.agency)
    if user is None:
        return _refuse(request, "unknown_subject", agency=provider.agency)
    if not user.is_active or user.is_locked:
        return _refuse(request, "inactive" if not user.is_active else "locked", user=user)
    return _signed_in(request, provider, user, backend.claims)


def _signed_in(request: HttpRequest, provider: IdentityProvider, user: User,
               claims: dict[str, Any]) -> HttpResponse:
    from tandem.accounts.views import _next_url, _stamp_session

    auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    _stamp_session(request)
    if not asserts_mfa(provider, claims):
        return redirect("accounts:mfa")  # Tandem's own second factor
    device, _ = SsoMfaDevice.objects.get_or_create(
        user=user, defaults={"name": f"SSO {provider.issuer}"[:64], "confirmed": True})
    django_otp.login(request, device)
    rotate_session(request)
    _stamp_session(request)
    services.signin_succeeded(user=user, method="oidc_mfa", request=request)
    return redirect(_next_url(request))


