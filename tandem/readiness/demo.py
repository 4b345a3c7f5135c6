"""Demo data for this program (called by ``tandem demo`` through core.demo.DEMO_APPS).

Runs first, so the support and recovery demos find open gates: the demo supporter and ARO
are trained, cleared, designated and compliant; the PRS has signed the NDA and holds a
current clearance; a second supporter's quarterly training is due soon; a few sessions
are coming up. Safe to run again: history is laid down only once per person.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from tandem.agencies.models import PEER_RECOVERY
from tandem.readiness import services
from tandem.readiness.models import (
    AgreementDocument,
    Course,
    Designation,
    PolicyReview,
    Signature,
    TrainingSession,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency

VACANCY_TITLE = "Peer supporter — all districts"
AGREEMENTS = {
    "confidentiality": (
        "Peer support confidentiality agreement",
        "I will keep in confidence what a member tells me as a peer supporter, within the "
        "exceptions the policy lists and which I explain at the start of every contact. "
        "I will not keep notes that identify anyone I support.",
    ),
    "nda": (
        "Non-disclosure agreement (criminal justice information)",
        "I will use criminal justice information only as the co-responder model requires, "
        "will not disclose it to anyone not authorised, and will make no public statement "
        "about the program without the Chief's permission.",
    ),
    "policy": (
        "Policy acknowledgement",
        "I have read the current peer program policy and will follow it.",
    ),
}


def _day_at(days: int, hour: int = 9) -> datetime:
    day = timezone.localdate() + timedelta(days=days)
    return timezone.make_aware(datetime.combine(day, time(hour)))


def _past_session(agency: Agency, code: str, days_ago: int) -> TrainingSession:
    course = Course.objects.get(agency=agency, code=code)
    start = _day_at(-days_ago)
    session, _ = TrainingSession.objects.get_or_create(
        course=course,
        starts_at=start,
        defaults={
            "agency": agency,
            "ends_at": start + timedelta(hours=3),
            "place": "Training Academy, room 2",
            "instructor": "Dr. Ana Lane",
            "capacity": 24,
        },
    )
    return session


def _attend(agency: Agency, coordinator: Any, user: User, code: str, days_ago: int) -> None:
    session = _past_session(agency, code, days_ago)
    services.attendance_mark(acting_user=coordinator, session=session, user=user, status="present")


def _sign(user: User, kind: str) -> None:
    """Demo signatures skip the re-authentication a person does on screen."""
    document = (
        AgreementDocument.objects.filter(agency_id=user.home_agency_id, kind=kind)
        .order_by("-version")
        .first()
    )
    if document and not Signature.objects.filter(document=document, user=user).exists():
        services._signature_write(
            acting_user=user, document=document, typed_name=user.get_full_name()
        )


def _clear(coordinator: Any, user: User, renewal_in: int = 640) -> None:
    if not user.readiness_checks.exists():
        today = timezone.localdate()
        services.check_record(
            acting_user=coordinator,
            user=user,
            checked_on=today - timedelta(days=90),
            result="cleared",
            renewal_due=today + timedelta(days=renewal_in),
        )


def _second_supporter(agency: Agency, supporter: Any) -> Any:
    from tandem.accounts.models import RoleAssignment, User
    from tandem.accounts.services import user_create
    from tandem.agencies.models import Member

    username = f"{agency.slug}-supporter-2"  # "demo-supporter-2" in the first demo agency
    user = User.objects.filter(username=username).first()
    if user is None:
        member = (
            Member.objects.filter(agency=agency, account__isnull=True, active=True)
            .exclude(pk=supporter.member_id or 0)
            .order_by("employee_number")
            .first()
        )
        # No sign-in for this one: the password is random and never shown.
        user = user_create(
            acting_user=None,
            agency_id=agency.pk,
            username=username,
            password=secrets.token_urlsafe(24),
            member=member,
            first_name=member.first_name if member else "Jamie",
            last_name=member.last_name if member else "Fischer",
            roles=["supporter"],
        )
    RoleAssignment.objects.get_or_create(user=user, agency=agency, role="supporter")
    return user


def _psp(
    agency: Agency,
    users: dict[str, Any],
    person: User,
    *,
    designated_ago: int,
    ongoing_ago: int | None,
    renewal_in: int = 640,
) -> None:
    if Designation.objects.filter(user=person, program="psp").exists():
        return
    coordinator = users["coordinator"]
    _attend(agency, coordinator, person, "psp-initial", designated_ago + 5)
    _clear(coordinator, person, renewal_in)
    _sign(person, "confidentiality")
    steps = agency.policy_model().selection.steps
    if set(steps) & set(services.APPLICATION_STEPS):
        _selected(agency, users, person, steps)
    else:
        services.designation_grant(
            acting_user=users["chief"],
            user=person,
            program="psp",
            designated_on=timezone.localdate() - timedelta(days=designated_ago),
        )
    if ongoing_ago is not None:
        _attend(agency, coordinator, person, "psp-ongoing", ongoing_ago)


def _selected(agency: Agency, users: dict[str, Any], person: User, steps: Sequence[str]) -> None:
    """Selection as the preset orders it (Columbus 18.107 C.1.a, Joplin SOG 2-13 IV.A.1):
    a letter of request answering the vacancy, the psychologist's interview where the
    policy has one, and the Chief's decision, which designates."""
    from tandem.readiness.models import Vacancy

    vacancy = Vacancy.objects.filter(agency=agency, program="psp", closed_at__isnull=True).first()
    if vacancy is None:
        vacancy = services.vacancy_create(
            acting_user=users["coordinator"],
            program="psp",
            title=VACANCY_TITLE,
            description="Letters of request to the coordinator.",
        )
    application = services.application_submit(
        acting_user=person,
        vacancy=vacancy,
        letter="I have served for years on patrol and would like to support my colleagues.",
    )
    if "psychologist_interview" in steps:
        application = services.application_interview(
            acting_user=users["psychologist"],
            application=application,
            outcome="recommended",
            interviewed_on=timezone.localdate(),
        )
    services.application_decide(acting_user=users["chief"], application=application, approve=True)


