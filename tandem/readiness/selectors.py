"""Reads for the readiness screens and for reports; each list is a fixed number of queries."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from tandem.readiness.models import (
    Application,
    Attendance,
    Course,
    Designation,
    Enrolment,
    TrainingSession,
    Vacancy,
)

TEAM_ROLES = ("supporter", "aro", "prs")


def team_people(agency: Any) -> QuerySet[Any]:
    """Active accounts of the agency on (or designated to) a peer team."""
    from tandem.accounts.models import User

    return (
        User.objects.filter(agency=agency, is_active=True)
        .filter(
            Q(role_assignments__agency=agency, role_assignments__role__in=TEAM_ROLES)
            | Q(readiness_designations__removed_on__isnull=True,
                readiness_designations__agency=agency)
        )
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


def open_vacancies(agency: Any, day: Any) -> QuerySet[Vacancy]:
    return Vacancy.objects.filter(agency=agency, closed_at__isnull=True).filter(
        Q(closes_on__isnull=True) | Q(closes_on__gte=day)
    )


def applications_for_review(agency: Any) -> QuerySet[Application]:
    return Application.objects.filter(agency=agency).select_related(
        "applicant", "vacancy", "interviewed_by", "decided_by"
    )


def courses(agency: Any) -> QuerySet[Course]:
    return Course.objects.filter(agency=agency, active=True)


def sessions_between(agency: Any, start: Any, end: Any | None = None) -> QuerySet[TrainingSession]:
    qs = TrainingSession.objects.filter(agency=agency, starts_at__gte=start)
    if end is not None:
        qs = qs.filter(starts_at__lt=end)
    return qs.select_related("course").annotate(enrolled=Count("enrolments", distinct=True))


def sessions_for_user(user: Any) -> QuerySet[TrainingSession]:
    """Sessions a person enrolled in or attended (for their page and calendar feed)."""
    return (
        TrainingSession.objects.filter(agency_id=user.agency_id)
        .filter(Q(enrolments__user=user) | Q(attendance__user=user))
        .select_related("course")
        .distinct()
        .order_by("starts_at")
    )


def attendance_for_user(user: Any) -> QuerySet[Attendance]:
    return Attendance.objects.filter(user=user).select_related("session__course").order_by(
        "-session__starts_at"
    )


def enrolled_ids(user: Any) -> set[int]:
    return set(Enrolment.objects.filter(user=user).values_list("session_id", flat=True))


def designation_history(user: Any) -> QuerySet[Designation]:
    return Designation.objects.filter(user=user).select_related("designated_by", "removed_by")
