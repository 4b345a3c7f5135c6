"""Reports with disclosure control (issue 6: PS-6, PR-10, PR-12, X-7, X-9, P4).

1. Disclosure control: property tests over random tables (no published count in
   1 … threshold−1; no withheld count can be worked out from what is published — checked
   with exact integer bounds, themselves checked against brute force), linked tables,
   differencing of overlapping periods, noise, golden tables computed by hand.
2. Peer-support reports, 3. the recovery evaluation: figures from records made through
   the programs' own services, pages and every export searched for identities.
4. Presentation: accessible SVG charts beside their tables, CSV/XLSX/PDF, the monthly
   delivery with its content-free notice.
Bad input and every URL's authorization close the file.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
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
from tests.authz import check_no_session, check_row, make_world
from tests.authz_reports import ROWS, build_world
from tests.conftest import make_user, sign_in
from tests.helpers import pdf_text

# "Today" for the database tests: reports cover months that have ended.
TODAY = datetime(2026, 5, 15, 12, 0, tzinfo=UTC)


# --- helpers -------------------------------------------------------------------------------


def grid(counts: list[list[int]], name: str = "t", measure: str = "m") -> Table:
    return Table(
        name=name, title=name, measure=measure, row_dim="r",
        rows=[(f"r{i}", f"Row {i}") for i in range(len(counts))], col_dim="c",
        columns=[(f"c{j}", f"Col {j}") for j in range(len(counts[0]))], counts=counts,
    )


def column(values: list[int], name: str = "t", measure: str = "m") -> Table:
    return Table(name=name, title=name, measure=measure, row_dim="r",
                 rows=[(f"r{i}", f"Row {i}") for i in range(len(values))],
                 counts=[[v] for v in values])


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


small_counts = st.integers(min_value=0, max_value=40).map(lambda v: v if v % 3 else v // 8)


def tables(max_side: int = 5) -> Any:
    return st.tuples(st.integers(1, max_side), st.integers(1, max_side)).flatmap(
        lambda shape: st.lists(
            st.lists(small_counts, min_size=shape[1], max_size=shape[1]),
            min_size=shape[0], max_size=shape[0],
        )
    )


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
        lambda s: st.lists(st.lists(st.integers(0, 4), min_size=s[1], max_size=s[1]),
                           min_size=s[0], max_size=s[0])
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
    jan_apr = [[a + b for a, b in zip(r1, r2, strict=True)]
               for r1, r2 in zip(first, april, strict=True)]
    (released,) = protect([grid(first)], threshold=threshold)
    (later,) = protect([grid(jan_apr)], threshold=threshold,
                       history=logged((released, JAN_MAR)), span=JAN_APR)
    before, after = released.published_cells(), later.published_cells()
    for key, value in after.items():
        if key in before:
            assert not 1 <= abs(value - before[key]) < threshold, key
    assert_safe(later, threshold)
    # The other order (a longer period first) is held to the same rule.
    (shorter,) = protect([grid(first)], threshold=threshold,
                         history=logged((later, JAN_APR)), span=JAN_MAR)
    for key, value in shorter.published_cells().items():
        if key in after:
            assert not 1 <= abs(after[key] - value) < threshold, key


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(months=st.lists(st.lists(small_counts, min_size=3, max_size=3), min_size=3,
                       max_size=3), threshold=st.integers(2, 8))
def test_months_published_one_by_one_and_their_quarter_reveal_no_withheld_month(
    months: list[list[int]], threshold: int
) -> None:
    """Each month is published on its own, then the quarter. For every count, if the
    quarter and all months but one are published, the month left over (the quarter
    minus the others) is never a small count."""
    releases: list[tuple[Any, tuple[int, int]]] = []
    for i, counts in enumerate(months):
        (month,) = protect([column(counts)], threshold=threshold,
                           history=logged(*reversed(releases)), span=(i, i + 1))
        releases.append((month, (i, i + 1)))
    sums = [sum(values) for values in zip(*months, strict=True)]
    (quarter,) = protect([column(sums)], threshold=threshold,
                         history=logged(*reversed(releases)), span=(0, 3))
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
    a, b = protect([grid(counts, "a"), Table(
        name="b", title="b", measure="m", row_dim="r",
        rows=[(f"r{i}", f"Row {i}") for i in range(len(counts))], col_dim="d",
        columns=[("d0", "D0"), ("d1", "D1")], counts=second)], threshold=threshold)
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
        ["Row 0", SUPPRESSED], ["Row 1", SUPPRESSED], ["Row 2", 12], ["Total", 25]
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
    assert published.export_rows() == [["Row 0", 0], ["Row 1", 0], ["Row 2", SUPPRESSED],
                                       ["Total", SUPPRESSED]]


def test_golden_differencing_jan_mar_against_jan_apr() -> None:
    # Jan–Mar: 20 and 30. April adds 2 to the first row: Jan–Apr would show 22, and
    # 22 − 20 = 2 contacts in April. The 22 is withheld; the total 52 − 50 tells the
    # same 2, so it goes as well — and with two figures withheld the line is protected.
    (jan_mar,) = protect([column([20, 30])], threshold=5)
    (jan_apr,) = protect([column([22, 30])], threshold=5,
                         history=logged((jan_mar, JAN_MAR)), span=JAN_APR)
    assert jan_apr.export_rows() == [["Row 0", SUPPRESSED], ["Row 1", 30],
                                     ["Total", SUPPRESSED]]
    # April adds 6 instead: nothing to hide.
    (other,) = protect([column([26, 30])], threshold=5,
                       history=logged((jan_mar, JAN_MAR)), span=JAN_APR)
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
    table = Table(name="s", title="s", measure="services", row_dim="service",
                  rows=[("a", "A"), ("b", "B"), ("c", "C")], counts=[[3], [39], [20]],
                  additive=False, total=41)
    (published,) = protect([table], threshold=5)
    assert published.export_rows() == [["A", SUPPRESSED], ["B", SUPPRESSED], ["C", 20],
                                       ["Records", 41]]


@settings(max_examples=60, deadline=None)
@given(values=st.lists(small_counts, min_size=1, max_size=6), extra=st.integers(0, 40),
       threshold=st.integers(2, 11))
def test_multiple_response_rows_and_their_remainders_are_never_small(
    values: list[int], extra: int, threshold: int
) -> None:
    total = max(values) + extra
    table = Table(name="s", title="s", measure="s", row_dim="r",
                  rows=[(f"r{i}", f"R{i}") for i in range(len(values))],
                  counts=[[v] for v in values], additive=False, total=total)
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


# --- data made through the programs' services ---------------------------------------------

MARKER_CLIENT = ("Quillon", "Markerfield")
MARKER_SUPPORTER = "zanzibarsupporter"


def _at(day: date, hour: int = 10) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


@pytest.fixture
def recovery_data(agency: Any, cast: dict[str, Any]) -> dict[str, Any]:
    """Clients, contacts, referrals, stages, overdoses and kits made through the recovery
    services in January–March 2026, with a marker name that must never reach a report."""
    from tandem.recovery import services as rs
    from tandem.recovery import vocab

    aro = cast["aro"]
    made: dict[str, Any] = {"clients": []}
    with time_machine.travel(datetime(2026, 1, 2, 9, tzinfo=UTC), tick=False):
        resource = rs.resource_save(acting_user=aro, data={
            "name": "Harbor Detox", "category": vocab.ResourceCategory.TREATMENT_DETOX})
        for n in range(14):
            first, last = (MARKER_CLIENT if n == 0 else (f"Client{n}", "Sample"))
            made["clients"].append(rs.client_create(acting_user=aro, data={
                "first_name": first, "last_name": last, "phone": f"555-010{n % 10}",
                "status": vocab.ClientStatus.ACTIVE}))
    checklist = list(agency.policy_model().recovery.safety_checklist)
    for month in (1, 2, 3):
        day = date(2026, month, 10)
        planned: dict[int, Any] = {}
        with time_machine.travel(_at(day, 7), tick=False):
            # A co-response with the PRS is a field contact: planned, and the ARO's safety
            # assessment recorded, before the PRS takes part (the recovery program's rule).
            for i, client in enumerate(made["clients"]):
                if i % 2:
                    planned[i] = rs.planned_create(
                        acting_user=aro, client=client, kind=vocab.ContactKind.CO_RESPONSE,
                        starts_at=_at(day, 9), ends_at=_at(day, 10), aro=aro,
                        prs=cast["prs"], with_prs=True)
                    rs.safety_assessment_record(acting_user=aro, planned=planned[i],
                                                confirmed=checklist)
        with time_machine.travel(_at(day, 18), tick=False):
            for i, client in enumerate(made["clients"]):
                rs.contact_create(acting_user=aro, client=client, data={
                    "kind": vocab.ContactKind.CO_RESPONSE if i % 2 else vocab.ContactKind.PHONE,
                    "occurred_at": _at(day, 9), "duration_minutes": 30,
                    "aro_present": True, "prs_present": bool(i % 2),
                    "planned": planned.get(i),
                    "location_type": (vocab.LocationType.STREET if i % 2
                                      else vocab.LocationType.PHONE),
                    "services": [vocab.ContactService.REFERRAL],
                    "outcome": (vocab.ContactOutcome.ENGAGED if i < 11
                                else vocab.ContactOutcome.DECLINED),
                    "arrest_diverted": i < 6,
                    "notes": f"Met {MARKER_CLIENT[0]} near the pier"})
                stage = vocab.Stage.CONTEMPLATION if month == 1 else vocab.Stage.ACTION
                rs.stage_record(acting_user=aro, client=client, assessed_at=_at(day, 9),
                                stage=stage)
    with time_machine.travel(_at(date(2026, 2, 12)), tick=False):
        for client in made["clients"][:7]:
            referral = rs.referral_create(acting_user=aro, client=client, resource=resource,
                                          sent=True)
            rs.referral_advance(acting_user=aro, referral=referral,
                                status=vocab.ReferralStatus.ACCEPTED)
    return made


@pytest.fixture
def usage_data(agency: Any) -> dict[str, Any]:
    """Usage records as the support app stores them (closed codes only), January–April
    2026, by a supporter whose name must never reach a report."""
    from tandem.support import vocab
    from tandem.support.models import SupporterProfile, UsageRecord

    # This agency's usage form records incident type and member category (PS-6: the
    # agency chooses the fields from the closed list).
    agency.policy["usage_form"]["fields"] = ["incident_type", "member_category",
                                             "duration_bucket", "services"]
    agency.save(update_fields=["policy"])
    user = make_user(agency, MARKER_SUPPORTER, "supporter")
    profile = SupporterProfile.objects.create(agency=agency, user=user,
                                              affiliation=vocab.Affiliation.choices[0][0])
    plan = [  # (month, incident type, category, how many)
        (1, "work_stress", "sworn", 12), (1, "personal", "sworn", 9),
        (1, "work_stress", "civilian", 6), (1, "substance_use", "civilian", 1),
        (2, "work_stress", "sworn", 10), (2, "personal", "civilian", 7),
        (3, "deadly_force", "sworn", 8), (3, "work_stress", "sworn", 11),
        (4, "work_stress", "sworn", 2),
    ]
    for month, incident, category, n in plan:
        for k in range(n):
            closed = _at(date(2026, month, 1 + k % 20), 14)
            UsageRecord.objects.create(
                agency=agency, supporter=profile, started_at=closed - timedelta(hours=1),
                closed_at=closed, outcome="closed", channel="self_request", urgency="today",
                topic="work_stress", incident_type=incident, member_category=category,
                duration_bucket="15_60", services=["listening"], referral_types=[],
                seconds_to_ack=120 + 400 * (k % 3), seconds_to_contact=1800,
            )
    return {"profile": profile}


def report_get(client: Client, slug: str, start: str, end: str, **extra: str) -> Any:
    with time_machine.travel(TODAY, tick=False):
        return client.get(reverse(f"reports:{slug.replace('-', '_')}"),
                          {"start": start, "end": end, **extra})


def export_get(client: Client, slug: str, fmt: str, start: str, end: str, **extra: str) -> Any:
    with time_machine.travel(TODAY, tick=False):
        return client.get(reverse(f"reports:{slug.replace('-', '_')}_{fmt}"),
                          {"start": start, "end": end, **extra})


def assert_no_identity(text: str, names: list[str]) -> None:
    """No name appears as a word of its own (a random CSRF token may contain any letters)."""
    for name in names:
        found = re.search(rf"(?<![A-Za-z0-9]){re.escape(name)}(?![A-Za-z0-9])", text, re.I)
        assert found is None, f"{name!r} appears in a report"


# --- 2. peer-support reports --------------------------------------------------------------


def test_peer_support_report_counts_and_withholds_small_groups(
    cast: dict[str, Any], usage_data: Any
) -> None:
    client = sign_in(Client(), cast["coordinator"])
    response = report_get(client, "peer-support", "2026-01", "2026-01")
    assert response.status_code == 200
    content = response.context["content"]
    usage = content["sections"][0]["tables"][0]
    assert usage["name"] == "usage_incident_category"
    rows = {row[0]: row for row in usage["rows"]}
    # One civilian, January, substance use: that is a name. Withheld, with its partners.
    assert rows["Substance use"][2] == SUPPRESSED
    assert rows["Total"][-1] == 28
    for table in (t for s in content["sections"] for t in s["tables"]):
        for row in table["rows"]:
            for value in row[1:]:
                assert not (isinstance(value, int) and 1 <= value < 5), (table["title"], row)
    html = response.content.decode()
    assert 'role="img"' in html
    assert "<title id=" in html
    assert "<desc id=" in html
    assert "<table>" in html
    assert 'scope="row"' in html


def test_peer_support_pages_and_exports_carry_no_identity(
    cast: dict[str, Any], usage_data: Any
) -> None:
    names = [MARKER_SUPPORTER, MARKER_SUPPORTER.capitalize(), f"E-{MARKER_SUPPORTER}",
             f"{MARKER_SUPPORTER}@example.test"]
    for role in ("coordinator", "psychologist", "chief"):
        client = sign_in(Client(), cast[role])
        assert_no_identity(report_get(client, "peer-support", "2026-01", "2026-03")
                           .content.decode(), names)
        assert_no_identity(export_get(client, "peer-support", "csv", "2026-01", "2026-03")
                           .content.decode("utf-8-sig"), names)
        xlsx = export_get(client, "peer-support", "xlsx", "2026-01", "2026-03").content
        assert_no_identity(_xlsx_text(xlsx), names)
        pdf = export_get(client, "peer-support", "pdf", "2026-01", "2026-03")
        assert pdf["Content-Type"] == "application/pdf"
        assert_no_identity(pdf_text(pdf.content, drawing=True), names)


def _xlsx_text(data: bytes) -> str:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(data))
    return "\n".join(
        str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
        for cell in row if cell is not None
    )


def test_peer_support_report_sections_cover_the_issue(
    cast: dict[str, Any], usage_data: Any
) -> None:
    client = sign_in(Client(), cast["chief"])
    content = report_get(client, "peer-support", "2026-01", "2026-04").context
    assert content is not None
    assert content["error"] == ""
    titles = [s["title"] for s in content["content"]["sections"]]
    assert titles == ["Usage", "Response times", "Critical incidents", "Supporter hours",
                      "Training needs"]
    names = {t["name"] for s in content["content"]["sections"] for t in s["tables"]}
    assert {"usage_incident_category", "usage_channel", "usage_ack", "usage_contact",
            "ci_incidents", "ci_deployments", "needs_topics"} <= names


def test_tables_follow_the_fields_the_agency_collects(
    agency: Any, cast: dict[str, Any], usage_data: Any
) -> None:
    from tandem.reports.services import report_build
    from tandem.reports.statistics import Period

    period = Period(date(2026, 1, 1), date(2026, 3, 31))
    with time_machine.travel(TODAY, tick=False):
        content, _ = report_build(agency=agency, report="peer-support", period=period)
    names = [t["name"] for t in content["sections"][0]["tables"]]
    assert names == ["usage_incident_category", "usage_channel", "usage_duration_bucket",
                     "usage_services"]
    services = content["sections"][0]["tables"][-1]
    assert ["Listening and support", 64] in services["rows"]  # a multiple-response count
    agency.policy["usage_form"]["fields"] = ["gender", "follow_up"]
    agency.save(update_fields=["policy"])
    with time_machine.travel(TODAY, tick=False):
        content, _ = report_build(agency=agency, report="peer-support", period=period)
    names = [t["name"] for t in content["sections"][0]["tables"]]
    assert names == ["usage_channel", "usage_gender", "usage_follow_up"]


@pytest.mark.parametrize(("people", "shown"), [(6, True), (2, False)])
def test_supporter_hours_are_shown_only_for_enough_supporters(
    agency: Any, cast: dict[str, Any], usage_data: Any, people: int, shown: bool
) -> None:
    from decimal import Decimal

    from tandem.readiness.services import time_entry_add

    for n in range(people):
        user = make_user(agency, f"hours{n}", "supporter")
        with time_machine.travel(datetime(2026, 2, 20, 12, tzinfo=UTC), tick=False):
            time_entry_add(acting_user=user, worked_on=date(2026, 2, 10), hours=Decimal("2.5"),
                           idempotency_key=f"bench-{n}")
    content = report_get(sign_in(Client(), cast["coordinator"]), "peer-support", "2026-02",
                         "2026-02").context["content"]
    hours = next(s for s in content["sections"] if s["title"] == "Supporter hours")
    (label, value), _other = hours["figures"]
    assert value == (f"{Decimal('2.5') * people:.1f}" if shown else SUPPRESSED)
    assert "hours0" not in str(content).lower()


def test_viewing_a_report_is_audited_without_names(
    agency: Any, cast: dict[str, Any], usage_data: Any
) -> None:
    from tandem.audit.models import AuditEvent

    report_get(sign_in(Client(), cast["chief"]), "peer-support", "2026-01", "2026-01")
    event = AuditEvent.objects.filter(action="report.viewed").get()
    assert event.actor_id == cast["chief"].pk
    assert event.detail["report"] == "peer-support"
    assert MARKER_SUPPORTER not in str(event.detail).lower()


def test_demo_stores_one_monthly_report_and_is_idempotent(
    agency: Any, cast: dict[str, Any]
) -> None:
    from tandem.reports.demo import populate
    from tandem.reports.models import ReportRun

    populate(agency=agency, users=cast)
    populate(agency=agency, users=cast)
    assert sorted(ReportRun.objects.filter(agency=agency).values_list("report", flat=True)) == [
        "peer-support", "recovery"]


def test_annual_report_aggregates_in_the_database(
    agency: Any, usage_data: Any, django_assert_max_num_queries: Any
) -> None:
    """The query count does not grow with the number of records (GROUP BY in SQL)."""
    from tandem.reports.services import report_build
    from tandem.reports.statistics import Period

    with django_assert_max_num_queries(40):
        content, _ = report_build(agency=agency, report="peer-support",
                                  period=Period(date(2026, 1, 1), date(2026, 12, 31)))
    assert not content["empty"]


# --- 3. recovery evaluation ---------------------------------------------------------------


def test_recovery_evaluation_figures(cast: dict[str, Any], recovery_data: Any) -> None:
    client = sign_in(Client(), cast["crt_supervisor"])
    response = report_get(client, "recovery", "2026-01", "2026-03")
    assert response.status_code == 200
    content = response.context["content"]
    tables = {t["name"]: t for s in content["sections"] for t in s["tables"]}
    assert tables["clients_served"]["rows"][-1] == ["Total", 14]
    kinds = {row[0]: row for row in tables["contacts_kind_outcome"]["rows"]}
    assert kinds["Total"][-1] == 42
    funnel = {row[0]: row[1] for row in tables["funnel"]["rows"]}
    assert funnel["Total"] == 42
    assert funnel["Engaged"] == 33
    people = {row[0]: row[1] for row in tables["funnel_people"]["rows"]}
    # 11 of the 14 people served engaged: the 3 who did not would be a small group.
    assert people["People engaged"] == SUPPRESSED
    assert people["People served"] == 14
    diverted = {row[0]: row for row in tables["diverted"]["rows"]}
    assert diverted["Total"] == ["Total", 18, 24, 42]
    # The funnel's outcome counts are the contact table's column totals: one status.
    assert [funnel["Engaged"], funnel["Declined"], funnel["Not found"]] == kinds["Total"][1:4]
    stages = {row[0]: row for row in tables["stages"]["rows"]}
    assert stages["Contemplation"][-1] == 14  # everyone moved from contemplation…
    figures = dict(content["sections"][0]["figures"])
    assert figures["Officer hours freed by co-response"] == "10.5"  # 21 × 30 minutes
    assert figures["Contact attempts that reached someone"] == "42"
    referral_figures = dict(content["sections"][1]["figures"])
    assert referral_figures["Treatment engagement rate"] == "0% (0 of 7)"
    referrals = {row[0]: row for row in tables["referrals"]["rows"]}
    assert referrals["Total"][-1] == 7


def test_recovery_pages_and_funder_exports_carry_no_identity(
    cast: dict[str, Any], recovery_data: Any
) -> None:
    names = [*MARKER_CLIENT, "pier", "555-0100", "Client3", cast["aro"].username]
    for role in ("crt_supervisor", "chief", "aro", "prs"):
        client = sign_in(Client(), cast[role])
        assert_no_identity(report_get(client, "recovery", "2026-01", "2026-03")
                           .content.decode(), names)
        csv_text = export_get(client, "recovery", "csv", "2026-01", "2026-03").content
        assert_no_identity(csv_text.decode("utf-8-sig"), names)
        assert_no_identity(_xlsx_text(export_get(client, "recovery", "xlsx", "2026-01",
                                                 "2026-03").content), names)
        assert_no_identity(pdf_text(export_get(client, "recovery", "pdf", "2026-01",
                                               "2026-03").content, drawing=True), names)


def test_funder_export_has_every_output_and_outcome(
    cast: dict[str, Any], recovery_data: Any
) -> None:
    client = sign_in(Client(), cast["chief"])
    text = export_get(client, "recovery", "csv", "2026-01", "2026-03").content.decode("utf-8-sig")
    for words in ("Clients served", "Contacts by type and outcome", "Outreach funnel",
                  "Referrals by category and outcome", "Treatment engagement rate",
                  "Stage of change", "Arrests diverted", "Overdose responses",
                  "Naloxone kits", "Officer hours freed", "Community education",
                  "Staff training compliance"):
        assert words in text, words
    book = export_get(client, "recovery", "xlsx", "2026-01", "2026-03")
    assert book["Content-Type"].startswith("application/vnd.openxmlformats")
    assert "About" in _xlsx_sheets(book.content)


def _xlsx_sheets(data: bytes) -> list[str]:
    from openpyxl import load_workbook

    return load_workbook(io.BytesIO(data)).sheetnames


def test_public_figures_carry_noise_and_only_the_chief_makes_them(
    cast: dict[str, Any], recovery_data: Any
) -> None:
    chief = sign_in(Client(), cast["chief"])
    response = report_get(chief, "recovery", "2026-01", "2026-03", audience="public",
                          epsilon="1.0")
    assert response.status_code == 200
    assert response.context["content"]["audience"] == "public"
    assert "random noise" in response.content.decode()
    # Asked again, the same noisy figures: noise cannot be averaged away by repeating.
    again = report_get(chief, "recovery", "2026-01", "2026-03", audience="public",
                       epsilon="0.2")
    assert again.context["content"]["sections"] == response.context["content"]["sections"]
    assert again.context["content"]["epsilon"] == 1.0
    supervisor = sign_in(Client(), cast["crt_supervisor"])
    response = report_get(supervisor, "recovery", "2026-01", "2026-03", audience="public",
                          epsilon="1.0")
    assert response.context["content"]["audience"] == "department"


def test_public_figures_need_an_epsilon(cast: dict[str, Any], recovery_data: Any) -> None:
    chief = sign_in(Client(), cast["chief"])
    response = report_get(chief, "recovery", "2026-01", "2026-03", audience="public",
                          epsilon="")
    assert response.status_code == 400
    assert "how much protection" in response.content.decode()


# --- the release log ----------------------------------------------------------------------


def test_release_log_stops_differencing_between_page_views(
    agency: Any, cast: dict[str, Any], usage_data: Any
) -> None:
    """Jan–Mar is shown, then Jan–Apr: April added 2 work-stress contacts, so Jan–Apr's
    41 would tell them apart from Jan–Mar's 39. It is withheld."""
    from tandem.reports.models import Release

    client = sign_in(Client(), cast["coordinator"])
    first = report_get(client, "peer-support", "2026-01", "2026-03").context["content"]
    rows = {r[0]: r for r in first["sections"][0]["tables"][0]["rows"]}
    assert rows["Work stress"][-1] == 39
    later = report_get(client, "peer-support", "2026-01", "2026-04").context["content"]
    rows = {r[0]: r for r in later["sections"][0]["tables"][0]["rows"]}
    assert rows["Work stress"][-1] == SUPPRESSED
    assert Release.objects.filter(agency=agency).count() == 2
    # Showing the same period again logs nothing new and shows the same figures.
    again = report_get(client, "peer-support", "2026-01", "2026-04").context["content"]
    assert again["sections"] == later["sections"]
    assert Release.objects.filter(agency=agency).count() == 2


