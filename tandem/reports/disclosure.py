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
   table by table (the modular approach statistical offices use), not as one joint system.
5. **Differencing.** The release log (``Release`` rows) keeps every published entry by key.
   When a new release's period overlaps a released one (Jan–Mar against Jan–Apr, the same
   month recounted after late entries), the difference of two published counts of the same
   key is the count of the period between them: any published entry whose difference from
   a logged one lies in 1 … threshold−1 is withheld (and protected like a small cell).
   Partial overlaps are treated the same way, which over-protects slightly and is simple.
6. **Noise (optional).** For figures published outside the department, each table's
   interior counts get discrete Laplace noise from OpenDP, the release's epsilon split
   evenly between its tables (sequential composition; a record falls in one interior cell
   per table, so each table's sensitivity is 1). Totals are summed from the noisy cells
   and the same suppression then applies to the noisy table.

Withheld entries are shown the same way everywhere (``SUPPRESSED``): a separate mark for
"small" and "withheld to protect another cell" would tell a reader which cells are small.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SUPPRESSED = "—"
SUPPRESSED_TEXT = (
    "— withheld: fewer than {t}, or withheld so that such a figure cannot be worked out"
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
        return self.row_dim.replace("_", " ").capitalize()

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
) -> bool:
    balance: dict[Any, int] = {}
    capacity: dict[Any, dict[Any, int]] = {}
    for entry, u, v in arcs:
        if entry in known:
            balance[v] = balance.get(v, 0) + known[entry]
            balance[u] = balance.get(u, 0) - known[entry]
            continue
        cap = _INF
        if entry == target:
            if at_least is not None:
                balance[v] = balance.get(v, 0) + at_least
                balance[u] = balance.get(u, 0) - at_least
            if at_most is not None:
                cap = at_most
        capacity.setdefault(u, {}).setdefault(v, 0)
        capacity[u][v] += cap
    need = 0
    for node, b in balance.items():
        if b > 0:
            capacity.setdefault("S*", {})[node] = b
            need += b
        elif b < 0:
            capacity.setdefault(node, {})["T*"] = -b
    return _max_flow(capacity, "S*", "T*") == need


def cell_bounds(table: Table, withheld: Iterable[Entry], entry: Entry) -> tuple[int, int | None]:
    """The least and greatest value of withheld ``entry`` consistent with the published
    entries of ``table`` over non-negative integers; ``None`` for no upper bound (capped
    well above the true value, which keeps the audit sound)."""
    hidden = set(withheld)
    if not table.additive:
        total = table.value(TOTAL)
        return 0, (None if TOTAL in hidden else total)
    arcs = _network_arcs(table)
    known = {e: table.value(e) for e, _, _ in arcs if e not in hidden}
    true = table.value(entry)
    cap = 2 * table.value(TOTAL) + MAX_THRESHOLD + 1
    lo, hi = true, cap  # largest k with "x >= k" feasible
    if _feasible(arcs, known, entry, at_least=cap):
        upper: int | None = None
    else:
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _feasible(arcs, known, entry, at_least=mid):
                lo = mid
            else:
                hi = mid
        upper = lo
    lo2, hi2 = -1, true  # smallest k with "x <= k" feasible
    while hi2 - lo2 > 1:
        mid = (lo2 + hi2) // 2
        if _feasible(arcs, known, entry, at_most=mid):
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


# --- the release ------------------------------------------------------------------------


@dataclass
class _State:
    tables: list[Table]
    threshold: int
    values: dict[Key, int] = field(default_factory=dict)
    withheld: set[Key] = field(default_factory=set)
    sensitive: set[Key] = field(default_factory=set)  # small, or small by difference
    revealed: set[Key] = field(default_factory=set)  # worked out from the rest: published


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
        closed = state.withheld | state.revealed
        candidates = [
            e for line in table.lines() if entry in line for e in line
            if table.key(e) not in closed
        ] or [e for e in table.entries() if table.key(e) not in closed]
        if not candidates:
            raise DisclosureError(f"Table {table.name!r} cannot be protected.")
        state.withheld.add(table.key(min(candidates, key=lambda e: _sort_key(table, e))))
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


def _differences(state: _State, prior: Sequence[Mapping[Key, int]]) -> bool:
    changed = False
    for key, value in state.values.items():
        if key in state.withheld:
            continue
        for cells in prior:
            old = cells.get(key)
            if old is not None and 1 <= abs(value - int(old)) < state.threshold:
                state.withheld.add(key)
                state.sensitive.add(key)
                changed = True
                break
    return changed


def protect(
    tables: Sequence[Table],
    *,
    threshold: int,
    prior: Sequence[Mapping[Key, int]] = (),
) -> list[PublishedTable]:
    """Apply primary, complementary and differencing suppression to one release.

    ``prior`` holds the published cells (key → value) of logged releases whose period
    overlaps this one's."""
    check_threshold(threshold)
    state = _State(tables=list(tables), threshold=threshold)
    for table in tables:
        for entry in table.entries():
            key, value = table.key(entry), table.value(entry)
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
                step = step or _reveal_determined(state, table)
                changed = changed or step
                if not step:
                    break
        changed = _not_counted(state) or changed
        changed = _differences(state, prior) or changed
        if not changed:
            break
    return [
        PublishedTable(
            table=t,
            threshold=threshold,
            values={
                e: (None if t.key(e) in state.withheld else t.value(e)) for e in t.entries()
            },
            noisy=bool(t.scope),
        )
        for t in tables
    ]


# --- differential privacy ----------------------------------------------------------------


def add_noise(tables: Sequence[Table], *, epsilon: float) -> list[Table]:
    """Copies of ``tables`` with discrete Laplace noise on every interior count (OpenDP),
    ``epsilon`` split evenly between the tables; counts below zero become zero. Each noisy
    table's keys are private to it (its totals are sums of its own noisy cells)."""
    import opendp.prelude as dp

    if not epsilon or epsilon <= 0:
        raise DisclosureError("Epsilon must be a positive number, e.g. 1.0.")
    if not tables:
        return []
    dp.enable_features("contrib")
    per_table = float(epsilon) / len(tables)
    mechanism = dp.m.make_laplace(
        dp.vector_domain(dp.atom_domain(T=int)), dp.l1_distance(T=int), scale=1.0 / per_table
    )
    noisy = []
    for table in tables:
        flat = [int(v) for row in table.counts for v in row]
        released = [max(0, int(v)) for v in mechanism(flat)] if flat else []
        width = max(len(table.columns), 1)
        counts = [released[i * width:(i + 1) * width] for i in range(len(table.rows))]
        total = table.total
        if not table.additive and total is not None:
            total = max(0, int(mechanism([int(total)])[0]))
        noisy.append(
            Table(
                name=table.name, title=table.title, measure=table.measure,
                row_dim=table.row_dim, rows=table.rows, counts=counts,
                col_dim=table.col_dim, columns=table.columns, additive=table.additive,
                total=total, note=table.note, scope=table.name,
            )
        )
    return noisy
