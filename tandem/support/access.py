"""Who may reach which peer-support object. Every helper answers ``Http404`` both for
"missing" and for "not allowed", and scopes every query to the user's own agency.

There is deliberately no helper that finds requests or usage records by member: nobody,
chief and administrator included, can ask "did X use peer support?" (PS-5, PS-8).
"""

from __future__ import annotations

import re
import uuid
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.http import Http404
from django.utils import timezone
from django.utils.crypto import constant_time_compare, salted_hmac

from tandem.agencies.access import one_or_404, require_account, require_role
from tandem.agencies.models import Agency, Role
from tandem.support import services, vocab
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

if TYPE_CHECKING:
    from tandem.accounts.models import User

#: Everyone with an account in the agency may see the roster and ask for support.
EVERYONE = tuple(Role.values)
HELPERS = (Role.SUPPORTER, Role.COORDINATOR, Role.PSYCHOLOGIST)
COORDINATORS = (Role.COORDINATOR,)
ON_CALL_READERS = (Role.DISPATCHER, Role.COORDINATOR, Role.SUPPORTER, Role.PSYCHOLOGIST)
DUTY_READERS = (Role.COORDINATOR, Role.PSYCHOLOGIST)
REQUEST_ON_BEHALF = (Role.DISPATCHER, Role.COORDINATOR)


def request_key_or_404(pk: uuid.UUID | str) -> uuid.UUID:
    """A request's key (a random UUID) from a URL or form value; anything else is a 404."""
    try:
        return pk if isinstance(pk, uuid.UUID) else uuid.UUID(str(pk))
    except (TypeError, ValueError):
        raise Http404 from None


def get_request_for_user(user: User, pk: uuid.UUID | str) -> SupportRequest:
    """An open request offered to the user, or accepted by them. Closed requests are not
    found by anyone: there is nothing left to show."""
    agency = require_role(user, *HELPERS)
    request = (
        SupportRequest.objects.select_related(
            "agency", "data_key", "accepted_by__user", "chosen_supporter__user", "incident"
        )
        .filter(agency=agency, pk=request_key_or_404(pk), status__in=vocab.OPEN_STATUSES)
        .first()
    )
    if request is None:
        raise Http404
    accepted = request.accepted_by is not None and request.accepted_by.user_id == user.pk
    offered = request.offers.filter(user=user, active=True).exists()
    if not (accepted or offered):
        raise Http404
    return request


