"""Who may reach which readiness object. Every helper answers ``Http404`` both for
"missing" and for "not allowed", and scopes every query to the user's own agency."""

from __future__ import annotations

from typing import Any

from django.http import Http404

from tandem.agencies.access import require_role
from tandem.agencies.models import Agency
from tandem.readiness.models import (
    AgreementDocument,
    Application,
    Designation,
    HourLog,
    TrainingSession,
)

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
#: Sign off certification hours.
HOUR_SIGNERS = ("crt_supervisor", "coordinator", "psychologist")
#: Statement of privilege eligibility.
STATEMENT_READERS = ("coordinator", "chief", "psychologist")


def require_member(user: Any) -> Agency:
    """The user's agency for any signed-in account of it (vacancies are agency-wide)."""
    agency = getattr(user, "agency", None)
    if agency is None or not user.is_active:
        raise Http404
    return agency


def _pk(pk: Any) -> int:
    try:
        return int(pk)
    except (TypeError, ValueError):
        raise Http404 from None


def get_person_for_user(user: Any, pk: Any, *, write: bool = False,
                        roles: tuple[str, ...] = OVERSEERS) -> Any:
    from tandem.accounts.models import User

    agency = require_role(user, *(COORDINATORS if write else roles))
    try:
        return User.objects.select_related("member", "agency").get(agency=agency, pk=_pk(pk))
    except User.DoesNotExist:
        raise Http404 from None


def get_application_for_user(user: Any, pk: Any, *, write: bool = False) -> Application:
    agency = require_member(user)
    try:
        application = Application.objects.select_related(
            "applicant", "vacancy", "interviewed_by", "decided_by"
        ).get(agency=agency, pk=_pk(pk))
    except Application.DoesNotExist:
        raise Http404 from None
    if application.applicant_id == user.pk or user.has_role(*SELECTORS):
        return application
    raise Http404


def get_designation_for_user(user: Any, pk: Any, *, write: bool = False) -> Designation:
    agency = require_role(user, *(REMOVERS if write else OVERSEERS))
    try:
        return Designation.objects.select_related("user").get(agency=agency, pk=_pk(pk))
    except Designation.DoesNotExist:
        raise Http404 from None


def get_session_for_user(user: Any, pk: Any, *, write: bool = False) -> TrainingSession:
    agency = require_role(user, *(COORDINATORS if write else (*COORDINATORS, *TEAM)))
    try:
        return TrainingSession.objects.select_related("course").get(agency=agency, pk=_pk(pk))
    except TrainingSession.DoesNotExist:
        raise Http404 from None


def get_document_for_user(user: Any, pk: Any, *, write: bool = False) -> AgreementDocument:
    agency = require_role(user, *(COORDINATORS if write else (*COORDINATORS, *TEAM)))
    try:
        return AgreementDocument.objects.get(agency=agency, pk=_pk(pk))
    except AgreementDocument.DoesNotExist:
        raise Http404 from None


def get_hour_log_for_user(user: Any, pk: Any, *, write: bool = False) -> HourLog:
    agency = require_role(user, *HOUR_SIGNERS)
    try:
        return HourLog.objects.select_related("user").get(agency=agency, pk=_pk(pk))
    except HourLog.DoesNotExist:
        raise Http404 from None
