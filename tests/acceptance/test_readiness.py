"""Team readiness (issue 4): selection, training and attendance rules, agreements,
certification, clearances, hours worked, privilege eligibility, calendar — and the gates
that keep only ready people on the peer-support roster and away from criminal justice
information they may not see.

Sections follow the issue's numbered list. Clocks are frozen with time-machine wherever a
date matters, across quarter and calendar-year boundaries.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from tandem.accounts.models import User
from tandem.agencies.presets import load_preset
from tandem.audit.models import AuditEvent
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
    is_peer_support_ready,
    peer_support_ready_users,
)
from tandem.readiness.models import (
    Application,
    ApplicationStatus,
    Attendance,
    Course,
    Designation,
    Gate,
    Signature,
    TimeEntry,
    TrainingSession,
)
from tests.authz import check_no_session, check_row, make_world
from tests.authz_readiness import ROWS, build_world
from tests.conftest import PASSWORD, make_user, sign_in
from tests.helpers import code_for

TZ = ZoneInfo("America/New_York")
CS = load_preset("colorado-springs")


def at(y: int, m: int, d: int, hour: int = 12) -> datetime:
    return datetime(y, m, d, hour, tzinfo=TZ)


def held_session(agency: Any, code: str, when: datetime) -> TrainingSession:
    """A session that already took place. (Scheduling refuses the past — tested below —
    so history is laid down directly, then attendance goes through the real service.)"""
    services.catalogue_seed(agency=agency)
    course = Course.objects.get(agency=agency, code=code)
    session, _ = TrainingSession.objects.get_or_create(
        course=course, starts_at=when, defaults={
            "agency": agency, "ends_at": when + timedelta(hours=2), "place": "Academy",
            "instructor": "Dr. Lane", "capacity": 30})
    return session


def attend(agency: Any, coordinator: User, user: User, code: str, when: datetime,
           status: str = "present") -> Attendance:
    session = held_session(agency, code, when)
    return services.attendance_mark(acting_user=coordinator, session=session, user=user,
                                    status=status)


def sign(user: User, kind: str, offset_steps: int = 0) -> Signature:
    from tandem.readiness.models import AgreementDocument

    document = AgreementDocument.objects.filter(agency_id=user.agency_id, kind=kind).order_by(
        "-version").first()
    if document is None:
        coordinator = User.objects.filter(agency_id=user.agency_id,
                                          role_assignments__role="coordinator").first()
        document = services.agreement_publish(
            acting_user=coordinator, kind=kind, title=f"{kind.title()} agreement",
            body="I will keep what I learn in confidence within the limits of the policy.")
    return services.agreement_sign(acting_user=user, document=document,
                                   typed_name=user.get_full_name(), password=PASSWORD,
                                   code=code_for(user, offset_steps))


def make_ready(agency: Any, cast: dict[str, User], user: User, *, trained: datetime,
               designate: bool = True) -> None:
    """Initial training, a cleared check, the confidentiality agreement and designation."""
    coordinator = cast["coordinator"]
    attend(agency, coordinator, user, "psp-initial", trained)
    services.check_record(acting_user=coordinator, user=user,
                          checked_on=timezone.localdate(trained),
                          result="cleared", renewal_due=timezone.localdate(trained)
                          + timedelta(days=730))
    sign(user, "confidentiality")
    if designate:
        services.designation_grant(acting_user=cast["chief"], user=user, program="psp",
                                   designated_on=timezone.localdate(trained))


def psp_facts(*extra: AttendanceFact, designated: date = date(2026, 1, 5),
              removed: date | None = None) -> Facts:
    initial = AttendanceFact(designated, "initial", "psp", "present",
                             tuple(CS.training.initial_topics))
    return Facts(
        programs=frozenset({"psp"}),
        designations=(DesignationFact("psp", designated, removed),),
        attendance=(initial, *extra),
        checks=(CheckFact(date(2026, 1, 2), "cleared", date(2028, 1, 2)),),
        signed=(("confidentiality", date(2026, 1, 3)),),
    )


def ongoing(day: date, status: str = "present") -> AttendanceFact:
    return AttendanceFact(day, "ongoing", "psp", status)


# ========================================================================================
# Authorization of every URL
# ========================================================================================


@pytest.mark.parametrize("row", ROWS, ids=[r.url_name for r in ROWS])
def test_every_readiness_url_answers_only_the_roles_allowed(
    row: Any, agency: Any, cast: dict[str, User], stranger: User
) -> None:
    check_row(row, make_world(agency, cast, [build_world]), stranger)


@pytest.mark.parametrize("row", ROWS, ids=[r.url_name for r in ROWS])
def test_every_readiness_url_needs_a_verified_session(
    row: Any, agency: Any, cast: dict[str, User]
) -> None:
    check_no_session(row, make_world(agency, cast, [build_world]))


def test_the_calendar_feed_is_the_only_public_readiness_page(
    agency: Any, cast: dict[str, User]
) -> None:
    from tests.authz import all_url_names

    names = {name for name, _ in all_url_names() if name.startswith("readiness:")}
    assert names == {r.url_name for r in ROWS} | {"readiness:feed"}


@pytest.mark.django_db
def test_people_pages_reach_only_team_members_and_applicants_in_the_readers_scope(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    coordinator = signed_in(cast["coordinator"])
    supervisor = signed_in(cast["crt_supervisor"])

    def person(client: Client, user: User) -> int:
        return int(client.get(reverse("readiness:person", args=[user.pk])).status_code)

    assert person(coordinator, cast["supporter"]) == 200
    assert person(coordinator, cast["prs"]) == 200
    assert person(coordinator, cast["dispatcher"]) == 404  # not on a team, never applied
    assert person(coordinator, cast["member"]) == 404
    vacancy = services.vacancy_create(acting_user=cast["coordinator"], program="psp",
                                      title="Peer supporter")
    services.application_submit(acting_user=cast["member"], vacancy=vacancy, letter="Hello")
    assert person(coordinator, cast["member"]) == 200  # an applicant
    # The peer recovery supervisor oversees peer recovery people only.
    assert person(supervisor, cast["prs"]) == 200
    assert person(supervisor, cast["aro"]) == 200
    assert person(supervisor, cast["supporter"]) == 404
    refused = supervisor.post(reverse("readiness:check_add", args=[cast["supporter"].pk]), {
        "checked_on": "2026-01-02", "result": "cleared", "renewal_due": "2028-01-02"})
    assert refused.status_code == 404
    page = supervisor.get(reverse("readiness:team")).content
    assert b"Supporter Tester" not in page
    assert cast["prs"].get_full_name().encode() in page
    assert supervisor.get(reverse("readiness:time_export")).status_code == 404
    session = held_session(agency, "psp-ongoing", timezone.now() - timedelta(days=1))
    supervisor.post(reverse("readiness:session", args=[session.pk]),
                    {"user": cast["supporter"].pk, "status": "unexcused"})
    assert not Attendance.objects.filter(user=cast["supporter"]).exists()
    roster = supervisor.get(reverse("readiness:session", args=[session.pk])).content
    assert cast["supporter"].get_full_name().encode() not in roster
    # Only the peer recovery supervisor signs off a PRS's certification hours.
    log = services.hours_log(acting_user=cast["prs"], kind="experience",
                             worked_on=timezone.localdate(), hours=Decimal("2"),
                             idempotency_key="scope")
    for role in ("coordinator", "psychologist"):
        with pytest.raises(ValidationError):
            services.hours_sign_off(acting_user=cast[role], log=log)


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
    assert compliance.ongoing_due(date(2026, 2, 1), yearly.training.ongoing_cadence_months) \
        == date(2027, 12, 31)
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
    two = psp_facts(ongoing(date(2026, 3, 1), "unexcused"), ongoing(date(2026, 11, 20)),
                    ongoing(date(2026, 12, 1), "unexcused"))
    before = evaluate(two, CS, date(2026, 11, 30))
    assert before.level == "compliant"
    flipped = evaluate(two, CS, date(2026, 12, 1))
    assert flipped.level == "not_compliant"
    assert "2 unexcused absences from training in 2026 (at most 1 allowed)" in flipped.reasons
    assert evaluate(two, CS, date(2026, 12, 31)).level == "not_compliant"
    assert evaluate(two, CS, date(2027, 1, 1)).level == "compliant"


@settings(max_examples=60, deadline=None)
@given(
    absences=st.lists(st.dates(min_value=date(2026, 1, 6), max_value=date(2027, 12, 31)),
                      max_size=5),
    excused=st.lists(st.dates(min_value=date(2026, 1, 6), max_value=date(2027, 12, 31)),
                     max_size=5),
    day=st.dates(min_value=date(2026, 1, 6), max_value=date(2027, 12, 31)),
)
def test_the_absence_rule_counts_only_unexcused_absences_of_the_same_year_so_far(
    absences: list[date], excused: list[date], day: date
) -> None:
    # Monthly in-service keeps the cadence rule out of the way.
    monthly = [ongoing(add_months(date(2026, 1, 10), n)) for n in range(24)]
    facts = psp_facts(*monthly, *(ongoing(d, "unexcused") for d in absences),
                      *(ongoing(d, "excused") for d in excused))
    counted = sum(1 for d in absences if d.year == day.year and d <= day)
    status = evaluate(facts, CS, day)
    assert (status.level == "not_compliant") == (counted > CS.training.unexcused_absence_limit)


def test_excused_absences_do_not_count() -> None:
    facts = psp_facts(*(ongoing(date(2026, m, 2), "excused") for m in range(2, 6)),
                      ongoing(date(2026, 4, 1)))
    assert evaluate(facts, CS, date(2026, 5, 10)).level == "compliant"


def test_initial_training_missing_a_topic_is_not_compliant() -> None:
    partial = AttendanceFact(date(2026, 1, 5), "initial", "psp", "present",
                             tuple(CS.training.initial_topics[:-1]))
    facts = Facts(programs=frozenset({"psp"}),
                  designations=(DesignationFact("psp", date(2026, 1, 5)),),
                  attendance=(partial,),
                  checks=(CheckFact(date(2026, 1, 2), "cleared", date(2028, 1, 2)),),
                  signed=(("confidentiality", date(2026, 1, 3)),))
    status = evaluate(facts, CS, date(2026, 2, 1))
    assert status.level == "not_compliant"
    assert any("1 topic missing: Grief and loss" in r for r in status.reasons)


def test_background_check_and_cjis_awareness_expire() -> None:
    wv = load_preset("west-virginia")  # CJIS awareness yearly
    facts = Facts(
        programs=frozenset({"prp"}),
        designations=(DesignationFact("prp", date(2026, 1, 5)),),
        attendance=(
            AttendanceFact(date(2026, 1, 4), "initial", "prp", "present",
                           compliance.PRP_INITIAL_TOPICS),
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
        services.check_record(acting_user=supervisor, user=aro, checked_on=date(2026, 2, 1),
                              result="cleared", renewal_due=date(2027, 2, 1))
        attend(agency, supervisor, aro, "cjis-awareness", at(2026, 2, 10, 9))
        assert has_cji_access(aro)
        services.check_record(acting_user=supervisor, user=aro, checked_on=date(2026, 2, 28),
                              result="pending", renewal_due=date(2027, 2, 28))
        assert has_cji_access(aro)
        services.check_record(acting_user=supervisor, user=aro, checked_on=date(2026, 3, 1),
                              result="not_cleared", renewal_due=date(2027, 3, 1))
        assert not has_cji_access(aro)


def test_statuses_are_computed_for_past_dates_from_history() -> None:
    facts = psp_facts(designated=date(2026, 1, 5), removed=date(2026, 6, 1))
    assert "psp" not in evaluate(facts, CS, date(2025, 12, 1)).designated
    assert evaluate(facts, CS, date(2026, 2, 1)).peer_support
    assert not evaluate(facts, CS, date(2026, 6, 2)).peer_support


# ========================================================================================
# 4. Gates: immediate, audited, and read by the other programs
# ========================================================================================


@pytest.mark.django_db
def test_a_supporter_who_becomes_non_compliant_leaves_the_on_call_list_at_once(
    agency: Any, cast: dict[str, User]
) -> None:
    supporter, coordinator = cast["supporter"], cast["coordinator"]
    with time_machine.travel(at(2026, 2, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9))
        assert list(peer_support_ready_users(agency)) == [supporter]
        attend(agency, coordinator, supporter, "monthly-meeting", at(2026, 1, 20, 9),
               "unexcused")
        assert is_peer_support_ready(supporter)  # one is allowed
        before = AuditEvent.objects.filter(action="readiness.gate_changed").count()
        attend(agency, coordinator, supporter, "psp-ongoing", at(2026, 2, 3, 9), "unexcused")
        assert supporter not in peer_support_ready_users(agency)
        assert not is_peer_support_ready(supporter)
        event = AuditEvent.objects.filter(action="readiness.gate_changed").last()
        assert AuditEvent.objects.filter(action="readiness.gate_changed").count() == before + 1
        assert event is not None
        assert event.detail["was_peer_support"] is True
        assert event.detail["peer_support"] is False
        assert event.detail["cause"] == "attendance"
        gate = Gate.objects.get(user=supporter)
        assert any("unexcused absences" in r for r in gate.reasons)
    # A new year resets the count: the daily job reopens the gate.
    with time_machine.travel(at(2027, 1, 2), tick=False):
        attend(agency, coordinator, supporter, "psp-ongoing", at(2027, 1, 1, 9))
        services.recompute_everyone()
        assert is_peer_support_ready(supporter)


def test_daily_jobs_recompute_gates_and_send_reminders() -> None:
    from tandem.core.jobs import PERIODIC

    paths = {path: interval for interval, path in PERIODIC}
    assert paths["tandem.readiness.services.recompute_everyone"] == timedelta(days=1)
    assert paths["tandem.readiness.services.reminders_send"] == timedelta(days=1)


@pytest.mark.django_db
def test_the_gate_lapses_at_the_due_moment_even_before_the_daily_job(
    agency: Any, cast: dict[str, User]
) -> None:
    supporter = cast["supporter"]
    with time_machine.travel(at(2026, 1, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9))
        gate = Gate.objects.get(user=supporter)
        assert gate.peer_support
        assert timezone.localtime(gate.peer_support_until) == at(2026, 7, 1, 0)
        assert is_peer_support_ready(supporter, at(2026, 6, 30, 23))
        assert not is_peer_support_ready(supporter, at(2026, 7, 1, 0))
        assert supporter not in peer_support_ready_users(agency, at(2026, 7, 1, 1))


@pytest.mark.django_db
def test_designation_is_needed_for_the_roster_and_removal_closes_the_gate(
    agency: Any, cast: dict[str, User]
) -> None:
    supporter = cast["supporter"]
    with time_machine.travel(at(2026, 1, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9), designate=False)
        assert not is_peer_support_ready(supporter)
        assert "Peer support: not officially designated by the Chief" in \
            compliance.status_for(supporter).reasons
        designation = services.designation_grant(acting_user=cast["chief"], user=supporter,
                                                 program="psp")
        assert is_peer_support_ready(supporter)
        services.designation_remove(acting_user=cast["coordinator"], designation=designation,
                                    reason="breach")
        assert not is_peer_support_ready(supporter)
        designation.refresh_from_db()
        assert designation.removal_reason == "breach"
        assert designation.removed_by == cast["coordinator"]
        with pytest.raises(ValidationError, match="already removed"):
            services.designation_remove(acting_user=cast["chief"], designation=designation,
                                        reason="other")


@pytest.mark.django_db
def test_cji_gate_needs_check_cjis_awareness_and_nda_and_access_needs_sworn(
    agency: Any, cast: dict[str, User]
) -> None:
    aro, prs, coordinator = cast["aro"], cast["prs"], cast["crt_supervisor"]
    with time_machine.travel(at(2026, 3, 1), tick=False):
        for person in (aro, prs):
            services.check_record(acting_user=coordinator, user=person,
                                  checked_on=date(2026, 2, 1), result="cleared",
                                  renewal_due=date(2027, 2, 1))
        assert not has_cji_access(aro)  # no CJIS awareness yet
        for person in (aro, prs):
            attend(agency, coordinator, person, "cjis-awareness", at(2026, 2, 10, 9))
        assert has_cji_access(aro)
        assert not Gate.objects.get(user=prs).cji  # the PRS has not signed the NDA
        sign(prs, "nda")
        assert Gate.objects.get(user=prs).cji
        assert not has_cji_access(prs)  # a civilian never passes
        gate = Gate.objects.get(user=aro)
        assert timezone.localdate(gate.cji_until) == date(2027, 2, 2)
    with time_machine.travel(at(2027, 2, 1, 20), tick=False):
        assert has_cji_access(aro)  # good through its renewal date
    with time_machine.travel(at(2027, 2, 2, 8), tick=False):
        assert not has_cji_access(aro)  # the check lapsed at midnight


# ========================================================================================
# 1. Selection
# ========================================================================================


@pytest.mark.django_db
def test_selection_from_vacancy_to_designation_follows_the_policy(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    coordinator, chief, psychologist = cast["coordinator"], cast["chief"], cast["psychologist"]
    applicant = cast["member"]
    with time_machine.travel(at(2026, 2, 1), tick=False):
        vacancy = services.vacancy_create(acting_user=coordinator, program="psp",
                                          title="Peer supporter")
        # Every member sees it.
        page = signed_in(cast["nobody"]).get(reverse("readiness:vacancies"))
        assert b"Peer supporter" in page.content
        client = signed_in(applicant)
        response = client.post(reverse("readiness:apply", args=[vacancy.pk]),
                               {"letter": "I have ten years on patrol and want to help."})
        application = Application.objects.get(applicant=applicant)
        assert response.status_code == 302
        client.post(reverse("readiness:apply", args=[vacancy.pk]), {"letter": "Again"})
        assert Application.objects.filter(applicant=applicant).count() == 1  # double submit
        page = client.get(reverse("readiness:application", args=[application.pk]))
        assert b"Received, waiting for the interview" in page.content

        services.application_interview(acting_user=psychologist, application=application,
                                       outcome="recommended", interviewed_on=date(2026, 2, 1))
        application.refresh_from_db()
        with pytest.raises(ValidationError, match="not complete yet") as refused:
            services.application_decide(acting_user=chief, application=application,
                                        approve=True)
        assert "Initial training completed" in str(refused.value)
        assert not Designation.objects.filter(user=applicant).exists()

        make_ready(agency, cast, applicant, trained=at(2026, 1, 20, 9), designate=False)
        application.refresh_from_db()
        response = signed_in(chief).post(
            reverse("readiness:application_decide", args=[application.pk]),
            {"decision": "approve", "version": application.version})
        assert response.status_code == 302
        application.refresh_from_db()
        assert application.status == ApplicationStatus.APPROVED
        designation = Designation.objects.get(user=applicant)
        assert designation.designated_by == chief
        assert designation.designated_on == date(2026, 2, 1)
        assert is_peer_support_ready(applicant)
        page = client.get(reverse("readiness:application", args=[application.pk]))
        assert b"Approved and designated" in page.content


@pytest.mark.django_db
def test_a_chief_may_not_approve_their_own_application(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    chief = cast["chief"]
    vacancy = services.vacancy_create(acting_user=cast["coordinator"], program="psp",
                                      title="Peer supporter")
    application = services.application_submit(acting_user=chief, vacancy=vacancy,
                                              letter="I would like to serve.")
    with pytest.raises(ValidationError, match="cannot decide your own application"):
        services.application_decide(acting_user=chief, application=application, approve=True)
    response = signed_in(chief).post(
        reverse("readiness:application_decide", args=[application.pk]),
        {"decision": "approve", "version": application.version}, follow=True)
    assert b"cannot decide your own application" in response.content
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    assert not Designation.objects.filter(user=chief).exists()


@pytest.mark.django_db
def test_initial_training_must_be_complete_before_designation(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter = cast["supporter"]
    url = reverse("readiness:designate", args=[supporter.pk])
    refused = signed_in(cast["chief"]).post(url, {"program": "psp"}, follow=True)
    assert b"Initial training must be complete before designation" in refused.content
    assert not Designation.objects.exists()
    with time_machine.travel(at(2026, 3, 2), tick=False):
        attend(agency, cast["coordinator"], supporter, "psp-initial", at(2026, 3, 1, 9))
        services.check_record(acting_user=cast["coordinator"], user=supporter,
                              checked_on=date(2026, 3, 1), result="cleared",
                              renewal_due=date(2028, 3, 1))
        sign(supporter, "confidentiality")
        response = signed_in(cast["chief"]).post(url, {"program": "psp"}, follow=True)
        assert b"Officially designated from today" in response.content
    designation = Designation.objects.get(user=supporter)
    assert designation.designated_on == date(2026, 3, 2)
    assert designation.designated_by == cast["chief"]
    with pytest.raises(ValidationError, match="cannot designate yourself"):
        services.designation_grant(acting_user=cast["chief"], user=cast["chief"], program="psp")


@pytest.mark.django_db
def test_direct_designation_follows_the_preset_steps_and_needs_the_team_role(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter, dispatcher, chief = cast["supporter"], cast["dispatcher"], cast["chief"]
    with time_machine.travel(at(2026, 3, 2), tick=False):
        attend(agency, cast["coordinator"], supporter, "psp-initial", at(2026, 3, 1, 9))
        # Trained, but neither vetted nor signed: the preset's steps are not complete.
        with pytest.raises(ValidationError, match="not complete yet") as refused:
            services.designation_grant(acting_user=chief, user=supporter, program="psp")
        assert "Background vetting" in str(refused.value)
        assert "Confidentiality agreement" in str(refused.value)
        # Someone without the team's role is never designated to it (a dispatcher here).
        make_ready(agency, cast, dispatcher, trained=at(2026, 3, 1, 9), designate=False)
        with pytest.raises(ValidationError, match="peer supporter role"):
            services.designation_grant(acting_user=chief, user=dispatcher, program="psp")
        response = signed_in(chief).post(
            reverse("readiness:designate", args=[dispatcher.pk]), {"program": "psp"})
        assert response.status_code == 404  # not a team member: not a readiness person
        with pytest.raises(ValidationError, match="peer recovery"):
            services.designation_grant(acting_user=chief, user=supporter, program="prp")
        assert not Designation.objects.exists()
    # A preset whose selection starts with an application (Columbus: letter of request and
    # the psychologist's interview) designates only by deciding that application.
    agency.policy = load_preset("columbus").model_dump(mode="json")
    agency.save(update_fields=["policy"])
    supporter.agency.refresh_from_db()
    with pytest.raises(ValidationError, match="decide their application"):
        services.designation_grant(acting_user=chief, user=supporter, program="psp")


@pytest.mark.django_db
def test_a_closed_vacancy_takes_no_more_applications(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    vacancy = services.vacancy_create(acting_user=cast["coordinator"], program="prp",
                                      title="Peer recovery specialist")
    client = signed_in(cast["coordinator"])
    client.post(reverse("readiness:vacancy_close", args=[vacancy.pk]))
    vacancy.refresh_from_db()
    assert vacancy.closed_at is not None
    member = signed_in(cast["member"])
    assert member.get(reverse("readiness:apply", args=[vacancy.pk])).status_code == 404
    assert b"Peer recovery specialist" not in member.get(reverse("readiness:vacancies")).content
    with pytest.raises(ValidationError, match="closed"):
        services.application_submit(acting_user=cast["member"], vacancy=vacancy, letter="Hi")


@pytest.mark.django_db
def test_a_stale_decision_form_is_refused(agency: Any, cast: dict[str, User]) -> None:
    vacancy = services.vacancy_create(acting_user=cast["coordinator"], program="psp",
                                      title="Peer supporter")
    application = services.application_submit(acting_user=cast["member"], vacancy=vacancy,
                                              letter="Please consider me.")
    old_version = application.version
    services.application_interview(acting_user=cast["psychologist"], application=application,
                                   outcome="not_recommended",
                                   interviewed_on=timezone.localdate())
    with pytest.raises(ValidationError, match="Someone else changed"):
        services.application_decide(acting_user=cast["chief"], application=application,
                                    approve=False, version=old_version)


@pytest.mark.django_db
def test_interview_keeps_the_outcome_only(agency: Any, cast: dict[str, User]) -> None:
    fields = {f.name for f in Application._meta.get_fields()}
    assert {"interview_outcome", "interviewed_on", "interviewed_by"} <= fields
    assert not any("note" in f or "comment" in f for f in fields)


# ========================================================================================
# 2. Training: catalogue, sessions, enrolment, attendance
# ========================================================================================


@pytest.mark.django_db
def test_the_catalogue_ships_the_seeds_curricula(agency: Any) -> None:
    assert services.catalogue_seed(agency=agency) == 8
    assert services.catalogue_seed(agency=agency) == 0  # idempotent
    topics = {t for c in Course.objects.filter(agency=agency) for t in c.topics}
    assert set(CS.training.initial_topics) <= topics  # Colorado Springs
    assert {"Stress awareness", "Secondary trauma", "Crisis intervention"} <= topics  # Joplin
    assert {"Overdose reversal", "Case management", "Motivational interviewing"} <= topics
    assert any("CJIS security awareness" in t for t in topics)
    kinds = set(Course.objects.filter(agency=agency).values_list("kind", flat=True))
    assert {"meeting", "supervision", "cjis", "initial", "ongoing"} <= kinds


@pytest.mark.django_db
def test_sessions_cannot_be_scheduled_in_the_past(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    services.catalogue_seed(agency=agency)
    course = Course.objects.get(agency=agency, code="psp-ongoing")
    client = signed_in(cast["coordinator"])
    past = timezone.localtime() - timedelta(days=1)
    response = client.post(reverse("readiness:sessions"), {
        "course": course.pk, "starts_at": past.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (past + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        "place": "Academy", "instructor": "Dr. Lane", "capacity": "10"})
    assert response.status_code == 400
    assert b"cannot be scheduled in the past" in response.content
    assert not TrainingSession.objects.exists()
    with pytest.raises(ValidationError, match="in the past"):
        services.session_schedule(acting_user=cast["coordinator"], course=course,
                                  starts_at=past, ends_at=past + timedelta(hours=1),
                                  place="A", instructor="B", capacity=5)


@pytest.mark.django_db
def test_scheduling_twice_creates_one_session_and_end_must_follow_start(
    agency: Any, cast: dict[str, User]
) -> None:
    services.catalogue_seed(agency=agency)
    course = Course.objects.get(agency=agency, code="monthly-meeting")
    start = timezone.now() + timedelta(days=3)
    services.session_schedule(acting_user=cast["coordinator"], course=course, starts_at=start,
                              ends_at=start + timedelta(hours=1), place="HQ",
                              instructor="Sgt. Ruiz", capacity=12)
    with pytest.raises(ValidationError, match="already has a session"):
        services.session_schedule(acting_user=cast["coordinator"], course=course,
                                  starts_at=start, ends_at=start + timedelta(hours=1),
                                  place="HQ", instructor="Sgt. Ruiz", capacity=12)
    with pytest.raises(ValidationError, match="end after it starts"):
        services.session_schedule(acting_user=cast["coordinator"], course=course,
                                  starts_at=start + timedelta(days=1),
                                  ends_at=start + timedelta(days=1), place="HQ",
                                  instructor="Sgt. Ruiz", capacity=12)
    assert TrainingSession.objects.count() == 1


@pytest.mark.django_db
def test_enrolment_respects_capacity_and_a_second_click_is_harmless(
    agency: Any, cast: dict[str, User]
) -> None:
    services.catalogue_seed(agency=agency)
    course = Course.objects.get(agency=agency, code="psp-ongoing")
    start = timezone.now() + timedelta(days=3)
    session = services.session_schedule(
        acting_user=cast["coordinator"], course=course, starts_at=start,
        ends_at=start + timedelta(hours=1), place="HQ", instructor="Sgt. Ruiz", capacity=1)
    first = services.session_enrol(acting_user=cast["supporter"], session=session,
                                   user=cast["supporter"])
    again = services.session_enrol(acting_user=cast["supporter"], session=session,
                                   user=cast["supporter"])
    assert first.pk == again.pk
    with pytest.raises(ValidationError, match="full"):
        services.session_enrol(acting_user=cast["aro"], session=session, user=cast["aro"])
    with pytest.raises(ValidationError, match="role does not allow"):
        services.session_enrol(acting_user=cast["supporter"], session=session, user=cast["prs"])


@pytest.mark.django_db
def test_the_coordinator_enrols_a_team_member_from_the_session_page(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    services.catalogue_seed(agency=agency)
    start = timezone.now() + timedelta(days=5)
    session = services.session_schedule(
        acting_user=cast["coordinator"], course=Course.objects.get(agency=agency,
                                                                   code="cjis-awareness"),
        starts_at=start, ends_at=start + timedelta(hours=1), place="HQ", instructor="IT",
        capacity=5)
    client = signed_in(cast["coordinator"])
    url = reverse("readiness:session", args=[session.pk])
    response = client.post(url, {"action": "enrol", "user": cast["prs"].pk}, follow=True)
    assert b"Prs Tester is enrolled." in response.content
    refused = client.post(url, {"action": "enrol", "user": cast["chief"].pk}, follow=True)
    assert b"Choose someone on a peer team." in refused.content
    assert list(session.enrolments.values_list("user_id", flat=True)) == [cast["prs"].pk]


@pytest.mark.django_db
def test_marking_attendance_twice_updates_and_never_duplicates(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    session = held_session(agency, "psp-ongoing", timezone.now() - timedelta(hours=3))
    client = signed_in(cast["coordinator"])
    url = reverse("readiness:session", args=[session.pk])
    supporter = cast["supporter"]
    client.post(url, {"user": supporter.pk, "status": "unexcused"})
    client.post(url, {"user": supporter.pk, "status": "unexcused"})
    client.post(url, {"user": supporter.pk, "status": "excused"})
    rows = Attendance.objects.filter(session=session, user=supporter)
    assert rows.count() == 1
    assert rows.get().status == "excused"
    bad = client.post(url, {"user": supporter.pk, "status": "asleep"}, follow=True)
    assert b"Choose present, excused or unexcused" in bad.content
    assert rows.get().status == "excused"


@pytest.mark.django_db
def test_attendance_waits_for_the_session_to_start(agency: Any, cast: dict[str, User]) -> None:
    session = held_session(agency, "psp-ongoing", timezone.now() + timedelta(days=2))
    with pytest.raises(ValidationError, match="once the session has started"):
        services.attendance_mark(acting_user=cast["coordinator"], session=session,
                                 user=cast["supporter"], status="present")
    assert not Attendance.objects.exists()


@pytest.mark.django_db
def test_meetings_and_supervision_record_attendance_and_no_content() -> None:
    for model in (TrainingSession, Attendance):
        names = {f.name for f in model._meta.get_fields()}
        assert not names & {"notes", "content", "summary", "minutes", "discussion"}


# ========================================================================================
# 5. Agreements and e-signature
# ========================================================================================


@pytest.mark.django_db
def test_signing_needs_the_typed_name_the_password_and_a_current_code(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter = cast["supporter"]
    document = services.agreement_publish(
        acting_user=cast["coordinator"], kind="confidentiality", title="Confidentiality",
        body="What I hear stays with me, within the policy's limits.")
    url = reverse("readiness:agreement_sign", args=[document.pk])
    client = signed_in(supporter)
    base = {"typed_name": "Supporter Tester", "password": PASSWORD}
    wrong_name = client.post(
        url, {**base, "typed_name": "Someone Else", "code": code_for(supporter)})
    assert wrong_name.status_code == 400
    assert b"Type your full name" in wrong_name.content
    wrong_password = client.post(url, {**base, "password": "nope", "code": code_for(supporter)})
    assert b"password is not correct" in wrong_password.content
    wrong_code = client.post(url, {**base, "code": "000000" if code_for(supporter) != "000000"
                                   else "111111"})
    assert wrong_code.status_code == 400
    backup = client.post(url, {**base, "code": "abcd-efgh"})
    assert b"backup codes cannot be used to sign" in backup.content
    assert not Signature.objects.exists()
    assert AuditEvent.objects.filter(action="readiness.signature_refused").count() == 3
    # django-otp slows down guessing after a wrong code: the person tries again later.
    with time_machine.travel(timezone.now() + timedelta(seconds=65), tick=False):
        ok = client.post(url, {**base, "code": code_for(supporter)})
    assert ok.status_code == 302
    signature = Signature.objects.get(user=supporter)
    assert signature.content_hash == document.content_hash
    assert signature.reauthenticated_with == "password+totp"
    assert signature.typed_name == "Supporter Tester"
    assert signature.signed_at is not None
    event = AuditEvent.objects.filter(action="readiness.agreement_signed").last()
    assert event is not None
    assert event.detail["hash"] == document.content_hash


@pytest.mark.django_db
def test_wrong_passwords_and_codes_at_signing_count_toward_the_account_lockout(
    agency: Any, cast: dict[str, User]
) -> None:
    supporter = cast["supporter"]
    document = services.agreement_publish(
        acting_user=cast["coordinator"], kind="confidentiality", title="Confidentiality",
        body="What I hear stays with me.")
    for _ in range(4):
        with pytest.raises(ValidationError, match="password is not correct"):
            services.agreement_sign(acting_user=supporter, document=document,
                                    typed_name="Supporter Tester", password="guess",
                                    code=code_for(supporter))
    with pytest.raises(ValidationError, match="code"):
        services.agreement_sign(acting_user=supporter, document=document,
                                typed_name="Supporter Tester", password=PASSWORD,
                                code="abcd-efgh")
    supporter.refresh_from_db()
    assert supporter.failed_attempts == 5
    assert supporter.is_locked
    assert AuditEvent.objects.filter(action="account.locked").count() == 1
    # Locked: even the right password and code are refused.
    with pytest.raises(ValidationError, match="locked"):
        services.agreement_sign(acting_user=supporter, document=document,
                                typed_name="Supporter Tester", password=PASSWORD,
                                code=code_for(supporter))
    assert not Signature.objects.exists()


@pytest.mark.django_db
def test_the_same_code_cannot_sign_twice(agency: Any, cast: dict[str, User]) -> None:
    supporter = cast["supporter"]
    code = code_for(supporter)
    first = services.agreement_publish(acting_user=cast["coordinator"], kind="confidentiality",
                                       title="A", body="Text one")
    services.agreement_sign(acting_user=supporter, document=first, typed_name="supporter tester",
                            password=PASSWORD, code=code)
    nda = services.agreement_publish(acting_user=cast["coordinator"], kind="policy",
                                     title="Policy", body="I read the policy.")
    with pytest.raises(ValidationError, match="already been used"):
        services.agreement_sign(acting_user=supporter, document=nda,
                                typed_name="Supporter Tester", password=PASSWORD, code=code)


@pytest.mark.django_db
def test_an_outdated_version_cannot_be_signed(agency: Any, cast: dict[str, User],
                                              signed_in: Any) -> None:
    supporter = cast["supporter"]
    v1 = services.agreement_publish(acting_user=cast["coordinator"], kind="nda", title="NDA",
                                    body="Version one")
    v2 = services.agreement_publish(acting_user=cast["coordinator"], kind="nda", title="NDA",
                                    body="Version two, amended")
    assert (v1.version, v2.version) == (1, 2)
    assert v1.content_hash != v2.content_hash
    same = services.agreement_publish(acting_user=cast["coordinator"], kind="nda", title="NDA",
                                      body="Version two, amended")
    assert same.pk == v2.pk  # republishing the same text adds no version
    with pytest.raises(ValidationError, match="has been replaced"):
        services.agreement_sign(acting_user=supporter, document=v1,
                                typed_name="Supporter Tester", password=PASSWORD,
                                code=code_for(supporter))
    page = signed_in(supporter).get(reverse("readiness:agreement_sign", args=[v1.pk]))
    assert b"This version has been replaced" in page.content
    assert not Signature.objects.exists()


def test_a_signature_on_a_replaced_version_stops_counting_when_the_new_one_is_out() -> None:
    base = psp_facts()
    facts = Facts(programs=base.programs, designations=base.designations,
                  attendance=base.attendance, checks=base.checks,
                  lapsed=(("confidentiality", date(2026, 1, 3), date(2026, 3, 1)),))
    assert evaluate(facts, CS, date(2026, 2, 1)).level == "compliant"  # history holds
    later = evaluate(facts, CS, date(2026, 3, 2))
    assert later.level == "not_compliant"
    assert "Peer support: a new version of the confidentiality agreement must be signed" \
        in later.reasons


@pytest.mark.django_db
def test_publishing_a_new_version_requires_signing_again(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter = cast["supporter"]
    with time_machine.travel(at(2026, 2, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9))
        assert is_peer_support_ready(supporter)
        v1 = Signature.objects.get(user=supporter).document
        v2 = services.agreement_publish(acting_user=cast["coordinator"], kind="confidentiality",
                                        title="Confidentiality", body="Amended text.")
        assert not is_peer_support_ready(supporter)  # at once, not at the nightly run
        assert any("new version of the confidentiality agreement" in r
                   for r in Gate.objects.get(user=supporter).reasons)
        page = signed_in(cast["coordinator"]).get(
            reverse("readiness:person", args=[supporter.pk]))
        assert b"replaced by version 2" in page.content
        # The write itself re-checks the version under a lock.
        with pytest.raises(ValidationError, match="has been replaced"):
            services._signature_write(acting_user=supporter, document=v1,
                                      typed_name="Supporter Tester")
    with time_machine.travel(at(2026, 2, 10, 13), tick=False):
        services.agreement_sign(acting_user=supporter, document=v2,
                                typed_name="Supporter Tester", password=PASSWORD,
                                code=code_for(supporter))
        assert is_peer_support_ready(supporter)


@pytest.mark.django_db
def test_the_annual_policy_review_reminds_the_coordinator(
    agency: Any, cast: dict[str, User]
) -> None:
    from tandem.notifications.models import Delivery

    with time_machine.travel(at(2026, 1, 15), tick=False):
        services.policy_review_record(acting_user=cast["coordinator"])
    assert services.policy_review_due(agency) == date(2027, 1, 15)
    with time_machine.travel(at(2026, 11, 1), tick=False):
        services.reminders_send()
        assert not Delivery.objects.filter(recipient_user=cast["coordinator"]).exists()
    with time_machine.travel(at(2026, 12, 20), tick=False):
        services.reminders_send()
        services.reminders_send()
        sent = Delivery.objects.filter(recipient_user=cast["coordinator"],
                                       kind="readiness.reminder")
        assert sent.count() == 1


@pytest.mark.django_db
def test_people_are_reminded_once_before_a_due_date(agency: Any, cast: dict[str, User]) -> None:
    from tandem.notifications.models import Delivery

    supporter = cast["supporter"]
    with time_machine.travel(at(2026, 1, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9))
        services.policy_review_record(acting_user=cast["coordinator"])
    with time_machine.travel(at(2026, 6, 10), tick=False):  # ongoing training due 30 Jun
        assert services.reminders_send() == 1
        assert services.reminders_send() == 0
    mine = Delivery.objects.filter(recipient_user=supporter)
    assert mine.count() == 1
    assert mine.get().kind == "readiness.reminder"


# ========================================================================================
# 6. Certification and hours
# ========================================================================================


@pytest.mark.django_db
def test_certification_hours_count_once_a_supervisor_signs_them_off(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    agency.policy = load_preset("west-virginia").model_dump(mode="json")
    agency.save(update_fields=["policy"])
    prs = cast["prs"]
    prs.agency.refresh_from_db()
    day = timezone.localdate()
    logs = [
        services.hours_log(acting_user=prs, kind="experience", worked_on=day,
                           hours=Decimal("8"), idempotency_key="a"),
        services.hours_log(acting_user=prs, kind="ethics", worked_on=day - timedelta(days=1),
                           hours=Decimal("6"), idempotency_key="b"),
        services.hours_log(acting_user=prs, kind="supervision",
                           worked_on=day - timedelta(days=2), hours=Decimal("19"),
                           idempotency_key="c"),
    ]
    assert services.hours_log(acting_user=prs, kind="experience", worked_on=day,
                              hours=Decimal("8"), idempotency_key="a").pk == logs[0].pk
    progress = services.certification_progress(prs)
    assert progress["pending"] == Decimal("33")
    assert progress["experience"] == 0
    with pytest.raises(ValidationError, match="another supervisor"):
        services.hours_sign_off(acting_user=prs, log=logs[0])
    client = signed_in(cast["crt_supervisor"])
    for log in logs:
        client.post(reverse("readiness:hours_sign_off", args=[log.pk]))
    progress = services.certification_progress(prs)
    assert progress["experience"] == Decimal("8")
    assert progress["supervision"] == Decimal("25")
    assert progress["supervision_met"]
    assert progress["ethics"] == Decimal("6")
    assert progress["ethics_met"]
    assert not progress["experience_met"]  # 500 required
    page = signed_in(prs).get(reverse("readiness:certification"))
    assert b"WVCBAPP Peer Recovery certification" in page.content
    assert b"25 of 25" in page.content or b"25.00 of 25" in page.content


@pytest.mark.django_db
def test_certification_hours_of_all_kinds_fit_in_a_day(agency: Any, cast: dict[str, User]
                                                       ) -> None:
    prs, day = cast["prs"], timezone.localdate()
    services.hours_log(acting_user=prs, kind="experience", worked_on=day, hours=Decimal("20"),
                       idempotency_key="day-1")
    with pytest.raises(ValidationError, match="at most 24"):
        services.hours_log(acting_user=prs, kind="ethics", worked_on=day, hours=Decimal("5"),
                           idempotency_key="day-2")
    services.hours_log(acting_user=prs, kind="supervision", worked_on=day, hours=Decimal("4"),
                       idempotency_key="day-3")
    assert services.certification_progress(prs)["pending"] == Decimal("24")


@pytest.mark.django_db
def test_double_submit_keys_belong_to_the_person_who_sent_them(
    agency: Any, cast: dict[str, User]
) -> None:
    prs, aro, supporter = cast["prs"], cast["aro"], cast["supporter"]
    day = timezone.localdate()
    mine = services.hours_log(acting_user=prs, kind="experience", worked_on=day,
                              hours=Decimal("2"), idempotency_key="shared-key")
    theirs = services.hours_log(acting_user=aro, kind="experience", worked_on=day,
                                hours=Decimal("3"), idempotency_key="shared-key")
    assert theirs.pk != mine.pk
    assert theirs.user == aro
    again = services.hours_log(acting_user=prs, kind="experience", worked_on=day,
                               hours=Decimal("2"), idempotency_key="shared-key")
    assert again.pk == mine.pk
    entry = services.time_entry_add(acting_user=supporter, worked_on=day, hours=Decimal("1"),
                                    idempotency_key="shared-key")
    other = make_user(agency, "second-supporter", "supporter")
    second = services.time_entry_add(acting_user=other, worked_on=day, hours=Decimal("1"),
                                     idempotency_key="shared-key")
    assert second.pk != entry.pk
    assert second.user == other


@pytest.mark.django_db
def test_certification_record_uses_optimistic_locking(agency: Any, cast: dict[str, User],
                                                      signed_in: Any) -> None:
    prs = cast["prs"]
    client = signed_in(prs)
    client.get(reverse("readiness:certification"))
    form = {"education": "ged", "exam_date": "2026-05-02", "exam_result": "passed",
            "version": "1"}
    assert client.post(reverse("readiness:certification"), form).status_code == 302
    stale = client.post(reverse("readiness:certification"), {**form, "education": "diploma"})
    assert stale.status_code == 400
    assert b"Someone else changed" in stale.content
    prs.readiness_certification.refresh_from_db()
    assert prs.readiness_certification.education == "ged"
    assert prs.readiness_certification.exam_result == "passed"
    supervisor = signed_in(cast["crt_supervisor"])
    url = reverse("readiness:person_credential", args=[prs.pk])
    bad = supervisor.post(url, {"credential_number": "PR-1234", "issued_on": "2026-05-20",
                                "expires_on": "2026-01-01", "version": "2"}, follow=True)
    assert b"expiry date must be after" in bad.content


@pytest.mark.django_db
def test_only_a_supervisor_records_the_credential_and_the_audit_names_the_fields(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    prs, supervisor = cast["prs"], cast["crt_supervisor"]
    with pytest.raises(ValidationError, match="supervisor"):
        services.certification_update(acting_user=prs, user=prs, version=None,
                                      credential_number="PR-1", issued_on=date(2026, 1, 2))
    # The PRS's own form has no credential fields: posting them changes nothing.
    signed_in(prs).post(reverse("readiness:certification"), {
        "education": "ged", "exam_result": "passed", "version": "1",
        "credential_number": "PR-1", "issued_on": "2026-01-02", "expires_on": "2028-01-02"})
    prs.readiness_certification.refresh_from_db()
    assert prs.readiness_certification.credential_number == ""
    assert prs.readiness_certification.issued_on is None
    response = signed_in(supervisor).post(
        reverse("readiness:person_credential", args=[prs.pk]),
        {"credential_number": "PR-77", "issued_on": "2026-01-02", "expires_on": "2028-01-02",
         "renewed_on": "", "version": "2"})
    assert response.status_code == 302
    prs.readiness_certification.refresh_from_db()
    assert prs.readiness_certification.credential_number == "PR-77"
    event = AuditEvent.objects.filter(action="readiness.certification_updated").last()
    assert event is not None
    assert event.detail["fields"] == ["credential_number", "expires_on", "issued_on"]
    assert "PR-77" not in str(event.detail)


def test_the_credential_expiry_is_a_due_date() -> None:
    wv = load_preset("west-virginia")
    facts = Facts(
        programs=frozenset({"prp"}), is_prs=True,
        designations=(DesignationFact("prp", date(2026, 1, 5)),),
        attendance=(
            AttendanceFact(date(2026, 1, 4), "initial", "prp", "present",
                           compliance.PRP_INITIAL_TOPICS),
            AttendanceFact(date(2027, 1, 4), "cjis", "all", "present"),
            AttendanceFact(date(2027, 1, 4), "ongoing", "prp", "present"),
        ),
        checks=(CheckFact(date(2026, 1, 2), "cleared", date(2028, 3, 1)),),
        signed=(("nda", date(2026, 1, 3)),),
        certified_from=date(2025, 5, 20), certified_until=date(2027, 5, 20),
    )
    assert evaluate(facts, wv, date(2027, 3, 1)).level == "compliant"
    soon = evaluate(facts, wv, date(2027, 5, 1))
    assert soon.level == "due_soon", soon.reasons
    assert "Peer recovery: certification renewal due by Thu, May 20, 2027" in soon.reasons
    assert any(d.key.startswith("certification-") for d in soon.due)
    assert evaluate(facts, wv, date(2027, 5, 21)).level == "not_compliant"


# ========================================================================================
# 8. Hours worked
# ========================================================================================


@pytest.mark.django_db
def test_hours_worked_are_validated_per_day(agency: Any, cast: dict[str, User],
                                            signed_in: Any) -> None:
    supporter = cast["supporter"]
    client = signed_in(supporter)
    url = reverse("readiness:time_entries")
    today = timezone.localdate().isoformat()
    for hours, message in (("-1", b"more than zero"), ("0", b"more than zero"),
                           ("25", b"at most 24")):
        response = client.post(url, {"worked_on": today, "hours": hours,
                                     "idempotency_key": f"k{hours}"})
        assert response.status_code == 400
        assert message in response.content
    assert client.post(url, {"worked_on": today, "hours": "20", "idempotency_key": "x1"}
                       ).status_code == 302
    client.post(url, {"worked_on": today, "hours": "20", "idempotency_key": "x1"})  # resent
    over = client.post(url, {"worked_on": today, "hours": "5", "idempotency_key": "x2"})
    assert over.status_code == 400
    assert b"a day has at most 24" in over.content
    future = client.post(url, {"worked_on": (timezone.localdate() + timedelta(days=2))
                               .isoformat(), "hours": "1", "idempotency_key": "x3"})
    assert future.status_code == 400
    entry = TimeEntry.objects.get(user=supporter)
    assert entry.hours == Decimal("20")
    assert entry.activity_code == "peer_support"
    # Someone else's entry cannot be removed; one's own can.
    other = signed_in(cast["coordinator"])
    assert other.post(reverse("readiness:time_entry_delete", args=[entry.pk])).status_code == 404
    client.post(reverse("readiness:time_entry_delete", args=[entry.pk]))
    assert not TimeEntry.objects.exists()


@pytest.mark.django_db
def test_time_entries_never_link_to_whom_was_helped() -> None:
    relations = {f.name for f in TimeEntry._meta.get_fields() if f.is_relation}
    assert relations == {"agency", "user"}
    with connection.cursor() as cursor:
        columns = {c.name for c in connection.introspection.get_table_description(
            cursor, TimeEntry._meta.db_table)}
    assert columns == {"id", "agency_id", "user_id", "worked_on", "hours", "activity_code",
                       "created_at", "idempotency_key"}


@pytest.mark.django_db
def test_hours_export_for_the_scheduling_system(agency: Any, cast: dict[str, User],
                                               signed_in: Any) -> None:
    supporter = cast["supporter"]
    supporter.first_name = "=HYPERLINK(1)"
    supporter.save(update_fields=["first_name"])
    services.time_entry_add(acting_user=supporter, worked_on=timezone.localdate(),
                            hours=Decimal("2.5"), idempotency_key="e1")
    client = signed_in(cast["coordinator"])
    day = timezone.localdate().isoformat()
    response = client.get(reverse("readiness:time_export"), {"start": day, "end": day})
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0] == '"Date","Employee number","Name","Activity code","Hours"'
    assert f'"{day}","E-supporter","\'=HYPERLINK(1) Tester","peer_support","2.5"' in text
    bad = client.get(reverse("readiness:time_export"), {"start": day, "end": "2000-01-01"})
    assert bad.status_code == 400


# ========================================================================================
# 9. Privilege eligibility statement
# ========================================================================================


@pytest.mark.django_db
def test_eligibility_statement_for_a_past_date(agency: Any, cast: dict[str, User],
                                              signed_in: Any) -> None:
    supporter = cast["supporter"]
    with time_machine.travel(at(2026, 1, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9))
    with time_machine.travel(at(2026, 7, 1), tick=False):
        designation = Designation.objects.get(user=supporter)
        services.designation_remove(acting_user=cast["chief"], designation=designation,
                                    reason="resigned")
        client = signed_in(cast["coordinator"])
        url = reverse("readiness:statement", args=[supporter.pk])
        before = client.get(url, {"on": "2026-01-01"})
        assert b'<dd id="eligible"><strong>No' in before.content
        during = client.get(url, {"on": "2026-02-01"})
        assert b'<dd id="eligible"><strong>Yes' in during.content
        assert b"since Mon, Jan 5, 2026" in during.content
        after = client.get(url, {"on": "2026-07-01"})
        assert b'<dd id="eligible"><strong>No' in after.content
        pdf = client.get(reverse("readiness:statement_pdf", args=[supporter.pk]),
                         {"on": "2026-02-01"})
        assert pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        future = client.get(url, {"on": "2026-08-01"})
        assert future.status_code == 400
    assert AuditEvent.objects.filter(action="readiness.statement_viewed").count() == 4


# ========================================================================================
# 10. Calendar
# ========================================================================================


@pytest.mark.django_db
def test_training_calendar_feed_lists_my_sessions_and_can_be_revoked(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    from tandem.core.ical import feed_token_issue, feed_token_revoke

    supporter = cast["supporter"]
    services.catalogue_seed(agency=agency)
    start = timezone.now() + timedelta(days=4)
    session = services.session_schedule(
        acting_user=cast["coordinator"], course=Course.objects.get(agency=agency,
                                                                   code="monthly-meeting"),
        starts_at=start, ends_at=start + timedelta(hours=1), place="HQ room 2",
        instructor="Sgt. Ruiz", capacity=10)
    services.session_enrol(acting_user=supporter, session=session, user=supporter)
    response = signed_in(supporter).post(reverse("readiness:feed_issue"), follow=True)
    assert b"/readiness/calendar/" in response.content
    token = feed_token_issue(acting_user=supporter, user=supporter, purpose="readiness.training")
    feed = Client().get(reverse("readiness:feed", args=[token]))
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("text/calendar")
    assert b"Monthly team meeting" in feed.content
    assert b"HQ room 2" in feed.content
    feed_token_revoke(acting_user=supporter, user=supporter, purpose="readiness.training")
    assert Client().get(reverse("readiness:feed", args=[token])).status_code == 404
    assert Client().get(reverse("readiness:feed", args=["nope"])).status_code == 404


# ========================================================================================
# Dashboard, reports contract and query counts
# ========================================================================================


@pytest.mark.django_db
def test_dashboard_shows_levels_and_reasons_in_a_fixed_number_of_queries(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    with time_machine.travel(at(2026, 6, 10), tick=False):
        make_ready(agency, cast, cast["supporter"], trained=at(2026, 1, 5, 9))
        client = signed_in(cast["coordinator"])
        client.get(reverse("readiness:team"))
        with CaptureQueriesContext(connection) as few:
            page = client.get(reverse("readiness:team"))
        assert b"Due soon" in page.content
        assert b"Not compliant" in page.content
        for n in range(6):
            make_user(agency, f"extra{n}", "supporter")
        with CaptureQueriesContext(connection) as many:
            client.get(reverse("readiness:team"))
        assert len(many) == len(few)
        summary = compliance.compliance_summary(agency)
        assert summary["due_soon"] == 1
        assert sum(summary.values()) == 9  # supporter, ARO, PRS and six more
        assert compliance.status_for(cast["supporter"]).level == "due_soon"


@pytest.mark.django_db
def test_my_training_shows_my_status_and_only_the_agreements_that_bind_me(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    for kind in ("confidentiality", "nda", "policy"):
        services.agreement_publish(acting_user=cast["coordinator"], kind=kind,
                                   title=f"The {kind} text", body=f"Body of {kind}")
    page = signed_in(cast["supporter"]).get(reverse("readiness:home")).content
    assert b"Not compliant" in page
    assert b"not officially designated by the Chief" in page
    assert b"The confidentiality text" in page
    assert b"The policy text" in page
    assert b"The nda text" not in page
    prs_page = signed_in(cast["prs"]).get(reverse("readiness:home")).content
    assert b"The nda text" in prs_page
    assert b"The confidentiality text" not in prs_page


@pytest.mark.django_db
def test_repeated_buttons_name_their_row_for_screen_readers(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    services.catalogue_seed(agency=agency)
    start = timezone.now() + timedelta(days=5)
    services.session_schedule(
        acting_user=cast["coordinator"], course=Course.objects.get(agency=agency,
                                                                   code="psp-ongoing"),
        starts_at=start, ends_at=start + timedelta(hours=2), place="Room 4",
        instructor="Dr. Lane", capacity=10)
    home = signed_in(cast["supporter"]).get(reverse("readiness:home")).content.decode()
    assert '<th scope="row">' in home
    assert ('Enrol<span class="visually-hidden"> in Quarterly peer support training'
            in home)
    services.vacancy_create(acting_user=cast["coordinator"], program="psp",
                            title="District 3 supporter")
    vacancies = signed_in(cast["coordinator"]).get(reverse("readiness:vacancies")).content
    assert b'Close this vacancy<span class="visually-hidden">: District 3 supporter' \
        in vacancies
    services.time_entry_add(acting_user=cast["supporter"], worked_on=timezone.localdate(),
                            hours=Decimal("2"), idempotency_key="a11y")
    entries = signed_in(cast["supporter"]).get(reverse("readiness:time_entries")).content
    assert b'Remove<span class="visually-hidden"> 2' in entries
    services.hours_log(acting_user=cast["prs"], kind="experience",
                       worked_on=timezone.localdate(), hours=Decimal("3"),
                       idempotency_key="a11y")
    team = signed_in(cast["crt_supervisor"]).get(reverse("readiness:team")).content.decode()
    assert 'Sign off<span class="visually-hidden"> 3.00 experience hours of' in team


@pytest.mark.django_db
def test_sensitive_pages_are_audited_by_selectors_not_views(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    from pathlib import Path

    from tandem.readiness import views

    vacancy = services.vacancy_create(acting_user=cast["coordinator"], program="psp",
                                      title="Peer supporter")
    application = services.application_submit(acting_user=cast["member"], vacancy=vacancy,
                                              letter="I would like to help.")
    session = held_session(agency, "psp-ongoing", timezone.now() - timedelta(days=2))
    coordinator = signed_in(cast["coordinator"])
    pages = {
        "readiness.applications_viewed": reverse("readiness:applications"),
        "readiness.application_viewed": reverse("readiness:application",
                                                args=[application.pk]),
        "readiness.session_viewed": reverse("readiness:session", args=[session.pk]),
        "readiness.person_viewed": reverse("readiness:person", args=[cast["supporter"].pk]),
        "readiness.team_viewed": reverse("readiness:team"),
    }
    for action, url in pages.items():
        assert coordinator.get(url).status_code == 200
        assert AuditEvent.objects.filter(action=action,
                                         actor_id=cast["coordinator"].pk).count() == 1
    assert signed_in(cast["prs"]).get(reverse("readiness:certification")).status_code == 200
    assert AuditEvent.objects.filter(action="readiness.certification_viewed",
                                     actor_id=cast["prs"].pk).count() == 1
    assert "audit_record" not in Path(views.__file__).read_text()


# ========================================================================================
# Demo data
# ========================================================================================


@pytest.mark.django_db
def test_demo_data_is_idempotent_and_opens_the_gates(agency: Any, cast: dict[str, User]) -> None:
    from tandem.readiness import demo

    demo.populate(agency=agency, users=cast)
    demo.populate(agency=agency, users=cast)
    assert is_peer_support_ready(cast["supporter"])
    assert has_cji_access(cast["aro"])
    assert Gate.objects.get(user=cast["prs"]).cji
    assert Designation.objects.filter(user=cast["supporter"]).count() == 1
    assert TrainingSession.objects.filter(starts_at__gt=timezone.now()).count() >= 2
    levels = {s.level for s in compliance.statuses_for(
        agency, [cast["supporter"], cast["aro"], cast["prs"]]).values()}
    assert "not_compliant" not in levels
    summary = compliance.compliance_summary(agency)
    assert summary["due_soon"] >= 1


# ========================================================================================
# In the browser
# ========================================================================================


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_coordinator_schedules_marks_attendance_and_the_supporter_leaves_the_roster(
    live_server: Any, agency: Any, cast: dict[str, User]
) -> None:
    _supporter, _coordinator = cast["supporter"], cast["coordinator"]
    # Mid-year, so the two absences fall in one calendar year whatever today's date is.
    with time_machine.travel(at(2026, 6, 10, 9), tick=True):
        _browser_journey(live_server, agency, cast)


def _browser_journey(live_server: Any, agency: Any, cast: dict[str, User]) -> None:
    from django.conf import settings

    from tests.browser import browser_page

    supporter, coordinator = cast["supporter"], cast["coordinator"]
    now = timezone.now()
    make_ready(agency, cast, supporter, trained=now - timedelta(days=20))
    attend(agency, coordinator, supporter, "monthly-meeting", now - timedelta(days=10),
           "unexcused")
    missed = held_session(agency, "psp-ongoing", now - timedelta(hours=2))
    assert is_peer_support_ready(supporter)
    session_cookie = sign_in(Client(), coordinator).cookies[settings.SESSION_COOKIE_NAME].value

    with browser_page(viewport={"width": 390, "height": 844}) as page:
        page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME,
                                   "value": session_cookie, "url": live_server.url}])
        page.goto(f"{live_server.url}/readiness/team/")
        assert "Supporter Tester" in page.locator("#ready-list").inner_text()

        page.goto(f"{live_server.url}/readiness/sessions/")
        page.locator("#id_course").select_option(label="Quarterly peer support training")
        start = timezone.localtime() + timedelta(days=7)
        page.locator("#id_starts_at").fill(start.strftime("%Y-%m-%dT10:00"))
        page.locator("#id_ends_at").fill(start.strftime("%Y-%m-%dT12:00"))
        page.locator("#id_place").fill("Academy room 4")
        page.locator("#id_instructor").fill("Dr. Lane")
        page.locator("#id_capacity").fill("12")
        page.get_by_role("button", name="Schedule").click()
        page.get_by_text("The session is scheduled.").wait_for()
        assert "Academy room 4" in page.content()

        page.goto(f"{live_server.url}/readiness/sessions/{missed.pk}/")
        page.get_by_label("Attendance of Supporter Tester").select_option("unexcused")
        page.locator("form.inline", has=page.get_by_label("Attendance of Supporter Tester")
                     ).get_by_role("button", name="Save").click()
        page.get_by_text("Attendance saved for Supporter Tester.").wait_for()

        page.goto(f"{live_server.url}/readiness/team/")
        assert "Supporter Tester" not in page.locator("#ready-list").inner_text()
        assert "2 unexcused absences" in page.content()

    assert TrainingSession.objects.filter(place="Academy room 4").count() == 1
    assert not is_peer_support_ready(supporter)
    assert supporter not in peer_support_ready_users(agency)


# ========================================================================================
# Home page counts from the stored standing
# ========================================================================================


def _evaluated(agency: Any, now: datetime) -> tuple[int, int]:
    """The home page's two counts by evaluating every team member's rules in Python."""
    from tandem.readiness.selectors import team_people

    today = timezone.localdate(now)
    statuses = compliance.statuses_for(agency, team_people(agency), now).values()
    lapsed = sum(1 for s in statuses if s.level == compliance.NOT_COMPLIANT)
    due = sum(1 for s in statuses if s.level != compliance.NOT_COMPLIANT and any(
        (d.on.year, d.on.month) == (today.year, today.month) for d in s.due))
    return lapsed, due


def _home_counts(client: Client) -> tuple[int, int, int]:
    """(not compliant, falling out this month, queries) as the coordinator's home page says."""
    import re

    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("core:home")).content.decode()
    text = " ".join(page.split())
    lapsed = re.search(r"(\d+) team members? (?:is|are) not compliant", text)
    due = re.search(r"(\d+) team members? falls? out of compliance this month", text)
    return (int(lapsed.group(1)) if lapsed else 0, int(due.group(1)) if due else 0,
            len(queries))


