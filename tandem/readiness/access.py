"""Who may reach which readiness object. Every helper answers ``Http404`` both for
"missing" and for "not allowed", and scopes every query to the user's own agency."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import Http404

from tandem.agencies.access import one_or_404, require_account, require_role
from tandem.agencies.models import Agency
from tandem.readiness.models import (
    AgreementDocument,
    Application,
    Designation,
    HourLog,
    TimeEntry,
    TrainingSession,
    Vacancy,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User

#: Run the program: sessions, attendance, clearances, agreements, vacancies.
COORDINATORS = ("coordinator", "crt_supervisor")
#: See the team's readiness (dashboard, a person's page).
OVERSEERS = ("coordinator", "chief", "psychologist", "crt_supervisor")
#: Review applications.
SELECTORS = ("coordinator", "chief", "psychologist")
#: Remove someone from a team.
REMOVERS = ("coordinator", "chief")
#: People who train and serve on a team.
TEAM = ("supporter", "aro", "prs")
#: Sign off peer recovery certification hours and record credentials (PRP supervisors).
HOUR_SIGNERS = ("crt_supervisor",)
#: Statement of privilege eligibility.
STATEMENT_READERS = ("coordinator", "chief", "psychologist")


#: Roles whose oversight is limited to peer recovery people.
PRP_ONLY = ("crt_supervisor",)
PSP_WIDE = ("coordinator", "chief", "psychologist")


def prp_only(user: User) -> bool:
    """True for a reader who oversees peer recovery people only (the CRT supervisor)."""
    return user.has_role(*PRP_ONLY) and not user.has_role(*PSP_WIDE)


def people_in_scope(user: User, agency: Agency) -> Any:
    """The agency's accounts ``user`` may look at here: team members (a team role or a
    designation) and applicants; peer recovery people only for a CRT supervisor."""
    from django.db.models import Q

    from tandem.accounts.models import User

    prp_roles = Q(role_assignments__agency=agency, role_assignments__role__in=("aro", "prs"))
    prp_designated = Q(readiness_designations__agency=agency, readiness_designations__program="prp")
    if prp_only(user):
        scope = prp_roles | prp_designated | Q(readiness_applications__program="prp")
    else:
        scope = (
            Q(role_assignments__agency=agency, role_assignments__role__in=TEAM)
            | Q(readiness_designations__agency=agency)
            | Q(readiness_applications__agency=agency)
        )
    ids = User.objects.filter(agency=agency).filter(scope).values("pk")
    return User.objects.filter(agency=agency, pk__in=ids)


def get_person_for_user(
    user: User, pk: int | str, *, write: bool, roles: tuple[str, ...] = OVERSEERS
) -> Any:
    agency = require_role(user, *(COORDINATORS if write else roles))
    return one_or_404(people_in_scope(user, agency).select_related("member", "agency"), pk)


def get_vacancy_for_user(user: User, pk: int | str, *, write: bool) -> Vacancy:
    """Any member reads an open vacancy (to apply); coordinators manage every vacancy."""
    from django.utils import timezone

    agency = require_role(user, *COORDINATORS) if write else require_account(user)
    vacancy = one_or_404(Vacancy.objects.all(), pk, agency=agency)
    if not write and not vacancy.is_open_on(timezone.localdate()):
        raise Http404
    return vacancy


def get_time_entry_for_user(user: User, pk: int | str) -> TimeEntry:
    """A supporter's own time entries only."""
    require_role(user, "supporter")
    return one_or_404(TimeEntry.objects.all(), pk, user_id=user.pk)


def get_application_for_user(user: User, pk: int | str) -> Application:
    agency = require_account(user)
    application = one_or_404(
        Application.objects.select_related("applicant", "vacancy", "interviewed_by", "decided_by"),
        pk,
        agency=agency,
    )
    if application.applicant_id == user.pk or user.has_role(*SELECTORS):
        return application
    raise Http404


def get_designation_for_user(user: User, pk: int | str, *, write: bool) -> Designation:
    agency = require_role(user, *(REMOVERS if write else OVERSEERS))
    return one_or_404(Designation.objects.select_related("user"), pk, agency=agency)


def get_session_for_user(user: User, pk: int | str, *, write: bool) -> TrainingSession:
    agency = require_role(user, *(COORDINATORS if write else (*COORDINATORS, *TEAM)))
    return one_or_404(TrainingSession.objects.select_related("course"), pk, agency=agency)


def get_document_for_user(user: User, pk: int | str) -> AgreementDocument:
    """An agreement to read and sign; coordinators change documents through their own
    screens, which start from the agency's list."""
    agency = require_role(user, *COORDINATORS, *TEAM)
    return one_or_404(AgreementDocument.objects.all(), pk, agency=agency)


def get_hour_log_for_user(user: User, pk: int | str) -> HourLog:
    agency = require_role(user, *HOUR_SIGNERS)
    return one_or_404(HourLog.objects.select_related("user"), pk, agency=agency)
