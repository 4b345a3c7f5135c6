"""Reads for the peer-support screens. List pages cost a fixed number of queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Case, Count, F, Min, Prefetch, QuerySet, Value, When
from django.utils import timezone

from tandem.accounts.models import User, users_with_role
from tandem.agencies.models import Agency, Role
from tandem.agencies.presets import Policy
from tandem.support import vocab
from tandem.support.models import (
    BreachAcknowledgement,
    BreachReport,
    Consultation,
    CriticalIncident,
    Deployment,
    DutyToReportNotice,
    FollowUpReminder,
    GroupSession,
    IntakeLink,
    MutualAidRequest,
    Override,
    RequestOffer,
    Rotation,
    RotationMember,
    SupporterProfile,
    SupportRequest,
)
from tandem.support.oncall import Schedule

#: The roster's order, ending with the key so keyset pages are exact.
ROSTER_ORDER = ("user__last_name", "user__first_name", "pk")


def roster(
    agency: Agency, filters: dict[str, Any] | None = None, at: datetime | None = None
) -> QuerySet[SupporterProfile]:
    """Designated, compliant supporters of the agency, filtered (PS-1)."""
    filters = filters or {}
    profiles = SupporterProfile.objects.ready(agency, at).select_related("user", "unit")
    if filters.get("affiliation"):
        profiles = profiles.filter(affiliation=filters["affiliation"])
    if filters.get("unit"):
        profiles = profiles.filter(unit=filters["unit"])
    result = profiles
    # JSON list membership differs between engines; filter the (small) roster in Python.
    codes = {k: filters[k] for k in ("specialty", "language") if filters.get(k)}
    if codes:
        keep = [
            p.pk
            for p in profiles
            if (
                codes.get("specialty") in (None, *p.specialties)
                and codes.get("language") in (None, *p.languages)
            )
        ]
        result = profiles.filter(pk__in=keep)
    return result.order_by(*ROSTER_ORDER)


@dataclass(frozen=True)
class OnCallLine:
    label: str
    people: list[tuple[str, str]]  # (name, phone)
    until: datetime | None = None
    note: str = ""


def on_call_now(agency: Agency, at: datetime | None = None) -> list[OnCallLine]:
    """The escalation chain as a dispatcher needs it at 3 a.m.: names and phone numbers.

    Four queries whatever the roster's size: the rotations with their sizes, the overrides
    still to come, every layer's participant on shift (with account and gate), and the
    coordinators and psychologists."""
    at = at or timezone.now()
    schedule = Schedule(agency)
    lines: list[OnCallLine] = []
    for layer, label in vocab.Layer.choices:
        shift = schedule.shift_at(layer, at)
        if shift is None:
            lines.append(OnCallLine(f"{label} on call", [], None, "Nobody is scheduled."))
        elif schedule.can_answer(shift.supporter, at):
            supporter = shift.supporter
            lines.append(
                OnCallLine(
                    f"{label} on call", [(supporter.display_name, supporter.reach_phone)], shift.end
                )
            )
        else:
            lines.append(
                OnCallLine(
                    f"{label} on call",
                    [],
                    shift.end,
                    "The scheduled supporter cannot be reached now.",
                )
            )
    roles = (Role.COORDINATOR, Role.PSYCHOLOGIST)
    # One query for both roles: a person holding both appears once per role. Only what the
    # lines show is read.
    holders = (
        users_with_role(agency, roles)
        .annotate(held_role=F("role_assignments__role"))
        .values_list(
            "first_name", "last_name", "username", "phone", "supporter_profile__phone", "held_role"
        )
    )
    people: dict[str, list[tuple[str, str]]] = {role: [] for role in roles}
    for first, last, username, phone, profile_phone, role in holders:
        people[role].append((f"{first} {last}".strip() or username, profile_phone or phone))
    for role in roles:
        lines.append(OnCallLine(agency.title_for(role), people[role]))
    return lines


def _most_urgent_first() -> Case:
    return Case(
        When(urgency=vocab.Urgency.NOW, then=Value(0)),
        When(urgency=vocab.Urgency.TODAY, then=Value(1)),
        default=Value(2),
    )


def offers_for(user: User) -> list[SupportRequest]:
    """Open requests offered to the user right now, the most urgent first ("Now" before
    "Today" before "This week"; a supporter on a phone sees the urgent ones first), then
    the oldest."""
    ids = RequestOffer.objects.filter(user=user, active=True).values("request_id")
    return list(
        SupportRequest.objects.select_related("data_key", "chosen_supporter__user")
        .filter(pk__in=ids, status=vocab.RequestStatus.ROUTING)
        .order_by(_most_urgent_first(), "created_at", "reference")
    )


def offers_count(user: User) -> int:
    """How many open requests are offered to the user right now (for the home page)."""
    ids = RequestOffer.objects.filter(user=user, active=True).values("request_id")
    return SupportRequest.objects.filter(pk__in=ids, status=vocab.RequestStatus.ROUTING).count()


def accepted_by(user: User) -> list[SupportRequest]:
    return list(
        SupportRequest.objects.select_related("data_key")
        .filter(accepted_by__user=user, status__in=vocab.OPEN_STATUSES)
        .order_by("created_at", "reference")
    )


def queue(agency: Agency) -> list[SupportRequest]:
    """Open requests for the coordinator: status and how long each has waited (to the
    hour) — no step, no chosen, offered or accepting supporter: which helper was skipped
    would show who is in the requester's chain of command. No identity either, except a
    referral's referrer (read in the template through the decrypted field). Within an hour
    the order is the random reference, not the order the requests came in."""
    return list(
        SupportRequest.objects.select_related("data_key")
        .filter(agency=agency, status__in=vocab.OPEN_STATUSES)
        .order_by("created_at", "reference")[:500]
    )


def waiting_for_a_supporter(agency: Agency) -> tuple[int, datetime | None]:
    """How many open requests nobody has accepted yet, and when the oldest came in (to the
    hour), for the coordinator's home: accepted ones are no longer waiting."""
    found = SupportRequest.objects.filter(
        agency=agency, status=vocab.RequestStatus.ROUTING
    ).aggregate(n=Count("pk"), oldest=Min("created_at"))
    return int(found["n"]), found["oldest"]


