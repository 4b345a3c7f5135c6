"""Writes for API clients and tokens; each is atomic and audited in the same transaction."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import slugify

from tandem.accounts.models import User
from tandem.agencies.access import require_actor_role
from tandem.agencies.models import Role
from tandem.api.models import ApiAuthFailure, ApiClient, ApiToken, client_approvers
from tandem.api.scopes import SCOPES, needs_approval
from tandem.audit.services import audit_record
from tandem.core.notifications import notify

TOKEN_PREFIX = "tdm"  # noqa: S105 - a label, not a secret
MAX_TOKEN_DAYS = 366
MANAGERS = (Role.ADMINISTRATOR,)
# Who may approve a client's program scopes: ``ApiClient.may_approve`` (the chief or a holder
# of the scope's program role; never an administrator as such, never the creator).


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _check_admin(
    acting_user: User, agency_id: int, roles: tuple[str, ...] = (Role.ADMINISTRATOR,)
) -> None:
    require_actor_role(acting_user, *roles, agency_id=agency_id)


@transaction.atomic
def api_client_create(*, acting_user: User, name: str, scopes: list[str]) -> ApiClient:
    """A new client of the administrator's agency. Program scopes wait for approval."""
    agency = acting_user.home_agency
    _check_admin(acting_user, agency.pk)
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError("Give the client a name of at most 100 characters.")
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise ValidationError(f"Unknown or missing scopes: {', '.join(unknown) or 'none'}.")
    if ApiClient.objects.filter(agency=agency, name__iexact=name).exists():
        raise ValidationError("A client with this name already exists.")
    account = User(
        username=f"api.{agency.slug}.{slugify(name)}"[:150],
        agency=agency,
        first_name="API",
        last_name=name[:150],
    )
    account.set_unusable_password()
    account.save()
    client = ApiClient.objects.create(
        agency=agency,
        name=name,
        account=account,
        scopes=sorted(set(scopes)),
        created_by=acting_user,
    )
    waiting = needs_approval(client.scopes)
    audit_record(
        action="api.client_created",
        actor=acting_user,
        agency_id=client.agency_id,
        obj=client,
        detail={"client": client.name, "scopes": client.scopes, "needs_approval": waiting},
    )
    if waiting:
        for person in client_approvers(client):
            notify(kind="api.client_approval", recipient_user=person, agency=agency)
    return client


@transaction.atomic
def api_client_approve(*, acting_user: User, client: ApiClient) -> ApiClient:
    """The second person's approval of a client's program scopes (or ``scim``): the chief
    or a current holder of the program role they map to, never the client's creator."""
    if not client.may_approve(acting_user):
        raise PermissionDenied
    if client.revoked_at is not None:
        raise ValidationError("This client was revoked.")
    if client.approved_at is None:
        client.approved_at = timezone.now()
        client.approved_by = acting_user
        client.save(update_fields=["approved_at", "approved_by"])
        audit_record(
            action="api.client_approved",
            actor=acting_user,
            agency_id=client.agency_id,
            obj=client,
            detail={"client": client.name, "scopes": client.scopes},
        )
    return client


@transaction.atomic
def api_client_revoke(*, acting_user: User, client: ApiClient) -> ApiClient:
    """Stop the client at once: every token of it stops working."""
    _check_admin(acting_user, client.agency_id)
    if client.revoked_at is None:
        now = timezone.now()
        client.revoked_at = now
        client.save(update_fields=["revoked_at"])
        client.tokens.filter(revoked_at__isnull=True).update(revoked_at=now)
        audit_record(
            action="api.client_revoked",
            actor=acting_user,
            agency_id=client.agency_id,
            obj=client,
            detail={"client": client.name},
        )
    return client


@transaction.atomic
def api_token_issue(
    *, acting_user: User, client: ApiClient, days: int = 90
) -> tuple[ApiToken, str]:
    """A new token; the returned secret is shown once and never stored."""
    _check_admin(acting_user, client.agency_id)
    if client.revoked_at is not None:
        raise ValidationError("This client was revoked.")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise ValidationError(f"A token lasts between 1 and {MAX_TOKEN_DAYS} days.")
    prefix = secrets.token_hex(6)
    secret = f"{TOKEN_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        client=client,
        prefix=prefix,
        digest=token_digest(secret),
        expires_at=timezone.now() + timedelta(days=days),
    )
    audit_record(
        action="api.token_issued",
        actor=acting_user,
        agency_id=client.agency_id,
        obj=client,
        detail={"client": client.name, "token": prefix, "expires_at": token.expires_at.isoformat()},
    )
    return token, secret


@transaction.atomic
def api_token_revoke(*, acting_user: User, token: ApiToken) -> ApiToken:
    _check_admin(acting_user, token.client.agency_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            action="api.token_revoked",
            actor=acting_user,
            agency_id=token.client.agency_id,
            obj=token.client,
            detail={"client": token.client.name, "token": token.prefix},
        )
    return token


#: Why a token did not authenticate a call (or the call was refused for its token).
FAILURE_REASONS: dict[str, str] = {
    "malformed": "Malformed Authorization header",
    "unknown": "Unknown token",
    "wrong_secret": "Wrong secret for one of its tokens",
    "expired": "Expired token",
    "revoked": "Revoked token or client",
    "not_approved": "Client waiting for approval",
    "account_disabled": "Client's account disabled",
    "scope": "Token lacks the scope the call needs",
    "rate_limited": "Over the rate limit",
}
AUTH_FAILURE_DAYS = 90


