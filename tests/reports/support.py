"""Helpers shared by the reports tests."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import time_machine
from django.test import Client
from django.urls import reverse
from hypothesis import strategies as st

from tandem.reports.disclosure import (
    Table,
)

# "Today" for the database tests: reports cover months that have ended.
TODAY = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)


def column(values: list[int], name: str = "t", measure: str = "m") -> Table:
    return Table(
        name=name,
        title=name,
        measure=measure,
        row_dim="r",
        rows=[(f"r{i}", f"Row {i}") for i in range(len(values))],
        counts=[[v] for v in values],
    )


JAN_MAR, JAN_APR = (0, 3), (0, 4)  # months as breakpoints (see disclosure.period_span)


def logged(*releases: tuple[Any, tuple[int, int]]) -> dict[str, list[tuple[int, int, int]]]:
    """A release log as ``protect`` reads it: (published tables, span), newest first."""
    history: dict[str, list[tuple[int, int, int]]] = {}
    for published, (first, after) in releases:
        for key, value in published.published_cells().items():
            history.setdefault(key, []).append((first, after, value))
    return history


def withheld(published: Any) -> list[Any]:
    return [e for e, v in published.values.items() if v is None]


small_counts = st.integers(min_value=0, max_value=40).map(lambda v: v if v % 3 else v // 8)


def tables(max_side: int = 5) -> Any:
    return st.tuples(st.integers(1, max_side), st.integers(1, max_side)).flatmap(
        lambda shape: st.lists(
            st.lists(small_counts, min_size=shape[1], max_size=shape[1]),
            min_size=shape[0],
            max_size=shape[0],
        )
    )


MARKER_CLIENT = ("Quillon", "Markerfield")


MARKER_SUPPORTER = "zanzibarsupporter"


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def closed_usage(profile: Any, month: int, k: int, **fields: Any) -> Any:
    """The ``k``-th usage record of ``month`` 2026 on ``profile``: an hour's self-requested
    help, closed at 14:00 on day ``1 + k % 20``, with the other ``fields`` given."""
    from tandem.support.models import UsageRecord

    closed = _at(date(2026, month, 1 + k % 20), 14)
    return UsageRecord.objects.create(
        agency=profile.agency,
        supporter=profile,
        started_at=closed - timedelta(hours=1),
        closed_at=closed,
        outcome="closed",
        channel="self_request",
        urgency="today",
        referral_types=[],
        seconds_to_contact=1800,
        **fields,
    )


def report_get(client: Client, slug: str, start: str, end: str, **extra: str) -> Any:
    with time_machine.travel(TODAY, tick=False):
        return client.get(
            reverse(f"reports:{slug.replace('-', '_')}"), {"start": start, "end": end, **extra}
        )


def export_get(client: Client, slug: str, fmt: str, start: str, end: str, **extra: str) -> Any:
    with time_machine.travel(TODAY, tick=False):
        return client.get(
            reverse(f"reports:{slug.replace('-', '_')}_{fmt}"),
            {"start": start, "end": end, **extra},
        )


def assert_no_identity(text: str, names: list[str]) -> None:
    """No name appears as a word of its own (a random CSRF token may contain any letters)."""
    for name in names:
        found = re.search(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", text, re.I)
        assert found is None, f"{name!r} appears in a report"


def _xlsx_text(data: bytes) -> str:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    return "\n".join(
        str(cell)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
        for cell in row
        if cell is not None
    )
