"""Reads for the auditor's screen: one agency's events, newest first, keyset-paginated.

Events are numbered by their agency's chain (``seq``), never by the deployment-wide id, so
an auditor learns nothing about other agencies' volume. Keyset pagination (``seq < cursor``)
uses the unique (chain, seq) index and costs the same on the first page and the
ten-thousandth; the page needs one query whatever the data size.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.db.models import QuerySet

from tandem.audit.models import AuditEvent

PAGE_SIZE = 50


@dataclass(frozen=True)
class EventPage:
    events: list[AuditEvent]
    newer_cursor: int | None  # show events with seq > this
    older_cursor: int | None  # show events with seq < this


def filtered_events(agency_id: int, filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.filter(chain=agency_id)
    if filters.get("date_from"):
        events = events.filter(
            occurred_at__gte=datetime.combine(filters["date_from"], time.min, UTC)
        )
    if filters.get("date_to"):
        end = datetime.combine(filters["date_to"], time.min, UTC) + timedelta(days=1)
        events = events.filter(occurred_at__lt=end)
    if filters.get("action"):
        events = events.filter(action__startswith=filters["action"].strip())
    if filters.get("actor"):
        events = events.filter(actor_label=filters["actor"].strip())
    if filters.get("object_type"):
        events = events.filter(object_type=filters["object_type"].strip())
    if filters.get("object_id"):
        events = events.filter(object_id=filters["object_id"].strip())
    if filters.get("outcome"):
        events = events.filter(outcome=filters["outcome"])
    return events


def event_page(
    events: QuerySet[AuditEvent],
    *,
    before: int | None = None,
    after: int | None = None,
    size: int = PAGE_SIZE,
) -> EventPage:
    """One page, newest first. ``before``: older than that seq; ``after``: newer than it."""
    if after is not None:
        rows = list(events.filter(seq__gt=after).order_by("seq")[: size + 1])
        more_newer = len(rows) > size
        page = list(reversed(rows[:size]))
        return EventPage(
            page, page[0].seq if more_newer and page else None, page[-1].seq if page else None
        )
    if before is not None:
        events = events.filter(seq__lt=before)
    rows = list(events.order_by("-seq")[: size + 1])
    page = rows[:size]
    return EventPage(
        page,
        page[0].seq if before is not None and page else None,
        page[-1].seq if len(rows) > size else None,
    )
