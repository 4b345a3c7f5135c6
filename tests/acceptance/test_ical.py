"""Calendar feeds (issue 16): the RFC 5545 examples and Tandem's own feeds pass the
``icalendar`` library's strict content-line parser, and the feeds reach at least 90 days
ahead (a phone's calendar shows next quarter's on-call weeks)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar
from icalendar.parser import Contentline

from tandem.core.ical import feed_token_issue
from tests.peer_support.support import T0
from tests.recovery.support import new_client, plan

CLOCK_START = T0  # the shared clock fixture starts where peer support's does
AHEAD = timedelta(days=90)

# Examples from RFC 5545 (section 3.6.1, 3.6.2 and 4), CRLF line endings.
RFC5545_EXAMPLES = [
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//hacksw/handcal//NONSGML v1.0//EN\r\n"
    "BEGIN:VEVENT\r\nUID:19970610T172345Z-AF23B2@example.com\r\nDTSTAMP:19970610T172345Z\r\n"
    "DTSTART:19970714T170000Z\r\nDTEND:19970715T040000Z\r\nSUMMARY:Bastille Day Party\r\n"
    "END:VEVENT\r\nEND:VCALENDAR\r\n",
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ABC Corporation//NONSGML My Product//EN\r\n"
    "BEGIN:VEVENT\r\nUID:19970901T130000Z-123401@example.com\r\nDTSTAMP:19970901T130000Z\r\n"
    "DTSTART:19970903T163000Z\r\nDTEND:19970903T190000Z\r\nSUMMARY:Annual Employee Review\r\n"
    "CLASS:PRIVATE\r\nCATEGORIES:BUSINESS,HUMAN RESOURCES\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//ABC Corporation//NONSGML My Product//EN\r\n"
    "BEGIN:VTODO\r\nUID:20070313T123432Z-456553@example.com\r\nDTSTAMP:20070313T123432Z\r\n"
    "DUE;VALUE=DATE:20070501\r\nSUMMARY:Submit Quebec Income Tax Return for 2006\r\n"
    "CLASS:CONFIDENTIAL\r\nCATEGORIES:FAMILY,FINANCE\r\nSTATUS:NEEDS-ACTION\r\nEND:VTODO\r\n"
    "END:VCALENDAR\r\n",
    "BEGIN:VCALENDAR\r\nPRODID:-//xyz Corp//NONSGML PDA Calendar Version 1.0//EN\r\n"
    "VERSION:2.0\r\nBEGIN:VEVENT\r\nDTSTAMP:19960704T120000Z\r\n"
    "UID:uid1@example.com\r\nORGANIZER:mailto:jsmith@example.com\r\n"
    "DTSTART:19960918T143000Z\r\nDTEND:19960920T220000Z\r\nSTATUS:CONFIRMED\r\n"
    "CATEGORIES:CONFERENCE\r\nSUMMARY:Networld+Interop Conference\r\n"
    "DESCRIPTION:Networld+Interop Conference\r\n"
    "  and Exhibit\\nAtlanta World Congress Center\\n\r\n"
    " Atlanta\\, Georgia\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
]


def strictly_parsed(data: bytes | str) -> Calendar:
    """Every content line through the strict parser, then the calendar with no errors."""
    text = data.decode() if isinstance(data, bytes) else data
    assert text.endswith("\r\n")
    unfolded = text.replace("\r\n ", "").replace("\r\n\t", "")
    for line in unfolded.split("\r\n"):
        if line:
            name, params, value = Contentline(line, strict=True).parts()
            assert name
    for raw in text.split("\r\n"):
        assert len(raw.encode()) <= 75, raw
    calendar = Calendar.from_ical(text)
    assert calendar.get("VERSION") == "2.0"
    assert calendar.get("PRODID")
    for component in calendar.walk():
        assert not component.errors, component.errors
        if component.name in ("VEVENT", "VTODO"):
            assert component.get("UID")
            assert component.get("DTSTAMP")
    return calendar


def test_the_rfc_5545_examples_pass_the_strict_parser() -> None:
    for example in RFC5545_EXAMPLES:
        strictly_parsed(example)


def _starts(calendar: Calendar) -> list[datetime]:
    return sorted(e.decoded("DTSTART") for e in calendar.walk("VEVENT"))


def test_the_on_call_feed_is_strict_ical_and_reaches_90_days_ahead(
    cast: dict[str, Any], team: dict[str, Any], clock: Any
) -> None:
    pia = team["pia"]
    token = feed_token_issue(acting_user=pia, user=pia, purpose="psp.shifts")
    answer = Client().get(reverse("support:feed", args=[token]))
    assert answer["Content-Type"].startswith("text/calendar")
    calendar = strictly_parsed(answer.content)
    starts = _starts(calendar)
    assert starts
    assert max(e.decoded("DTEND") for e in calendar.walk("VEVENT")) >= timezone.now() + AHEAD


def test_the_recovery_visits_feed_is_strict_ical_and_reaches_90_days_ahead(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    later = timezone.now() + timedelta(days=85)
    plan(cast, client, later, kind="phone")
    token = feed_token_issue(acting_user=cast["prs"], user=cast["prs"], purpose="prp.visits")
    answer = Client().get(reverse("recovery:feed", args=[token]))
    calendar = strictly_parsed(answer.content)
    assert any(abs((s - later).total_seconds()) < 60 for s in _starts(calendar))