def test_release_log_holds_counts_only(agency: Any, cast: dict[str, Any],
                                       usage_data: Any) -> None:
    from tandem.reports.models import Release

    report_get(sign_in(Client(), cast["coordinator"]), "peer-support", "2026-01", "2026-01")
    release = Release.objects.get(agency=agency)
    assert all(isinstance(v, int) and not 1 <= v < 5 for v in release.cells.values())
    assert all(re.fullmatch(r"[a-z_@]+(\|[a-z_]+=[a-z0-9_]*)*", k) for k in release.cells)


# --- 4. presentation and delivery ---------------------------------------------------------


def test_monthly_delivery_stores_one_run_and_says_only_that_a_report_is_ready(
    agency: Any, cast: dict[str, Any], usage_data: Any
) -> None:
    from tandem.notifications.models import Delivery
    from tandem.reports.models import ReportRun
    from tandem.reports.services import deliver_monthly_reports

    with time_machine.travel(datetime(2026, 2, 3, 6, tzinfo=UTC), tick=False):
        assert deliver_monthly_reports() == 2
        assert deliver_monthly_reports() == 0  # once per month, however often it runs
    run = ReportRun.objects.get(agency=agency, report="peer-support")
    assert (run.period_start, run.period_end) == (date(2026, 1, 1), date(2026, 1, 31))
    deliveries = Delivery.objects.filter(kind="report.ready")
    assert deliveries.count() == 2  # the coordinator and the CRT supervisor
    client = sign_in(Client(), cast["coordinator"])
    page = client.get(reverse("reports:index")).content.decode()
    assert reverse("reports:run_detail", args=[run.pk]) in page
    detail = client.get(reverse("reports:run_detail", args=[run.pk]))
    assert detail.status_code == 200
    assert "January 2026" in detail.content.decode()
    assert_no_identity(detail.content.decode(), [MARKER_SUPPORTER])


