"""Readiness's entry on the home page: team members falling out of compliance this month.

The counts come from the standing stored beside each gate (``Gate.compliance`` and
``Gate.next_due_on``, rewritten with the gate on every change it depends on): one query,
whatever the size of the team. A due date that passed since the last recompute counts as
not compliant at once, as the gates' ``*_until`` do. Only the people on the team who have
no stored standing yet (no gate, or just after the upgrade that added it, before the daily
recompute) have their rules evaluated here.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from tandem.core.attention import Item, plural
from tandem.readiness import compliance
from tandem.readiness.access import OVERSEERS, people_in_scope
from tandem.readiness.selectors import team_people

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency


def items(user: User, now: datetime) -> list[Item]:
    if not user.has_role(*OVERSEERS):
        return []
    lapsed, due = counts(user, now)
    found = []
    if lapsed:
        found.append(
            Item(
                f"{plural(lapsed, 'team member is', 'team members are')} not compliant",
                reverse("readiness:team"),
                urgent=True,
            )
        )
    if due:
        found.append(
            Item(
                f"{plural(due, 'team member falls', 'team members fall')} out of "
                "compliance this month unless they catch up",
                reverse("readiness:team"),
            )
        )
    return found


def counts(user: User, now: datetime) -> tuple[int, int]:
    """(not compliant, falling out of compliance this month) among the team ``user`` sees."""
    from tandem.accounts.models import User

    agency = user.home_agency
    people = team_people(agency).filter(pk__in=people_in_scope(user, agency).values("pk"))
    today = timezone.localdate(now)
    month_end = date(today.year, today.month, calendar.monthrange(today.year, today.month)[1])
    standing = "readiness_gate__compliance"
    next_due = "readiness_gate__next_due_on"
    found = User.objects.filter(pk__in=people.order_by().values("pk")).aggregate(
        unknown=Count("pk", filter=Q(**{f"{standing}__isnull": True}) | Q(**{standing: ""})),
        lapsed=Count(
            "pk", filter=Q(**{standing: compliance.NOT_COMPLIANT}) | Q(**{f"{next_due}__lt": today})
        ),
        due=Count(
            "pk",
            filter=Q(**{f"{standing}__in": (compliance.COMPLIANT, compliance.DUE_SOON)})
            & Q(**{f"{next_due}__gte": today, f"{next_due}__lte": month_end}),
        ),
    )
    if not found["unknown"]:
        return found["lapsed"], found["due"]
    # Only those without a stored standing are evaluated; the rest keep their stored one.
    unknown = people.filter(Q(**{f"{standing}__isnull": True}) | Q(**{standing: ""})).order_by()
    lapsed, due = _evaluated_counts(agency, unknown, now, today)
    return found["lapsed"] + lapsed, found["due"] + due


def _evaluated_counts(agency: Agency, people: Any, now: datetime, today: date) -> tuple[int, int]:
    lapsed = due = 0
    for status in compliance.statuses_for(agency, people, now).values():
        if status.level == compliance.NOT_COMPLIANT:
            lapsed += 1
        elif any(d.on.year == today.year and d.on.month == today.month for d in status.due):
            due += 1
    return lapsed, due