def request_taken_from_user(user: User, pk: uuid.UUID | str) -> bool:
    """True when ``user`` was offered this request at its current step and another helper
    accepted it first. The loser of that race is told so, and nothing else: the request
    itself stays out of their reach (``get_request_for_user`` answers 404)."""
    agency = require_role(user, *HELPERS)
    request = (
        SupportRequest.objects.filter(
            agency=agency,
            pk=request_key_or_404(pk),
            status__in=vocab.OPEN_STATUSES,
            accepted_by__isnull=False,
        )
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


def get_profile_for_user(user: User, pk: int | str) -> SupporterProfile:
    agency = require_account(user)
    return one_or_404(SupporterProfile.objects.select_related("user", "unit"), pk, agency=agency)


def get_rotation_for_user(user: User, pk: int | str) -> Rotation:
    agency = require_role(user, *COORDINATORS)
    return one_or_404(Rotation.objects.all(), pk, agency=agency)


def get_override_for_user(user: User, pk: int | str) -> Override:
    agency = require_role(user, *COORDINATORS)
    return one_or_404(Override.objects.all(), pk, agency=agency)


def get_duty_for_user(user: User, pk: int | str) -> DutyToReportNotice:
    agency = require_role(user, *DUTY_READERS)
    return one_or_404(
        DutyToReportNotice.objects.select_related("data_key", "filed_by__user"),
        pk,
        agency=agency,
    )


def get_consultation_for_user(user: User, pk: int | str) -> Consultation:
    agency = require_account(user)
    role = agency.policy_model().confidentiality.consult_role
    if not user.has_role(role):
        raise Http404
    return one_or_404(Consultation.objects.all(), pk, agency=agency)


def get_incident_for_user(user: User, pk: int | str) -> CriticalIncident:
    agency = require_role(user, *COORDINATORS)
    return one_or_404(CriticalIncident.objects.all(), pk, agency=agency)


def get_mutual_aid_for_user(user: User, pk: int | str) -> MutualAidRequest:
    agency = require_role(user, *COORDINATORS)
    return one_or_404(MutualAidRequest.objects.all(), pk, agency=agency)


def get_reminder_for_user(user: User, pk: int | str) -> FollowUpReminder:
    require_role(user, *HELPERS)
    return one_or_404(
        FollowUpReminder.objects.select_related("supporter"), pk, supporter__user=user
    )


# --- The help page: reached by a secret, never by an account -----------------------------

#: An in-app help pass opens the agency's help page for this many days after it was shown.
HELP_PASS_DAYS = 3
_PASS = re.compile(r"^(\d{1,12})-([0-9a-f]{32})$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


def _pass_mac(agency_pk: int, day: date) -> str:
    return salted_hmac(
        "tandem.support.help-pass", f"{agency_pk}:{day.isoformat()}", algorithm="sha256"
    ).hexdigest()[:32]


def help_pass_for(agency: Agency) -> str:
    """The secret path segment that opens the agency's help page from inside Tandem. It is
    the same for every member of the agency on a given day, so it names nobody."""
    return f"{agency.pk}-{_pass_mac(agency.pk, timezone.now().date())}"


def is_help_pass(token: str) -> bool:
    """True when a help-page path segment is a help pass (an intake link token never is)."""
    return bool(_PASS.match(token or ""))


def get_agency_for_help_pass(grant: str) -> Agency:
    """The agency a help pass opens, while it is fresh; ``Http404`` otherwise."""
    found = _PASS.match(grant or "")
    if found is None:
        raise Http404
    pk, mac = int(found.group(1)), found.group(2)
    today = timezone.now().date()
    if not any(
        constant_time_compare(mac, _pass_mac(pk, today - timedelta(days=back)))
        for back in range(HELP_PASS_DAYS)
    ):
        raise Http404
    return one_or_404(Agency.objects.all(), pk)


def is_status_code(code: str) -> bool:
    return bool(_CODE.match(code or ""))


def get_request_by_status_code(code: str) -> SupportRequest:
    """The open request whose status code this is; ``Http404`` for a code that never
    existed, a request that has ended, and a referral or a request made for someone (they
    have no code) alike: the caller shows one neutral answer for all of them."""
    if not is_status_code(code):
        raise Http404
    found = (
        SupportRequest.objects.select_related(
            "data_key", "agency", "accepted_by", "chosen_supporter__user"
        )
        .filter(status_digest=services.status_code_digest(code), status__in=vocab.OPEN_STATUSES)
        .first()
    )
    if found is None:
        raise Http404
    return found


def get_request_by_receipt(user: User, code: str) -> SupportRequest:
    """The request of ``user``'s agency this receipt was given for, open or finished and
    not yet published; ``Http404`` otherwise (published requests are gone with their
    digest). Only people who may ask for someone hold receipts."""
    agency = require_role(user, *REQUEST_ON_BEHALF)
    if not is_status_code(code):
        raise Http404
    found = SupportRequest.objects.filter(
        agency=agency, receipt_digest=services.receipt_digest(code)
    ).first()
    if found is None:
        raise Http404
    return found


def breach_readers_agency(user: User) -> Any:
    """The agency, when ``user`` holds a role the policy notifies of breaches (GO 702 .38)."""
    agency = require_account(user)
    return require_role(user, *agency.policy_model().confidentiality.breach_notify)


def get_breach_for_user(user: User, pk: int | str) -> Any:
    from tandem.support.models import BreachReport

    agency = breach_readers_agency(user)
    return one_or_404(BreachReport.objects.all(), pk, agency=agency)
