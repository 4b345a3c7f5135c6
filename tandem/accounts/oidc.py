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
import ipaddress
import re
import socket
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

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
from tandem.accounts.sessions import end_sessions, rotate_session
from tandem.agencies.access import require_actor_role
from tandem.agencies.models import PROGRAM_ROLES, Agency, Role
from tandem.api.models import ExternalIdentity, IdentityProvider, SsoMfaDevice
from tandem.audit.services import audit_record
from tandem.core.decorators import public
from tandem.core.notifications import notify

SESSION_SSO = "tandem_sso"
SESSION_SSO_AGENCY = "tandem_sso_agency"
DISCOVERY_TTL = 3600
TIMEOUT = 10


class SsoRefused(Exception):
    """The provider's answer cannot sign anyone in; the reason goes to the audit trail."""


def outbound_refusal(url: str) -> str:
    """Why Tandem's server will not fetch ``url`` for a provider ('' when it may).

    An administrator chooses the issuer, and the issuer's discovery document chooses the key
    and token addresses, so neither may point the server at what only it can reach: link-local
    addresses (cloud metadata services), multicast, reserved or unspecified ones. Private and
    loopback addresses stay allowed: agencies run their providers on their own networks."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return "The address must be an http(s) address with a host name."
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return f"The host {parts.hostname} does not resolve."
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if (
            address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
        ):
            return (
                f"Tandem does not fetch {parts.hostname}: it resolves to a link-local, "
                "multicast or reserved address."
            )
    return ""


def guarded_get(url: str) -> requests.Response:
    """GET a provider's address: checked first, no redirects followed (a redirect could lead
    past the check)."""
    refusal = outbound_refusal(url)
    if refusal:
        raise SsoRefused("address_refused")
    return requests.get(url, timeout=TIMEOUT, allow_redirects=False)


def discover(issuer: str) -> dict[str, Any]:
    """The provider's discovery document (cached), whose issuer must be the one configured."""
    key = f"oidc-discovery:{issuer}"
    document: dict[str, Any] | None = cache.get(key)
    if document is None:
        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        response = guarded_get(url)
        response.raise_for_status()
        document = response.json()
        if document.get("issuer") != issuer:
            raise SsoRefused("discovery_issuer_mismatch")
        for key in ("token_endpoint", "jwks_uri", "userinfo_endpoint"):
            if isinstance(document.get(key), str) and outbound_refusal(document[key]):
                raise SsoRefused("discovery_address_refused")
        cache.set(key, document, DISCOVERY_TTL)
    return document


def asserts_mfa(provider: IdentityProvider, claims: dict[str, Any]) -> bool:
    amr = claims.get("amr") or []
    if isinstance(amr, str):
        amr = [amr]
    return bool(set(amr) & set(provider.mfa_amr)) or (
        bool(claims.get("acr")) and claims.get("acr") in provider.mfa_acr
    )


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
                payload,
                key,
                algorithms=["RS256", "ES256", "PS256"],
                audience=self.provider.client_id,
                issuer=self.provider.issuer,
                leeway=self.provider.leeway_seconds,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
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

    def get_or_create_user(
        self, access_token: str, id_token: str, payload: dict[str, Any]
    ) -> User | None:
        self.claims = payload
        return account_for_subject(self.provider, payload)


def account_for_subject(provider: IdentityProvider, claims: dict[str, Any]) -> User | None:
    """The account linked to the token's subject; created only if the provider allows it."""
    subject = claims.get(provider.subject_claim)
    if not isinstance(subject, str | int) or not str(subject).strip():
        raise SsoRefused("subject_claim_missing")
    subject = str(subject)
    link = (
        ExternalIdentity.objects.select_related("user")
        .filter(provider=provider, subject=subject)
        .first()
    )
    if link is not None:
        user = link.user
        if user.agency_id != provider.agency_id or user.is_service_account:
            return None
        return user
    if not provider.jit_create:
        return None
    return _create_account(provider, subject, claims)


@transaction.atomic
def _create_account(provider: IdentityProvider, subject: str, claims: dict[str, Any]) -> User:
    user = User(
        username=f"sso.{provider.agency.slug}.{get_random_string(10).lower()}",
        agency=provider.agency,
        email=str(claims.get("email", ""))[:254],
    )
    user.set_unusable_password()
    user.save()
    ExternalIdentity.objects.create(provider=provider, subject=subject, user=user)
    audit_record(
        action="account.created",
        agency_id=provider.agency_id,
        obj=user,
        detail={"source": "oidc_jit", "roles": []},
    )
    return user