def test_report_ready_notice_has_no_content() -> None:
    from tandem.core.notifications import CATALOGUE

    kind = CATALOGUE["report.ready"]
    assert "peer" not in kind.text.lower()
    assert "support" not in kind.text.lower()


def test_pdf_has_the_agency_name_and_logo(agency: Any, cast: dict[str, Any],
                                          usage_data: Any) -> None:
    from django.core.files.base import ContentFile

    agency.logo.save("logo.svg", ContentFile(
        b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10">'
        b'<rect width="10" height="10" fill="#123456"/></svg>'))
    client = sign_in(Client(), cast["coordinator"])
    pdf = export_get(client, "peer-support", "pdf", "2026-01", "2026-04").content
    text = pdf_text(pdf, drawing=True)
    assert pdf.startswith(b"%PDF")
    assert agency.name in text
    assert "0.070588 0.203922 0.337255 rg" in text  # the logo's colour, drawn from the SVG


def test_csv_marks_withheld_cells_the_same_way(cast: dict[str, Any], usage_data: Any) -> None:
    client = sign_in(Client(), cast["coordinator"])
    text = export_get(client, "peer-support", "csv", "2026-01", "2026-01").content.decode(
        "utf-8-sig")
    assert SUPPRESSED in text
    assert "withheld" in text
    for line in list(csv.reader(io.StringIO(text)))[1:]:
        value = line[-1]
        if value.isdigit():
            assert not 1 <= int(value) < 5, line