def waited(since: datetime, now: datetime) -> str:
    """How long a request has waited, in whole hours: its time is kept only to the hour, so
    minutes would claim a precision nobody has. A no-break space keeps "2 hours" on one line."""
    hours = int((now - since) / timedelta(hours=1))
    return "less than an hour" if hours < 1 else f"{hours}\u00a0hour{'' if hours == 1 else 's'}"


def unrouted_count(agency: Agency) -> int:
    """Open requests still looking for a helper with nobody left to offer them to (every
    step empty or excluded): a human must act, so the dispatchers' page shows how many."""
    return (
        SupportRequest.objects.filter(agency=agency, status=vocab.RequestStatus.ROUTING)
        .exclude(offers__active=True)
        .count()
    )


# --- Reads for single screens ------------------------------------------------------------


def all_profiles(agency: Agency) -> QuerySet[SupporterProfile]:
    """Every supporter profile of the agency, on the roster or not."""
    return SupporterProfile.objects.filter(agency=agency).select_related("user")


def profile_of(user: User | None) -> SupporterProfile | None:
    return SupporterProfile.objects.filter(user=user).first() if user else None


def on_roster(profile: SupporterProfile) -> bool:
    return roster(profile.agency).filter(pk=profile.pk).exists()


def breach_reports(agency: Agency) -> list[tuple[BreachReport, list[BreachAcknowledgement]]]:
    """The latest 200 breach reports, each with its acknowledgements in order (two queries)."""
    acks = BreachAcknowledgement.objects.select_related("user").order_by("acknowledged_at")
    reports = (
        BreachReport.objects.filter(agency=agency)
        .select_related("reported_by")
        .prefetch_related(Prefetch("acknowledgements", queryset=acks))[:200]
    )
    return [(r, list(r.acknowledgements.all())) for r in reports]


def breaches_unacknowledged_by(user: User) -> int:
    """How many of the agency's breach reports ``user`` has not acknowledged yet."""
    return (
        BreachReport.objects.filter(agency=user.home_agency)
        .exclude(acknowledgements__user=user)
        .count()
    )


def coordinators(agency: Agency) -> QuerySet[User]:
    return (
        users_with_role(agency, [Role.COORDINATOR])
        .select_related("member")
        .order_by("last_name", "first_name")
    )


def psychologists(agency: Agency) -> QuerySet[User]:
    return users_with_role(agency, [Role.PSYCHOLOGIST]).select_related("member")


def incidents(agency: Agency) -> QuerySet[CriticalIncident]:
    return CriticalIncident.objects.filter(agency=agency)


def incident_list(agency: Agency) -> QuerySet[CriticalIncident]:
    return incidents(agency).prefetch_related("units")[:200]


def deployments_of(incident: CriticalIncident) -> QuerySet[Deployment]:
    return incident.deployments.select_related("supporter__user")


def group_sessions_of(incident: CriticalIncident) -> QuerySet[GroupSession]:
    return incident.group_sessions.all()


def mutual_aid_requests(agency: Agency) -> QuerySet[MutualAidRequest]:
    return MutualAidRequest.objects.filter(agency=agency)[:200]


def current_intake_link(agency: Agency) -> IntakeLink | None:
    return IntakeLink.objects.filter(agency=agency, revoked_at__isnull=True).first()


def duty_notices(agency: Agency) -> QuerySet[DutyToReportNotice]:
    return DutyToReportNotice.objects.filter(agency=agency).select_related("filed_by__user")[:200]


def consultations(agency: Agency) -> QuerySet[Consultation]:
    return Consultation.objects.filter(agency=agency).select_related("asked_by__user")[:200]


def rotations(agency: Agency) -> QuerySet[Rotation]:
    return Rotation.objects.filter(agency=agency).prefetch_related("members__supporter__user")


def rotation_members(rotation: Rotation) -> QuerySet[RotationMember]:
    return rotation.members.all()


def overrides_ahead(agency: Agency) -> QuerySet[Override]:
    """Cover that has not ended yet."""
    return Override.objects.filter(agency=agency, ends_at__gt=timezone.now()).select_related(
        "supporter__user"
    )


def open_reminders(profile: SupporterProfile) -> QuerySet[FollowUpReminder]:
    return profile.reminders.filter(done_at__isnull=True).select_related("data_key")


def recent_deployments(profile: SupporterProfile) -> QuerySet[Deployment]:
    """The supporter's deployments of the last 30 days."""
    return Deployment.objects.filter(
        supporter=profile, deployed_at__gte=timezone.now() - timedelta(days=30)
    ).select_related("incident")


def takes_referrals(policy: Policy) -> bool:
    """Whether the agency's program takes a member's referral of a colleague (its policy's
    eligibility): Joplin's does not, so nothing offers one."""
    eligibility = policy.eligibility
    return eligibility.members and vocab.Channel.REFERRAL in eligibility.channels


def communications(policy: Policy) -> tuple[str, str]:
    """Who to call when no supporter answers (the posters, the help page): the agency's title
    for its communications section and the number its policy gives (may be empty)."""
    return policy.title("dispatcher"), policy.contacts.communications_phone