# --- Administration (services) ----------------------------------------------------------


SUBJECT_CLAIM = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]{0,63}$")
MFA_VALUE = re.compile(r"^[\x21-\x7e]{1,100}$")  # one printable token, no spaces
DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
#: Fields whose change makes every existing link name a person at a *different* provider.
IDENTITY_FIELDS = ("issuer", "subject_claim")


def _clean_values(values: list[str] | None, pattern: re.Pattern[str], what: str) -> list[str]:
    cleaned: list[str] = []
    for value in values or []:
        value = value.strip()
        if not value:
            continue
        if not pattern.match(value):
            raise ValidationError(f"“{value[:60]}” is not a valid {what}.")
        if value not in cleaned:
            cleaned.append(value)
    return cleaned


def _check_domains(domains: list[str], agency_id: int) -> None:
    for other in IdentityProvider.objects.exclude(agency_id=agency_id).select_related("agency"):
        taken = sorted(set(domains) & set(other.email_domains or []))
        if taken:
            raise ValidationError(f"{taken[0]} already signs in through another agency.")


@transaction.atomic
def identity_provider_set(
    *,
    acting_user: User,
    issuer: str,
    client_id: str,
    client_secret: str | None = None,
    subject_claim: str = "sub",
    mfa_amr: list[str] | None = None,
    mfa_acr: list[str] | None = None,
    email_domains: list[str] | None = None,
    jit_create: bool = False,
    active: bool = True,
    leeway_seconds: int = 60,
    request: HttpRequest | None = None,
) -> IdentityProvider:
    """Set the administrator's agency's identity provider. ``client_secret`` None keeps the
    stored one. Moving to another issuer or subject claim removes every account's sign-in
    link (they named people at the old provider: keeping them would let the new provider
    sign in as anyone linked); accounts are linked again by SCIM or the administrator, and
    relinking an account with power is a credential reset. Audited without the secret."""
    # Also reached from the ``sso`` command, with no access helper before it.
    require_actor_role(acting_user, Role.ADMINISTRATOR)
    if acting_user.agency_id is None:
        raise PermissionDenied
    issuer, client_id = issuer.strip(), client_id.strip()
    if not issuer.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        raise ValidationError("The issuer must be an https address.")
    if not client_id or len(client_id) > 200:
        raise ValidationError("Give the client id the identity provider issued to Tandem.")
    subject_claim = subject_claim.strip() or "sub"
    if not SUBJECT_CLAIM.match(subject_claim):
        raise ValidationError("The subject claim is a claim name such as sub or oid.")
    if not 0 <= leeway_seconds <= 300:
        raise ValidationError("The clock leeway is between 0 and 300 seconds.")
    amr = _clean_values(mfa_amr, MFA_VALUE, "amr value") if mfa_amr is not None else None
    acr = _clean_values(mfa_acr, MFA_VALUE, "acr value")
    domains = _clean_values(
        [d.lower().lstrip("@") for d in email_domains or []], DOMAIN, "e-mail domain"
    )
    _check_domains(domains, acting_user.agency_id)
    provider = IdentityProvider.objects.select_for_update().filter(
        agency_id=acting_user.agency_id
    ).first() or IdentityProvider(agency_id=acting_user.agency_id)
    before = {
        f: getattr(provider, f)
        for f in (
            *IDENTITY_FIELDS,
            "client_id",
            "mfa_amr",
            "mfa_acr",
            "email_domains",
            "jit_create",
            "active",
            "leeway_seconds",
        )
    }
    provider.issuer, provider.client_id, provider.subject_claim = issuer, client_id, subject_claim
    secret_changed = client_secret is not None and client_secret != provider.client_secret
    if client_secret is not None:
        provider.client_secret = client_secret
    if amr is not None:
        provider.mfa_amr = amr
    provider.mfa_acr, provider.email_domains = acr, domains
    provider.jit_create, provider.active = jit_create, active
    provider.leeway_seconds = leeway_seconds
    created = provider.pk is None
    provider.save()
    removed = 0
    if not created and any(before[f] != getattr(provider, f) for f in IDENTITY_FIELDS):
        removed, _ = ExternalIdentity.objects.filter(provider=provider).delete()
    changed = sorted(f for f, v in before.items() if v != getattr(provider, f))
    cache.delete(f"oidc-discovery:{issuer}")
    audit_record(
        action="sso.provider_set",
        actor=acting_user,
        agency_id=provider.agency_id,
        obj=provider,
        request=request,
        detail={
            "issuer": issuer,
            "created": created,
            "changed": [*changed, *(["client_secret"] if secret_changed else [])],
            "subject_claim": subject_claim,
            "mfa_amr": provider.mfa_amr,
            "mfa_acr": provider.mfa_acr,
            "email_domains": domains,
            "jit_create": jit_create,
            "active": active,
            "links_removed": removed,
        },
    )
    return provider