def api_token_check(secret: str) -> tuple[ApiToken | None, str]:
    """The token ``secret`` names (constant-time digest comparison) and, if it may not be
    used, why (a key of ``FAILURE_REASONS``; empty when it may)."""
    parts = secret.split("_", 2)
    if len(parts) != 3 or parts[0] != TOKEN_PREFIX:
        return None, "unknown"
    token = (
        ApiToken.objects.select_related("client__agency", "client__account")
        .filter(prefix=parts[1])
        .first()
    )
    if token is None:
        return None, "unknown"
    client = token.client
    if client.account.agency_id == client.agency_id:
        client.account.agency = client.agency  # already loaded: no second query per call
    if not secrets.compare_digest(token.digest, token_digest(secret)):
        return token, "wrong_secret"
    if token.revoked_at is not None or token.client.revoked_at is not None:
        return token, "revoked"
    if not token.is_valid():
        return token, "expired"
    if not token.client.is_approved:
        return token, "not_approved"
    return token, ""


def api_token_find(secret: str) -> ApiToken | None:
    """The valid token for ``secret``, else None."""
    token, reason = api_token_check(secret)
    return token if not reason else None


def api_auth_failure_record(
    *, reason: str, token: ApiToken | None = None, route: str = ""
) -> ApiAuthFailure:
    """Count a refused call per client (or per unknown token: no client), reason and
    minute. The window's first refusal is audited at once; the total follows when the
    window closes (``api_auth_failures_summarise``). Never stores the presented token."""
    if reason not in FAILURE_REASONS:
        raise ValueError(f"unknown reason {reason!r}")
    now = timezone.now()
    window = now.replace(second=0, microsecond=0)
    client = token.client if token is not None else None
    key = f"{client.pk if client else '-'}:{reason}:{window:%Y%m%d%H%M}"
    with transaction.atomic():
        row, created = ApiAuthFailure.objects.get_or_create(
            key=key,
            defaults={
                "agency_id": client.agency_id if client else None,
                "client": client,
                "reason": reason,
                "window": window,
                "last_at": now,
            },
        )
        if not created:
            ApiAuthFailure.objects.filter(pk=row.pk).update(count=F("count") + 1, last_at=now)
            return row
        detail: dict[str, Any] = {
            "reason": reason,
            "window": window.isoformat(),
            "count": 1,
            "route": route,
        }
        if client is not None and token is not None:
            detail.update(client=client.name, token=token.prefix)
        audit_record(
            action="api.auth_failed",
            actor=client.account if client else None,
            agency_id=row.agency_id,
            obj=row,
            outcome="denied",
            detail=detail,
        )
    return row


def api_auth_failures_summarise(now: datetime | None = None) -> int:
    """Audit the total of every closed window that counted more than its first refusal,
    and forget windows older than ``AUTH_FAILURE_DAYS``. Periodic (every five minutes)."""
    now = now or timezone.now()
    current = now.replace(second=0, microsecond=0)
    written = 0
    pending = ApiAuthFailure.objects.filter(summarised=False, window__lt=current)
    for pk in list(pending.values_list("pk", flat=True)):
        with transaction.atomic():
            row = (
                ApiAuthFailure.objects.select_for_update(of=("self",))
                .select_related("client")
                .filter(pk=pk, summarised=False)
                .first()
            )
            if row is None:
                continue
            if row.count > 1:
                detail: dict[str, Any] = {
                    "reason": row.reason,
                    "window": row.window.isoformat(),
                    "count": row.count,
                    "summary": True,
                }
                if row.client is not None:
                    detail["client"] = row.client.name
                audit_record(
                    action="api.auth_failed",
                    agency_id=row.agency_id,
                    obj=row,
                    outcome="denied",
                    detail=detail,
                )
                written += 1
            row.summarised = True
            row.save(update_fields=["summarised"])
    ApiAuthFailure.objects.filter(window__lt=now - timedelta(days=AUTH_FAILURE_DAYS)).delete()
    return written


def api_auth_failures_for_agency(agency_id: int, *, days: int = 7) -> list[ApiAuthFailure]:
    """Refused calls of the agency's clients in the last ``days`` days, newest first."""
    since = timezone.now() - timedelta(days=days)
    return list(
        ApiAuthFailure.objects.filter(agency_id=agency_id, window__gte=since)
        .select_related("client")
        .order_by("-window", "reason")[:200]
    )


def api_call_record(*, token: ApiToken, route: str, method: str, status: int) -> None:
    """One audit row per call, with the client's name (never query strings or bodies)."""
    client = token.client
    audit_record(
        action="api.call",
        actor=client.account,
        agency_id=client.agency_id,
        obj=client,
        outcome="success" if status < 400 else "denied",
        detail={
            "client": client.name,
            "token": token.prefix,
            "route": route,
            "method": method,
            "status": status,
        },
    )
    today = timezone.localdate()
    if token.last_used_on != today:
        ApiToken.objects.filter(pk=token.pk).update(last_used_on=today)
        token.last_used_on = today
        # The service account is in use: the inactivity rule must not disable it.
        User.objects.filter(pk=client.account_id).update(last_login=timezone.now())
