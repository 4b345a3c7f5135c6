"""Reads for the readiness screens and for reports; each list is a fixed number of queries."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet

from tandem.agencies.models import PEER_RECOVERY, PEER_SUPPORT, Agency
from tandem.audit.services import audit_record
from tandem.readiness.access import people_in_scope
from tandem.readiness.gates import peer_support_ready_users
from tandem.readiness.models import (
    AgreementDocument,
    Application,
    Attendance,
    Certification,
    Course,
    Designation,
    Enrolment,
    HourLog,
    Signature,
    TimeEntry,
    TrainingSession,
    Vacancy,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User

TEAM_ROLES = ("supporter", "aro", "prs")
#: Each program's team roles and designation code, by the program's name in the policy.
PROGRAM_TEAMS: dict[str, tuple[tuple[str, ...], str]] = {
    PEER_SUPPORT: (("supporter",), "psp"),
    PEER_RECOVERY: (("aro", "prs"), "prp"),
}


def team_people(agency: Agency) -> QuerySet[Any]:
    """Active accounts of the agency on (or designated to) the team of a program it runs:
    an ARO account in an agency without peer recovery is on no team (``Agency.runs``)."""
    from tandem.accounts.models import User

    run = [team for program, team in PROGRAM_TEAMS.items() if agency.runs(program)]
    roles = [role for team_roles, _code in run for role in team_roles]
    codes = [code for _roles, code in run]
    return (
        User.objects.filter(agency=agency, is_active=True)
        .filter(
            Q(role_assignments__agency=agency, role_assignments__role__in=roles)
            | Q(
                readiness_designations__removed_on__isnull=True,
                readiness_designations__agency=agency,
                readiness_designations__program__in=codes,
            )
        )
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


def open_vacancies(agency: Agency, day: date) -> QuerySet[Vacancy]:
    return Vacancy.objects.filter(agency=agency, closed_at__isnull=True).filter(
        Q(closes_on__isnull=True) | Q(closes_on__gte=day)
    )


def applications_for_review(agency: Agency) -> QuerySet[Application]:
    return Application.objects.filter(agency=agency).select_related(
        "applicant", "vacancy", "interviewed_by", "decided_by"
    )


def courses(agency: Agency) -> QuerySet[Course]:
    return Course.objects.filter(agency=agency, active=True)


def sessions_between(
    agency: Agency, start: Any, end: Any | None = None
) -> QuerySet[TrainingSession]:
    qs = TrainingSession.objects.filter(agency=agency, starts_at__gte=start)
    if end is not None:
        qs = qs.filter(starts_at__lt=end)
    return qs.select_related("course").annotate(enrolled=Count("enrolments", distinct=True))


def sessions_for_user(user: User) -> QuerySet[TrainingSession]:
    """Sessions a person enrolled in or attended (for their page and calendar feed)."""
    return (
        TrainingSession.objects.filter(agency_id=user.home_agency_id)
        .filter(Q(enrolments__user=user) | Q(attendance__user=user))
        .select_related("course")
        .distinct()
        .order_by("starts_at")
    )


def attendance_for_user(user: User) -> QuerySet[Attendance]:
    return (
        Attendance.objects.filter(user=user)
        .select_related("session__course")
        .order_by("-session__starts_at")
    )


def enrolled_ids(user: User) -> set[int]:
    return set(Enrolment.objects.filter(user=user).values_list("session_id", flat=True))


def designation_history(user: User) -> QuerySet[Designation]:
    return Designation.objects.filter(user=user).select_related("designated_by", "removed_by")


def signatures_with_currency(user: User) -> list[tuple[Any, int | None]]:
    """The person's signatures, each with the agency's current version of that agreement
    when the signed version has been replaced (None while it is still current)."""
    from django.db.models import Max

    from tandem.readiness.models import AgreementDocument, Signature

    current = dict(
        AgreementDocument.objects.filter(agency_id=user.home_agency_id)
        .values("kind")
        .annotate(v=Max("version"))
        .values_list("kind", "v")
    )
    signatures = list(Signature.objects.filter(user=user).select_related("document"))
    signed = {(s.document.kind, s.document.version) for s in signatures}
    out: list[tuple[Any, int | None]] = []
    for s in signatures:
        latest = current.get(s.document.kind, s.document.version)
        outdated = latest > s.document.version and (s.document.kind, latest) not in signed
        out.append((s, latest if outdated else None))
    return out


# --- Audited reads ---------------------------------------------------------------------
# Each sensitive screen reads through one of these: the read and its audit row happen in
# the same transaction, and views never write the audit trail themselves.


@transaction.atomic
def team_overview(*, acting_user: User, agency: Agency) -> list[Any]:
    """The team members ``acting_user`` oversees (peer recovery only for a CRT supervisor)."""
    people = list(
        team_people(agency)
        .filter(pk__in=people_in_scope(acting_user, agency).values("pk"))
        .select_related("member")
    )
    audit_record(
        action="readiness.team_viewed",
        actor=acting_user,
        agency_id=agency.pk,
        obj=agency,
    )
    return people


@transaction.atomic
def person_record(*, acting_user: User, person: User) -> dict[str, Any]:
    """Everything the person page shows about one team member."""
    from tandem.readiness import compliance, services
    from tandem.readiness.models import BackgroundCheck, HourLog

    record = {
        "status": compliance.status_for(person),
        "designations": designation_history(person),
        "attendance": attendance_for_user(person),
        "checks": list(BackgroundCheck.objects.filter(user=person)),
        "signatures": signatures_with_currency(person),
        "progress": services.certification_progress(person),
        "hour_logs": list(HourLog.objects.filter(user=person).select_related("signed_off_by")),
    }
    audit_record(
        action="readiness.person_viewed",
        actor=acting_user,
        agency_id=person.agency_id,
        obj=person,
    )
    return record


@transaction.atomic
def applications_read(*, acting_user: User, agency: Agency) -> list[Application]:
    applications = list(applications_for_review(agency))
    audit_record(
        action="readiness.applications_viewed",
        actor=acting_user,
        agency_id=agency.pk,
        obj=agency,
        detail={"count": len(applications)},
    )
    return applications


@transaction.atomic
def application_read(*, acting_user: User, application: Application) -> Application:
    """One application (letter of request, the interview's outcome)."""
    audit_record(
        action="readiness.application_viewed",
        actor=acting_user,
        agency_id=application.agency_id,
        obj=application,
    )
    return application


@transaction.atomic
def session_attendance(*, acting_user: User, session: TrainingSession) -> dict[int, Attendance]:
    """The attendance marks of one session, by user id."""
    marks = {a.user_id: a for a in Attendance.objects.filter(session=session)}
    audit_record(
        action="readiness.session_viewed",
        actor=acting_user,
        agency_id=session.agency_id,
        obj=session,
    )
    return marks


def certification_of(user: User) -> Certification | None:
    """A peer recovery person's certification record, None until it is first saved."""
    return Certification.objects.filter(user=user).first()


@transaction.atomic
def certification_read(*, acting_user: User, person: User) -> dict[str, Any]:
    """A person's certification progress and hour logs."""
    from tandem.readiness import services
    from tandem.readiness.models import HourLog

    record = {
        "progress": services.certification_progress(person),
        "logs": list(HourLog.objects.filter(user=person).select_related("signed_off_by")),
    }
    audit_record(
        action="readiness.certification_viewed",
        actor=acting_user,
        agency_id=person.agency_id,
        obj=person,
    )
    return record


@transaction.atomic
def time_export_entries(*, acting_user: User, agency: Agency, start: Any, end: Any) -> list[Any]:
    from tandem.readiness.models import TimeEntry

    entries = list(
        TimeEntry.objects.filter(agency=agency, worked_on__range=(start, end))
        .select_related("user__member")
        .order_by("worked_on", "user__last_name")
    )
    audit_record(
        action="readiness.time_exported",
        actor=acting_user,
        agency_id=agency.pk,
        obj=agency,
        detail={"start": str(start), "end": str(end)},
    )
    return entries


@transaction.atomic
def statement_status(*, acting_user: User, person: User, day: date) -> Any:
    """The person's status on ``day`` for a privilege eligibility statement."""
    from tandem.readiness import compliance

    facts = compliance.load_facts([person])[person.pk]
    status = compliance.evaluate(facts, person.home_agency.policy_model(), day)
    audit_record(
        action="readiness.statement_viewed",
        actor=acting_user,
        agency_id=person.agency_id,
        obj=person,
        detail={"on": str(day)},
    )
    return status


# --- Agreements, sessions and hours (the screens' small reads) ------------------------------


def current_documents(agency: Agency) -> list[AgreementDocument]:
    """The newest published version of each kind of agreement."""
    latest: dict[str, AgreementDocument] = {}
    for document in AgreementDocument.objects.filter(agency=agency).order_by("kind", "-version"):
        latest.setdefault(document.kind, document)
    return list(latest.values())


def agreement_documents(agency: Agency) -> QuerySet[AgreementDocument]:
    return AgreementDocument.objects.filter(agency=agency).select_related("published_by")


def signed_document_ids(user: User) -> set[int]:
    return set(Signature.objects.filter(user=user).values_list("document_id", flat=True))


def signature_of(document: AgreementDocument, user: User) -> Signature | None:
    return Signature.objects.filter(document=document, user=user).first()


def enrolled_users(session: TrainingSession) -> QuerySet[Any]:
    """Everyone enrolled in ``session`` or marked at it."""
    from tandem.accounts.models import User

    return User.objects.filter(
        Q(readiness_enrolments__session=session) | Q(readiness_attendance__session=session)
    )


def hours_to_sign_off(agency: Agency, *, signer: User) -> QuerySet[HourLog]:
    """Certification hours waiting for a supervisor, other than the signer's own."""
    return (
        HourLog.objects.filter(agency=agency, signed_off_at__isnull=True)
        .exclude(user=signer)
        .select_related("user")[:50]
    )


def recent_time_entries(user: User, limit: int = 60) -> QuerySet[TimeEntry]:
    return TimeEntry.objects.filter(user=user)[:limit]


def my_applications(agency: Agency, user: User) -> QuerySet[Application]:
    return applications_for_review(agency).filter(applicant=user)


def session_people(session: TrainingSession, *, viewer: User) -> list[User]:
    """The people ``viewer`` oversees who are on a peer team or enrolled in (or marked at)
    ``session``, by name."""
    scope = people_in_scope(viewer, session.agency).values("pk")
    found = {u.pk: u for u in team_people(session.agency).filter(pk__in=scope)}
    found.update({u.pk: u for u in enrolled_users(session).filter(pk__in=scope)})
    return sorted(found.values(), key=lambda u: (u.last_name, u.first_name, u.username))


def session_enrolled_ids(session: TrainingSession) -> set[int]:
    return set(session.enrolments.values_list("user_id", flat=True))


def team_person_in_scope(agency: Agency, pk: int, *, viewer: User) -> User | None:
    """A person on a peer team whom ``viewer`` oversees, or None."""
    people = team_people(agency).filter(pk__in=people_in_scope(viewer, agency).values("pk"))
    return people.filter(pk=pk).first()


def person_in_scope(agency: Agency, pk: int, *, viewer: User) -> User | None:
    """A person ``viewer`` may look at here (a team member or an applicant), or None."""
    found: User | None = people_in_scope(viewer, agency).filter(pk=pk).first()
    return found


def peer_support_ready_ids(agency: Agency) -> set[int]:
    """The ids of the people who may serve as peer supporters now (their gate is open)."""
    return set(peer_support_ready_users(agency).values_list("pk", flat=True))
