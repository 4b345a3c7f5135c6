"""Disclosure control (X-7, P4): the one statistics layer every report goes through.

A report is a *release*: a set of count tables about one agency and one period. Before any
figure leaves this module:

1. **Primary suppression.** Every count in 1 … threshold−1 is withheld — interior cells and
   totals alike (a row total of 3 is as telling as a cell of 3). Zero is published.
2. **Complementary suppression.** A table is seen as its extended (r+1)×(c+1) form: each
   line (a row or a column, totals included) says "the total equals the sum of the others",
   so a line with exactly one withheld entry gives that entry away. Lines are fixed until
   every one holds zero or at least two withheld entries, each time withholding the
   smallest published entry of the line (non-zero first, then interior before totals).
3. **Audit.** Two withheld entries per line are necessary, not sufficient (a complement of
   0 or a pair of small cells may still pin a value down). For each withheld cell we
   compute the exact range of values consistent with everything published — over
   non-negative integers — and require that the range of every cell withheld to protect
   someone spans at least ``threshold`` values. The range is exact because a table with
   its totals is a flow network (source → row → column → sink, grand total closing the
   circulation): the constraint matrix is totally unimodular, so the integer bounds are the
   linear bounds, found by binary search on max-flow feasibility (``cell_bounds``). A cell
   that fails gets one more complement on its lines and the loop runs again; withholding
   everything but the grand total always succeeds, so the loop ends. A complement that the
   published figures fix anyway (a 0 in a line whose total is 0, say) is published instead:
   hiding it protects nothing, and counting it as a second withheld entry would be a lie.
4. **Linked tables.** Every entry carries a *key* naming the population it counts
   (measure + the categories fixed). Entries with the same key in different tables of one
   release share one status, and the loop runs over all tables until nothing changes, so a
   total withheld in one table is withheld wherever it appears. Linked tables are audited
   table by table (the modular approach statistical offices use), not as one joint system:
   two tables sharing totals can together narrow a withheld cell that each alone leaves
   wide. Such narrowings are rare and no exact recovery is known in random trials, but
   the audit does not rule them out.
5. **Differencing.** The release log (``Release`` rows) keeps every published entry by key
   and period. Periods are whole months, so for one key a published figure is the
   difference of two points of its cumulative count, and everything a reader of all the
   releases can work out about any stretch of months — a month withheld in its own
   release, Jan–Mar set against January, February and March, Jan–Apr against February
   and Mar–Apr — is an exact range found by shortest paths over difference constraints
   (``PeriodSystem``). A new figure that narrows some stretch not itself published to
   fewer than ``threshold`` values while it may hold 1 … threshold−1 is withheld (and
   protected like a small cell); a withheld entry whose range, given its table's
   published entries *and* the log's bounds on the others, narrows such a stretch gets
   one more complement. The loop then runs again until nothing changes: by induction
   the log alone was safe, so the release and the log together are. A figure that
   contradicts the log (late entries since) is treated as a recount: withheld if it
   changed by fewer than ``threshold``. Counts of distinct people (``Table.people``) do
   not add up over months: they keep the check against each overlapping logged figure.

   **Limits.** The check is exact for one key at a time. It does not couple keys through
   a table's totals across releases (row + row = total over two periods at once); the
   within-table complementary suppression and the audit against the log's bounds cover
   the common cases, not every joint system (that would need a linear program over all
   keys of all releases).
6. **Noise (optional).** For figures published outside the department, each table's
   interior counts get discrete Laplace noise from OpenDP scaled by the table's own
   sensitivity (``noise_plan``: 1 for a table where a record lies in one cell, the number
   of rows for a multiple-response table), the release's epsilon split evenly between
   every draw, a multiple-response table's total being a draw of its own (sequential
   composition). Tables that sum a quantity with no bound per record (naloxone kits,
   people reached, members affected) are not offered for noisy publication. The unit of
   privacy is one record, not one person. Each agency's noisy releases add up against a
   running budget (``services``). Totals of additive tables are summed from the noisy
   cells and the same suppression then applies to the noisy table.

Withheld entries are shown the same way everywhere (``SUPPRESSED``): a separate mark for
"small" and "withheld to protect another cell" would tell a reader which cells are small.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

SUPPRESSED = "—"
SUPPRESSED_TEXT = (
    "— withheld: fewer than {t}, or withheld so that such a figure cannot be worked out,"
    " here or by comparing with a figure already published for an overlapping period"
)
MIN_THRESHOLD = 2
MAX_THRESHOLD = 11

Key = str
Entry = tuple[Any, ...]  # ("cell", i, j) | ("row", i) | ("col", j) | ("total",)
TOTAL: Entry = ("total",)


class DisclosureError(ValueError):
    """A release that cannot be made safely (a threshold out of range, bad counts)."""


def check_threshold(threshold: int) -> int:
    if not isinstance(threshold, int) or isinstance(threshold, bool):
        raise DisclosureError("The small-cell threshold must be a whole number.")
    if threshold < MIN_THRESHOLD:
        raise DisclosureError(
            f"A small-cell threshold of {threshold} would publish groups of one person; "
            f"it must be at least {MIN_THRESHOLD}."
        )
    if threshold > MAX_THRESHOLD:
        raise DisclosureError(f"The small-cell threshold can be at most {MAX_THRESHOLD}.")
    return threshold


@dataclass
class Table:
    """Counts of one population (``measure``) by one or two closed categories.

    ``columns`` empty: a one-way table (each row one category, plus a total). ``additive``
    False: a multiple-response table (a record may count in several rows, e.g. services
    provided), whose rows do not add up to the total: each row must be safe, and so must the
    records *not* in it (the total minus the row)."""

    name: str
    title: str
    measure: str
    row_dim: str
    rows: Sequence[tuple[str, str]]  # (code, label)
    counts: Sequence[Sequence[int]]
    col_dim: str = ""
    columns: Sequence[tuple[str, str]] = ()
    additive: bool = True
    total: int | None = None  # for non-additive tables: the number of records
    total_label: str = ""  # how the total row reads ("Total", or "Records" if not additive)
    note: str = ""
    scope: str = ""  # set for noisy releases: keys are then private to this table
    people: bool = False  # counts distinct people: two periods' counts do not add up
    quantity: bool = False  # sums a quantity (kits, people reached): no noisy publication

    def __post_init__(self) -> None:
        width = max(len(self.columns), 1)
        if len(self.counts) != len(self.rows) or any(len(r) != width for r in self.counts):
            raise DisclosureError(f"Table {self.name!r}: counts do not match its categories.")
        for row in self.counts:
            for value in row:
                if not isinstance(value, int) or value < 0:
                    raise DisclosureError(f"Table {self.name!r}: counts must be whole numbers ≥ 0.")
        if not self.additive and self.total is None:
            raise DisclosureError(
                f"Table {self.name!r}: a multiple-response table needs its total."
            )

    @property
    def row_dim_label(self) -> str:
        from tandem.agencies.presets import choice_label  # plain words, e.g. "Length of contact"

        return choice_label(self.row_dim)

    @property
    def two_way(self) -> bool:
        return bool(self.columns)

    # --- the extended table -------------------------------------------------------------

    def entries(self) -> list[Entry]:
        r, c = len(self.rows), max(len(self.columns), 1)
        found: list[Entry] = [("cell", i, j) for i in range(r) for j in range(c)]
        if self.two_way and self.additive:
            found += [("row", i) for i in range(r)]
            found += [("col", j) for j in range(c)]
        found.append(TOTAL)
        return found

    def value(self, entry: Entry) -> int:
        kind = entry[0]
        if kind == "cell":
            return int(self.counts[entry[1]][entry[2]])
        if kind == "row":
            return sum(self.counts[entry[1]])
        if kind == "col":
            return sum(row[entry[1]] for row in self.counts)
        if not self.additive:
            return int(self.total or 0)
        return sum(sum(row) for row in self.counts)

    def key(self, entry: Entry) -> Key:
        parts: list[str] = []
        kind = entry[0]
        if kind == "cell":
            parts.append(f"{self.row_dim}={self.rows[entry[1]][0]}")
            if self.two_way:
                parts.append(f"{self.col_dim}={self.columns[entry[2]][0]}")
        elif kind == "row":
            parts.append(f"{self.row_dim}={self.rows[entry[1]][0]}")
        elif kind == "col":
            parts.append(f"{self.col_dim}={self.columns[entry[1]][0]}")
        scope = f"@{self.scope}" if self.scope else ""
        return "|".join([self.measure + scope, *sorted(parts)])

    def lines(self) -> list[list[Entry]]:
        """Each line of the extended table: its entries, the total last."""
        if not self.additive:
            return []
        r, c = len(self.rows), max(len(self.columns), 1)
        if not self.two_way:
            return [[*(("cell", i, 0) for i in range(r)), TOTAL]]
        found = [[*(("cell", i, j) for j in range(c)), ("row", i)] for i in range(r)]
        found += [[*(("cell", i, j) for i in range(r)), ("col", j)] for j in range(c)]
        found.append([*(("col", j) for j in range(c)), TOTAL])
        found.append([*(("row", i) for i in range(r)), TOTAL])
        return found


@dataclass
class PublishedTable:
    """A table after disclosure control: ``shown(entry)`` is a number or ``SUPPRESSED``."""

    table: Table
    threshold: int
    values: dict[Entry, int | None]  # None = withheld
    noisy: bool = False

    def shown(self, entry: Entry) -> int | str:
        value = self.values[entry]
        return SUPPRESSED if value is None else value

    def grid(self) -> list[dict[str, Any]]:
        """Rows for templates: label, cells, row total (two-way tables)."""
        t = self.table
        out = []
        for i, (_, label) in enumerate(t.rows):
            cells = [self.shown(("cell", i, j)) for j in range(max(len(t.columns), 1))]
            total = self.shown(("row", i)) if t.two_way and t.additive else None
            out.append({"label": label, "cells": cells, "total": total})
        return out

    def column_totals(self) -> list[int | str]:
        t = self.table
        if not (t.two_way and t.additive):
            return []
        return [self.shown(("col", j)) for j in range(len(t.columns))]

    @property
    def grand_total(self) -> int | str:
        return self.shown(TOTAL)

    @property
    def any_suppressed(self) -> bool:
        return any(v is None for v in self.values.values())

    def header(self) -> list[str]:
        t = self.table
        if t.two_way:
            cols = [label for _, label in t.columns]
            return [t.row_dim_label, *cols, *(["Total"] if t.additive else [])]
        return [t.row_dim_label, "Count"]

    def export_rows(self) -> list[list[Any]]:
        """Rows for CSV/XLSX/PDF, the total row last; withheld cells as ``SUPPRESSED``."""
        t = self.table
        rows: list[list[Any]] = []
        for item in self.grid():
            extra = [item["total"]] if item["total"] is not None else []
            rows.append([item["label"], *item["cells"], *extra])
        if t.two_way and t.additive:
            rows.append(["Total", *self.column_totals(), self.grand_total])
        else:
            label = t.total_label or ("Total" if t.additive else "Records")
            rows.append([label, self.grand_total])
        return rows

    def published_cells(self) -> dict[Key, int]:
        return {
            self.table.key(entry): value
            for entry, value in self.values.items()
            if value is not None
        }

    def chart_series(self) -> list[tuple[str, int | None]]:
        """(label, value or None) for a bar chart of a one-way table (row totals of a
        two-way table)."""
        t = self.table
        if t.two_way and t.additive:
            return [(label, self.values[("row", i)]) for i, (_, label) in enumerate(t.rows)]
        return [(label, self.values[("cell", i, 0)]) for i, (_, label) in enumerate(t.rows)]


# --- exact bounds of a withheld cell (max-flow) -----------------------------------------

_INF = 10**15


def _max_flow(capacity: dict[Any, dict[Any, int]], source: Any, sink: Any) -> int:
    """Edmonds–Karp on a small graph; ``capacity`` is modified into the residual graph."""
    flow = 0
    while True:
        parent: dict[Any, Any] = {source: None}
        queue = deque([source])
        while queue and sink not in parent:
            u = queue.popleft()
            for v, cap in capacity.get(u, {}).items():
                if cap > 0 and v not in parent:
                    parent[v] = u
                    queue.append(v)
        if sink not in parent:
            return flow
        push = _INF
        v = sink
        while parent[v] is not None:
            u = parent[v]
            push = min(push, capacity[u][v])
            v = u
        v = sink
        while parent[v] is not None:
            u = parent[v]
            capacity[u][v] -= push
            capacity.setdefault(v, {}).setdefault(u, 0)
            capacity[v][u] += push
            v = u
        flow += push


def _arc(table: Table, entry: Entry) -> tuple[Any, Any]:
    kind = entry[0]
    if not table.two_way:  # one-way: each cell source → sink, the total sink → source
        return ("s", "t") if kind == "cell" else ("t", "s")
    if kind == "cell":
        return ("R", entry[1]), ("C", entry[2])
    if kind == "row":
        return "s", ("R", entry[1])
    if kind == "col":
        return ("C", entry[1]), "t"
    return "t", "s"


def _network_arcs(table: Table) -> list[tuple[Entry, Any, Any]]:
    """Every entry as an arc of a circulation: flow conservation is additivity."""
    return [(entry, *_arc(table, entry)) for entry in table.entries()]


def _feasible(
    arcs: list[tuple[Entry, Any, Any]],
    known: Mapping[Entry, int],
    target: Entry,
    *,
    at_least: int | None = None,
    at_most: int | None = None,
    limits: Mapping[Entry, tuple[int, int | None]] | None = None,
) -> bool:
    balance: dict[Any, int] = {}
    capacity: dict[Any, dict[Any, int]] = {}
    for entry, u, v in arcs:
        if entry in known:
            balance[v] = balance.get(v, 0) + known[entry]
            balance[u] = balance.get(u, 0) - known[entry]
            continue
        low, high = (limits or {}).get(entry, (0, None))
        if entry == target:
            if at_least is not None:
                low = max(low, at_least)
            if at_most is not None:
                high = at_most if high is None else min(high, at_most)
        if high is not None and low > high:
            return False
        if low:
            balance[v] = balance.get(v, 0) + low
            balance[u] = balance.get(u, 0) - low
        capacity.setdefault(u, {}).setdefault(v, 0)
        capacity[u][v] += _INF if high is None else high - low
    need = 0
    for node, b in balance.items():
        if b > 0:
            capacity.setdefault("S*", {})[node] = b
            need += b
        elif b < 0:
            capacity.setdefault(node, {})["T*"] = -b
    return _max_flow(capacity, "S*", "T*") == need


def cell_bounds(
    table: Table,
    withheld: Iterable[Entry],
    entry: Entry,
    limits: Mapping[Entry, tuple[int, int | None]] | None = None,
) -> tuple[int, int | None]:
    """The least and greatest value of withheld ``entry`` consistent with the published
    entries of ``table`` over non-negative integers; ``None`` for no upper bound (capped
    well above the true value, which keeps the audit sound). ``limits``: what is known of
    withheld entries from elsewhere (the release log), as (least, greatest or None)."""
    hidden = set(withheld)
    if not table.additive:
        total = table.value(TOTAL)
        return 0, (None if TOTAL in hidden else total)
    arcs = _network_arcs(table)
    known = {e: table.value(e) for e, _, _ in arcs if e not in hidden}
    true = table.value(entry)
    cap = 2 * table.value(TOTAL) + MAX_THRESHOLD + 1
    own_low, own_high = (limits or {}).get(entry, (0, None))
    lo, hi = true, cap  # largest k with "x >= k" feasible
    if own_high is not None and own_high < cap:
        hi = own_high + 1  # the entry's own limit: nothing above it is feasible
        infinite = False
    else:
        infinite = _feasible(arcs, known, entry, at_least=cap, limits=limits)
    if infinite:
        upper: int | None = None
    else:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _feasible(arcs, known, entry, at_least=mid, limits=limits):
                lo = mid
            else:
                hi = mid
        upper = lo
    lo2, hi2 = max(-1, own_low - 1), true  # smallest k with "x <= k" feasible
    while hi2 - lo2 > 1:
        mid = (lo2 + hi2) // 2
        if _feasible(arcs, known, entry, at_most=mid, limits=limits):
            hi2 = mid
        else:
            lo2 = mid
    return hi2, upper


Arc = tuple[Entry, Any, Any]


def _known(table: Table, hidden: set[Entry]) -> tuple[list[Arc], dict[Entry, int]]:
    arcs = _network_arcs(table)
    return arcs, {e: table.value(e) for e, _, _ in arcs if e not in hidden}


def wide_enough(table: Table, hidden: set[Entry], entry: Entry, threshold: int) -> bool:
    """``cell_bounds(...)`` spans at least ``threshold``, with a handful of max-flows: the
    least value by binary search below the true one, then one check above it."""
    if not table.additive:
        return TOTAL in hidden or table.value(TOTAL) >= threshold
    arcs, known = _known(table, hidden)
    low, high = -1, table.value(entry)
    while high - low > 1:
        mid = (low + high) // 2
        if _feasible(arcs, known, entry, at_most=mid):
            high = mid
        else:
            low = mid
    return _feasible(arcs, known, entry, at_least=high + threshold)


def determined(table: Table, hidden: set[Entry], entry: Entry) -> bool:
    """Whether the published entries fix withheld ``entry`` to its one true value."""
    if not table.additive:
        return False
    arcs, known = _known(table, hidden)
    value = table.value(entry)
    below = value > 0 and _feasible(arcs, known, entry, at_most=value - 1)
    return not below and not _feasible(arcs, known, entry, at_least=value + 1)


# --- the release log: exact checks over periods, one key at a time ----------------------

#: A period of whole months as two breakpoints: the index of its first month and of the
#: month after its last (``month_index``), so Jan–Mar 2026 and Apr 2026 meet at one node.
Span = tuple[int, int]
#: A logged figure of one key: (first month, month after the last, published value).
LoggedFigure = tuple[int, int, int]
_NONE = math.inf  # "no path": the difference is unbounded that way


def month_index(day: date) -> int:
    return int(day.year) * 12 + int(day.month) - 1


def period_span(start: date, end: date) -> Span:
    """The breakpoints of the whole months from ``start`` to ``end`` (both dates)."""
    return month_index(start), month_index(end) + 1


class PeriodSystem:
    """What the published figures of one key say about every stretch of months.

    Let y_j be the key's count from the first breakpoint up to breakpoint j. Counts are
    never negative, so y never decreases (y_{j-1} − y_j ≤ 0 for consecutive breakpoints);
    a figure v published for months [a, b) says y_b − y_a = v (two constraints,
    y_b − y_a ≤ v and y_a − y_b ≤ −v); a range [lo, hi] known for [a, b) says the same with
    lo and hi. These are difference constraints: with an arc u → v of weight w for each
    y_v − y_u ≤ w, the greatest possible y_t − y_s is the shortest path s → t and the least
    is minus the shortest path t → s. The weights are whole numbers, so both bounds are
    reached by whole counts: for one key the bounds are exact, not estimates.

    The distance matrix is kept up to date as constraints arrive (O(n²) each, n the number
    of breakpoints), which is Floyd–Warshall done one arc at a time."""

    def __init__(self, nodes: Iterable[int]) -> None:
        self.nodes = sorted(set(nodes))
        self.index = {node: i for i, node in enumerate(self.nodes)}
        n = len(self.nodes)
        # Monotonicity alone: any later breakpoint reaches any earlier one at no cost.
        self.dist: list[list[float]] = [
            [0 if j <= i else _NONE for j in range(n)] for i in range(n)
        ]
        self.published: set[tuple[int, int]] = set()

    def copy(self) -> PeriodSystem:
        other = PeriodSystem(())
        other.nodes, other.index = self.nodes, self.index
        other.dist = [row[:] for row in self.dist]
        other.published = set(self.published)
        return other

    def bounds(self, span: Span) -> tuple[int, int | None]:
        """The least and greatest count of ``span`` consistent with the constraints."""
        a, b = self.index[span[0]], self.index[span[1]]
        high = self.dist[a][b]
        return int(-self.dist[b][a]), (None if high == _NONE else int(high))

    def admits(self, span: Span, low: int, high: int | None) -> bool:
        """Whether low ≤ count(span) ≤ high fits the constraints so far."""
        least, most = self.bounds(span)
        tops = [x for x in (high, most) if x is not None]
        return not tops or max(low, least) <= min(tops)

    def _arc(self, u: int, v: int, weight: int) -> None:
        dist = self.dist
        if weight >= dist[u][v]:
            return
        to_v = dist[v]
        for i, row in enumerate(dist):
            reach = row[u]
            if reach == _NONE:
                continue
            base = reach + weight
            dist[i] = [
                old if old <= base + onward else base + onward
                for old, onward in zip(row, to_v, strict=True)
            ]

    def constrain(self, span: Span, low: int, high: int | None) -> None:
        """Add low ≤ count(span) ≤ high; the caller checks ``admits`` first."""
        a, b = self.index[span[0]], self.index[span[1]]
        if high is not None:
            self._arc(a, b, high)
        self._arc(b, a, -low)

    def publish(self, span: Span, value: int) -> None:
        self.constrain(span, value, value)
        self.published.add((self.index[span[0]], self.index[span[1]]))

    def narrow(self, threshold: int, *, amounts: bool = False) -> set[tuple[int, int]]:
        """Every stretch between two breakpoints, not itself published, that the figures
        pin to fewer than ``threshold`` possible values while it may hold a small count
        (1 … threshold−1). ``amounts``: a sum of a quantity (hours in tenths) rather than
        a count of people: any stretch pinned that closely is too narrow, however large.
        Withheld cells and every sum of months someone could form are such stretches."""
        found = set()
        n = len(self.nodes)
        for s in range(n):
            for t in range(s + 1, n):
                if (s, t) in self.published:
                    continue
                high = self.dist[s][t]
                if high == _NONE or high < 1:
                    continue
                low = -self.dist[t][s]
                if high - low < threshold and (amounts or low <= threshold - 1):
                    found.add((s, t))
        return found


def log_system(figures: Sequence[LoggedFigure], nodes: Iterable[int] = ()) -> PeriodSystem:
    """The constraints of the logged figures of one key, newest first. A figure that
    contradicts newer ones is a count made before late entries changed it: the newer
    figures stand and the older one is left out (it no longer describes the records).

    Logged figures are equalities, so breakpoints they tie together collapse into one
    class with fixed offsets (a weighted union–find); shortest paths then run over the
    classes only, and the full matrix is filled in from the offsets. Monthly reports tie
    almost every breakpoint together, so this stays fast with years of releases. When
    the figures contradict non-negativity (old figures of months recounted since), the
    figures are added one at a time instead, each checked against the others."""
    system = PeriodSystem([*nodes, *(f[0] for f in figures), *(f[1] for f in figures)])
    n, index = len(system.nodes), system.index
    parent, offset = list(range(n)), [0] * n  # offset: y_x − y_parent(x)

    def find(x: int) -> int:
        path = []
        while parent[x] != x:
            path.append(x)
            x = parent[x]
        for node in reversed(path):
            if parent[node] != x:
                offset[node] += offset[parent[node]]
                parent[node] = x
        return x

    published = set()
    for start, end, value in figures:
        a, b = index[start], index[end]
        ra, rb = find(a), find(b)
        pa, pb = (offset[a] if a != ra else 0), (offset[b] if b != rb else 0)
        if ra == rb:
            if pb - pa == value:
                published.add((a, b))
            continue  # a stale figure: newer ones say otherwise
        parent[rb], offset[rb] = ra, value + pa - pb
        published.add((a, b))
    roots = [find(x) for x in range(n)]
    own = [offset[x] if roots[x] != x else 0 for x in range(n)]
    classes = {root: i for i, root in enumerate(dict.fromkeys(roots))}
    k = len(classes)
    reach: list[list[float]] = [[0 if i == j else _NONE for j in range(k)] for i in range(k)]
    for j in range(1, n):  # y_{j-1} − y_j ≤ 0, between classes: an arc of the class graph
        weight = own[j] - own[j - 1]
        u, v = classes[roots[j]], classes[roots[j - 1]]
        if u == v:
            if weight < 0:
                return _log_system_one_by_one(figures, nodes)
        elif weight < reach[u][v]:
            reach[u][v] = weight
    for m in range(k):
        via = reach[m]
        for row in reach:
            first = row[m]
            if first == _NONE:
                continue
            for j, onward in enumerate(via):
                if first + onward < row[j]:
                    row[j] = first + onward
    if any(reach[i][i] < 0 for i in range(k)):
        return _log_system_one_by_one(figures, nodes)
    of = [classes[root] for root in roots]
    system.dist = [[reach[of[s]][of[t]] + own[t] - own[s] for t in range(n)] for s in range(n)]
    system.published = published
    return system


def _log_system_one_by_one(
    figures: Sequence[LoggedFigure], nodes: Iterable[int] = ()
) -> PeriodSystem:
    system = PeriodSystem([*nodes, *(f[0] for f in figures), *(f[1] for f in figures)])
    for start, end, value in figures:
        if system.admits((start, end), value, value):
            system.publish((start, end), value)
    return system


def exposes(
    figures: Sequence[LoggedFigure],
    span: Span,
    value: int,
    threshold: int,
    *,
    amounts: bool = False,
    base: PeriodSystem | None = None,
) -> bool:
    """Whether publishing ``value`` for ``span`` would, with the logged ``figures`` of the
    same key, pin some stretch of months (a withheld cell, a month inside a longer period,
    any sum of months) closer than the logged figures alone do."""
    logged = base or log_system(figures, span)
    before = logged.narrow(threshold, amounts=amounts)
    if logged.admits(span, value, value):
        after = logged.copy()
        after.publish(span, value)
    else:
        least, most = logged.bounds(span)
        gap = least - value if value < least else value - (most if most is not None else value)
        if gap < threshold:  # a recount: the change itself is a small count
            return True
        after = log_system([(span[0], span[1], value), *figures])
    return bool(after.narrow(threshold, amounts=amounts) - before)


def exposes_range(
    logged: PeriodSystem, span: Span, low: int, high: int | None, threshold: int
) -> bool:
    """Whether knowing low ≤ count(span) ≤ high (what a release's own published figures
    say about a withheld entry) pins some stretch of months closer than the log does."""
    if not logged.admits(span, low, high):
        return False
    after = logged.copy()
    after.constrain(span, low, high)
    return bool(after.narrow(threshold) - logged.narrow(threshold))


# --- the release ------------------------------------------------------------------------


@dataclass
class _State:
    tables: list[Table]
    threshold: int
    values: dict[Key, int] = field(default_factory=dict)
    withheld: set[Key] = field(default_factory=set)
    sensitive: set[Key] = field(default_factory=set)  # small, or small by difference
    revealed: set[Key] = field(default_factory=set)  # worked out from the rest: published
    history: Mapping[Key, Sequence[LoggedFigure]] = field(default_factory=dict)
    span: Span | None = None
    people: set[Key] = field(default_factory=set)  # distinct people: not additive in time
    cleared: set[Key] = field(default_factory=set)  # published figures the log allows
    systems: dict[Key, PeriodSystem] = field(default_factory=dict)
    audited: set[Any] = field(default_factory=set)  # (table, withheld) found safe

    def system(self, key: Key) -> PeriodSystem:
        found = self.systems.get(key)
        if found is None:
            span = self.span or (0, 0)
            found = self.systems[key] = log_system(self.history[key], span)
        return found

    def in_time(self, key: Key) -> bool:
        """Whether the log can be used for ``key`` with the exact per-period check."""
        return self.span is not None and key in self.history and key not in self.people


def _sort_key(table: Table, entry: Entry) -> tuple[int, int, int]:
    value = table.value(entry)
    return (value == 0, value, entry[0] != "cell")


def _fix_lines(state: _State, table: Table) -> bool:
    changed = False
    again = True
    while again:
        again = False
        for line in table.lines():
            hidden = [e for e in line if table.key(e) in state.withheld]
            if len(hidden) != 1:
                continue
            shown = [e for e in line if table.key(e) not in state.withheld | state.revealed]
            if not shown:
                continue
            pick = min(shown, key=lambda e: _sort_key(table, e))
            state.withheld.add(table.key(pick))
            changed = again = True
    return changed


def _withhold_complement(state: _State, table: Table, entry: Entry) -> None:
    """Withhold one more entry to protect ``entry``: the first still open on one of its lines,
    else the first open one in the table."""
    closed = state.withheld | state.revealed
    candidates = [
        e for line in table.lines() if entry in line for e in line if table.key(e) not in closed
    ] or [e for e in table.entries() if table.key(e) not in closed]
    if not candidates:
        raise DisclosureError(f"Table {table.name!r} cannot be protected.")
    state.withheld.add(table.key(min(candidates, key=lambda e: _sort_key(table, e))))


def _audit(state: _State, table: Table) -> bool:
    """Give the first under-protected sensitive cell one more complement."""
    if not table.additive:
        return False
    hidden = {e for e in table.entries() if table.key(e) in state.withheld}
    for entry in sorted(hidden):
        if table.key(entry) not in state.sensitive:
            continue
        if wide_enough(table, hidden, entry, state.threshold):
            continue
        _withhold_complement(state, table, entry)
        return True
    return False


def _reveal_determined(state: _State, table: Table) -> bool:
    """A withheld complement that the published entries fix anyway is published: hiding it
    protects nothing, and seeing it makes the lines around it protected on their own."""
    if not table.additive:
        return False
    hidden = {e for e in table.entries() if table.key(e) in state.withheld}
    for entry in sorted(hidden):
        key = table.key(entry)
        if key not in state.sensitive and determined(table, hidden, entry):
            state.withheld.discard(key)
            state.revealed.add(key)
            return True
    return False


def _not_counted(state: _State) -> bool:
    """In a multiple-response table, a row's count and the published total also tell how
    many records are *not* in that row: that number must not be small either."""
    changed = False
    for table in state.tables:
        total_key = table.key(TOTAL)
        if table.additive or total_key in state.withheld:
            continue
        total = table.value(TOTAL)
        for entry in table.entries():
            key = table.key(entry)
            if entry == TOTAL or key in state.withheld:
                continue
            if 1 <= total - table.value(entry) < state.threshold:
                state.withheld.add(key)
                state.sensitive.add(key)
                changed = True
    return changed


def _log_check(state: _State) -> bool:
    """Withhold every figure that the release log would let someone combine into a small
    count of some stretch of months (see ``PeriodSystem``). A key that counts people
    (not additive over time: the same person counts in January and in Jan–Mar) keeps the
    simpler check against each logged figure of an overlapping period: the difference
    of two such counts (people new in April, say) must not be small."""
    if state.span is None:
        return False
    changed = False
    for key, value in state.values.items():
        if key in state.withheld or key in state.cleared:
            continue
        figures = state.history.get(key, ())
        if key in state.people:
            start, end = state.span
            bad = any(
                1 <= abs(value - old) < state.threshold
                for first, after, old in figures
                if first < end and start < after
            )
        else:
            bad = bool(figures) and exposes(
                figures, state.span, value, state.threshold, base=state.system(key)
            )
        if bad:
            state.withheld.add(key)
            state.sensitive.add(key)
            state.revealed.discard(key)
            changed = True
        else:
            state.cleared.add(key)  # the decision depends only on the key and its value
    return changed


def _log_audit(state: _State, table: Table) -> bool:
    """A withheld entry is not unknown to someone who holds the log: the log bounds it,
    and the release's own published entries bound it again (female + male = 40 with male
    ≤ 30 from a longer period puts female in 10 … 12). Each withheld entry's range given
    both is set against its key's log; if it narrows a stretch of months to fewer than
    the threshold of values, one more complement is withheld on its lines."""
    if not table.additive or state.span is None:
        return False
    hidden = {e for e in table.entries() if table.key(e) in state.withheld}
    logged = sorted(e for e in hidden if state.in_time(table.key(e)))
    seen = (table.name, frozenset(hidden), frozenset(state.revealed))
    if not logged or seen in state.audited:
        return False
    span = state.span
    limits: dict[Entry, tuple[int, int | None]] = {}
    for entry in logged:
        low, high = state.system(table.key(entry)).bounds(span)
        true = table.value(entry)
        if low <= true and (high is None or true <= high):  # else: a stale log figure
            limits[entry] = (low, high)
    for entry in logged:
        low, high = cell_bounds(table, hidden, entry, limits)
        if not exposes_range(state.system(table.key(entry)), span, low, high, state.threshold):
            continue
        _withhold_complement(state, table, entry)
        return True
    state.audited.add(seen)
    return False


def protect(
    tables: Sequence[Table],
    *,
    threshold: int,
    history: Mapping[Key, Sequence[LoggedFigure]] | None = None,
    span: Span | None = None,
) -> list[PublishedTable]:
    """Apply primary, complementary and differencing suppression to one release.

    ``history`` holds, for each key, the figures of the logged releases of the same
    report (first month, month after the last, value), newest first; ``span`` is this
    release's months (``period_span``). Without them only the release itself is checked."""
    check_threshold(threshold)
    if history and span is None:
        raise DisclosureError("A release checked against the log needs its period.")
    state = _State(tables=list(tables), threshold=threshold, history=history or {}, span=span)
    for table in tables:
        for entry in table.entries():
            key, value = table.key(entry), table.value(entry)
            if table.people:
                state.people.add(key)
            if state.values.setdefault(key, value) != value:
                raise DisclosureError(f"Tables disagree on the count of {key!r}.")
            if 1 <= value < threshold:
                state.withheld.add(key)
                state.sensitive.add(key)
    while True:
        changed = False
        for table in tables:
            while True:
                step = _fix_lines(state, table)
                step = _audit(state, table) or step
                step = step or _log_audit(state, table)
                step = step or _reveal_determined(state, table)
                changed = changed or step
                if not step:
                    break
        changed = _not_counted(state) or changed
        changed = _log_check(state) or changed
        if not changed:
            break
    return [
        PublishedTable(
            table=t,
            threshold=threshold,
            values={e: (None if t.key(e) in state.withheld else t.value(e)) for e in t.entries()},
            noisy=bool(t.scope),
        )
        for t in tables
    ]