def test_navigation_shows_reports_to_the_roles_that_may_see_them(cast: dict[str, Any]) -> None:
    from tandem.core.navigation import navigation_for

    for role in ("coordinator", "psychologist", "chief", "crt_supervisor", "aro", "prs"):
        labels = [i["label"] for i in navigation_for(cast[role], "/")]
        assert "Reports" in labels, role
    for role in ("administrator", "auditor", "supporter", "member", "nobody"):
        labels = [i["label"] for i in navigation_for(cast[role], "/")]
        assert "Reports" not in labels, role


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("2026-09", "2026-10", "in the future"),
        ("2026-04", "2026-05", "once it has ended"),
        ("2026-03", "2026-01", "ends before it starts"),
        ("2026-13", "2026-01", "year and month"),
        ("march", "2026-01", "year and month"),
    ],
)
def test_bad_periods_get_a_clear_message_and_no_table(
    cast: dict[str, Any], usage_data: Any, start: str, end: str, message: str
) -> None:
    client = sign_in(Client(), cast["coordinator"])
    response = report_get(client, "peer-support", start, end)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert response.context["content"] is None
    export = export_get(client, "peer-support", "csv", start, end)
    assert export.status_code == 400
    assert export["Content-Type"].startswith("text/html")


def test_empty_period_says_so_without_a_table(cast: dict[str, Any], usage_data: Any) -> None:
    client = sign_in(Client(), cast["coordinator"])
    response = report_get(client, "peer-support", "2025-06", "2025-06")
    assert response.status_code == 200
    html = response.content.decode()
    assert "Nothing was recorded in June 2025" in html
    assert "<table>" not in html


