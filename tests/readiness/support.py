"""Helpers shared by the readiness tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.presets import load_preset
from tandem.readiness import services
from tandem.readiness.compliance import (
    AttendanceFact,
    CheckFact,
    DesignationFact,
    Facts,
)
from tandem.readiness.models import (
    Attendance,
    Course,
    HourLog,
    Signature,
    TrainingSession,
)
from tests.conftest import PASSWORD
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
        course=course,
        starts_at=when,
        defaults={
            "agency": agency,
            "ends_at": when + timedelta(hours=2),
            "place": "Academy",
            "instructor": "Dr. Lane",
            "capacity": 30,
        },
    )
    return session


def schedule(
    coordinator: User,
    course: Course,
    starts_at: datetime,
    *,
    hours: int = 1,
    ends_at: datetime | None = None,
    place: str = "HQ",
    instructor: str = "Sgt. Ruiz",
    capacity: int = 12,
) -> TrainingSession:
    """A session of ``course`` that ``coordinator`` schedules through the service (one hour
    at HQ with Sgt. Ruiz, twelve places, unless told)."""
    return services.session_schedule(
        acting_user=coordinator,
        course=course,
        starts_at=starts_at,
        ends_at=ends_at or starts_at + timedelta(hours=hours),
        place=place,
        instructor=instructor,
        capacity=capacity,
    )


def log_hours(user: User, kind: str, worked_on: date, hours: str, key: str) -> HourLog:
    """``hours`` of ``kind`` that ``user`` logs for ``worked_on`` (``key``: the form's
    idempotency key)."""
    return services.hours_log(
        acting_user=user, kind=kind, worked_on=worked_on, hours=Decimal(hours), idempotency_key=key
    )


def attend(
    agency: Any, coordinator: User, user: User, code: str, when: datetime, status: str = "present"
) -> Attendance:
    session = held_session(agency, code, when)
    return services.attendance_mark(
        acting_user=coordinator, session=session, user=user, status=status
    )


def sign(user: User, kind: str, offset_steps: int = 0) -> Signature:
    from tandem.readiness.models import AgreementDocument

    document = (
        AgreementDocument.objects.filter(agency_id=user.agency_id, kind=kind)
        .order_by("-version")
        .first()
    )
    if document is None:
        coordinator = User.objects.filter(
            agency_id=user.agency_id, role_assignments__role="coordinator"
        ).first()
        document = services.agreement_publish(
            acting_user=coordinator,
            kind=kind,
            title=f"{kind.title()} agreement",
            body="I will keep what I learn in confidence within the limits of the policy.",
        )
    return services.agreement_sign(
        acting_user=user,
        document=document,
        typed_name=user.get_full_name(),
        password=PASSWORD,
        code=code_for(user, offset_steps),
    )


def clear(coordinator: User, user: User, checked_on: date, *, days: int) -> Any:
    """A cleared background check of ``user`` on ``checked_on``, due again ``days`` later."""
    return services.check_record(
        acting_user=coordinator,
        user=user,
        checked_on=checked_on,
        result="cleared",
        renewal_due=checked_on + timedelta(days=days),
    )


def make_ready(
    agency: Any, cast: dict[str, User], user: User, *, trained: datetime, designate: bool = True
) -> None:
    """Initial training, a cleared check, the confidentiality agreement and designation."""
    coordinator = cast["coordinator"]
    attend(agency, coordinator, user, "psp-initial", trained)
    clear(coordinator, user, timezone.localdate(trained), days=730)
    sign(user, "confidentiality")
    if designate:
        services.designation_grant(
            acting_user=cast["chief"],
            user=user,
            program="psp",
            designated_on=timezone.localdate(trained),
        )


def psp_facts(
    *extra: AttendanceFact, designated: date = date(2026, 1, 5), removed: date | None = None
) -> Facts:
    initial = AttendanceFact(
        designated, "initial", "psp", "present", tuple(CS.training.initial_topics)
    )
    return Facts(
        programs=frozenset({"psp"}),
        designations=(DesignationFact("psp", designated, removed),),
        attendance=(initial, *extra),
        checks=(CheckFact(date(2026, 1, 2), "cleared", date(2028, 1, 2)),),
        signed=(("confidentiality", date(2026, 1, 3)),),
    )


def ongoing(day: date, status: str = "present") -> AttendanceFact:
    return AttendanceFact(day, "ongoing", "psp", status)
