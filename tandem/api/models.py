"""Machine credentials: an agency's API clients and their tokens.

A token is shown once; the database keeps only its SHA-256 digest (the secret is 256 random
bits, so a slow hash adds nothing). Each client acts through its own service account, which
has no password, no role rows and cannot sign in: the roles it acts with come from the
token's scopes, one scope per call (see ``tandem.api.auth``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone
from django_otp.models import Device

from tandem.core.fields import EncryptedTextField
from tandem.core.models import EnvelopeEncrypted

if TYPE_CHECKING:
    from tandem.accounts.models import User


class ApiClient(models.Model):
    agency = models.ForeignKey(
        "agencies.Agency", on_delete=models.CASCADE, related_name="api_clients"
    )
    name = models.CharField(max_length=100)
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="api_client"
    )
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="api_client_name_per_agency")
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_approved(self) -> bool:
        from tandem.api.scopes import needs_approval

        return self.approved_at is not None or not needs_approval(list(self.scopes))

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and self.is_approved

    def may_approve(self, person: User) -> bool:
        """The chief or a holder of the role its scopes map to, in the same agency, active,
        who neither created the client nor is its service account."""
        from tandem.api.scopes import approver_roles

        return bool(
            person is not None
            and person.pk is not None
            and person.is_active
            and person.agency_id == self.agency_id
            and person.pk not in (self.created_by_id, self.account_id)
            and person.has_role(*approver_roles(list(self.scopes)))
        )


def client_approvers(client: ApiClient) -> models.QuerySet[Any]:
    """Everyone who may approve ``client`` (told by a content-free message)."""
    from tandem.accounts.models import users_with_role
    from tandem.api.scopes import approver_roles

    return users_with_role(client.agency, approver_roles(list(client.scopes))).exclude(
        pk__in=[pk for pk in (client.created_by_id, client.account_id) if pk]
    )


class ApiToken(models.Model):
    client = models.ForeignKey(ApiClient, on_delete=models.CASCADE, related_name="tokens")
    prefix = models.CharField(max_length=16, unique=True)
    digest = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.client} {self.prefix}…"

    def is_valid(self, at: object = None) -> bool:
        moment = at or timezone.now()
        return self.revoked_at is None and self.expires_at > moment  # type: ignore[operator]


# --- Single sign-on (OIDC): the agency's identity provider and who is who there ----------


def default_mfa_amr() -> list[str]:
    # RFC 8176 values that mean more than one factor was used.
    return ["mfa", "otp", "hwk", "swk", "sms", "fpt", "face"]


class IdentityProvider(EnvelopeEncrypted):
    """An agency's OpenID Connect provider (Entra ID, Okta, Keycloak...). Endpoints and keys
    come from the issuer's discovery document; the client secret is sealed at rest."""

    data_key_purpose = "sso.client_secret"

    agency = models.OneToOneField(
        "agencies.Agency", on_delete=models.CASCADE, related_name="identity_provider"
    )
    issuer = models.URLField(max_length=300)
    client_id = models.CharField(max_length=200)
    client_secret = EncryptedTextField(blank=True)
    scopes = models.CharField(max_length=200, default="openid email profile")
    #: The ID-token claim that names a person for good (``sub``; Entra ID's ``oid``).
    subject_claim = models.CharField(max_length=64, default="sub")
    #: Work e-mail domains whose people the sign-in page sends to this provider.
    email_domains = models.JSONField(default=list, blank=True)
    #: A token asserts multi-factor when its ``amr`` holds one of these, or its ``acr`` is one
    #: of ``mfa_acr``; otherwise Tandem's own second factor follows.
    mfa_amr = models.JSONField(default=default_mfa_amr, blank=True)
    mfa_acr = models.JSONField(default=list, blank=True)
    #: Create an account on first sign-in (off: accounts come from SCIM or the administrator).
    jit_create = models.BooleanField(default=False)
    leeway_seconds = models.PositiveSmallIntegerField(default=60)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.agency} via {self.issuer}"


class ExternalIdentity(models.Model):
    """An account's stable subject (``sub``) at its agency's identity provider."""

    provider = models.ForeignKey(
        IdentityProvider, on_delete=models.CASCADE, related_name="identities"
    )
    subject = models.CharField(max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="external_identities"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "subject"], name="sso_subject_once"),
            models.UniqueConstraint(fields=["provider", "user"], name="sso_user_once"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.provider_id}"


class SsoMfaDevice(Device):
    """Marks a session whose identity provider asserted multi-factor sign-in. It verifies no
    code itself: it exists so ``django_otp`` counts the session as verified."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    def verify_token(self, token: object) -> bool:
        return False


class ApiAuthFailure(models.Model):
    """Refused calls of one client (or of unknown tokens: no client, no agency) for one
    reason in one minute. The first refusal of a window writes an ``api.auth_failed`` audit
    event at once; later ones only count here, and the window's total is audited once it
    closes (``api_auth_failures_summarise``), so a flood cannot fill the audit trail.
    Nothing of the presented token is kept beyond the prefix of a real one."""

    key = models.CharField(max_length=120, unique=True)
    agency = models.ForeignKey(
        "agencies.Agency", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    client = models.ForeignKey(
        ApiClient, null=True, blank=True, on_delete=models.CASCADE, related_name="auth_failures"
    )
    reason = models.CharField(max_length=32)
    window = models.DateTimeField()
    count = models.PositiveIntegerField(default=1)
    last_at = models.DateTimeField(default=timezone.now)
    summarised = models.BooleanField(default=False)

    class Meta:
        ordering = ["-window"]
        indexes = [
            models.Index(fields=["agency", "window"], name="api_authfail_agency_window"),
            models.Index(fields=["summarised", "window"], name="api_authfail_open"),
        ]

    def __str__(self) -> str:
        return f"{self.reason} ×{self.count} at {self.window:%Y-%m-%d %H:%M}"
