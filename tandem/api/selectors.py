"""Reads for the single sign-on settings screen."""

from __future__ import annotations

from tandem.agencies.models import Agency
from tandem.api.models import ExternalIdentity, IdentityProvider


def identity_provider(agency: Agency) -> IdentityProvider | None:
    return IdentityProvider.objects.filter(agency=agency).first()


def linked_accounts(provider: IdentityProvider | None) -> int:
    """How many accounts are linked to ``provider`` (none without one)."""
    return ExternalIdentity.objects.filter(provider=provider).count() if provider else 0


def agency_linked_accounts(agency: Agency) -> int:
    """How many accounts are linked to any provider of ``agency``."""
    return ExternalIdentity.objects.filter(provider__agency=agency).count()
