"""Peer support's entries on the home page: what waits for the coordinator or a helper."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils import timezone

from tandem.core.attention import Item, plural
from tandem.core.when import when
from tandem.support import access, selectors, vocab
from tandem.support.models import DutyToReportNotice, FollowUpReminder
from tandem.support.oncall import COVERAGE_DAYS, coverage_gaps
from tandem.support.services import breach_readers

if TYPE_CHECKING:
    from tandem.accounts.models import User


def _waiting(user: User, now: datetime) -> list[Item]:
    count, oldest = selectors.waiting_for_a_supporter(user.home_agency)
    if not count or oldest is None:
        return []
    longest = selectors.waited(oldest, now)
    text = (
        f"{plural(count, 'request', 'requests')} waiting for a supporter, the longest for {longest}"
    )
    return [Item(text, reverse("support:queue"), urgent=True)]


def _gaps(user: User, now: datetime) -> list[Item]:
    gaps = coverage_gaps(user.home_agency, now)
    if not gaps:
        return []
    first = max(now, min(g.start for g in gaps))
    text = (
        f"{plural(len(gaps), 'gap', 'gaps')} in on-call coverage in the next "
        f"{COVERAGE_DAYS} days, the first on {when(first, 'short_date')}"
    )
    return [Item(text, reverse("support:coverage"), urgent=True)]


def _duty(user: User) -> list[Item]:
    count = DutyToReportNotice.objects.filter(
        agency=user.agency, status=vocab.DutyStatus.OPEN
    ).count()
    if not count:
        return []
    text = f"{plural(count, 'duty-to-report notice', 'duty-to-report notices')} not acknowledged"
    return [Item(text, reverse("support:duty_list"), urgent=True)]


def _breaches(user: User) -> list[Item]:
    """Breach reports the policy's readers (GO 702 .38) have not acknowledged yet: the
    message they got says only "open Tandem", so the home page must say what is waiting."""
    roles = breach_readers(user.home_agency)
    if not roles or not user.has_role(*roles):
        return []
    count = selectors.breaches_unacknowledged_by(user)
    if not count:
        return []
    text = f"{plural(count, 'breach report', 'breach reports')} for you to acknowledge"
    return [Item(text, reverse("support:breach_list"), urgent=True)]


def _offers(user: User) -> list[Item]:
    count = selectors.offers_count(user)
    if not count:
        return []
    text = (
        f"{plural(count, 'request', 'requests')} offered to you, "
        f"waiting for you to accept or step aside"
    )
    return [Item(text, reverse("support:workspace"), urgent=True)]


def _follow_ups(user: User, now: datetime) -> list[Item]:
    count = FollowUpReminder.objects.filter(
        supporter__user=user, done_at__isnull=True, due_on__lte=timezone.localdate(now)
    ).count()
    if not count:
        return []
    return [Item(f"{plural(count, 'follow-up', 'follow-ups')} due", reverse("support:workspace"))]


def items(user: User, now: datetime) -> list[Item]:
    found: list[Item] = []
    if user.has_role(*access.COORDINATORS):
        found += _waiting(user, now) + _gaps(user, now)
    if user.has_role(*access.DUTY_READERS):
        found += _duty(user)
    found += _breaches(user)
    if user.has_role(*access.HELPERS):
        found += _offers(user) + _follow_ups(user, now)
    return found