@dataclass(frozen=True)
class ConnectionCheck:
    name: str
    ok: bool
    message: str


def _fetch_json(url: str) -> tuple[dict[str, Any] | None, str]:
    refusal = outbound_refusal(url)
    if refusal:
        return None, refusal
    try:
        response = requests.get(url, timeout=TIMEOUT, allow_redirects=False)
    except RequestException as exc:
        return None, f"Could not reach {url} ({type(exc).__name__})."
    if response.status_code != 200:
        return None, f"{url} answered HTTP {response.status_code}."
    try:
        document = response.json()
    except ValueError:
        return None, f"{url} did not answer with JSON."
    if not isinstance(document, dict):
        return None, f"{url} did not answer with a JSON object."
    return document, ""


def _discovery_checks(
    provider: IdentityProvider, document: dict[str, Any]
) -> list[ConnectionCheck]:
    checks = [
        ConnectionCheck(
            "issuer",
            document.get("issuer") == provider.issuer,
            "The provider names itself with the configured issuer."
            if document.get("issuer") == provider.issuer
            else f"The provider names itself “{str(document.get('issuer'))[:200]}”, not the "
            "configured issuer: copy its issuer exactly (trailing slash included).",
        )
    ]
    missing = [
        k
        for k in ("authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(document.get(k), str)
    ]
    checks.append(
        ConnectionCheck(
            "endpoints",
            not missing,
            "It publishes its sign-in, token and key addresses."
            if not missing
            else f"The discovery document lacks {', '.join(missing)}.",
        )
    )
    listed = document.get("code_challenge_methods_supported")
    pkce = listed is None or "S256" in listed
    checks.append(
        ConnectionCheck(
            "pkce",
            pkce,
            "It accepts PKCE with S256."
            if pkce
            else "It does not accept PKCE with S256, which Tandem always uses.",
        )
    )
    methods = document.get("token_endpoint_auth_methods_supported")
    post = methods is None or "client_secret_post" in methods
    checks.append(
        ConnectionCheck(
            "client_auth",
            post,
            "It accepts the client secret in the token request."
            if post
            else "It does not accept client_secret_post, the way Tandem sends the secret.",
        )
    )
    claims = document.get("claims_supported")
    claim_ok = claims is None or provider.subject_claim in claims
    checks.append(
        ConnectionCheck(
            "subject_claim",
            claim_ok,
            f"It issues the subject claim “{provider.subject_claim}”."
            if claim_ok
            else f"It does not list the claim “{provider.subject_claim}” among its claims.",
        )
    )
    return checks


def _key_check(jwks_uri: str) -> ConnectionCheck:
    keys, problem = _fetch_json(jwks_uri)
    signing = [
        k
        for k in (keys or {}).get("keys", []) or []
        if isinstance(k, dict) and k.get("kty") in ("RSA", "EC") and k.get("use", "sig") == "sig"
    ]
    if keys is None:
        return ConnectionCheck("keys", False, problem)
    return ConnectionCheck(
        "keys",
        bool(signing),
        f"It publishes {len(signing)} signing key(s)."
        if signing
        else "Its key set holds no RSA or EC signing key.",
    )


@transaction.atomic
def identity_provider_test(
    *, acting_user: User, request: HttpRequest | None = None
) -> list[ConnectionCheck]:
    """Fetch the configured provider's discovery document and keys and say, check by check,
    whether Tandem can sign people in through it. Audited (the outcome and the failed
    checks' names)."""
    # Also reached from the ``sso`` command, with no access helper before it.
    require_actor_role(acting_user, Role.ADMINISTRATOR)
    if acting_user.agency_id is None:
        raise PermissionDenied
    provider = IdentityProvider.objects.filter(agency_id=acting_user.agency_id).first()
    if provider is None:
        raise ValidationError("Save the identity provider first.")
    url = provider.issuer.rstrip("/") + "/.well-known/openid-configuration"
    document, problem = _fetch_json(url)
    if document is None:
        checks = [ConnectionCheck("discovery", False, problem)]
    else:
        checks = [ConnectionCheck("discovery", True, f"Discovery document read from {url}.")]
        checks += _discovery_checks(provider, document)
        if isinstance(document.get("jwks_uri"), str):
            checks.append(_key_check(document["jwks_uri"]))
        if all(c.ok for c in checks):
            cache.set(f"oidc-discovery:{provider.issuer}", document, DISCOVERY_TTL)
    failed = [c.name for c in checks if not c.ok]
    audit_record(
        action="sso.provider_tested",
        actor=acting_user,
        agency_id=provider.agency_id,
        obj=provider,
        request=request,
        outcome="failed" if failed else "success",
        detail={"issuer": provider.issuer, "failed": failed},
    )
    return checks


def provider_for_address(address: str) -> IdentityProvider | None:
    """The active provider a person's work e-mail (by its domain) or agency short name
    leads to, for the sign-in page."""
    address = address.strip().lower()
    providers = IdentityProvider.objects.filter(active=True).select_related("agency")
    if "@" in address:
        domain = address.rsplit("@", 1)[1]
        return next((p for p in providers if domain in (p.email_domains or [])), None)
    return providers.filter(agency__slug=address).first() if address else None


def subject_digest(subject: str) -> str:
    """What the audit trail keeps of a subject at the identity provider."""
    return hashlib.sha256(f"sso.subject:{subject}".encode()).hexdigest()[:16] if subject else ""


def holds_power(user: User) -> bool:
    """An administrator or program role: a new way into such an account is a reset."""
    return (
        user.agency_id is not None
        and user.role_assignments.filter(
            agency_id=user.agency_id, role__in=[*PROGRAM_ROLES, Role.ADMINISTRATOR]
        ).exists()
    )


def link_is_credential_reset(user: User, current: ExternalIdentity | None) -> bool:
    """Whether tying ``user`` to a subject gives a new way into an account that matters:
    the link moves to another subject, or the account holds an administrator or program
    role."""
    return current is not None or holds_power(user)


@dataclass(frozen=True)
class IdentityLink:
    """What ``external_identity_link`` did, for the screen that asked: ``changed`` is False
    when the account already signed in as that subject (nothing was written); ``reset``
    when it counted as a credential reset (sessions ended, program roles suspended)."""

    identity: ExternalIdentity
    changed: bool
    reset: bool = False
    sessions_ended: int = 0
    roles_suspended: tuple[str, ...] = ()


def _check_link_actor(acting_user: User | None, user: User) -> int:
    """The account's agency, once the actor may change its link."""
    if acting_user is not None and (
        not acting_user.has_role(Role.ADMINISTRATOR) or acting_user.agency_id != user.agency_id
    ):
        raise PermissionDenied
    if user.agency_id is None:
        raise ValidationError("This account belongs to no agency.")
    if user.is_service_account:
        raise ValidationError("An API client's account does not sign in.")
    return user.agency_id


@transaction.atomic
def external_identity_link(
    *,
    acting_user: User | None,
    user: User,
    subject: str,
    source: str = "administrator",
    request: HttpRequest | None = None,
) -> IdentityLink:
    """Tie an account to its subject at the agency's provider (administrator, SCIM, or the
    system when ``acting_user`` is None). A subject tied to another account is refused, and
    nobody changes their own. Changing an account's link, or giving one to an account with
    an administrator or program role, is a credential reset
    (``accounts.services.user_signin_relinked``): sessions end, program roles wait for a
    second person, the person is told. Audited with digests of the old and new subject."""
    agency_id = _check_link_actor(acting_user, user)
    subject = subject.strip()
    if not subject or len(subject) > 255:
        raise ValidationError("Give the subject the identity provider uses for this person.")
    if acting_user is not None and acting_user.pk == user.pk:
        raise ValidationError("Ask another administrator to change your own sign-in.")
    provider = IdentityProvider.objects.filter(agency_id=agency_id).first()
    if provider is None:
        raise ValidationError("Your agency has no identity provider.")
    current = (
        ExternalIdentity.objects.select_for_update().filter(provider=provider, user=user).first()
    )
    if current is not None and current.subject == subject:
        return IdentityLink(identity=current, changed=False)
    if ExternalIdentity.objects.filter(provider=provider, subject=subject).exists():
        raise ValidationError("This subject already signs in to another account.")
    detail: dict[str, Any] = {
        "source": source,
        "subject": subject_digest(subject),
        "previous": subject_digest(current.subject if current else ""),
    }
    ended: int = 0
    suspended: list[str] = []
    reset = acting_user is not None and link_is_credential_reset(user, current)
    if acting_user is not None and reset:
        ended, suspended = services.user_signin_relinked(
            acting_user=acting_user, user=user, request=request
        )
        detail.update(sessions_ended=ended, roles_suspended=suspended)
    if current is None:
        current = ExternalIdentity.objects.create(provider=provider, user=user, subject=subject)
    else:
        current.subject = subject
        current.save(update_fields=["subject"])
    audit_record(
        action="sso.identity_linked",
        actor=acting_user,
        agency_id=user.agency_id,
        obj=user,
        request=request,
        detail=detail,
    )
    return IdentityLink(
        identity=current,
        changed=True,
        reset=reset,
        sessions_ended=ended,
        roles_suspended=tuple(suspended),
    )


@transaction.atomic
def external_identity_unlink(
    *, acting_user: User, user: User, request: HttpRequest | None = None
) -> int:
    """Remove an account's link to its subject at the agency's provider (an administrator of
    the same agency, never on their own account). Returns the sessions ended.

    The person can no longer sign in with the provider. Every open session of theirs ends
    at once: after the second-factor step a session begun at the provider cannot be told
    from one begun with a password, and a link is removed because the identity at the
    provider should no longer open this account. The marker that counted the provider's
    multi-factor as Tandem's second factor goes too. Nothing new opens, so program roles
    stay (unlike a link given or moved); the person is told by a content-free message.
    Audited as ``sso.identity_unlinked`` with the digest of the old subject, never the
    subject itself."""
    agency_id = _check_link_actor(acting_user, user)
    if acting_user.pk == user.pk:
        raise ValidationError("Ask another administrator to change your own sign-in.")
    current = (
        ExternalIdentity.objects.select_for_update(of=("self",))
        .filter(provider__agency_id=agency_id, user=user)
        .first()
    )
    if current is None:
        raise ValidationError("This account has no single sign-on link to remove.")
    previous = subject_digest(current.subject)
    current.delete()
    SsoMfaDevice.objects.filter(user=user).delete()
    ended = end_sessions(user)
    notify(kind="account.signin_reset", recipient_user=user, agency=user.agency)
    audit_record(
        action="sso.identity_unlinked",
        actor=acting_user,
        agency_id=user.agency_id,
        obj=user,
        request=request,
        detail={"source": "administrator", "previous": previous, "sessions_ended": ended},
    )
    return ended


# --- The two views -----------------------------------------------------------------------


def _provider(slug: str) -> IdentityProvider:
    provider = (
        IdentityProvider.objects.select_related("agency", "data_key")
        .filter(agency__slug=slug, active=True)
        .first()
    )
    if provider is None:
        raise Http404
    return provider


def remember_agency(request: HttpRequest) -> None:
    """Keep ``?agency=`` of an agency's sign-in link across the use banner."""
    if "agency" in request.GET:
        request.session[SESSION_SSO_AGENCY] = request.GET["agency"][:50]


def signin_providers(request: HttpRequest) -> dict[str, Any]:
    """What the sign-in page offers: a button for the agency named by ``?agency=`` or for
    the only agency with single sign-on; otherwise a field for a work e-mail or the
    agency's short name (``sso_find``)."""
    active = IdentityProvider.objects.filter(active=True).select_related("agency")
    slug = str(request.session.get(SESSION_SSO_AGENCY, ""))
    chosen = active.filter(agency__slug=slug).first() if slug else None
    if chosen is None:
        first_two = list(active[:2])
        chosen = first_two[0] if len(first_two) == 1 else None
        return {"sso_provider": chosen, "sso_find": len(first_two) > 1}
    return {"sso_provider": chosen, "sso_find": False}


def provider_origins() -> list[str]:
    """Where the "Sign in with your agency" form may end up (the CSP's ``form-action``
    applies to the redirects after a submission): each active provider's issuer origin and,
    when known, its sign-in page's."""
    origins: set[str] = set()
    for issuer in IdentityProvider.objects.filter(active=True).values_list("issuer", flat=True):
        document = cache.get(f"oidc-discovery:{issuer}") or {}
        for url in (issuer, str(document.get("authorization_endpoint", ""))):
            parts = urlsplit(url)
            if parts.scheme in ("https", "http") and parts.netloc:
                origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origins)


