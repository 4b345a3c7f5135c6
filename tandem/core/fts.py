"""Indexed substring searches (the directory, the client registry) on both engines.

On SQLite the FTS5 tables use the trigram tokenizer, so a quoted phrase matches wherever
the text contains it, case-insensitively — what ``icontains`` does — for three characters
or more. On PostgreSQL trigram GIN indexes serve ``icontains`` / ``contains`` themselves;
``found_first`` makes sure a sorted, paged list reads them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import BooleanField, F, Func, Q, QuerySet

MIN_CHARS = 3  # the trigram tokenizer cannot look up anything shorter

Rows = TypeVar("Rows", bound=QuerySet[Any])


def fts_phrase(text: str) -> str:
    """``text`` as one FTS5 phrase: quoted, inner quotes doubled, so no character of the
    user's input is read as query syntax."""
    return '"' + text.replace('"', '""') + '"'


class _EqualsAny(Func):
    """``<key> = ANY(<array>)``."""

    arg_joiner = " = ANY("
    template = "%(expressions)s)"
    output_field = BooleanField()


def found_first(queryset: Rows, condition: Q) -> Rows:
    """``queryset`` narrowed to the rows matching ``condition``, found on their own first
    (PostgreSQL): ``pk = ANY(ARRAY(SELECT pk … WHERE condition))``.

    A list sorted and paged by key (``LIMIT 51``) otherwise lets the planner walk the
    list's order index and test every row against the search, expecting the matches to
    be spread evenly along the order. They are not: "smith" sits near the end of a
    directory sorted by last name, so the first page of results read the whole agency
    (130 ms at 50,000 members). The array is an init plan answered from the trigram
    indexes alone; the page is then read by primary key and sorted, which costs what
    the matches cost, whatever their place in the order."""
    from django.contrib.postgres.expressions import ArraySubquery

    ids: Any = ArraySubquery(queryset.filter(condition).order_by().values("pk"))
    return queryset.filter(_EqualsAny(F("pk"), ids))
