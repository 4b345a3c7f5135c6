"""Secret calendar feeds (iCal, X-9): one revocable link per person and purpose.

A calendar app cannot sign in, so the feed URL carries a random token instead. Only the
token's digest is stored; revoking (or issuing a new link) makes the old URL answer the
same 404 as any unknown address. Events carry what a lock screen may show: "On call —
primary", "Peer support training" — never who asked for help.

    token = feed_token_issue(acting_user=user, user=user, purpose="psp.shifts")
    user = feed_token_user(token, purpose="psp.shifts")      # None when unknown/revoked
    return calendar_response("On-call shifts", events)
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone
from icalendar import Calendar, Event

from tandem.core.hooks import audit_record
from tandem.core.models import FeedToken

if TYPE_CHECKING:
    from tandem.accounts.models import User

#: How far ahead every feed reaches (a phone's calendar shows next quarter).
FEED_DAYS_AHEAD = 90


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def feed_token_issue(*, acting_user: User, user: Any, purpose: str) -> str:
    """Revoke the person's current link for ``purpose`` and return a new secret token."""
    now = timezone.now()
    FeedToken.objects.filter(user=user, purpose=purpose, revoked_at__isnull=True).update(
        revoked_at=now
    )
    token = secrets.token_urlsafe(32)
    FeedToken.objects.create(user=user, purpose=purpose, digest=_digest(token))
    audit_record(
        action="feed.issued",
        actor=acting_user,
        agency_id=user.agency_id,
        obj=user,
        detail={"purpose": purpose},
    )
    return token


@transaction.atomic
def feed_token_revoke(*, acting_user: User, user: Any, purpose: str) -> bool:
    count = FeedToken.objects.filter(user=user, purpose=purpose, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    if count:
        audit_record(
            action="feed.revoked",
            actor=acting_user,
            agency_id=user.agency_id,
            obj=user,
            detail={"purpose": purpose},
        )
    return bool(count)


def feed_token_active(user: Any, purpose: str) -> bool:
    return FeedToken.objects.filter(user=user, purpose=purpose, revoked_at__isnull=True).exists()


def feed_token_user(token: str, *, purpose: str) -> Any:
    """The active user a token belongs to, or None (unknown, revoked, or account disabled)."""
    if not token or len(token) > 100:
        return None
    found = (
        FeedToken.objects.select_related("user")
        .filter(digest=_digest(token), purpose=purpose, revoked_at__isnull=True)
        .first()
    )
    if found is None or not found.user.is_active:
        return None
    FeedToken.objects.filter(pk=found.pk).update(last_used_at=timezone.now())
    return found.user


@dataclass(frozen=True)
class FeedEvent:
    uid: str  # stable across refreshes, e.g. "shift-42@tandem"
    start: datetime
    end: datetime
    summary: str
    location: str = ""


def calendar_bytes(name: str, events: Iterable[FeedEvent]) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//Tandem//Peer programs//EN")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", name)
    stamp = timezone.now()
    for item in events:
        event = Event()
        event.add("uid", item.uid)
        event.add("dtstamp", stamp)
        event.add("dtstart", item.start)
        event.add("dtend", item.end)
        event.add("summary", item.summary)
        if item.location:
            event.add("location", item.location)
        calendar.add_component(event)
    return bytes(calendar.to_ical())


def calendar_response(name: str, events: Iterable[FeedEvent]) -> HttpResponse:
    response = HttpResponse(
        calendar_bytes(name, events), content_type="text/calendar; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="tandem.ics"'
    return response