def test_threshold_below_two_in_a_stored_policy_is_refused(
    agency: Any, cast: dict[str, Any], usage_data: Any, monkeypatch: Any
) -> None:
    """A policy that somehow holds a threshold below 2 makes no report at all."""
    from tandem.reports.services import ReportError, report_build
    from tandem.reports.statistics import Period

    real = agency.policy_model()
    monkeypatch.setattr(type(agency), "policy_model",
                        lambda self: real.model_copy(update={"small_cell_threshold": 1}))
    with pytest.raises(ReportError, match="at least 2"):
        report_build(agency=agency, report="peer-support",
                     period=Period(date(2026, 1, 1), date(2026, 1, 31)))


def test_a_role_that_may_not_see_a_report_gets_the_404(cast: dict[str, Any]) -> None:
    client = sign_in(Client(), cast["coordinator"])
    assert client.get(reverse("reports:recovery")).status_code == 404
    assert client.get(reverse("reports:recovery_csv")).status_code == 404
    assert client.get("/reports/nothing-here/").status_code == 404
    aro = sign_in(Client(), cast["aro"])
    assert aro.get(reverse("reports:peer_support")).status_code == 404
    assert client.get("/reports/peer-support/export.exe").status_code == 404


def test_stored_runs_of_another_program_are_hidden(agency: Any, cast: dict[str, Any]) -> None:
    from tandem.reports.models import RunKind
    from tandem.reports.services import last_month, report_run_create

    run, _ = report_run_create(agency=agency, report="recovery", period=last_month(),
                               kind=RunKind.SCHEDULED)
    coordinator = sign_in(Client(), cast["coordinator"])
    assert coordinator.get(reverse("reports:run_detail", args=[run.pk])).status_code == 404
    supervisor = sign_in(Client(), cast["crt_supervisor"])
    assert supervisor.get(reverse("reports:run_detail", args=[run.pk])).status_code == 200


