"""The annual personnel evaluation of the ARO and the PRS (Winchester OO 2-78 E.1–2): for
each of them, the figures their duties in IV.A call for, over one calendar year.

These are figures about the program's own staff, for their supervisor; they count the
staff member's work and name no client, so they are not published statistics and carry no
suppression (a published statistic goes through ``reports.disclosure``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from django.db.models import Count, Q, Sum
from django.utils import timezone

from tandem.recovery import vocab
from tandem.recovery.models import (
    Client,
    Contact,
    Goal,
    OutreachEvent,
    OverdoseResponse,
    PatrolCall,
    Referral,
    SafetyAssessment,
    StageAssessment,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency


@dataclass(frozen=True)
class Line:
    duty: str  # the clause of OO 2-78 the figure speaks to
    label: str
    value: str


@dataclass(frozen=True)
class Evaluation:
    person: User
    role: str  # "aro" or "prs"
    year: int
    lines: list[Line]


def _year_bounds(year: int) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    return (
        datetime.combine(date(year, 1, 1), time.min, tzinfo=tz),
        datetime.combine(date(year + 1, 1, 1), time.min, tzinfo=tz),
    )


def _common(person: User, year: int) -> list[Line]:
    first, after = _year_bounds(year)
    contacts = Contact.objects.filter(
        recorded_by=person, occurred_at__gte=first, occurred_at__lt=after
    )
    found = contacts.aggregate(
        n=Count("pk"),
        clients=Count("client", distinct=True),
        engaged=Count("pk", filter=Q(outcome="engaged")),
    )
    kinds = dict(contacts.order_by().values_list("kind").annotate(n=Count("pk")))
    by_kind = ", ".join(
        f"{label.lower()} {kinds[code]}"
        for code, label in vocab.ContactKind.choices
        if kinds.get(code)
    )
    referrals = Referral.objects.filter(created_by=person, proposed_on__year=year)
    linked = referrals.filter(status__in=["engaged", "completed"]).count()
    stages = StageAssessment.objects.filter(
        assessed_by=person, assessed_at__gte=first, assessed_at__lt=after
    ).count()
    field = "aro" if person.has_role("aro") else "prs"
    caseload = Client.objects.filter(
        **{field: person}, status=vocab.ClientStatus.ACTIVE, merged_into__isnull=True
    )
    return [
        Line("IV.A.1.e / 2.e", "Client contacts documented", f"{found['n']} ({by_kind or 'none'})"),
        Line("IV.A.1.a / 2.a", "Clients worked with", str(found["clients"])),
        Line("IV.A.1.a / 2.a", "Contacts in which the client engaged", str(found["engaged"])),
        Line("IV.A.1.b", "Readiness-to-change assessments recorded", str(stages)),
        Line(
            "IV.A.1.c",
            "Referrals to resources made / engaged or completed",
            f"{referrals.count()} / {linked}",
        ),
        Line("IV.A", "Active caseload today", str(caseload.count())),
    ]


def _aro(person: User, year: int) -> list[Line]:
    first, after = _year_bounds(year)
    contacts = Contact.objects.filter(
        recorded_by=person, occurred_at__gte=first, occurred_at__lt=after
    )
    return [
        Line(
            "IV.B",
            "Co-responses with the PRS",
            str(contacts.filter(kind=vocab.ContactKind.CO_RESPONSE, prs_present=True).count()),
        ),
        Line(
            "IV.B",
            "Arrests diverted to a non-arrest pathway",
            str(contacts.filter(arrest_diverted=True).count()),
        ),
        Line(
            "IV.C.2",
            "Safety assessments before field contacts with the PRS",
            str(
                SafetyAssessment.objects.filter(
                    assessed_by=person, assessed_at__gte=first, assessed_at__lt=after
                ).count()
            ),
        ),
        Line(
            "IV.A.1.a",
            "Overdose responses recorded",
            str(
                OverdoseResponse.objects.filter(
                    recorded_by=person, occurred_at__gte=first, occurred_at__lt=after
                ).count()
            ),
        ),
    ]


def _prs(person: User, year: int) -> list[Line]:
    from tandem.readiness.compliance import LEVEL_LABELS, status_for
    from tandem.readiness.services import certification_progress

    events = OutreachEvent.objects.filter(recorded_by=person, held_on__year=year)
    outreach = events.aggregate(n=Count("pk"), people=Sum("attendance"))
    goals = Goal.objects.filter(created_by=person, created_at__year=year).count()
    calls = PatrolCall.objects.filter(recorded_by=person, safety_checked_at__year=year).count()
    progress = certification_progress(person)
    status = status_for(person)
    hours = (
        f"{progress['experience']} experience, {progress['supervision']} supervision "
        f"({progress['ethics']} ethics)"
    )
    return [
        Line("IV.A.2.b", "Recovery plan goals set with clients (mentoring)", str(goals)),
        Line(
            "IV.A.2.c",
            "Community outreach events / people reached",
            f"{outreach['n']} / {outreach['people'] or 0}",
        ),
        Line("IV.C.3", "Unscheduled patrol calls with the officer's safety check", str(calls)),
        Line(
            "IV.A.2.d, IV.D",
            "Training and agreements (NDA, CJIS) today",
            LEVEL_LABELS[status.level],
        ),
        Line("PR-11", "Certification hours signed off", hours),
    ]


def evaluation_for(person: User, role: str, year: int) -> Evaluation:
    """One person's figures for ``year`` in the role they are evaluated in."""
    extra = _aro(person, year) if role == "aro" else _prs(person, year)
    return Evaluation(person, role, year, _common(person, year) + extra)


def evaluated_role(agency: Agency, person: User) -> str:
    """``"aro"`` or ``"prs"`` for a person evaluated under E.1–2, else ``""``."""
    from tandem.accounts.models import users_with_role

    for role in ("aro", "prs"):
        if users_with_role(agency, [role]).filter(pk=person.pk).exists():
            return role
    return ""


def personnel_evaluations(agency: Agency, year: int) -> list[Evaluation]:
    from tandem.accounts.models import users_with_role

    out = []
    for role in ("aro", "prs"):
        for person in users_with_role(agency, [role]).order_by("last_name", "first_name"):
            out.append(evaluation_for(person, role, year))
    return out