# --- differential privacy ----------------------------------------------------------------


class NoisePlan(dict[str, tuple[float, float | None]]):
    """Per table: the noise scale of its cells and of its separately drawn total (None
    when the total is the sum of the noisy cells); ``charged``: the epsilon all the draws
    spend together (sequential composition)."""

    charged: float = 0.0


def sensitivity(table: Table) -> int:
    """How much one record can change the vector of a table's cells (L1).

    A record of an additive table lies in exactly one interior cell: 1. A record of a
    multiple-response table (services, referrals, activities of one supporter) may count
    once in every row: the number of rows — each record's contribution is capped at one
    per row by construction (a row counts records holding the code, not codes). Sums of
    quantities (``quantity``) have no bound on one record's share and are not offered."""
    if table.quantity:
        raise DisclosureError(
            f"Table {table.name!r} sums a quantity with no bound per record: it cannot be "
            "published with noise."
        )
    return 1 if table.additive else max(len(table.rows), 1)


def noise_plan(tables: Sequence[Table], *, epsilon: float) -> NoisePlan:
    """Split ``epsilon`` evenly between every draw: one per table for its cells, one more
    for each total that is not the sum of its cells. Each draw of share ε/k with L1
    sensitivity Δ gets Laplace scale Δ/(ε/k), so the release as a whole is ε-DP with
    respect to one record (a contact, a usage record, a supporter's entry — not one
    person, who may have many records)."""
    if not epsilon or epsilon <= 0:
        raise DisclosureError("Epsilon must be a positive number, e.g. 1.0.")
    draws = sum(1 if t.additive else 2 for t in tables)
    plan = NoisePlan()
    if not draws:
        return plan
    share = float(epsilon) / draws
    for table in tables:
        plan[table.name] = (sensitivity(table) / share, None if table.additive else 1 / share)
    plan.charged = share * draws
    return plan


