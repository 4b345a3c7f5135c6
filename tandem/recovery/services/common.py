"""Shared by the modules of this package.

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tandem.recovery.models import (
    Client,
    Submission,
)

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

STALE_MESSAGE = (
    "Someone else saved this record after you opened the form. Your changes were not saved; "
    "they are still in the form below. Review the newer values saved in the meantime, "
    "shown under the form, then save again."
)
CLIENT_FIELDS = (
    "first_name",
    "last_name",
    "aliases",
    "date_of_birth",
    "phone",
    "address",
    "gender",
    "race",
    "ethnicity",
    "veteran",
    "substances",
    "notes",
    "status",
    "aro",
    "prs",
)
# What a contact records about the encounter; the API reads these and no more.
CONTACT_FACTS = (
    "kind",
    "occurred_at",
    "duration_minutes",
    "aro_present",
    "prs_present",
    "location_type",
    "services",
    "outcome",
    "arrest_diverted",
)
CONTACT_FIELDS = (*CONTACT_FACTS, "notes", "planned")


class AlreadySubmitted(ValidationError):
    """The same form (same one-time key) was submitted before; nothing was written again."""


def _claim(agency: Agency, key: str) -> None:
    """Claim a form's one-time key inside the caller's transaction (double-submit guard)."""
    if not key:
        return
    try:
        with transaction.atomic():
            Submission.objects.create(agency=agency, key=key)
    except IntegrityError:
        raise AlreadySubmitted("This form was already submitted.") from None


def _lock_client(pk: int) -> None:
    list(Client.objects.select_for_update().filter(pk=pk).values_list("pk", flat=True))


class StaleEdit(ValidationError):
    """The form was based on an older version of the record (optimistic locking)."""
