"""Reminders.

Part of ``tandem.readiness.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from tandem.core.notifications import notify
from tandem.readiness import compliance
from tandem.readiness.models import (
    ReminderSent,
)

from .agreements import policy_review_due

if TYPE_CHECKING:
    from tandem.accounts.models import User

# ---------------------------------------------------------------------------------------
# Reminders
# ---------------------------------------------------------------------------------------


def _remind_once(user: User, key: str) -> bool:
    with transaction.atomic():
        _, made = ReminderSent.objects.get_or_create(user=user, key=key)
        if made:
            notify(kind="readiness.reminder", recipient_user=user, agency=user.agency)
        return made


def reminders_send() -> int:
    """Daily job: remind people of due dates in the coming weeks, and the coordinators of
    the policy's periodic review. One reminder per due date."""
    from tandem.accounts.models import users_with_role
    from tandem.agencies.models import Agency
    from tandem.readiness.selectors import team_people

    sent = 0
    today = timezone.localdate()
    for agency in Agency.objects.all():
        people = list(team_people(agency).select_related("agency"))
        for user_id, status in compliance.statuses_for(agency, people).items():
            user = next(u for u in people if u.pk == user_id)
            for due in status.due:
                if 0 <= (due.on - today).days <= compliance.DUE_SOON_DAYS:
                    sent += int(_remind_once(user, due.key))
        review_due = policy_review_due(agency)
        if (review_due - today).days <= compliance.DUE_SOON_DAYS:
            for coordinator in users_with_role(agency, ["coordinator"]):
                sent += int(_remind_once(coordinator, f"policy-review-{review_due}"))
    return sent
