"""Reports, the release log, within and across many releases."""

from __future__ import annotations

import itertools
import re
from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tandem.reports.disclosure import (
    SUPPRESSED,
    TOTAL,
    Table,
    protect,
)
from tests.conftest import make_user, sign_in
from tests.reports.support import (
    JAN_APR,
    JAN_MAR,
    TODAY,
    _at,
    closed_usage,
    column,
    logged,
    report_get,
)

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


def test_release_log_holds_counts_only(agency: Any, cast: dict[str, Any], usage_data: Any) -> None:
    from tandem.reports.models import Release

    report_get(sign_in(Client(), cast["coordinator"]), "peer-support", "2026-01", "2026-01")
    release = Release.objects.get(agency=agency)
    assert all(isinstance(v, int) and not 1 <= v < 5 for v in release.cells.values())
    assert all(re.fullmatch(r"[a-z_@]+(\|[a-z_]+=[a-z0-9_]*)*", k) for k in release.cells)


# --- the release log across many releases (review findings) --------------------------------


def _gender_usage(agency: Any, plan: dict[tuple[int, str], int]) -> None:
    """Usage records by month and gender (the only field this agency collects)."""
    from tandem.support import vocab
    from tandem.support.models import SupporterProfile

    agency.policy["usage_form"]["fields"] = ["gender"]
    agency.save(update_fields=["policy"])
    user = make_user(agency, "gendersupporter", "supporter")
    profile = SupporterProfile.objects.create(
        agency=agency, user=user, affiliation=vocab.Affiliation.choices[0][0]
    )
    for (month, gender), n in plan.items():
        for k in range(n):
            closed_usage(
                profile, month, k, topic="", gender=gender, services=[], seconds_to_ack=120
            )


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
    _gender_usage(
        agency,
        {
            (1, "male"): 10,
            (1, "female"): 6,
            (2, "male"): 12,
            (2, "female"): 7,
            (3, "male"): 9,
            (3, "female"): 2,
        },
    )
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
    _gender_usage(
        agency,
        {
            (1, "male"): 2,
            (2, "male"): 10,
            (2, "female"): 10,
            (3, "male"): 5,
            (3, "female"): 5,
            (4, "male"): 5,
            (4, "female"): 5,
        },
    )
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
    _gender_usage(
        agency,
        {
            (1, "female"): 10,
            (1, "male"): 30,
            (1, "non_binary"): 40,
            (4, "female"): 2,
            (4, "non_binary"): 10,
        },
    )
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
        report_build(
            agency=agency, report="recovery", period=Period(date(2026, 1, 1), date(2026, 3, 31))
        )
    (at,) = asked
    assert at is not None
    assert timezone_localdate(at) == date(2026, 3, 31)


def timezone_localdate(at: Any) -> date:
    from django.utils import timezone

    return timezone.localdate(at)


def _log_hours(
    agency: Any, people: int, day: date, hours: str, tag: str, users: list[Any] | None = None
) -> list[Any]:
    from decimal import Decimal

    from tandem.readiness.services import time_entry_add

    users = users or [make_user(agency, f"hours{tag}{n}", "supporter") for n in range(people)]
    for n, user in enumerate(users[:people]):
        with time_machine.travel(_at(day + timedelta(days=1)), tick=False):
            time_entry_add(
                acting_user=user,
                worked_on=day,
                hours=Decimal(hours),
                idempotency_key=f"hours-{tag}-{n}",
            )
    return users


def _hours_section(agency: Any, first: int, last: int) -> dict[str, Any]:
    from tandem.reports.services import month_end, report_build
    from tandem.reports.statistics import Period

    period = Period(date(2026, first, 1), month_end(date(2026, last, 1)))
    with time_machine.travel(TODAY, tick=False):
        content, _ = report_build(agency=agency, report="peer-support", period=period)
    return next(s for s in content["sections"] if s["title"] == "Supporter hours")


def test_supporter_hours_list_every_activity_of_the_policy(agency: Any, usage_data: Any) -> None:
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
    services = Table(
        name="s",
        title="s",
        measure="s",
        row_dim="r",
        rows=[("a", "A"), ("b", "B"), ("c", "C")],
        counts=[[4], [9], [7]],
        additive=False,
        total=12,
    )
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
    response = report_get(chief, "recovery", "2026-01", "2026-03", audience="public", epsilon="1.0")
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
    first = report_get(chief, "recovery", "2026-01", "2026-03", audience="public", epsilon="1.0")
    assert first.context["content"]["audience"] == "public"
    refused = report_get(chief, "recovery", "2026-01", "2026-02", audience="public", epsilon="1.0")
    assert refused.status_code == 400
    assert "privacy budget" in refused.content.decode()
    assert "0.5" in refused.content.decode()  # what is left
    assert Release.objects.filter(audience="public").count() == 1
    # The same release asked again spends nothing: it is the stored one.
    again = report_get(chief, "recovery", "2026-01", "2026-03", audience="public", epsilon="1.0")
    assert again.status_code == 200
    smaller = report_get(chief, "recovery", "2026-01", "2026-02", audience="public", epsilon="0.5")
    assert smaller.status_code == 200


@settings(max_examples=150, deadline=None)
@given(
    figures=st.lists(
        st.tuples(st.integers(0, 5), st.integers(1, 4), st.integers(0, 30)).map(
            lambda f: (f[0], f[0] + f[1], f[2])
        ),
        max_size=8,
    )
)
def test_the_fast_log_build_agrees_with_adding_one_figure_at_a_time(
    figures: list[tuple[int, int, int]],
) -> None:
    """The release log's constraints are built by collapsing equal breakpoints; the bounds
    it gives for every stretch of months are the ones of adding each figure in turn (and
    leaving out those that contradict newer ones)."""
    from tandem.reports.disclosure import _log_system_one_by_one, log_system

    fast, slow = log_system(figures, (0, 9)), _log_system_one_by_one(figures, (0, 9))
    assert fast.published == slow.published
    for s, t in itertools.combinations(fast.nodes, 2):
        assert fast.bounds((s, t)) == slow.bounds((s, t)), (s, t)


def test_officer_hours_freed_go_through_the_release_log(agency: Any, recovery_data: Any) -> None:
    """Like supporter hours: Jan–Feb's officer hours and then Jan–Mar's would tell
    March's co-response hours, a stretch never shown on its own."""
    from tandem.reports.services import report_build
    from tandem.reports.statistics import Period

    def freed(end: date) -> str:
        with time_machine.travel(TODAY, tick=False):
            content, _ = report_build(
                agency=agency, report="recovery", period=Period(date(2026, 1, 1), end)
            )
        figures = dict(content["sections"][0]["figures"])
        return str(figures["Officer hours freed by co-response"])

    assert freed(date(2026, 2, 28)) == "7.0"
    assert freed(date(2026, 3, 31)) == SUPPRESSED


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    longer=st.lists(st.integers(5, 14), min_size=3, max_size=3),
    april=st.lists(st.integers(0, 4), min_size=3, max_size=3),
)
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
    (jan_mar,) = protect(
        [column(shorter)], threshold=threshold, history=logged((jan_apr, JAN_APR)), span=JAN_MAR
    )
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
            shown,
            total,
            sorted(values),
        )