@public
@never_cache
@require_GET
def sso_find(request: HttpRequest) -> HttpResponse:
    """The sign-in page's "Sign in with your agency": a work e-mail leads by its domain, a
    short name directly, to the agency's provider (the e-mail goes along as a hint)."""
    from tandem.api.forms import SsoFindForm

    form = SsoFindForm(request.GET)
    provider = provider_for_address(form.data.get("address", "")) if form.is_valid() else None
    if provider is None:
        messages.error(
            request,
            "Single sign-on is not set up for that address. Sign in "
            "with your Tandem username and password, or ask your "
            "Tandem administrator.",
        )
        return redirect("accounts:login")
    target = reverse("sso:start", args=[provider.agency.slug])
    address = form.cleaned_data["address"].strip()
    return redirect(f"{target}?{urlencode({'login_hint': address})}" if "@" in address else target)


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
    request.session[SESSION_SSO] = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "provider": provider.pk,
    }
    params = {
        "response_type": "code",
        "client_id": provider.client_id,
        "scope": provider.scopes,
        "redirect_uri": _callback_uri(request),
        "state": state,
        "nonce": nonce,
        "code_challenge": generate_code_challenge(verifier, "S256"),
        "code_challenge_method": "S256",
    }
    hint = request.GET.get("login_hint", "")[:200]
    if hint:
        params["login_hint"] = hint
    return redirect(f"{document['authorization_endpoint']}?{urlencode(params)}")