# --- authorization of every URL -----------------------------------------------------------


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.url_name)
def test_every_reports_url_answers_only_its_roles(
    row: Any, agency: Any, cast: dict[str, Any], stranger: Any
) -> None:
    check_row(row, make_world(agency, cast, [build_world]), stranger)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.url_name)
def test_every_reports_url_needs_a_full_session(
    row: Any, agency: Any, cast: dict[str, Any]
) -> None:
    check_no_session(row, make_world(agency, cast, [build_world]))


# --- the release log across many releases (review findings) --------------------------------


def _gender_usage(agency: Any, plan: dict[tuple[int, str], int]) -> None:
    """Usage records by month and gender (the only field this agency collects)."""
    from tandem.support import vocab
    from tandem.support.models import SupporterProfile, UsageRecord

    agency.policy["usage_form"]["fields"] = ["gender"]
    agency.save(update_fields=["policy"])
    user = make_user(agency, "gendersupporter", "supporter")
    profile = SupporterProfile.objects.create(agency=agency, user=user,
                                              affiliation=vocab.Affiliation.choices[0][0])
    for (month, gender), n in plan.items():
        for k in range(n):
            closed = _at(date(2026, month, 1 + k % 20), 14)
            UsageRecord.objects.create(
                agency=agency, supporter=profile, started_at=closed - timedelta(hours=1),
                closed_at=closed, outcome="closed", channel="self_request", urgency="today",
                topic="", gender=gender, services=[], referral_types=[],
                seconds_to_ack=120, seconds_to_contact=1800)


def _gender_rows(agency: Any, first: int, last: int) -> dict[str, Any]:
    from tandem.reports.services import month_end, report_build
    from tandem.reports.statistics import Period

    period = Period(date(2026, first, 1), month_end(date(2026, last, 1)))
    with time_machine.travel(TODAY, tick=False):
        content, _ = report_build(agency=agency, report="peer-support", period=period)
    table = next(t for t in content["sections"][0]["tables"] if t["name"] == "usage_gender")
    return {row[0]: row[1] for row in table["rows"]}


def test_monthly_reports_and_a_quarter_do_not_give_away_a_withheld_month(agency: Any) -> None:
    """Review finding 1: January [M 10, F 6], February [12, 7] and March [—, —] (9 and 2)
    are published month by month; Jan–Mar would show women 15, and 15 − 6 − 7 = 2 women in
    March. Every pairwise difference (15 − 6, 15 − 7) is large: only the three together
    give March away."""
    _gender_usage(agency, {(1, "male"): 10, (1, "female"): 6, (2, "male"): 12,
                           (2, "female"): 7, (3, "male"): 9, (3, "female"): 2})
    assert _gender_rows(agency, 1, 1)["Female"] == 6
    assert _gender_rows(agency, 2, 2)["Female"] == 7
    march = _gender_rows(agency, 3, 3)
    assert (march["Female"], march["Male"], march["Total"]) == (SUPPRESSED, SUPPRESSED, 11)
    quarter = _gender_rows(agency, 1, 3)
    assert quarter["Female"] == SUPPRESSED
    assert quarter["Male"] == SUPPRESSED  # 46 − 31 would tell the women's 15 again
    assert quarter["Total"] == 46  # the months' totals are public anyway