@pytest.mark.django_db
def test_the_home_page_counts_compliance_from_the_gates_in_step_with_the_rules(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    from tandem.agencies.services import agency_policy_update
    from tandem.readiness.attention import counts

    coordinator = cast["coordinator"]
    extra = [make_user(agency, f"peer{n}", "supporter") for n in range(4)]
    first, second, third = cast["supporter"], extra[0], extra[1]
    with time_machine.travel(at(2026, 1, 10), tick=False):
        home = signed_in(coordinator)
        services.agency_recompute(agency=agency)  # every team member has a gate
        for person in (first, second, third):
            make_ready(agency, cast, person, trained=at(2026, 1, 5, 9))
        attend(agency, coordinator, third, "monthly-meeting", at(2026, 1, 8, 9), "unexcused")
        # Not designated: the ARO, the PRS and two supporters; one absence is allowed.
        assert _evaluated(agency, timezone.now()) == (4, 0)
        lapsed, due, few_queries = _home_counts(home)
        assert (lapsed, due) == (4, 0)

        # Policy change: no unexcused absence allowed any more.
        policy = agency.policy_model().model_dump(mode="json")
        policy["training"]["unexcused_absence_limit"] = 0
        agency_policy_update(acting_user=cast["administrator"], agency=agency,
                             policy_data=policy)
        agency.refresh_from_db()
        assert _evaluated(agency, timezone.now()) == (5, 0)
        assert _home_counts(home)[:2] == (5, 0)

    # Ongoing training is due by 30 June: two fall out this month unless they catch up.
    with time_machine.travel(at(2026, 6, 10), tick=False):
        home = signed_in(coordinator)
        assert _evaluated(agency, timezone.now()) == (5, 2)
        assert _home_counts(home)[:2] == (5, 2)
        attend(agency, coordinator, first, "psp-ongoing", at(2026, 6, 5, 9))  # training
        assert _evaluated(agency, timezone.now()) == (5, 1)
        assert _home_counts(home)[:2] == (5, 1)

    # 1 July, before the daily job: the untrained one is not compliant at once.
    with time_machine.travel(at(2026, 7, 1, 0), tick=False):
        now = timezone.now()
        home = signed_in(coordinator)
        assert _evaluated(agency, now) == (6, 0)
        assert counts(coordinator, now) == (6, 0)
        assert _home_counts(home)[:2] == (6, 0)
        services.recompute_everyone()
        assert Gate.objects.get(user=second).compliance == compliance.NOT_COMPLIANT
        assert _home_counts(home)[:2] == (6, 0)

        # The count is one query whatever the size of the team.
        for n in range(20):  # on the team, not yet designated
            services.person_recompute(user=make_user(agency, f"more{n}", "supporter"))
        assert _evaluated(agency, now) == (26, 0)
        lapsed, due, many_queries = _home_counts(home)
        assert (lapsed, due) == (26, 0)
        assert many_queries == few_queries == 11
        with CaptureQueriesContext(connection) as queries:
            assert counts(coordinator, now) == (26, 0)
        assert len(queries) == 1


@pytest.mark.django_db
def test_team_members_without_a_stored_standing_are_still_counted(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    """Right after the upgrade that added the standing, before the daily recompute."""
    from tandem.readiness.attention import counts

    with time_machine.travel(at(2026, 1, 10), tick=False):
        make_ready(agency, cast, cast["supporter"], trained=at(2026, 1, 5, 9))
        Gate.objects.update(compliance="", next_due_on=None)
        assert counts(cast["coordinator"], timezone.now()) == (2, 0)  # the ARO and the PRS
        assert _evaluated(agency, timezone.now()) == (2, 0)
