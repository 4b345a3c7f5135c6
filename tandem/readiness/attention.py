"""Readiness's entry on the home page: team members falling out of compliance this month."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tandem.core.attention import Item, plural
from tandem.readiness import compliance
from tandem.readiness.access import OVERSEERS, people_in_scope
from tandem.readiness.selectors import team_people


def items(user: Any, now: datetime) -> list[Item]:
    if not user.has_role(*OVERSEERS):
        return []
    agency = user.agency
    people = team_people(agency).filter(pk__in=people_in_scope(user, agency).values("pk"))
    today = timezone.localdate(now)
    lapsed = due = 0
    for status in compliance.statuses_for(agency, people, now).values():
        if status.level == compliance.NOT_COMPLIANT:
            lapsed += 1
        elif any(d.on.year == today.year and d.on.month == today.month for d in status.due):
            due += 1
    found = []
    if lapsed:
        found.append(Item(f"{plural(lapsed, 'team member is', 'team members are')} "
                          "not compliant", reverse("readiness:team"), urgent=True))
    if due:
        found.append(Item(f"{plural(due, 'team member falls', 'team members fall')} out of "
                          "compliance this month unless they catch up", reverse("readiness:team")))
    return found