def test_periods_that_add_up_do_not_give_away_the_month_left_over(agency: Any) -> None:
    """Review finding 1, second case: February (10, 10) and March–April (10, 10) are
    published; Jan–Apr (22, 20) would tell 22 − 10 − 10 = 2 men in January."""
    _gender_usage(agency, {(1, "male"): 2, (2, "male"): 10, (2, "female"): 10,
                           (3, "male"): 5, (3, "female"): 5, (4, "male"): 5,
                           (4, "female"): 5})
    assert _gender_rows(agency, 2, 2)["Male"] == 10
    assert _gender_rows(agency, 3, 4)["Male"] == 10
    whole = _gender_rows(agency, 1, 4)
    assert whole["Male"] == SUPPRESSED
    assert whole["Total"] == SUPPRESSED  # 42 − 20 − 20 = 2 as well


def test_a_nested_period_does_not_narrow_a_month_to_a_few_values(agency: Any) -> None:
    """Review finding 2: Jan–Apr shows female 12, male 30, non-binary 50 (92). Jan–Mar
    would show [—, —, 40 | 80]: female + male = 40 with male ≤ 30 puts Jan–Mar women in
    10 … 12, so April's women (truly 2) in 0 … 2. Every value of April's women that fits
    everything published must leave at least the threshold of possibilities."""
    _gender_usage(agency, {(1, "female"): 10, (1, "male"): 30, (1, "non_binary"): 40,
                           (4, "female"): 2, (4, "non_binary"): 10})
    year = _gender_rows(agency, 1, 4)
    assert (year["Female"], year["Male"], year["Non-binary"], year["Total"]) == (12, 30, 50, 92)
    quarter = _gender_rows(agency, 1, 3)
    shown = {g: quarter[g] for g in ("Female", "Male", "Non-binary", "Total")}
    april_women = set()
    for f, m, nb in itertools.product(range(13), range(31), range(51)):
        guess = {"Female": f, "Male": m, "Non-binary": nb, "Total": f + m + nb}
        if all(v == SUPPRESSED or guess[g] == v for g, v in shown.items()):
            april_women.add(12 - f)
    assert len(april_women) >= 5, sorted(april_women)