def _prp(agency: Agency, users: dict[str, Any], person: User) -> None:
    if Designation.objects.filter(user=person, program="prp").exists():
        return
    coordinator = users["crt_supervisor"] if "crt_supervisor" in users else users["coordinator"]
    _attend(agency, coordinator, person, "prp-core", 65)
    _attend(agency, coordinator, person, "cjis-awareness", 65)
    _clear(coordinator, person)
    _sign(person, "nda")
    if "certification" in agency.policy_model().selection.steps:
        today = timezone.localdate()
        services.certification_update(
            acting_user=users["crt_supervisor"],
            user=person,
            version=None,
            education="diploma",
            exam_date=today - timedelta(days=400),
            exam_result="passed",
            credential_number=f"PRC-{person.pk:05d}",
            issued_on=today - timedelta(days=380),
            expires_on=today + timedelta(days=350),
        )
    services.designation_grant(
        acting_user=users["chief"],
        user=person,
        program="prp",
        designated_on=timezone.localdate() - timedelta(days=60),
    )
    _attend(agency, coordinator, person, "prp-ongoing", 12)


def _upcoming(agency: Agency, users: dict[str, Any]) -> None:
    coordinator = users["coordinator"]
    plan = [
        ("psp-ongoing", 9, "Training Academy, room 2"),
        ("monthly-meeting", 16, "Wellness Unit conference room"),
        ("prp-ongoing", 12, "Community Resources Team office"),
    ]
    for code, days, place in plan:
        if code == "prp-ongoing" and not agency.runs(PEER_RECOVERY):
            continue
        course = Course.objects.get(agency=agency, code=code)
        if TrainingSession.objects.filter(course=course, starts_at__gt=timezone.now()).exists():
            continue
        start = _day_at(days, 14)
        session = services.session_schedule(
            acting_user=coordinator,
            course=course,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            place=place,
            instructor="Dr. Ana Lane",
            capacity=20,
        )
        people = [users["supporter"]] if code != "prp-ongoing" else [users["aro"], users["prs"]]
        for person in people:
            services.session_enrol(acting_user=coordinator, session=session, user=person)


def populate(*, agency: Agency, users: dict[str, Any]) -> None:
    """Create this program's demo records for ``agency``; safe to run again."""
    services.catalogue_seed(agency=agency)
    for kind, (title, body) in AGREEMENTS.items():
        services.agreement_publish(
            acting_user=users["coordinator"], kind=kind, title=title, body=body
        )
    if not PolicyReview.objects.filter(agency=agency).exists():
        services.policy_review_record(acting_user=users["coordinator"])
    _psp(agency, users, users["supporter"], designated_ago=55, ongoing_ago=20)
    _psp(
        agency,
        users,
        _second_supporter(agency, users["supporter"]),
        designated_ago=78,
        ongoing_ago=None,
        renewal_in=20,
    )  # due soon: the background check renewal
    if agency.runs(PEER_RECOVERY):
        # Columbus and Joplin run no peer recovery program (their policy's ``programs``).
        _prp(agency, users, users["aro"])
        _prp(agency, users, users["prs"])
    _upcoming(agency, users)
    vacancy_title = VACANCY_TITLE
    from tandem.readiness.models import Vacancy

    if not Vacancy.objects.filter(agency=agency, title=vacancy_title).exists():
        services.vacancy_create(
            acting_user=users["coordinator"],
            program="psp",
            title=vacancy_title,
            description="Letters of request to the Wellness Unit.",
        )
    for role in ("supporter", "aro", "prs"):
        if role in users:
            services.person_recompute(user=users[role], cause="demo")
