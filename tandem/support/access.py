"""Who may reach which peer-support object. Every helper answers ``Http404`` both for
"missing" and for "not allowed", and scopes every query to the user's own agency.

There is deliberately no helper that finds requests or usage records by member: nobody,
chief and administrator included, can ask "did X use peer support?" (PS-5, PS-8).
"""

from __future__ import annotations

from typing import Any

from django.http import Http404

from tandem.agencies.access import one_or_404, pk_or_404, require_account, require_role
from tandem.agencies.models import Role
from tandem.support import vocab
from tandem.support.models import (
    Consultation,
    CriticalIncident,
    DutyToReportNotice,
    FollowUpReminder,
    MutualAidRequest,
    Override,
    Rotation,
    SupporterProfile,
    SupportRequest,
)

#: Everyone with an account in the agency may see the roster and ask for support.
EVERYONE = tuple(Role.values)
HELPERS = (Role.SUPPORTER, Role.COORDINATOR, Role.PSYCHOLOGIST)
COORDINATORS = (Role.COORDINATOR,)
ON_CALL_READERS = (Role.DISPATCHER, Role.COORDINATOR, Role.SUPPORTER, Role.PSYCHOLOGIST)
DUTY_READERS = (Role.COORDINATOR, Role.PSYCHOLOGIST)
REQUEST_ON_BEHALF = (Role.DISPATCHER, Role.COORDINATOR)


def get_request_for_user(user: Any, pk: Any, *, write: bool = False) -> SupportRequest:
    """An open request offered to the user, or accepted by them. Closed requests are not
    found by anyone: there is nothing left to show."""
    agency = require_role(user, *HELPERS)
    request = (
        SupportRequest.objects.select_related(
            "agency", "data_key", "accepted_by__user", "chosen_supporter__user", "incident")
        .filter(agency=agency, pk=pk_or_404(pk), status__in=vocab.OPEN_STATUSES)
        .first()
    )
    if request is None:
        raise Http404
    accepted = request.accepted_by is not None and request.accepted_by.user_id == user.pk
    offered = request.offers.filter(user=user, active=True).exists()
    if not (accepted or offered):
        raise Http404
    return request


def request_taken_from_user(user: Any, pk: Any) -> bool:
    """True when ``user`` was offered this request at its current step and another helper
    accepted it first. The loser of that race is told so, and nothing else: the request
    itself stays out of their reach (``get_request_for_user`` answers 404)."""
    agency = require_role(user, *HELPERS)
    request = (
        SupportRequest.objects.filter(agency=agency, pk=pk_or_404(pk),
                                      status__in=vocab.OPEN_STATUSES,
                                      accepted_by__isnull=False)
        .exclude(status=vocab.RequestStatus.ROUTING)
        .exclude(accepted_by__user=user)
        .first()
    )
    if request is None:
        return False
    mine = request.offers.filter(user=user)
    if mine.exclude(recused_reason="").exists():
        return False
    return mine.filter(active=False, step=request.step).exists()


def get_profile_for_user(user: Any, pk: Any, *, write: bool = False) -> SupporterProfile:
    agency = require_account(user)
    profile = one_or_404(SupporterProfile.objects.select_related("user", "unit"), pk,
                         agency=agency)
    if write and profile.user_id != user.pk:
        raise Http404
    return profile


def get_rotation_for_user(user: Any, pk: Any, *, write: bool = False) -> Rotation:
    agency = require_role(user, *COORDINATORS)
    return one_or_404(Rotation.objects.all(), pk, agency=agency)


def get_override_for_user(user: Any, pk: Any, *, write: bool = False) -> Override:
    agency = require_role(user, *COORDINATORS)
    return one_or_404(Override.objects.all(), pk, agency=agency)


def get_duty_for_user(user: Any, pk: Any, *, write: bool = False) -> DutyToReportNotice:
    agency = require_role(user, *DUTY_READERS)
    return one_or_404(
        DutyToReportNotice.objects.select_related("data_key", "filed_by__user"),
        pk, agency=agency,
    )


def get_consultation_for_user(user: Any, pk: Any, *, write: bool = False) -> Consultation:
    agency = require_account(user)
    role = agency.policy_model().confidentiality.consult_role
    if not user.has_role(role):
        raise Http404
    return one_or_404(Consultation.objects.all(), pk, agency=agency)


def get_incident_for_user(user: Any, pk: Any, *, write: bool = False) -> CriticalIncident:
    agency = require_role(user, *COORDINATORS)
    return one_or_404(CriticalIncident.objects.all(), pk, agency=agency)


def get_mutual_aid_for_user(user: Any, pk: Any, *, write: bool = False) -> MutualAidRequest:
    agency = require_role(user, *COORDINATORS)
    return one_or_404(MutualAidRequest.objects.all(), pk, agency=agency)


def get_reminder_for_user(user: Any, pk: Any, *, write: bool = False) -> FollowUpReminder:
    require_role(user, *HELPERS)
    return one_or_404(FollowUpReminder.objects.select_related("supporter"), pk,
                      supporter__user=user)


def breach_readers_agency(user: Any) -> Any:
    """The agency, when ``user`` holds a role the policy notifies of breaches (GO 702 .38)."""
    agency = require_account(user)
    return require_role(user, *agency.policy_model().confidentiality.breach_notify)


def get_breach_for_user(user: Any, pk: Any, *, write: bool = False) -> Any:
    from tandem.support.models import BreachReport

    agency = breach_readers_agency(user)
    return one_or_404(BreachReport.objects.all(), pk, agency=agency)