def test_staff_compliance_is_counted_at_the_end_of_the_period(
    agency: Any, recovery_data: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review finding 5: an annual evaluation counts training compliance as it stood at
    the end of the period, not on the day someone opens the report."""
    from tandem.readiness import compliance
    from tandem.reports.services import report_build
    from tandem.reports.statistics import Period

    asked: list[Any] = []
    real = compliance.compliance_summary

    def spy(agency: Any, at: Any = None) -> dict[str, int]:
        asked.append(at)
        return real(agency, at)

    monkeypatch.setattr(compliance, "compliance_summary", spy)
    with time_machine.travel(TODAY, tick=False):
        report_build(agency=agency, report="recovery",
                     period=Period(date(2026, 1, 1), date(2026, 3, 31)))
    (at,) = asked
    assert at is not None
    assert timezone_localdate(at) == date(2026, 3, 31)


def timezone_localdate(at: Any) -> date:
    from django.utils import timezone

    return timezone.localdate(at)


def _log_hours(agency: Any, people: int, day: date, hours: str, tag: str,
               users: list[Any] | None = None) -> list[Any]:
    from decimal import Decimal

    from tandem.readiness.services import time_entry_add

    users = users or [make_user(agency, f"hours{tag}{n}", "supporter") for n in range(people)]
    for n, user in enumerate(users[:people]):
        with time_machine.travel(_at(day + timedelta(days=1)), tick=False):
            time_entry_add(acting_user=user, worked_on=day, hours=Decimal(hours),
                           idempotency_key=f"hours-{tag}-{n}")
    return users


def _hours_section(agency: Any, first: int, last: int) -> dict[str, Any]:
    from tandem.reports.services import month_end, report_build
    from tandem.reports.statistics import Period

    period = Period(date(2026, first, 1), month_end(date(2026, last, 1)))
    with time_machine.travel(TODAY, tick=False):
        content, _ = report_build(agency=agency, report="peer-support", period=period)
    return next(s for s in content["sections"] if s["title"] == "Supporter hours")


def test_supporter_hours_list_every_activity_of_the_policy(agency: Any,
                                                          usage_data: Any) -> None:
    """Review finding 6: the rows do not depend on who logged what (a withheld row would
    still say someone did that activity)."""
    code = agency.policy_model().training.hours_activity_code
    label = code.replace("_", " ").capitalize()
    empty = _hours_section(agency, 1, 1)
    assert [row[0] for row in empty["tables"][0]["rows"]][:-1] == [label, "Other activity"]
    _log_hours(agency, 6, date(2026, 2, 10), "2.5", "a")
    logged = _hours_section(agency, 2, 2)
    assert [row[0] for row in logged["tables"][0]["rows"]][:-1] == [label, "Other activity"]
    assert [f[0] for f in logged["figures"]] == [f"Hours — {label}", "Hours — Other activity"]


def test_supporter_hours_go_through_the_release_log(agency: Any, usage_data: Any) -> None:
    """Review finding 6: six supporters log 2.5 hours in February (15.0 shown); one of
    them logs an hour in March. Feb–Mar would show 16.0: one person's March hours."""
    team = _log_hours(agency, 6, date(2026, 2, 10), "2.5", "a")
    _log_hours(agency, 1, date(2026, 3, 10), "1.0", "b", users=team)
    february = _hours_section(agency, 2, 2)
    assert february["figures"][0][1] == "15.0"
    both = _hours_section(agency, 2, 3)
    assert both["tables"][0]["rows"][0][1] == 6  # the same six supporters: a safe count
    assert both["figures"][0][1] == SUPPRESSED


def test_noise_is_scaled_by_each_tables_sensitivity_and_every_draw_is_charged() -> None:
    """Review finding 4: a contact counts in several rows of a multiple-response table, so
    one contact changes that table's cells by up to the number of rows; the total of such
    a table is a draw of its own, charged to the same epsilon."""
    from tandem.reports.disclosure import noise_plan

    plain = column([10, 20])
    services = Table(name="s", title="s", measure="s", row_dim="r",
                     rows=[("a", "A"), ("b", "B"), ("c", "C")], counts=[[4], [9], [7]],
                     additive=False, total=12)
    plan = noise_plan([plain, services], epsilon=1.5)
    share = 1.5 / 3  # three draws: the plain table, the services rows, the services total
    assert plan["t"] == (pytest.approx(1 / share), None)
    assert plan["s"] == (pytest.approx(3 / share), pytest.approx(1 / share))
    assert plan.charged == pytest.approx(1.5)


def test_sums_of_quantities_are_not_offered_with_noise(
    cast: dict[str, Any], recovery_data: Any
) -> None:
    """Review finding 4: naloxone kits, people reached and members affected are sums with
    no bound on one record's share; noise of scale 1 would not hide one large record, so
    they are left out of figures for outside publication (and say so)."""
    chief = sign_in(Client(), cast["chief"])
    response = report_get(chief, "recovery", "2026-01", "2026-03", audience="public",
                          epsilon="1.0")
    content = response.context["content"]
    names = {t["name"] for s in content["sections"] for t in s["tables"]}
    assert "kits" not in names
    assert "outreach_people" not in names
    assert "overdoses" in names
    assert any("not published outside" in n for s in content["sections"] for n in s["notes"])


def test_a_running_privacy_budget_refuses_releases_past_it(
    cast: dict[str, Any], recovery_data: Any, settings: Any
) -> None:
    """Review finding 4: every noisy release spends its epsilon for good; once an
    agency's releases add up to its budget, further ones are refused."""
    from tandem.reports.models import Release

    settings.TANDEM_REPORTS_EPSILON_BUDGET = 1.5
    chief = sign_in(Client(), cast["chief"])
    first = report_get(chief, "recovery", "2026-01", "2026-03", audience="public",
                       epsilon="1.0")
    assert first.context["content"]["audience"] == "public"
    refused = report_get(chief, "recovery", "2026-01", "2026-02", audience="public",
                         epsilon="1.0")
    assert refused.status_code == 400
    assert "privacy budget" in refused.content.decode()
    assert "0.5" in refused.content.decode()  # what is left
    assert Release.objects.filter(audience="public").count() == 1
    # The same release asked again spends nothing: it is the stored one.
    again = report_get(chief, "recovery", "2026-01", "2026-03", audience="public",
                       epsilon="1.0")
    assert again.status_code == 200
    smaller = report_get(chief, "recovery", "2026-01", "2026-02", audience="public",
                         epsilon="0.5")
    assert smaller.status_code == 200


@settings(max_examples=150, deadline=None)
@given(figures=st.lists(
    st.tuples(st.integers(0, 5), st.integers(1, 4), st.integers(0, 30)).map(
        lambda f: (f[0], f[0] + f[1], f[2])), max_size=8))
def test_the_fast_log_build_agrees_with_adding_one_figure_at_a_time(
    figures: list[tuple[int, int, int]]
) -> None:
    """The release log's constraints are built by collapsing equal breakpoints; the bounds
    it gives for every stretch of months are the ones of adding each figure in turn (and
    leaving out those that contradict newer ones)."""
    from tandem.reports.disclosure import _log_system_one_by_one, log_system

    fast, slow = log_system(figures, (0, 9)), _log_system_one_by_one(figures, (0, 9))
    assert fast.published == slow.published
    for s, t in itertools.combinations(fast.nodes, 2):
        assert fast.bounds((s, t)) == slow.bounds((s, t)), (s, t)


def test_officer_hours_freed_go_through_the_release_log(
    agency: Any, recovery_data: Any
) -> None:
    """Like supporter hours: Jan–Feb's officer hours and then Jan–Mar's would tell
    March's co-response hours, a stretch never shown on its own."""
    from tandem.reports.services import report_build
    from tandem.reports.statistics import Period

    def freed(end: date) -> str:
        with time_machine.travel(TODAY, tick=False):
            content, _ = report_build(agency=agency, report="recovery",
                                      period=Period(date(2026, 1, 1), end))
        figures = dict(content["sections"][0]["figures"])
        return str(figures["Officer hours freed by co-response"])

    assert freed(date(2026, 2, 28)) == "7.0"
    assert freed(date(2026, 3, 31)) == SUPPRESSED


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(longer=st.lists(st.integers(5, 14), min_size=3, max_size=3),
       april=st.lists(st.integers(0, 4), min_size=3, max_size=3))
def test_a_shorter_period_after_a_longer_one_leaves_every_month_wide(
    longer: list[int], april: list[int]
) -> None:
    """Jan–Apr is published whole (no small count), then Jan–Mar. Trying every Jan–Mar
    table that fits what both releases show, April's count of each row — and of the
    total — is either never small or left open over at least the threshold of values."""
    threshold = 5
    april = [min(a, v) for a, v in zip(april, longer, strict=True)]
    shorter = [v - a for v, a in zip(longer, april, strict=True)]
    (jan_apr,) = protect([column(longer)], threshold=threshold)
    assert not jan_apr.any_suppressed
    (jan_mar,) = protect([column(shorter)], threshold=threshold,
                         history=logged((jan_apr, JAN_APR)), span=JAN_MAR)
    shown = [jan_mar.values[("cell", i, 0)] for i in range(3)]
    total = jan_mar.values[TOTAL]
    possible: list[set[int]] = [set(), set(), set(), set()]
    for guess in itertools.product(*(range(v + 1) for v in longer)):
        if any(s is not None and s != g for s, g in zip(shown, guess, strict=True)):
            continue
        if total is not None and total != sum(guess):
            continue
        for i, g in enumerate(guess):
            possible[i].add(longer[i] - g)
        possible[3].add(sum(longer) - sum(guess))
    for values in possible:
        low, high = min(values), max(values)
        assert high - low >= threshold or low >= threshold or high == 0, (
            shown, total, sorted(values))
