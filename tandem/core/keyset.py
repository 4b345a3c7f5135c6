"""Keyset pagination for list pages: "Next" and "Previous" by key, never by page number.

A page is the ``size`` rows after (or before) an anchor row in a fixed total order that ends
with the primary key, fetched with one indexed range query plus one to read the anchor's
sort values, so the ten-thousandth page costs what the first does and no page needs an
exact ``COUNT(*)`` over the table. The cursor in the address is the anchor's primary key
only: no name or other value of the row is written into URLs or server logs, and the anchor
is read through the same (agency-scoped) queryset, so a cursor from elsewhere shows nothing
it should not (an unknown cursor starts from the first page).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest


@dataclass(frozen=True)
class KeysetPage:
    object_list: list[Any]
    next_cursor: int | None = None  # show the rows after this pk
    previous_cursor: int | None = None  # show the rows before this pk
    extra: dict[str, Any] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)

    @property
    def has_next(self) -> bool:
        return self.next_cursor is not None

    @property
    def has_previous(self) -> bool:
        return self.previous_cursor is not None

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous


def parse_cursor(value: str | None) -> int | None:
    try:
        number = int(value or "")
    except ValueError:
        return None
    return number if number > 0 else None


def page_query(request: HttpRequest) -> str:
    """The list's own parameters (search, filters) for its "Previous" and "Next" links,
    without the cursor of the page shown (``core/_pagination.html`` adds the new one)."""
    query = request.GET.copy()
    for key in ("page", "after", "before"):
        query.pop(key, None)
    return query.urlencode()


def _beyond(fields: Sequence[str], values: dict[str, Any], *, forward: bool) -> Q:
    """Rows strictly after (``forward``) or before the anchor in the order of ``fields``."""
    op = "gt" if forward else "lt"
    condition = Q()
    for index, name in enumerate(fields):
        step = Q(**{f"{name}__{op}": values[name]})
        for earlier in fields[:index]:
            step &= Q(**{earlier: values[earlier]})
        condition |= step
    # The same bound on the leading field alone, redundant but sargable: it lets the index
    # that leads with that field start at the anchor instead of filtering from the top.
    return Q(**{f"{fields[0]}__{op}e": values[fields[0]]}) & condition


def keyset_page(
    queryset: QuerySet[Any],
    *,
    order: Sequence[str],
    after: int | None = None,
    before: int | None = None,
    size: int = 50,
) -> KeysetPage:
    """One page of ``queryset`` in ``order`` (ascending field names, ending with ``"pk"``)."""
    fields = [*order] if order[-1] == "pk" else [*order, "pk"]
    anchor_pk = after if after is not None else before
    anchor = (
        queryset.order_by().filter(pk=anchor_pk).values(*fields).first()
        if anchor_pk is not None
        else None
    )
    if anchor is not None and before is not None:
        rows = list(
            queryset.filter(_beyond(fields, anchor, forward=False)).order_by(
                *[f"-{name}" for name in fields]
            )[: size + 1]
        )
        more_before = len(rows) > size
        page = list(reversed(rows[:size]))
        return KeysetPage(
            page,
            next_cursor=page[-1].pk if page else None,
            previous_cursor=page[0].pk if more_before and page else None,
        )
    if anchor is not None:
        queryset = queryset.filter(_beyond(fields, anchor, forward=True))
    rows = list(queryset.order_by(*fields)[: size + 1])
    page = rows[:size]
    return KeysetPage(
        page,
        next_cursor=page[-1].pk if len(rows) > size and page else None,
        previous_cursor=page[0].pk if anchor is not None and page else None,
    )