def _refuse(
    request: HttpRequest, reason: str, user: User | None = None, agency: Agency | None = None
) -> HttpResponse:
    if user is not None:
        services.signin_failed(user=user, stage="sso", reason=reason, request=request)
    else:
        audit_record(
            action="signin.failed",
            outcome="failed",
            request=request,
            agency_id=agency.pk if agency else None,
            object_type="user",
            detail={"stage": "sso", "reason": reason},
        )
    auth.logout(request)
    messages.error(
        request,
        "Single sign-on did not sign you in. Ask your Tandem "
        "administrator if this keeps happening.",
    )
    return redirect("accounts:login")


@public
@never_cache
@require_GET
def sso_callback(request: HttpRequest) -> HttpResponse:
    pending = request.session.pop(SESSION_SSO, None)
    if not pending or request.GET.get("state") != pending["state"]:
        return _refuse(request, "state_mismatch")
    provider = IdentityProvider.objects.select_related("agency", "data_key").get(
        pk=pending["provider"]
    )
    if not request.session.get(SESSION_BANNER_OK):
        return _refuse(request, "no_banner", agency=provider.agency)
    try:
        backend = AgencyOIDCBackend(provider, _callback_uri(request))
        user = backend.authenticate(
            request, nonce=pending["nonce"], code_verifier=pending["verifier"]
        )
    except (SuspiciousOperation, SsoRefused, RequestException, KeyError) as exc:
        return _refuse(request, str(exc)[:80] or type(exc).__name__, agency=provider.agency)
    if user is None:
        return _refuse(request, "unknown_subject", agency=provider.agency)
    if not user.is_active or user.is_locked:
        return _refuse(request, "inactive" if not user.is_active else "locked", user=user)
    return _signed_in(request, provider, user, backend.claims)


def _signed_in(
    request: HttpRequest, provider: IdentityProvider, user: User, claims: dict[str, Any]
) -> HttpResponse:
    from tandem.accounts.views import _next_url, _stamp_session

    auth.login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    _stamp_session(request)
    if not asserts_mfa(provider, claims):
        return redirect("accounts:mfa")  # Tandem's own second factor
    device, _ = SsoMfaDevice.objects.get_or_create(
        user=user, defaults={"name": f"SSO {provider.issuer}"[:64], "confirmed": True}
    )
    django_otp.login(request, device)
    rotate_session(request)
    _stamp_session(request)
    services.signin_succeeded(user=user, method="oidc_mfa", request=request)
    return redirect(_next_url(request))
