"""Readiness, compliance rules: a pure function on frozen dates."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.accounts.models import User
from tandem.agencies.presets import load_preset
from tandem.readiness import compliance, services
from tandem.readiness.compliance import (
    AttendanceFact,
    CheckFact,
    DesignationFact,
    Facts,
    add_months,
    current_check,
    evaluate,
)
from tandem.readiness.gates import (
    has_cji_access,
)
from tests.readiness.support import CS, at, attend, ongoing, psp_facts

# ========================================================================================
# 3. Compliance rules — pure function, frozen dates
# ========================================================================================


def test_month_arithmetic_clamps_to_the_end_of_the_month() -> None:
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)


def test_a_trained_designated_supporter_is_compliant() -> None:
    status = evaluate(psp_facts(), CS, date(2026, 2, 1))
    assert status.level == "compliant", status.reasons
    assert status.peer_support
    assert status.reasons == []


def test_ongoing_training_is_due_by_the_end_of_the_next_calendar_quarter() -> None:
    # GO 702 .52: at least once per quarter. Trained 5 Jan (Q1) → may still train in Q2.
    facts = psp_facts()
    assert evaluate(facts, CS, date(2026, 4, 15)).level == "compliant"
    assert evaluate(facts, CS, date(2026, 5, 30)).level == "compliant"
    soon = evaluate(facts, CS, date(2026, 5, 31))
    assert soon.level == "due_soon"
    assert soon.peer_support
    assert any("ongoing training due by Tue, Jun 30, 2026" in r for r in soon.reasons)
    assert evaluate(facts, CS, date(2026, 6, 30)).level == "due_soon"
    late = evaluate(facts, CS, date(2026, 7, 1))
    assert late.level == "not_compliant"
    assert not late.peer_support
    assert any("overdue since Tue, Jun 30, 2026" in r for r in late.reasons)


def test_training_early_in_a_quarter_counts_for_the_whole_next_quarter() -> None:
    facts = psp_facts(ongoing(date(2026, 1, 2)), designated=date(2026, 1, 1))
    status = evaluate(facts, CS, date(2026, 4, 15))
    assert status.level == "compliant", status.reasons
    assert status.peer_support
    assert status.peer_support_lapses_on == date(2026, 7, 1)
    # A yearly cadence runs to the end of the next calendar year.
    yearly = load_preset("joplin")
    assert compliance.ongoing_due(date(2026, 2, 1), yearly.training.ongoing_cadence_months) == date(
        2027, 12, 31
    )
    # A cadence that does not divide the year stays a rolling window.
    assert compliance.ongoing_due(date(2026, 1, 31), 5) == date(2026, 6, 30)


def test_training_on_the_last_day_of_a_quarter_carries_to_the_last_day_of_the_next() -> None:
    facts = psp_facts(ongoing(date(2026, 9, 30)))
    assert evaluate(facts, CS, date(2026, 12, 31)).level == "due_soon"
    assert evaluate(facts, CS, date(2027, 1, 1)).level == "not_compliant"
    # …and attending an in-service session restores compliance (until the end of Q1).
    again = psp_facts(ongoing(date(2026, 9, 30)), ongoing(date(2027, 1, 2)))
    assert evaluate(again, CS, date(2027, 1, 2)).level == "compliant"
    assert evaluate(again, CS, date(2027, 6, 30)).level == "due_soon"


def test_second_unexcused_absence_in_a_year_flips_the_status_and_a_new_year_resets() -> None:
    one = psp_facts(ongoing(date(2026, 3, 1), "unexcused"), ongoing(date(2026, 3, 20)))
    assert evaluate(one, CS, date(2026, 4, 1)).level == "compliant"
    two = psp_facts(
        ongoing(date(2026, 3, 1), "unexcused"),
        ongoing(date(2026, 11, 20)),
        ongoing(date(2026, 12, 1), "unexcused"),
    )
    before = evaluate(two, CS, date(2026, 11, 30))
    assert before.level == "compliant"
    flipped = evaluate(two, CS, date(2026, 12, 1))
    assert flipped.level == "not_compliant"
    assert "2 unexcused absences from training in 2026 (at most 1 allowed)" in flipped.reasons
    assert evaluate(two, CS, date(2026, 12, 31)).level == "not_compliant"
    assert evaluate(two, CS, date(2027, 1, 1)).level == "compliant"


@settings(max_examples=60, deadline=None)
@given(
    absences=st.lists(
        st.dates(min_value=date(2026, 1, 6), max_value=date(2027, 12, 31)), max_size=5
    ),
    excused=st.lists(
        st.dates(min_value=date(2026, 1, 6), max_value=date(2027, 12, 31)), max_size=5
    ),
    day=st.dates(min_value=date(2026, 1, 6), max_value=date(2027, 12, 31)),
)
def test_the_absence_rule_counts_only_unexcused_absences_of_the_same_year_so_far(
    absences: list[date], excused: list[date], day: date
) -> None:
    # Monthly in-service keeps the cadence rule out of the way.
    monthly = [ongoing(add_months(date(2026, 1, 10), n)) for n in range(24)]
    facts = psp_facts(
        *monthly,
        *(ongoing(d, "unexcused") for d in absences),
        *(ongoing(d, "excused") for d in excused),
    )
    counted = sum(1 for d in absences if d.year == day.year and d <= day)
    status = evaluate(facts, CS, day)
    assert (status.level == "not_compliant") == (counted > CS.training.unexcused_absence_limit)


def test_excused_absences_do_not_count() -> None:
    facts = psp_facts(
        *(ongoing(date(2026, m, 2), "excused") for m in range(2, 6)), ongoing(date(2026, 4, 1))
    )
    assert evaluate(facts, CS, date(2026, 5, 10)).level == "compliant"


def test_initial_training_missing_a_topic_is_not_compliant() -> None:
    partial = AttendanceFact(
        date(2026, 1, 5), "initial", "psp", "present", tuple(CS.training.initial_topics[:-1])
    )
    facts = Facts(
        programs=frozenset({"psp"}),
        designations=(DesignationFact("psp", date(2026, 1, 5)),),
        attendance=(partial,),
        checks=(CheckFact(date(2026, 1, 2), "cleared", date(2028, 1, 2)),),
        signed=(("confidentiality", date(2026, 1, 3)),),
    )
    status = evaluate(facts, CS, date(2026, 2, 1))
    assert status.level == "not_compliant"
    assert any("1 topic missing: Grief and loss" in r for r in status.reasons)


def test_background_check_and_cjis_awareness_expire() -> None:
    wv = load_preset("west-virginia")  # CJIS awareness yearly
    facts = Facts(
        programs=frozenset({"prp"}),
        designations=(DesignationFact("prp", date(2026, 1, 5)),),
        attendance=(
            AttendanceFact(
                date(2026, 1, 4), "initial", "prp", "present", compliance.PRP_INITIAL_TOPICS
            ),
            AttendanceFact(date(2026, 1, 4), "cjis", "all", "present"),
            AttendanceFact(date(2026, 12, 1), "ongoing", "prp", "present"),
        ),
        checks=(CheckFact(date(2026, 1, 2), "cleared", date(2027, 3, 1)),),
    )
    assert evaluate(facts, wv, date(2026, 6, 1)).level == "compliant"
    assert evaluate(facts, wv, date(2026, 12, 20)).level == "due_soon"  # CJIS 4 Jan 2027
    cjis_late = evaluate(facts, wv, date(2027, 1, 5))
    assert cjis_late.level == "not_compliant"
    assert any("CJIS security awareness expired" in r for r in cjis_late.reasons)
    assert not cjis_late.cji
    assert current_check(facts, date(2027, 3, 1)) is not None  # good through its renewal date
    check_late = evaluate(facts, wv, date(2027, 3, 2))
    assert "No current fingerprint background check" in check_late.reasons


@pytest.mark.django_db
def test_a_pending_renewal_check_keeps_the_cleared_one_and_not_cleared_revokes(
    agency: Any, cast: dict[str, User]
) -> None:
    cleared = CheckFact(date(2026, 1, 2), "cleared", date(2027, 3, 1))
    pending = CheckFact(date(2027, 1, 15), "pending", date(2028, 1, 15))
    refused = CheckFact(date(2027, 2, 10), "not_cleared", date(2028, 2, 10))
    assert current_check(Facts(checks=(cleared, pending)), date(2027, 2, 1)) == cleared
    assert current_check(Facts(checks=(cleared, pending, refused)), date(2027, 2, 10)) is None
    # Through the service: the ARO keeps CJI access while the renewal is pending.
    aro, supervisor = cast["aro"], cast["crt_supervisor"]
    with time_machine.travel(at(2026, 3, 1), tick=False):
        services.check_record(
            acting_user=supervisor,
            user=aro,
            checked_on=date(2026, 2, 1),
            result="cleared",
            renewal_due=date(2027, 2, 1),
        )
        attend(agency, supervisor, aro, "cjis-awareness", at(2026, 2, 10, 9))
        assert has_cji_access(aro)
        services.check_record(
            acting_user=supervisor,
            user=aro,
            checked_on=date(2026, 2, 28),
            result="pending",
            renewal_due=date(2027, 2, 28),
        )
        assert has_cji_access(aro)
        services.check_record(
            acting_user=supervisor,
            user=aro,
            checked_on=date(2026, 3, 1),
            result="not_cleared",
            renewal_due=date(2027, 3, 1),
        )
        assert not has_cji_access(aro)


def test_statuses_are_computed_for_past_dates_from_history() -> None:
    facts = psp_facts(designated=date(2026, 1, 5), removed=date(2026, 6, 1))
    assert "psp" not in evaluate(facts, CS, date(2025, 12, 1)).designated
    assert evaluate(facts, CS, date(2026, 2, 1)).peer_support
    assert not evaluate(facts, CS, date(2026, 6, 2)).peer_support
