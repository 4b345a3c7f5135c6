"""Peer-support usage counted once per month that can no longer change (``UsageMonth``).

Every count the peer-support report takes from usage records is a sum over records, so a
period's counts are the sums of its months' counts. A month whose records can no longer
change is *settled*: it ended at least a day ago and no finished request waiting for the
daily batch closed in it (requests close at the hour they are closed, so a request still
open closes in a later month). A settled month's counts are kept in one ``UsageMonth`` row;
a report adds those rows to a live count of whatever is left (a month not settled yet, the
odd days of a period that is not whole months).

Exact under every write: database triggers (migration ``0002``) delete a month's row when
any usage record of that month is inserted, changed or deleted — the daily batch, a late
publication, a retention purge, the seed, the demo or an operator's SQL alike — and the row
is counted again when next needed. On PostgreSQL the triggers and ``months_make`` take the
same per-agency advisory lock, so a row is never made from counts a concurrent write has
already changed.

A row is made after the report that found it missing has committed (``on_commit``) and by
the periodic ``usage_months_roll_up``, never while a request is being closed: it carries the
month's bounds and its counts, which anyone holding the usage records can count, and no
time of its own.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from django.db import DEFAULT_DB_ALIAS, connection, transaction
from django.db.models import Case, Count, IntegerField, Q, QuerySet, Value, When
from django.utils import timezone

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

logger = logging.getLogger("tandem.reports")

#: Namespace of the per-agency advisory lock the usage triggers and ``months_make`` share
#: on PostgreSQL (two-key form: namespace, agency); the audit chains use 714_621.
LOCK_NAMESPACE = 714_622

#: A request's usage record is dated to the hour it closed: one that closed a little
#: before a month's end may still be committing. A month settles a day after it ends.
SETTLE_AFTER = timedelta(days=1)

#: The usage record's one-way columns and the vocabulary of each.
ONE_WAY = (
    ("incident_type", "IncidentType"),
    ("member_category", "MemberCategory"),
    ("channel", "Channel"),
    ("intervention_type", "InterventionType"),
    ("duration_bucket", "DurationBucket"),
    ("gender", "Gender"),
    ("topic", "Topic"),
)
#: JSON lists of codes: a record counts under each code it holds.
MULTIPLE = (("services", "Service"), ("referral_types", "ReferralType"))
#: Seconds counted in the report's response-time buckets.
SECONDS = ("seconds_to_ack", "seconds_to_contact")
#: The pair the two-way table crosses, counted by the values found (any value).
PAIR = ("incident_type", "member_category")

TOTAL = "total"


def bucket_limits() -> list[int | None]:
    from tandem.reports.statistics import RESPONSE_BUCKETS

    return [upper for upper, _ in RESPONSE_BUCKETS]


def codes(vocab_name: str) -> list[str]:
    from tandem.support import vocab

    return [str(code) for code in getattr(vocab, vocab_name).values]


def one_way_key(column: str, code: str) -> str:
    return f"{column}={code}"


def multiple_key(column: str, code: str) -> str:
    return f"{column}~{code}"


def bucket_key(column: str, index: int) -> str:
    return f"{column}<{index}"


def pair_key(row: Any, col: Any) -> str:
    return "pair:" + json.dumps([str(row or ""), str(col or "")])


def pair_values(key: str) -> tuple[str, str] | None:
    if not key.startswith("pair:"):
        return None
    row, col = json.loads(key[len("pair:") :])
    return str(row), str(col)


def conditions() -> dict[str, Q | None]:
    """Every count a report can read off a set of usage records, by key (``None``: every
    record). Which of them a report shows depends on the agency's usage form; all of them
    are counted, so a month's row serves whatever the form says at reading time."""
    found: dict[str, Q | None] = {TOTAL: None}
    for column, vocab_name in ONE_WAY:
        for code in codes(vocab_name):
            found[one_way_key(column, code)] = Q(**{column: code})
    found[one_way_key("follow_up", "yes")] = Q(follow_up=True)
    found[one_way_key("follow_up", "no")] = Q(follow_up=False)
    for column, vocab_name in MULTIPLE:
        for code in codes(vocab_name):
            found[multiple_key(column, code)] = Q(**{f"{column}__icontains": f'"{code}"'})
    for column in SECONDS:
        lower = -1
        for index, upper in enumerate(bucket_limits()):
            limit = {f"{column}__lte": upper} if upper is not None else {}
            found[bucket_key(column, index)] = Q(**{f"{column}__gt": lower}, **limit)
            lower = upper if upper is not None else lower
    return found


@functools.cache
def keys() -> tuple[str, ...]:
    return tuple(conditions())


