"""Shared by the modules of this package.

Part of ``tandem.support.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import timedelta

from tandem.support import vocab

DUTY_RENOTIFY_AFTER = timedelta(minutes=10)
INTAKE_LINK_DAYS = 180
#: What the loser of an accept race is told, and all they are told.
ACCEPTED_BY_ANOTHER = "Another supporter accepted this request a moment ago. Nothing was changed."

USAGE_STRING_FIELDS = (
    "incident_type",
    "intervention_type",
    "member_category",
    "gender",
    "duration_bucket",
)
USAGE_LIST_FIELDS = {"services": vocab.Service, "referral_types": vocab.ReferralType}


#: A request that ended is published (usage record, lifecycle audit events) by the daily
#: batch, never at the moment it ends.
FINISHED_STATUSES = (
    vocab.RequestStatus.CLOSED,
    vocab.RequestStatus.WITHDRAWN,
    vocab.RequestStatus.EXPIRED,
)