def add_noise(tables: Sequence[Table], *, epsilon: float) -> list[Table]:
    """Copies of ``tables`` with discrete Laplace noise (OpenDP) scaled by ``noise_plan``;
    counts below zero become zero. Each noisy table's keys are private to it (its totals
    are sums of its own noisy cells, or a noisy total of its own)."""
    import opendp.prelude as dp

    plan = noise_plan(tables, epsilon=epsilon)
    if not tables:
        return []
    dp.enable_features("contrib")

    def laplace(values: list[int], scale: float) -> list[int]:
        mechanism = dp.m.make_laplace(
            dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=scale
        )
        return [max(0, int(v)) for v in mechanism(values)] if values else []

    noisy = []
    for table in tables:
        cells_scale, total_scale = plan[table.name]
        released = laplace([int(v) for row in table.counts for v in row], cells_scale)
        width = max(len(table.columns), 1)
        counts = [released[i * width : (i + 1) * width] for i in range(len(table.rows))]
        total = table.total
        if total_scale is not None and total is not None:
            total = laplace([int(total)], total_scale)[0]
        noisy.append(
            Table(
                name=table.name,
                title=table.title,
                measure=table.measure,
                row_dim=table.row_dim,
                rows=table.rows,
                counts=counts,
                col_dim=table.col_dim,
                columns=table.columns,
                additive=table.additive,
                total=total,
                total_label=table.total_label,
                note=table.note,
                scope=table.name,
                people=table.people,
            )
        )
    return noisy