@functools.cache
def shape() -> str:
    """A digest of the keys counted: a row counted under other vocabularies is not used."""
    return hashlib.sha256("\n".join(keys()).encode()).hexdigest()


def records(agency: Agency, first: datetime, after: datetime) -> QuerySet[Any]:
    from django.apps import apps

    usage: QuerySet[Any] = apps.get_model("support", "UsageRecord").objects.filter(
        agency=agency, closed_at__gte=first, closed_at__lt=after
    )
    return usage.order_by()


def count(qs: QuerySet[Any]) -> dict[str, int]:
    """Every count of ``conditions`` over ``qs`` in one pass (``COUNT(*) FILTER (WHERE …)``),
    and the records by the pair of the two-way table in one ``GROUP BY``."""
    return _count(qs, None, 1)[0]


def count_months(
    agency: Agency, months: Sequence[tuple[datetime, datetime]], *, using: str | None = None
) -> list[dict[str, int]]:
    """``count`` of each of ``months`` (in order), all in the same two queries."""
    if not months:
        return []
    month = Case(
        *[
            When(closed_at__gte=start, closed_at__lt=end, then=Value(i))
            for i, (start, end) in enumerate(months)
        ],
        default=None,
        output_field=IntegerField(),
    )
    qs = records(agency, months[0][0], months[-1][1]).using(using)
    return _count(qs, month, len(months))


def _count(qs: QuerySet[Any], group: Any, groups: int) -> list[dict[str, int]]:
    """The counts of ``qs`` by ``group`` (an expression numbering the groups, or ``None``
    for one). The one-way counts of the two-way table's pair are read off its ``GROUP BY``
    rather than counted again."""
    paired = {
        one_way_key(column, code)
        for column, vocab_name in ONE_WAY
        if column in PAIR
        for code in codes(vocab_name)
    }
    items = [(key, q) for key, q in conditions().items() if key not in paired]
    aggregates = {
        f"c{i}": Count("pk", filter=condition) if condition is not None else Count("pk")
        for i, (_, condition) in enumerate(items)
    }
    if group is None:
        rows: Iterable[dict[str, Any]] = [{"g": 0, **qs.aggregate(**aggregates)}]
        pairs = qs.values(*PAIR)
    else:
        qs = qs.annotate(g=group)
        rows = qs.values("g").annotate(**aggregates)
        pairs = qs.values("g", *PAIR)
    found = [dict.fromkeys(keys(), 0) for _ in range(groups)]
    for row in rows:
        if row["g"] is not None:
            found[row["g"]].update(
                {key: int(row[f"c{i}"] or 0) for i, (key, _) in enumerate(items)}
            )
    if any(counts[TOTAL] for counts in found):
        for item in pairs.annotate(n=Count("pk")):
            index = item.get("g", 0)
            if index is None:
                continue
            counts, n = found[index], int(item["n"])
            values = [str(item[column] or "") for column in PAIR]
            counts[pair_key(*values)] = counts.get(pair_key(*values), 0) + n
            for column, value in zip(PAIR, values, strict=True):
                if one_way_key(column, value) in paired:
                    counts[one_way_key(column, value)] += n
    return found


def add(total: Counter[str], counts: dict[str, Any]) -> None:
    for key, value in counts.items():
        total[key] += int(value)


# --- Months --------------------------------------------------------------------------


