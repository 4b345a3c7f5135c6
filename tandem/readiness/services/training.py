"""Training sessions and attendance (PS-12).

Part of ``tandem.readiness.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.agencies.access import require_actor_role
from tandem.audit.services import audit_record
from tandem.readiness.access import COORDINATORS
from tandem.readiness.models import (
    Attendance,
    AttendanceStatus,
    Course,
    Enrolment,
    TrainingSession,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .gates import person_recompute

# ---------------------------------------------------------------------------------------
# Training sessions and attendance (PS-12)
# ---------------------------------------------------------------------------------------


@transaction.atomic
def session_schedule(
    *,
    acting_user: User,
    course: Course,
    starts_at: datetime,
    ends_at: datetime,
    place: str,
    instructor: str,
    capacity: int,
) -> TrainingSession:
    if course.agency_id != acting_user.agency_id:
        raise ValidationError("Choose a course from the catalogue.")
    if starts_at <= timezone.now():
        raise ValidationError("A session cannot be scheduled in the past.")
    if ends_at <= starts_at:
        raise ValidationError("The session must end after it starts.")
    if ends_at - starts_at > timedelta(hours=24):
        raise ValidationError("A session lasts at most 24 hours; schedule each day separately.")
    if capacity < 1:
        raise ValidationError("The capacity must be at least 1.")
    if not place.strip() or not instructor.strip():
        raise ValidationError("Give the place and the instructor.")
    try:
        with transaction.atomic():
            session = TrainingSession.objects.create(
                agency_id=course.agency_id,
                course=course,
                starts_at=starts_at,
                ends_at=ends_at,
                place=place.strip(),
                instructor=instructor.strip(),
                capacity=capacity,
                created_by=acting_user,
            )
    except IntegrityError:
        raise ValidationError("This course already has a session at that time.") from None
    audit_record(
        action="readiness.session_scheduled",
        actor=acting_user,
        agency_id=session.agency_id,
        obj=session,
        detail={"course": course.code},
    )
    return session


@transaction.atomic
def session_enrol(*, acting_user: User, session: TrainingSession, user: User) -> Enrolment:
    """Enrol ``user`` (oneself, or anyone for a coordinator). A second click is harmless."""
    if user.pk != acting_user.pk:
        require_actor_role(acting_user, *COORDINATORS)
    if user.agency_id != session.agency_id:
        raise ValidationError("This person is not in the agency.")
    locked = TrainingSession.objects.select_for_update().get(pk=session.pk)
    existing = Enrolment.objects.filter(session=locked, user=user).first()
    if existing is not None:
        return existing
    if locked.starts_at <= timezone.now():
        raise ValidationError("This session has already started.")
    if locked.enrolments.count() >= locked.capacity:
        raise ValidationError("This session is full.")
    enrolment = Enrolment.objects.create(session=locked, user=user)
    audit_record(
        action="readiness.enrolled",
        actor=acting_user,
        agency_id=session.agency_id,
        obj=user,
        detail={"session": session.pk},
    )
    return enrolment


@transaction.atomic
def attendance_mark(
    *, acting_user: User, session: TrainingSession, user: User, status: str
) -> Attendance:
    """Present, excused or unexcused. Marking again changes the mark (one row per person)."""
    if status not in AttendanceStatus.values:
        raise ValidationError("Choose present, excused or unexcused.")
    if user.agency_id != session.agency_id:
        raise ValidationError("This person is not in the agency.")
    if session.starts_at > timezone.now():
        raise ValidationError("Attendance can be marked once the session has started.")
    locked = TrainingSession.objects.select_for_update().get(pk=session.pk)
    attendance = Attendance.objects.filter(session=locked, user=user).first()
    before = attendance.status if attendance else None
    if attendance is None:
        attendance = Attendance.objects.create(
            session=locked, user=user, status=status, marked_by=acting_user
        )
    elif attendance.status != status:
        attendance.status = status
        attendance.marked_by = acting_user
        attendance.marked_at = timezone.now()
        attendance.save(update_fields=["status", "marked_by", "marked_at"])
    if before != status:
        audit_record(
            action="readiness.attendance_marked",
            actor=acting_user,
            agency_id=session.agency_id,
            obj=user,
            detail={"session": session.pk, "status": status, "was": before},
        )
        person_recompute(user=user, acting_user=acting_user, cause="attendance")
    return attendance
