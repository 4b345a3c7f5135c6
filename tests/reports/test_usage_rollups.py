"""Monthly usage counts (``reports.rollups``): a report read from the kept months says
exactly what counting every record of the period says, whatever is written afterwards."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tandem.agencies.presets import USAGE_FIELDS
from tandem.reports import rollups
from tandem.reports.models import UsageMonth
from tandem.reports.services import report_build, usage_months_roll_up
from tandem.reports.statistics import Period, peer_support_sections
from tests.conftest import make_user
from tests.reports.support import TODAY

# Every field a usage form may collect but the urgency, which no report counts.
EVERY_FIELD = [f for f in USAGE_FIELDS if f != "urgency"]
# Without both incident type and member category the usage table is one-way per column.
NO_PAIR = [f for f in EVERY_FIELD if f != "member_category"]

PERIODS = {
    "month": Period(date(2026, 2, 1), date(2026, 2, 28)),
    "quarter": Period(date(2026, 1, 1), date(2026, 3, 31)),
    "year": Period(date(2025, 1, 1), date(2025, 12, 31)),
    # Up to the month still going on (May 2026): its records are counted live.
    "year to the open month": Period(date(2025, 6, 1), date(2026, 5, 31)),
    # Not whole months: the odd days are counted live.
    "odd days": Period(date(2025, 11, 17), date(2026, 2, 9)),
}


def _pick(rng: random.Random, values: list[str], blank: float = 0.15) -> str:
    return "" if rng.random() < blank else rng.choice(values)


def _record(agency: Any, profile: Any, closed: datetime, rng: random.Random) -> Any:
    from tandem.support import vocab
    from tandem.support.models import UsageRecord

    seconds = [None, 0, 60, 300, 301, 900, 3600, 14400, 86400, 86401, 200_000]
    return UsageRecord(
        agency=agency,
        supporter=profile,
        closed_at=closed,
        outcome="closed",
        channel=_pick(rng, list(vocab.Channel.values)),
        topic=_pick(rng, list(vocab.Topic.values)),
        # A code no longer in the vocabulary counts as "not recorded", as it always did.
        incident_type=_pick(rng, [*vocab.IncidentType.values, "retired_code"]),
        intervention_type=_pick(rng, list(vocab.InterventionType.values)),
        member_category=_pick(rng, list(vocab.MemberCategory.values)),
        gender=_pick(rng, list(vocab.Gender.values)),
        duration_bucket=_pick(rng, list(vocab.DurationBucket.values)),
        services=rng.sample(list(vocab.Service.values), rng.randint(0, 3)),
        referral_types=rng.sample(list(vocab.ReferralType.values), rng.randint(0, 2)),
        follow_up=rng.choice([None, True, False]),
        seconds_to_ack=rng.choice(seconds),
        seconds_to_contact=rng.choice(seconds),
    )


@pytest.fixture
def varied_usage(agency: Any) -> Any:
    """Eighteen months of usage records (January 2025 to mid-May 2026) with every field
    varied, blanks and a retired code among them, many closed in a month's first or last
    hour (local time)."""
    from zoneinfo import ZoneInfo

    from django.conf import settings

    from tandem.support import vocab
    from tandem.support.models import SupporterProfile, UsageRecord

    user = make_user(agency, "rollupsupporter", "supporter")
    profile = SupporterProfile.objects.create(
        agency=agency, user=user, affiliation=vocab.Affiliation.choices[0][0]
    )
    zone = ZoneInfo(settings.TIME_ZONE)
    rng = random.Random(1515)
    made = []
    for year, month in [(2025, m) for m in range(1, 13)] + [(2026, m) for m in range(1, 6)]:
        first, after = rollups.month_bounds(year, month, zone)
        after = min(after, TODAY - timedelta(days=2))
        for _ in range(rng.randint(5, 40)):
            made.append(_record(agency, profile, first + (after - first) * rng.random(), rng))
        made.append(_record(agency, profile, first, rng))
        made.append(_record(agency, profile, after - timedelta(hours=1), rng))
    UsageRecord.objects.bulk_create(made)
    return profile


def _usage_form(agency: Any, fields: list[str]) -> None:
    agency.policy["usage_form"]["fields"] = fields
    agency.save(update_fields=["policy"])


def _figures(agency: Any, period: Period) -> list[Any]:
    return [
        (t.name, t.rows, t.columns, t.counts, t.total)
        for section in peer_support_sections(agency, period)
        for t in section.tables
    ]


def _counted_directly(agency: Any, period: Period) -> list[Any]:
    """The same report with no month kept: one pass over every record of the period."""
    kept = list(UsageMonth.objects.filter(agency=agency).values())
    UsageMonth.objects.filter(agency=agency).delete()
    try:
        return _figures(agency, period)
    finally:
        UsageMonth.objects.bulk_create([UsageMonth(**row) for row in kept])


def _reads_usage_records(agency: Any, period: Period) -> bool:
    with CaptureQueriesContext(connection) as queries:
        peer_support_sections(agency, period)
    return any("support_usagerecord" in q["sql"] for q in queries.captured_queries)


@pytest.mark.parametrize("fields", [EVERY_FIELD, NO_PAIR], ids=["two-way", "one-way"])
def test_kept_months_give_the_figures_of_counting_every_record(
    agency: Any, varied_usage: Any, fields: list[str]
) -> None:
    _usage_form(agency, fields)
    with time_machine.travel(TODAY, tick=False):
        assert usage_months_roll_up() > 0
        # Every month that ended is kept (April ended more than a day ago); May is going on.
        kept = sorted(timezone_month(m.starts_at) for m in UsageMonth.objects.filter(agency=agency))
        assert kept == [(2025, m) for m in range(1, 13)] + [(2026, m) for m in range(1, 5)]
        for name, period in PERIODS.items():
            assert _figures(agency, period) == _counted_directly(agency, period), name
        # A year of kept months reads no usage record at all.
        assert not _reads_usage_records(agency, PERIODS["year"])
        assert _reads_usage_records(agency, PERIODS["year to the open month"])


def timezone_month(moment: datetime) -> tuple[int, int]:
    from django.utils import timezone

    local = timezone.localtime(moment)
    return local.year, local.month


def test_the_counts_are_the_records_counted_one_by_one(agency: Any, varied_usage: Any) -> None:
    from tandem.support.models import UsageRecord

    _usage_form(agency, EVERY_FIELD)
    period = PERIODS["quarter"]
    first, after = period.bounds()
    with time_machine.travel(TODAY, tick=False):
        usage_months_roll_up()
        tables = {t.name: t for s in peer_support_sections(agency, period) for t in s.tables}
    in_period = list(
        UsageRecord.objects.filter(agency=agency, closed_at__gte=first, closed_at__lt=after)
    )
    by_topic = Counter(r.topic for r in in_period)
    topics = tables["needs_topics"]
    for (code, _), (n,) in zip(topics.rows, topics.counts, strict=True):
        assert n == by_topic[code]  # "not recorded" is the blank code
    assert topics.value(("total",)) == len(in_period)
    listening = sum(1 for r in in_period if "listening" in r.services)
    services = tables["usage_services"]
    assert services.counts[[c for c, _ in services.rows].index("listening")] == [listening]


def test_a_kept_month_is_counted_again_after_any_change_to_its_records(
    agency: Any, varied_usage: Any
) -> None:
    """A record published late, a purge, a changed code: the month's row goes (the database
    triggers), and the report is again what counting every record says."""
    from tandem.support.models import UsageRecord

    _usage_form(agency, EVERY_FIELD)
    period = PERIODS["quarter"]
    february = Period(date(2026, 2, 1), date(2026, 2, 28))
    first, after = february.bounds()
    rng = random.Random(7)
    with time_machine.travel(TODAY, tick=False):
        usage_months_roll_up()
        changes = [
            lambda: UsageRecord.objects.bulk_create(
                [_record(agency, varied_usage, first + timedelta(days=3), rng) for _ in range(4)]
            ),
            lambda: UsageRecord.objects.filter(
                pk__in=list(
                    UsageRecord.objects.filter(
                        agency=agency, closed_at__gte=first, closed_at__lt=after
                    ).values_list("pk", flat=True)[:5]
                )
            ).delete(),
            lambda: UsageRecord.objects.filter(
                agency=agency, closed_at__gte=first, closed_at__lt=after
            ).update(incident_type="personal"),
        ]
        for change in changes:
            assert UsageMonth.objects.filter(agency=agency, starts_at=first).exists()
            change()
            assert not UsageMonth.objects.filter(agency=agency, starts_at=first).exists()
            # January and March are still kept: only the changed month is counted again.
            assert UsageMonth.objects.filter(agency=agency).count() == 15
            assert _figures(agency, period) == _counted_directly(agency, period)
            assert usage_months_roll_up() == 1
            assert _figures(agency, period) == _counted_directly(agency, period)


def test_a_month_waits_for_the_requests_the_daily_batch_has_not_published(
    agency: Any, varied_usage: Any
) -> None:
    """A request closed on April 30th is published by the batch after that day: until it
    is, April is counted live, and once it is, April is kept with it."""
    from tandem.support import vocab
    from tandem.support.models import SupportRequest
    from tandem.support.services import publish_finished_requests

    _usage_form(agency, EVERY_FIELD)
    april = Period(date(2026, 4, 1), date(2026, 4, 30))
    first, after = april.bounds()
    closed = after - timedelta(hours=2)
    with time_machine.travel(TODAY, tick=False):
        SupportRequest.objects.create(
            agency=agency,
            idempotency_key="waiting",
            channel=vocab.Channel.values[0],
            urgency=vocab.Urgency.values[0],
            contact_method=vocab.ContactMethod.values[0],
            status=vocab.RequestStatus.CLOSED,
            finished_on=closed.date(),
            usage={"outcome": "closed", "closed_at": closed.isoformat(), "topic": "grief"},
        )
        usage_months_roll_up()
        assert not UsageMonth.objects.filter(agency=agency, starts_at=first).exists()
        assert UsageMonth.objects.filter(agency=agency).count() == 15
        before = {t.name: t for s in peer_support_sections(agency, april) for t in s.tables}
        assert publish_finished_requests() == 1
        usage_months_roll_up()
        assert UsageMonth.objects.filter(agency=agency, starts_at=first).exists()
        assert _figures(agency, april) == _counted_directly(agency, april)
        after_batch = {t.name: t for s in peer_support_sections(agency, april) for t in s.tables}
    grief = [c for c, _ in before["needs_topics"].rows].index("grief")
    assert (
        after_batch["needs_topics"].counts[grief][0] == before["needs_topics"].counts[grief][0] + 1
    )


def test_a_report_keeps_the_months_it_counted_once_it_has_committed(
    agency: Any, varied_usage: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The first report read after a month settles counts it live and keeps it when its
    transaction commits; the next read adds the kept rows, with the same figures."""
    _usage_form(agency, EVERY_FIELD)
    period = PERIODS["year"]
    with time_machine.travel(TODAY, tick=False):
        with django_capture_on_commit_callbacks(execute=True):
            first_read, _ = report_build(agency=agency, report="peer-support", period=period)
        assert UsageMonth.objects.filter(agency=agency).count() == 12
        assert not _reads_usage_records(agency, period)
        again, _ = report_build(agency=agency, report="peer-support", period=period)
    assert again["sections"] == first_read["sections"]


def test_a_kept_month_holds_counts_and_its_bounds_only(agency: Any, varied_usage: Any) -> None:
    with time_machine.travel(TODAY, tick=False):
        usage_months_roll_up()
    fields = {f.name for f in UsageMonth._meta.get_fields()}
    assert fields == {"id", "agency", "starts_at", "ends_before", "shape", "counts"}
    row = UsageMonth.objects.filter(agency=agency).first()
    assert row is not None
    assert all(isinstance(v, int) for v in row.counts.values())
    start = row.starts_at.astimezone(UTC)
    assert start == datetime(start.year, start.month, start.day, start.hour, tzinfo=UTC)
