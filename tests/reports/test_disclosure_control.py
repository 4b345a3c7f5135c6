"""Reports, disclosure control: property tests, linked tables, differencing, golden tables."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.reports.disclosure import (
    SUPPRESSED,
    TOTAL,
    DisclosureError,
    Table,
    add_noise,
    cell_bounds,
    check_threshold,
    protect,
)
from tests.reports.support import JAN_APR, JAN_MAR, column, logged, small_counts, tables, withheld

# --- helpers -------------------------------------------------------------------------------


def grid(counts: list[list[int]], name: str = "t", measure: str = "m") -> Table:
    return Table(
        name=name,
        title=name,
        measure=measure,
        row_dim="r",
        rows=[(f"r{i}", f"Row {i}") for i in range(len(counts))],
        col_dim="c",
        columns=[(f"c{j}", f"Col {j}") for j in range(len(counts[0]))],
        counts=counts,
    )


def brute_bounds(table: Table, hidden: list[Any], entry: Any, cap: int) -> tuple[int, int]:
    """Try every table of non-negative integers ≤ cap that agrees with the published
    entries: the least and greatest value ``entry`` takes among them."""
    r, c = len(table.rows), len(table.columns)
    free = [e for e in hidden if e[0] == "cell"]
    fixed = {e: table.value(e) for e in table.entries() if e not in hidden}
    seen = []
    for values in itertools.product(range(cap + 1), repeat=len(free)):
        counts = [list(row) for row in table.counts]
        for (_, i, j), v in zip(free, values, strict=True):
            counts[i][j] = v
        sums: dict[Any, int] = {("row", i): sum(counts[i]) for i in range(r)}
        sums.update({("col", j): sum(row[j] for row in counts) for j in range(c)})
        sums[TOTAL] = sum(map(sum, counts))
        if all((sums[e] if e[0] != "cell" else counts[e[1]][e[2]]) == v for e, v in fixed.items()):
            seen.append(sums[entry] if entry[0] != "cell" else counts[entry[1]][entry[2]])
    assert seen
    return min(seen), max(seen)


def assert_safe(published: Any, threshold: int) -> None:
    table = published.table
    hidden = withheld(published)
    for entry, value in published.values.items():
        if value is not None:
            assert not 1 <= value < threshold, (entry, value)
    for entry in hidden:
        lower, upper = cell_bounds(table, hidden, entry)
        assert upper is None or upper > lower, f"{entry} can be worked out: {lower}"
        if 1 <= table.value(entry) < threshold:
            assert upper is None or upper - lower >= threshold, (entry, lower, upper)


# --- 1. disclosure control ----------------------------------------------------------------


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counts=tables(), threshold=st.integers(2, 11))
def test_no_published_small_cell_and_no_withheld_cell_can_be_solved(
    counts: list[list[int]], threshold: int
) -> None:
    """For every withheld cell we compute, over non-negative integers, the least and the
    greatest value consistent with every published figure (exact: a table with its totals is
    a flow network, so integer and linear bounds agree). A cell is safe when the two differ;
    a small cell needs them at least ``threshold`` apart, so its size cannot be narrowed to
    a small group either."""
    (published,) = protect([grid(counts)], threshold=threshold)
    assert_safe(published, threshold)


@settings(max_examples=80, deadline=None)
@given(values=st.lists(small_counts, min_size=1, max_size=8), threshold=st.integers(2, 11))
def test_one_way_tables_are_protected(values: list[int], threshold: int) -> None:
    (published,) = protect([column(values)], threshold=threshold)
    assert_safe(published, threshold)


@settings(max_examples=40, deadline=None)
@given(
    counts=st.sampled_from([(1, 2), (2, 1), (2, 2), (1, 3), (1, 4)]).flatmap(
        lambda s: st.lists(
            st.lists(st.integers(0, 4), min_size=s[1], max_size=s[1]), min_size=s[0], max_size=s[0]
        )
    ),
    threshold=st.integers(2, 4),
)
def test_exact_bounds_match_brute_force(counts: list[list[int]], threshold: int) -> None:
    """The flow bounds the audit relies on agree with trying every possible table."""
    table = grid(counts)
    (published,) = protect([table], threshold=threshold)
    hidden = withheld(published)
    total = table.value(TOTAL)
    for entry in hidden:
        if entry[0] != "cell":
            continue
        lower, upper = cell_bounds(table, hidden, entry)
        cap = total if TOTAL not in hidden else total + 3
        brute_low, brute_high = brute_bounds(table, hidden, entry, cap)
        assert lower == brute_low
        if upper is not None and TOTAL not in hidden:
            assert upper == brute_high


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=tables(4), extra=st.data(), threshold=st.integers(2, 11))
def test_overlapping_periods_reveal_no_withheld_cell_by_differencing(
    first: list[list[int]], extra: Any, threshold: int
) -> None:
    """Jan–Mar is released, then Jan–Apr (Jan–Mar plus April's counts): no published
    figure of Jan–Apr differs from the same figure of Jan–Mar by 1 … threshold−1."""
    april = [[extra.draw(small_counts) for _ in row] for row in first]
    jan_apr = [
        [a + b for a, b in zip(r1, r2, strict=True)] for r1, r2 in zip(first, april, strict=True)
    ]
    (released,) = protect([grid(first)], threshold=threshold)
    (later,) = protect(
        [grid(jan_apr)], threshold=threshold, history=logged((released, JAN_MAR)), span=JAN_APR
    )
    before, after = released.published_cells(), later.published_cells()
    for key, value in after.items():
        if key in before:
            assert not 1 <= abs(value - before[key]) < threshold, key
    assert_safe(later, threshold)
    # The other order (a longer period first) is held to the same rule.
    (shorter,) = protect(
        [grid(first)], threshold=threshold, history=logged((later, JAN_APR)), span=JAN_MAR
    )
    for key, value in shorter.published_cells().items():
        if key in after:
            assert not 1 <= abs(after[key] - value) < threshold, key


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    months=st.lists(st.lists(small_counts, min_size=3, max_size=3), min_size=3, max_size=3),
    threshold=st.integers(2, 8),
)
def test_months_published_one_by_one_and_their_quarter_reveal_no_withheld_month(
    months: list[list[int]], threshold: int
) -> None:
    """Each month is published on its own, then the quarter. For every count, if the
    quarter and all months but one are published, the month left over (the quarter
    minus the others) is never a small count."""
    releases: list[tuple[Any, tuple[int, int]]] = []
    for i, counts in enumerate(months):
        (month,) = protect(
            [column(counts)],
            threshold=threshold,
            history=logged(*reversed(releases)),
            span=(i, i + 1),
        )
        releases.append((month, (i, i + 1)))
    sums = [sum(values) for values in zip(*months, strict=True)]
    (quarter,) = protect(
        [column(sums)], threshold=threshold, history=logged(*reversed(releases)), span=(0, 3)
    )
    shown = quarter.published_cells()
    for key, value in shown.items():
        parts = [m.published_cells().get(key) for m, _ in releases]
        if parts.count(None) == 1:
            left = value - sum(p for p in parts if p is not None)
            assert not 1 <= left < threshold, (key, left)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(counts=tables(4), other=st.data(), threshold=st.integers(2, 8))
def test_linked_tables_withhold_shared_totals_alike(
    counts: list[list[int]], other: Any, threshold: int
) -> None:
    """Two tables of one release share their row totals (same rows, other columns): a
    total withheld in one is withheld in the other, and both stay safe."""
    row_sums = [sum(r) for r in counts]
    second = []
    for total in row_sums:
        cut = other.draw(st.integers(0, total))
        second.append([cut, total - cut])
    a, b = protect(
        [
            grid(counts, "a"),
            Table(
                name="b",
                title="b",
                measure="m",
                row_dim="r",
                rows=[(f"r{i}", f"Row {i}") for i in range(len(counts))],
                col_dim="d",
                columns=[("d0", "D0"), ("d1", "D1")],
                counts=second,
            ),
        ],
        threshold=threshold,
    )
    for i in range(len(counts)):
        assert (a.values[("row", i)] is None) == (b.values[("row", i)] is None)
    assert (a.values[TOTAL] is None) == (b.values[TOTAL] is None)
    assert_safe(a, threshold)
    assert_safe(b, threshold)


def test_golden_one_way_table_withholds_the_small_cell_and_the_smallest_other() -> None:
    # 3 is small; with the total published it could be recomputed from the others, so the
    # smallest other count (10) is withheld too: 3 and 10 could be anything from 0 to 13.
    (published,) = protect([column([3, 10, 12])], threshold=5)
    assert published.export_rows() == [
        ["Row 0", SUPPRESSED],
        ["Row 1", SUPPRESSED],
        ["Row 2", 12],
        ["Total", 25],
    ]
    assert cell_bounds(published.table, withheld(published), ("cell", 0, 0)) == (0, 13)


def test_golden_two_way_table_withholds_a_rectangle() -> None:
    # 1 is small; its row and column each need a second withheld cell (10 and 10), and
    # the fourth corner (20) then needs withholding too: every total stays published.
    (published,) = protect([grid([[1, 10], [10, 20]])], threshold=5)
    assert published.export_rows() == [
        ["Row 0", SUPPRESSED, SUPPRESSED, 11],
        ["Row 1", SUPPRESSED, SUPPRESSED, 30],
        ["Total", 11, 30, 41],
    ]
    assert cell_bounds(published.table, withheld(published), ("cell", 0, 0)) == (0, 11)


def test_golden_small_totals_are_withheld_and_protected() -> None:
    # Row 0 holds 0 and 3: its total (3) is small as well. Column 1 then needs a second
    # withheld cell (9), and the total column a second withheld total (17).
    (published,) = protect([grid([[0, 3], [8, 9]])], threshold=5)
    assert published.export_rows() == [
        ["Row 0", 0, SUPPRESSED, SUPPRESSED],
        ["Row 1", 8, SUPPRESSED, SUPPRESSED],
        ["Total", 8, 12, 20],
    ]


def test_golden_table_without_small_cells_is_published_whole() -> None:
    (published,) = protect([grid([[6, 7], [8, 9]])], threshold=5)
    assert not published.any_suppressed
    assert published.export_rows()[-1] == ["Total", 14, 16, 30]


def test_golden_zero_is_published_and_a_small_total_is_withheld() -> None:
    (published,) = protect([column([0, 0, 4])], threshold=5)
    assert published.export_rows() == [
        ["Row 0", 0],
        ["Row 1", 0],
        ["Row 2", SUPPRESSED],
        ["Total", SUPPRESSED],
    ]


def test_golden_differencing_jan_mar_against_jan_apr() -> None:
    # Jan–Mar: 20 and 30. April adds 2 to the first row: Jan–Apr would show 22, and
    # 22 − 20 = 2 contacts in April. The 22 is withheld; the total 52 − 50 tells the
    # same 2, so it goes as well — and with two figures withheld the line is protected.
    (jan_mar,) = protect([column([20, 30])], threshold=5)
    (jan_apr,) = protect(
        [column([22, 30])], threshold=5, history=logged((jan_mar, JAN_MAR)), span=JAN_APR
    )
    assert jan_apr.export_rows() == [["Row 0", SUPPRESSED], ["Row 1", 30], ["Total", SUPPRESSED]]
    # April adds 6 instead: nothing to hide.
    (other,) = protect(
        [column([26, 30])], threshold=5, history=logged((jan_mar, JAN_MAR)), span=JAN_APR
    )
    assert not other.any_suppressed


def test_threshold_below_two_is_refused_with_a_clear_message() -> None:
    with pytest.raises(DisclosureError, match="at least 2"):
        check_threshold(1)
    with pytest.raises(DisclosureError, match="at least 2"):
        protect([column([1, 2])], threshold=1)
    with pytest.raises(DisclosureError, match="at most 11"):
        check_threshold(12)
    assert check_threshold(11) == 11


def test_agency_policy_refuses_a_threshold_below_two(agency: Any) -> None:
    from tandem.agencies.presets import Policy

    data = dict(agency.policy, small_cell_threshold=1)
    with pytest.raises(ValueError, match="small_cell_threshold"):
        Policy.model_validate(data)


def test_multiple_response_table_hides_small_rows_and_small_remainders() -> None:
    # 3 records had A: small. 39 of 41 had B, so 2 did not: small too.
    table = Table(
        name="s",
        title="s",
        measure="services",
        row_dim="service",
        rows=[("a", "A"), ("b", "B"), ("c", "C")],
        counts=[[3], [39], [20]],
        additive=False,
        total=41,
    )
    (published,) = protect([table], threshold=5)
    assert published.export_rows() == [
        ["A", SUPPRESSED],
        ["B", SUPPRESSED],
        ["C", 20],
        ["Records", 41],
    ]


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(small_counts, min_size=1, max_size=6),
    extra=st.integers(0, 40),
    threshold=st.integers(2, 11),
)
def test_multiple_response_rows_and_their_remainders_are_never_small(
    values: list[int], extra: int, threshold: int
) -> None:
    total = max(values) + extra
    table = Table(
        name="s",
        title="s",
        measure="s",
        row_dim="r",
        rows=[(f"r{i}", f"R{i}") for i in range(len(values))],
        counts=[[v] for v in values],
        additive=False,
        total=total,
    )
    (published,) = protect([table], threshold=threshold)
    shown_total = published.values[TOTAL]
    for entry, value in published.values.items():
        if value is None or entry == TOTAL:
            continue
        assert not 1 <= value < threshold
        if shown_total is not None:
            assert not 1 <= shown_total - value < threshold


def test_noise_for_outside_publication_uses_opendp_and_stays_suppressed() -> None:
    exact = grid([[50, 60], [70, 80]])
    noisy = add_noise([exact], epsilon=0.5)
    assert noisy[0].scope == "t"
    assert all(v >= 0 for row in noisy[0].counts for v in row)
    runs = [add_noise([exact], epsilon=0.5)[0].counts for _ in range(5)]
    assert any(r != exact.counts for r in runs)  # noise is there
    (published,) = protect(noisy, threshold=5)
    assert_safe(published, 5)
    assert published.table.key(TOTAL).startswith("m@t")  # noisy keys never meet exact ones
    with pytest.raises(DisclosureError, match="Epsilon"):
        add_noise([exact], epsilon=0)


def test_tables_that_disagree_on_a_shared_count_are_refused() -> None:
    with pytest.raises(DisclosureError, match="disagree"):
        protect([column([5, 6], "a"), column([5, 7], "b")], threshold=5)
