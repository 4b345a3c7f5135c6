"""Machine credentials: an agency's API clients and their tokens.

A token is shown once; the database keeps only its SHA-256 digest (the secret is 256 random
bits, so a slow hash adds nothing). Each client acts through its own service account, which
has no password, no role rows and cannot sign in: the roles it acts with come from the
token's scopes, one scope per call (see ``tandem.api.auth``).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiClient(models.Model):
    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE,
                               related_name="api_clients")
    name = models.CharField(max_length=100)
    account = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                   related_name="api_client")
    scopes = models.JSONField(default=list)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                    on_delete=models.SET_NULL, related_name="+")
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