def month_bounds(year: int, month: int, zone: tzinfo) -> tuple[datetime, datetime]:
    following = date(year + month // 12, month % 12 + 1, 1)
    return (
        datetime.combine(date(year, month, 1), time.min, tzinfo=zone),
        datetime.combine(following, time.min, tzinfo=zone),
    )


def months_within(
    first: datetime, after: datetime, zone: tzinfo
) -> list[tuple[datetime, datetime]]:
    """The whole months (in ``zone``) inside [first, after), in order."""
    local = first.astimezone(zone)
    year, month = local.year, local.month
    found: list[tuple[datetime, datetime]] = []
    while True:
        start, end = month_bounds(year, month, zone)
        if start >= after:
            return found
        if start >= first and end <= after:
            found.append((start, end))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def settled_until(
    agency: Agency, now: datetime | None = None, *, using: str | None = None
) -> datetime:
    """A month ending at or before this moment has all its usage records and gets no more:
    it ended a day ago and no finished request still waiting for the daily batch closed
    before it ends."""
    from django.apps import apps

    from tandem.support import vocab

    until = (now or timezone.now()) - SETTLE_AFTER
    waiting = (
        apps.get_model("support", "SupportRequest")
        .objects.using(using)
        .filter(agency=agency, usage__isnull=False)
        .exclude(status__in=vocab.OPEN_STATUSES)
        .values_list("usage__closed_at", flat=True)
    )
    for closed in waiting:
        if closed:
            moment = datetime.fromisoformat(str(closed))
            if timezone.is_naive(moment):
                moment = timezone.make_aware(moment, timezone.get_default_timezone())
            until = min(until, moment)
    return until


def stored(agency: Agency, months: Sequence[tuple[datetime, datetime]]) -> dict[datetime, Any]:
    """The rows kept for ``months`` (of the current shape), by first moment."""
    from tandem.reports.models import UsageMonth

    if not months:
        return {}
    rows = UsageMonth.objects.filter(
        agency=agency,
        starts_at__gte=months[0][0],
        ends_before__lte=months[-1][1],
        shape=shape(),
    ).values_list("starts_at", "ends_before", "counts")
    wanted = set(months)
    return {start: counts for start, end, counts in rows if (start, end) in wanted}


def period_counts(agency: Agency, first: datetime, after: datetime) -> dict[str, int]:
    """The counts of [first, after): kept rows for its settled whole months, live counts for
    the rest (one query per stretch between kept months). Months settled but not kept yet
    are counted live and kept once the caller's transaction commits."""
    zone = timezone.get_current_timezone()
    months = months_within(first, after, zone)
    until = settled_until(agency) if months else first
    settled = [m for m in months if m[1] <= until]
    kept = stored(agency, settled)
    total: Counter[str] = Counter()
    live_from = first
    for start, end in months:
        if start in kept:
            if live_from < start:
                add(total, count(records(agency, live_from, start)))
            add(total, kept[start])
            live_from = end
    if live_from < after:
        add(total, count(records(agency, live_from, after)))
    missing = [m for m in settled if m[0] not in kept]
    if missing:
        transaction.on_commit(lambda: months_make(agency, missing), robust=True)
    counts = dict.fromkeys(keys(), 0)
    counts.update(total)
    return counts


def _lock(agency_id: int) -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, agency_id % 2**31]
            )


def months_make(
    agency: Agency, months: Iterable[tuple[datetime, datetime]], now: datetime | None = None
) -> int:
    """Count and keep each settled month of ``months`` that has no row of the current shape
    (on the primary database, under the agency's lock). Returns the rows made."""
    from tandem.reports.models import UsageMonth

    current = shape()
    with transaction.atomic(using=DEFAULT_DB_ALIAS):
        _lock(agency.pk)
        until = settled_until(agency, now, using=DEFAULT_DB_ALIAS)
        wanted = sorted({m for m in months if m[1] <= until})
        if not wanted:
            return 0
        rows = UsageMonth.objects.using(DEFAULT_DB_ALIAS).filter(
            agency=agency, starts_at__gte=wanted[0][0], ends_before__lte=wanted[-1][1]
        )
        kept = set(rows.filter(shape=current).values_list("starts_at", "ends_before"))
        wanted = [m for m in wanted if m not in kept]
        if not wanted:
            return 0
        rows.filter(Q(starts_at__in=[start for start, _ in wanted]) & ~Q(shape=current)).delete()
        counted = count_months(agency, wanted, using=DEFAULT_DB_ALIAS)
        UsageMonth.objects.using(DEFAULT_DB_ALIAS).bulk_create(
            [
                UsageMonth(
                    agency=agency,
                    starts_at=start,
                    ends_before=end,
                    shape=current,
                    counts={key: value for key, value in counts.items() if value},
                )
                for (start, end), counts in zip(wanted, counted, strict=True)
            ]
        )
    return len(wanted)


def agency_roll_up(agency: Agency, zone: tzinfo, now: datetime | None = None) -> int:
    """Keep every settled month of ``agency`` (in ``zone``) from its first usage record on."""
    from django.apps import apps
    from django.db.models import Min

    first = (
        apps.get_model("support", "UsageRecord")
        .objects.using(DEFAULT_DB_ALIAS)
        .filter(agency=agency, closed_at__isnull=False)
        .aggregate(first=Min("closed_at"))["first"]
    )
    if first is None:
        return 0
    until = settled_until(agency, now, using=DEFAULT_DB_ALIAS)
    local = first.astimezone(zone)
    start = month_bounds(local.year, local.month, zone)[0]
    months = months_within(start, until, zone)
    kept = stored(agency, months)
    missing = [m for m in months if m[0] not in kept]
    made = 0
    for index in range(0, len(missing), 12):  # a year per transaction: short locks
        made += months_make(agency, missing[index : index + 12], now)
    return made
