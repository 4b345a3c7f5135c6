"""Compliance rules (issue: team readiness, point 3) as a pure function of facts.

``evaluate(facts, policy, day)`` says, for one person on one date, whether they are
compliant, due soon or not compliant, with the reasons in words a coordinator can act on,
and whether their gates are open (and until when). It reads nothing from the database,
so the same function answers "now" for the gates and "on 3 March" for a privilege
eligibility statement, and the tests can run it across quarter and year boundaries.

``load_facts`` gathers the facts for many people in a fixed number of queries;
``status_for`` and ``compliance_summary`` are what other apps (reports) call.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from tandem.core.when import when

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency
    from tandem.agencies.presets import Policy

#: How long before a due date a person shows as "due soon" (and gets a reminder).
DUE_SOON_DAYS = 30
#: CJIS security awareness is renewed every year.
CJIS_MONTHS = 12
#: Peer recovery core topics (West Virginia PNP program description; PR-11).
PRP_INITIAL_TOPICS = ("Overdose reversal", "Case management", "Motivational interviewing")

COMPLIANT = "compliant"
DUE_SOON = "due_soon"
NOT_COMPLIANT = "not_compliant"
LEVELS = (COMPLIANT, DUE_SOON, NOT_COMPLIANT)
LEVEL_LABELS = {COMPLIANT: "Compliant", DUE_SOON: "Due soon", NOT_COMPLIANT: "Not compliant"}
PROGRAM_LABELS = {"psp": "Peer support", "prp": "Peer recovery"}


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (31 Jan + 1 → 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def ongoing_due(last: date, months: int) -> date:
    """The last day ongoing training is good for when last attended on ``last``.

    A cadence that divides the year is read as calendar periods (GO 702 .52: "at least once
    per quarter"): training any day of one period is due by the last day of the next period.
    Any other cadence is a rolling window of ``months``."""
    if 12 % months:
        return add_months(last, months)
    period_start = date(last.year, (last.month - 1) // months * months + 1, 1)
    next_end = add_months(period_start, 2 * months)  # the first day after the next period
    return next_end - timedelta(days=1)


# --- Facts -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AttendanceFact:
    day: date
    kind: str  # CourseKind
    program: str  # CourseProgram: psp, prp or all
    status: str  # AttendanceStatus
    topics: tuple[str, ...] = ()


@dataclass(frozen=True)
class DesignationFact:
    program: str
    designated_on: date
    removed_on: date | None = None

    def active_on(self, day: date) -> bool:
        return self.designated_on <= day and (self.removed_on is None or self.removed_on > day)


@dataclass(frozen=True)
class CheckFact:
    checked_on: date
    result: str
    renewal_due: date


@dataclass(frozen=True)
class Facts:
    """Everything the rules look at for one person (their whole history)."""

    programs: frozenset[str] = frozenset()
    is_prs: bool = False
    designations: tuple[DesignationFact, ...] = ()
    attendance: tuple[AttendanceFact, ...] = ()
    checks: tuple[CheckFact, ...] = ()
    signed: tuple[tuple[str, date], ...] = ()  # (agreement kind, day signed), current version
    #: Signatures on versions since replaced: (kind, day signed, day the next version came out).
    lapsed: tuple[tuple[str, date, date], ...] = ()
    certified_until: date | None = None  # credential held until (inclusive), if any
    certified_from: date | None = None


@dataclass(frozen=True)
class Due:
    label: str
    on: date
    key: str


@dataclass
class Status:
    day: date
    level: str = COMPLIANT
    reasons: list[str] = field(default_factory=list)
    due: list[Due] = field(default_factory=list)
    programs: tuple[str, ...] = ()
    designated: dict[str, date] = field(default_factory=dict)
    initial_complete: dict[str, bool] = field(default_factory=dict)
    peer_support: bool = False
    peer_support_lapses_on: date | None = None
    cji: bool = False
    cji_lapses_on: date | None = None
    cji_reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return LEVEL_LABELS[self.level]

    def worsen(self, level: str, reason: str) -> None:
        if LEVELS.index(level) > LEVELS.index(self.level):
            self.level = level
        self.reasons.append(reason)


# --- The rules ---------------------------------------------------------------------------


def _serves(fact: AttendanceFact, program: str) -> bool:
    return fact.program in (program, "all")


def _present(facts: Facts, day: date, kind: str, program: str) -> list[AttendanceFact]:
    return [
        a
        for a in facts.attendance
        if a.status == "present" and a.kind == kind and a.day <= day and _serves(a, program)
    ]


def required_topics(policy: Policy, program: str) -> tuple[str, ...]:
    if program == "psp":
        return tuple(policy.training.initial_topics)
    return PRP_INITIAL_TOPICS


def initial_completion(facts: Facts, policy: Policy, program: str, day: date) -> date | None:
    """The day the last required initial topic was covered, or None while some are missing."""
    needed = {t.casefold() for t in required_topics(policy, program)}
    covered_on: date | None = None
    for fact in sorted(_present(facts, day, "initial", program), key=lambda a: a.day):
        before = len(needed)
        needed -= {t.casefold() for t in fact.topics}
        if len(needed) < before:
            covered_on = fact.day
        if not needed:
            return covered_on
    return None


def missing_topics(facts: Facts, policy: Policy, program: str, day: date) -> list[str]:
    covered = {t.casefold() for a in _present(facts, day, "initial", program) for t in a.topics}
    return [t for t in required_topics(policy, program) if t.casefold() not in covered]


def current_check(facts: Facts, day: date) -> CheckFact | None:
    """The latest decided check done by ``day``, when it cleared and its renewal date (the
    last day it is good for) has not passed. A pending renewal does not cancel a cleared
    check that is still valid; a "not cleared" result revokes at once."""
    done = [c for c in facts.checks if c.checked_on <= day and c.result != "pending"]
    if not done:
        return None
    latest = max(done, key=lambda c: c.checked_on)
    if latest.result != "cleared" or latest.renewal_due < day:
        return None
    return latest


def cjis_due(facts: Facts, day: date) -> date | None:
    """The day CJIS awareness must be renewed by, or None when never taken."""
    taken = [
        a.day
        for a in facts.attendance
        if a.kind == "cjis" and a.status == "present" and a.day <= day
    ]
    return add_months(max(taken), CJIS_MONTHS) if taken else None


def _signed(facts: Facts, kind: str, day: date) -> bool:
    """Signed the version that was current on ``day`` (a new version needs a new signature
    from the day it is published)."""
    return any(k == kind and on <= day for k, on in facts.signed) or any(
        k == kind and on <= day < until for k, on, until in facts.lapsed
    )


def _unsigned_reason(facts: Facts, kind: str, day: date, name: str, label: str) -> str:
    if any(k == kind and on <= day for k, on, _ in facts.lapsed):
        return f"{name}: a new version of the {label} must be signed"
    return f"{name}: {label} not signed"


def _timed(status: Status, *, label: str, due: date, day: date, key: str, late: str) -> None:
    """A rule with a due date: late after ``due``, due soon in the weeks before."""
    status.due.append(Due(label, due, key))
    if day > due:
        status.worsen(NOT_COMPLIANT, late)
    elif (due - day).days <= DUE_SOON_DAYS:
        status.worsen(DUE_SOON, f"{label} due by {when(due)}")


def _background_required(policy: Policy, program: str) -> bool:
    if program == "prp":
        return bool(policy.recovery.cjis_background_check_required)
    steps = set(policy.selection.steps)
    return bool(steps & {"background_vetting", "cjis_background_check"})


def _cadence_words(months: int) -> str:
    words = {
        3: "at least once per calendar quarter",
        6: "at least once per half-year",
        12: "at least once per calendar year",
        1: "at least once per month",
    }
    return f"required {words[months]}" if months in words else f"required every {months} months"


def absence_limit_words(limit: int) -> str:
    """The absence rule in words that read right for 0, 1 and many."""
    if limit <= 0:
        return "no unexcused absence"
    if limit == 1:
        return "at most one unexcused absence"
    return f"at most {limit} unexcused absences"


def count_words(number: int, noun: str) -> str:
    """``1 hour`` / ``0 hours`` / ``48 hours``: a number with a regular English noun."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def every_months_words(months: int) -> str:
    """``every month`` / ``every 6 months``: a cadence in words for 1 and many."""
    return "every month" if months == 1 else f"every {months} months"


def _program_rules(status: Status, facts: Facts, policy: Policy, program: str, day: date) -> None:
    name = PROGRAM_LABELS[program]
    current = [d for d in facts.designations if d.program == program and d.active_on(day)]
    if current:
        status.designated[program] = current[0].designated_on
    else:
        status.worsen(NOT_COMPLIANT, f"{name}: not officially designated by the Chief")
    completed = initial_completion(facts, policy, program, day)
    status.initial_complete[program] = completed is not None
    if completed is None and policy.training.initial_before_serving:
        missing = missing_topics(facts, policy, program, day)
        status.worsen(
            NOT_COMPLIANT,
            f"{name}: initial training not complete ({len(missing)} topic"
            f"{'' if len(missing) == 1 else 's'} missing: {', '.join(missing)})",
        )
    ongoing = [a.day for a in _present(facts, day, "ongoing", program)]
    anchors = [*ongoing, *([current[0].designated_on] if current else [])]
    if completed is not None:
        anchors.append(completed)
    if anchors and current:
        months = policy.training.ongoing_cadence_months
        due = ongoing_due(max(anchors), months)
        _timed(
            status,
            label=f"{name}: ongoing training",
            due=due,
            day=day,
            key=f"ongoing-{program}-{due}",
            late=f"{name}: ongoing training overdue since {when(due)} ({_cadence_words(months)})",
        )
    if (
        program == "psp"
        and "confidentiality_agreement" in policy.selection.steps
        and not _signed(facts, "confidentiality", day)
    ):
        status.worsen(
            NOT_COMPLIANT,
            _unsigned_reason(facts, "confidentiality", day, name, "confidentiality agreement"),
        )
    if (
        program == "prp"
        and facts.is_prs
        and policy.recovery.prs_nda_required
        and not _signed(facts, "nda", day)
    ):
        status.worsen(
            NOT_COMPLIANT, _unsigned_reason(facts, "nda", day, name, "non-disclosure agreement")
        )
    if program == "prp" and facts.is_prs and "certification" in policy.selection.steps:
        held = bool(
            facts.certified_from
            and facts.certified_from <= day
            and (facts.certified_until is None or facts.certified_until >= day)
        )
        if not held:
            status.worsen(NOT_COMPLIANT, f"{name}: peer recovery certification not held")
        elif facts.certified_until is not None:
            # The credential's expiry is a due date like any other: due soon, reminded.
            _timed(
                status,
                label=f"{name}: certification renewal",
                due=facts.certified_until,
                day=day,
                key=f"certification-{facts.certified_until}",
                late=f"{name}: peer recovery certification not held",
            )


def _absences(status: Status, facts: Facts, policy: Policy, day: date) -> None:
    limit = policy.training.unexcused_absence_limit
    count = sum(
        1
        for a in facts.attendance
        if a.status == "unexcused" and a.day.year == day.year and a.day <= day
    )
    if count > limit:
        status.worsen(
            NOT_COMPLIANT,
            f"{count} unexcused absence{'' if count == 1 else 's'} from training in {day.year} "
            f"({'none' if limit <= 0 else f'at most {limit}'} allowed)",
        )


def _clearances(status: Status, facts: Facts, policy: Policy, day: date) -> None:
    needs_check = any(_background_required(policy, p) for p in status.programs)
    check = current_check(facts, day)
    if needs_check:
        if check is None:
            status.worsen(NOT_COMPLIANT, "No current fingerprint background check")
        else:
            _timed(
                status,
                label="Background check renewal",
                due=check.renewal_due,
                day=day,
                key=f"check-{check.renewal_due}",
                late="Background check expired",
            )
    needs_cjis = policy.training.cjis_awareness_yearly or "prp" in status.programs
    due = cjis_due(facts, day)
    if needs_cjis:
        if due is None:
            status.worsen(NOT_COMPLIANT, "CJIS security awareness training not taken")
        else:
            _timed(
                status,
                label="CJIS security awareness",
                due=due,
                day=day,
                key=f"cjis-{due}",
                late=f"CJIS security awareness expired on {when(due)}",
            )


def _cji_gate(status: Status, facts: Facts, policy: Policy, day: date) -> None:
    check = current_check(facts, day)
    due = cjis_due(facts, day)
    reasons = []
    if check is None:
        reasons.append("No current fingerprint background check")
    if due is None or due < day:
        reasons.append("CJIS security awareness not current")
    if facts.is_prs and policy.recovery.prs_nda_required and not _signed(facts, "nda", day):
        reasons.append("Non-disclosure agreement not signed")
    status.cji_reasons = reasons
    status.cji = not reasons
    if status.cji and check is not None and due is not None:
        status.cji_lapses_on = min(check.renewal_due, due) + timedelta(days=1)


def evaluate(facts: Facts, policy: Policy, day: date) -> Status:
    """The person's status on ``day`` under ``policy`` (a ``Policy``)."""
    status = Status(day=day, programs=tuple(sorted(facts.programs)))
    if not facts.programs:
        status.worsen(NOT_COMPLIANT, "Not on a peer team")
    for program in status.programs:
        _program_rules(status, facts, policy, program, day)
    if facts.programs:
        _absences(status, facts, policy, day)
        _clearances(status, facts, policy, day)
    _cji_gate(status, facts, policy, day)
    status.peer_support = "psp" in status.designated and status.level != NOT_COMPLIANT
    if status.peer_support:
        lapses = [d.on + timedelta(days=1) for d in status.due]
        status.peer_support_lapses_on = min(lapses) if lapses else None
    status.due.sort(key=lambda d: d.on)
    return status


# --- Loading facts -----------------------------------------------------------------------


def local_day(at: datetime | None) -> date:
    return timezone.localdate(at or timezone.now())


def start_of(day: date | None) -> datetime | None:
    """The first moment of ``day`` in the site's time zone (when a lapse takes effect)."""
    if day is None:
        return None
    return timezone.make_aware(datetime.combine(day, time.min))


def load_facts(users: Iterable[Any]) -> dict[int, Facts]:
    """Facts for each user, in a fixed number of queries however many people there are."""
    from tandem.accounts.models import RoleAssignment
    from tandem.readiness.models import (
        AgreementDocument,
        Attendance,
        BackgroundCheck,
        Certification,
        Designation,
        Signature,
    )

    people = list(users)
    ids = [u.pk for u in people]
    roles: dict[int, set[str]] = {}
    for user_id, role in RoleAssignment.objects.filter(
        user_id__in=ids, role__in=["supporter", "aro", "prs"]
    ).values_list("user_id", "role"):
        roles.setdefault(user_id, set()).add(role)
    designations: dict[int, list[DesignationFact]] = {}
    for d in Designation.objects.filter(user_id__in=ids):
        designations.setdefault(d.user_id, []).append(
            DesignationFact(d.program, d.designated_on, d.removed_on)
        )
    attendance: dict[int, list[AttendanceFact]] = {}
    for a in Attendance.objects.filter(user_id__in=ids).select_related("session__course"):
        course = a.session.course
        attendance.setdefault(a.user_id, []).append(
            AttendanceFact(
                day=timezone.localdate(a.session.starts_at),
                kind=course.kind,
                program=course.program,
                status=a.status,
                topics=tuple(course.topics),
            )
        )
    checks: dict[int, list[CheckFact]] = {}
    for c in BackgroundCheck.objects.filter(user_id__in=ids):
        checks.setdefault(c.user_id, []).append(CheckFact(c.checked_on, c.result, c.renewal_due))
    published: dict[tuple[int, str, int], date] = {
        (agency_id, kind, version): timezone.localdate(at)
        for agency_id, kind, version, at in AgreementDocument.objects.filter(
            agency_id__in={u.agency_id for u in people}
        ).values_list("agency_id", "kind", "version", "published_at")
    }
    signed: dict[int, list[tuple[str, date]]] = {}
    lapsed: dict[int, list[tuple[str, date, date]]] = {}
    for user_id, agency_id, kind, version, at in Signature.objects.filter(
        user_id__in=ids
    ).values_list(
        "user_id", "document__agency_id", "document__kind", "document__version", "signed_at"
    ):
        replaced_on = published.get((agency_id, kind, version + 1))
        if replaced_on is None:
            signed.setdefault(user_id, []).append((kind, timezone.localdate(at)))
        else:
            lapsed.setdefault(user_id, []).append((kind, timezone.localdate(at), replaced_on))
    certs = {c.user_id: c for c in Certification.objects.filter(user_id__in=ids)}
    out: dict[int, Facts] = {}
    for user in people:
        held = roles.get(user.pk, set())
        designated = designations.get(user.pk, [])
        programs = {d.program for d in designated}
        if "supporter" in held:
            programs.add("psp")
        if held & {"aro", "prs"}:
            programs.add("prp")
        cert = certs.get(user.pk)
        has_credential = cert is not None and bool(cert.credential_number)
        out[user.pk] = Facts(
            programs=frozenset(programs),
            is_prs="prs" in held,
            designations=tuple(designated),
            attendance=tuple(attendance.get(user.pk, [])),
            checks=tuple(checks.get(user.pk, [])),
            signed=tuple(signed.get(user.pk, [])),
            lapsed=tuple(lapsed.get(user.pk, [])),
            certified_from=cert.issued_on if has_credential and cert else None,
            certified_until=cert.expires_on if has_credential and cert else None,
        )
    return out


def status_for(user: User, at: datetime | None = None) -> Status:
    """The person's compliance status at ``at`` (now by default)."""
    facts = load_facts([user])[user.pk]
    return evaluate(facts, user.home_agency.policy_model(), local_day(at))


def statuses_for(
    agency: Agency, users: Iterable[Any], at: datetime | None = None
) -> dict[int, Status]:
    people = list(users)
    policy = agency.policy_model()
    day = local_day(at)
    facts = load_facts(people)
    return {u.pk: evaluate(facts[u.pk], policy, day) for u in people}


def compliance_summary(agency: Agency, at: datetime | None = None) -> dict[str, int]:
    """How many of the agency's peer team members are at each level."""
    from tandem.readiness.selectors import team_people

    counts = dict.fromkeys(LEVELS, 0)
    for status in statuses_for(agency, team_people(agency), at).values():
        counts[status.level] += 1
    return counts
