"""Writes for team readiness. Each is atomic, audited in the same transaction, and — when
it changes anything a person's gates depend on — recomputes that person's gates at once
(``person_recompute``), so a supporter who falls out of compliance leaves the roster the
moment it happens, not at the next nightly run.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max, Sum
from django.utils import timezone

from tandem.agencies.access import require_actor_role
from tandem.audit.services import audit_record
from tandem.core.notifications import notify
from tandem.core.when import when
from tandem.readiness import compliance
from tandem.readiness.access import COORDINATORS, HOUR_SIGNERS
from tandem.readiness.gates import gate_update
from tandem.readiness.models import (
    OPEN_APPLICATION,
    AgreementDocument,
    AgreementKind,
    Application,
    ApplicationStatus,
    Attendance,
    AttendanceStatus,
    BackgroundCheck,
    Certification,
    CheckResult,
    Course,
    CourseKind,
    Designation,
    Enrolment,
    Gate,
    HourKind,
    HourLog,
    InterviewOutcome,
    PolicyReview,
    Program,
    ReminderSent,
    RemovalReason,
    Signature,
    TimeEntry,
    TrainingSession,
    Vacancy,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User

logger = logging.getLogger("tandem.readiness")

MAX_HOURS_PER_DAY = Decimal("24")


# ---------------------------------------------------------------------------------------
# Gates
# ---------------------------------------------------------------------------------------


@transaction.atomic
def person_recompute(
    *, user: Any, acting_user: User | None = None, cause: str = ""
) -> compliance.Status:
    """Recompute ``user``'s status now and write their gates (audited when they change)."""
    status = compliance.status_for(user)
    _gate_write(user=user, status=status, acting_user=acting_user, cause=cause)
    return status


@transaction.atomic
def agency_recompute(*, agency: Any, acting_user: User | None = None, cause: str = "") -> int:
    """Recompute the gates of everyone in ``agency`` who has one or is on a team, in the
    caller's transaction: a policy change or reset takes effect before the next page.
    Facts are loaded for everyone at once (a fixed number of queries), then each gate is
    written only when it changed. Returns how many people were evaluated."""
    from tandem.accounts.models import User
    from tandem.readiness.selectors import team_people

    ids = set(team_people(agency).values_list("pk", flat=True))
    ids |= set(Gate.objects.filter(agency=agency).values_list("user_id", flat=True))
    people = list(User.objects.filter(pk__in=ids).select_related("agency", "member"))
    statuses = compliance.statuses_for(agency, people)
    for user in people:
        _gate_write(user=user, status=statuses[user.pk], acting_user=acting_user, cause=cause)
    return len(people)


def _gate_write(
    *, user: Any, status: compliance.Status, acting_user: User | None, cause: str
) -> None:
    reasons = [] if status.peer_support else list(status.reasons)
    reasons += [f"Criminal justice information: {r}" for r in status.cji_reasons]
    gate_update(
        user=user,
        peer_support=status.peer_support,
        cji=status.cji,
        peer_support_until=compliance.start_of(status.peer_support_lapses_on),
        cji_until=compliance.start_of(status.cji_lapses_on),
        reasons=reasons,
        acting_user=acting_user,
        cause=cause,
        standing=(status.level, status.due[0].on if status.due else None),
    )


def recompute_everyone() -> int:
    """Daily job: dates pass (a quarter ends, a year begins, a check expires)."""
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency
    from tandem.readiness.selectors import team_people

    count = 0
    for agency in Agency.objects.all():
        ids = set(team_people(agency).values_list("pk", flat=True))
        ids |= set(Gate.objects.filter(agency=agency).values_list("user_id", flat=True))
        for user in User.objects.filter(pk__in=ids).select_related("agency", "member"):
            person_recompute(user=user, cause="daily")
            count += 1
    return count


# ---------------------------------------------------------------------------------------
# Course catalogue
# ---------------------------------------------------------------------------------------

#: The seeds' curricula beyond the agency's own initial topics.
JOPLIN_TOPICS = ["Stress awareness", "Secondary trauma", "Referrals", "Crisis intervention",
                 "De-escalation"]
CJIS_TOPICS = ["CJIS security awareness (CHRI, NCIC, state network)",
               "Confidentiality of law enforcement information"]


def _catalogue(policy: Any) -> list[dict[str, Any]]:
    reference = policy.document.reference
    return [
        {"code": "psp-initial", "title": "Initial peer support training",
         "kind": CourseKind.INITIAL, "program": "psp",
         "topics": list(policy.training.initial_topics), "source": reference},
        {"code": "psp-essentials", "title": "Peer support essentials (in-service)",
         "kind": CourseKind.ONGOING, "program": "psp", "topics": JOPLIN_TOPICS,
         "source": "Joplin PD SOG 2-13 IV.A.2"},
        {"code": "psp-ongoing", "title": "Quarterly peer support training",
         "kind": CourseKind.ONGOING, "program": "psp", "topics": [], "source": reference},
        {"code": "prp-core", "title": "Peer recovery core training",
         "kind": CourseKind.INITIAL, "program": "prp",
         "topics": list(compliance.PRP_INITIAL_TOPICS),
         "source": "West Virginia PNP program description"},
        {"code": "prp-ongoing", "title": "Peer recovery in-service",
         "kind": CourseKind.ONGOING, "program": "prp", "topics": [], "source": reference},
        {"code": "cjis-awareness", "title": "CJIS security awareness",
         "kind": CourseKind.CJIS, "program": "all", "topics": CJIS_TOPICS,
         "source": "FBI CJIS Security Policy; Winchester OO 2-78 IV.D"},
        {"code": "monthly-meeting", "title": "Monthly team meeting",
         "kind": CourseKind.MEETING, "program": "psp", "topics": [], "source": reference},
        {"code": "clinical-supervision", "title": "Clinical supervision",
         "kind": CourseKind.SUPERVISION, "program": "psp", "topics": [], "source": reference},
    ]


@transaction.atomic
def catalogue_seed(*, agency: Any, acting_user: User | None = None) -> int:
    """Create the preset's courses the agency does not have yet; returns how many."""
    created = 0
    for spec in _catalogue(agency.policy_model()):
        code = spec.pop("code")
        _, made = Course.objects.get_or_create(agency=agency, code=code, defaults=spec)
        created += int(made)
    if created:
        audit_record(
            action="readiness.catalogue_seeded",
            actor=acting_user,
            agency_id=agency.pk,
            obj=agency,
            detail={"created": created},
        )
    return created


# ---------------------------------------------------------------------------------------
# Selection (PS-11)
# ---------------------------------------------------------------------------------------


@transaction.atomic
def vacancy_create(*, acting_user: User, program: str, title: str, description: str = "",
                   closes_on: date | None = None) -> Vacancy:
    if closes_on is not None and closes_on < timezone.localdate():
        raise ValidationError("The closing date is in the past.")
    try:
        with transaction.atomic():
            vacancy = Vacancy.objects.create(
                agency_id=acting_user.home_agency_id, program=program, title=title.strip(),
                description=description.strip(), closes_on=closes_on, created_by=acting_user)
    except IntegrityError:
        raise ValidationError("An open vacancy with this title already exists.") from None
    audit_record(
        action="readiness.vacancy_created",
        actor=acting_user,
        agency_id=vacancy.agency_id,
        obj=vacancy,
        detail={"program": program},
    )
    return vacancy


@transaction.atomic
def vacancy_close(*, acting_user: User, vacancy: Vacancy) -> Vacancy:
    if vacancy.closed_at is None:
        vacancy.closed_at = timezone.now()
        vacancy.save(update_fields=["closed_at"])
        audit_record(
            action="readiness.vacancy_closed",
            actor=acting_user,
            agency_id=vacancy.agency_id,
            obj=vacancy,
        )
    return vacancy


@transaction.atomic
def application_submit(*, acting_user: User, vacancy: Vacancy, letter: str) -> Application:
    """A letter of request answering an open vacancy. One open application per program."""
    if vacancy.agency_id != acting_user.agency_id or not vacancy.is_open_on(timezone.localdate()):
        raise ValidationError("This vacancy is closed.")
    if not letter.strip():
        raise ValidationError("Write your letter of request.")
    if Designation.objects.filter(user=acting_user, program=vacancy.program,
                                  removed_on__isnull=True).exists():
        raise ValidationError("You are already designated to this team.")
    existing = Application.objects.filter(
        applicant=acting_user, program=vacancy.program, status__in=OPEN_APPLICATION).first()
    if existing is not None:
        if existing.vacancy_id == vacancy.pk:
            return existing  # a double submit: the first one stands
        raise ValidationError("You already have an application open for this team.")
    try:
        with transaction.atomic():
            application = Application.objects.create(
                agency_id=acting_user.agency_id, vacancy=vacancy, applicant=acting_user,
                program=vacancy.program, letter=letter.strip())
    except IntegrityError:
        raise ValidationError("You already have an application open for this team.") from None
    audit_record(
        action="readiness.application_submitted",
        actor=acting_user,
        agency_id=application.agency_id,
        obj=application,
        detail={"program": application.program, "vacancy": vacancy.pk},
    )
    return application


def _lock_application(application: Application, version: int | None) -> Application:
    locked = Application.objects.select_for_update().get(pk=application.pk)
    if version is not None and locked.version != version:
        raise ValidationError(
            "Someone else changed this application while you were looking at it. "
            "Here is the current state; please check it and try again.")
    if not locked.is_open:
        raise ValidationError("This application has already been decided or withdrawn.")
    return locked


@transaction.atomic
def application_withdraw(*, acting_user: User, application: Application) -> Application:
    if application.applicant_id != acting_user.pk:
        raise ValidationError("Only the applicant can withdraw an application.")
    locked = _lock_application(application, None)
    locked.status = ApplicationStatus.WITHDRAWN
    locked.version += 1
    locked.save(update_fields=["status", "version"])
    audit_record(
        action="readiness.application_withdrawn",
        actor=acting_user,
        agency_id=locked.agency_id,
        obj=locked,
    )
    return locked


@transaction.atomic
def application_interview(*, acting_user: User, application: Application, outcome: str,
                          interviewed_on: date, version: int | None = None) -> Application:
    """The psychologist records the interview's outcome only (never its content)."""
    if application.applicant_id == acting_user.pk:
        raise ValidationError("You cannot interview yourself.")
    if outcome not in InterviewOutcome.values:
        raise ValidationError("Choose the interview's outcome.")
    if interviewed_on > timezone.localdate():
        raise ValidationError("The interview date is in the future.")
    locked = _lock_application(application, version)
    locked.interview_outcome = outcome
    locked.interviewed_on = interviewed_on
    locked.interviewed_by = acting_user
    locked.status = ApplicationStatus.INTERVIEWED
    locked.version += 1
    locked.save(update_fields=["interview_outcome", "interviewed_on", "interviewed_by",
                               "status", "version"])
    audit_record(
        action="readiness.application_interviewed",
        actor=acting_user,
        agency_id=locked.agency_id,
        obj=locked,
        detail={"outcome": outcome},
    )
    return locked


def selection_progress(application: Application, day: date | None = None
                       ) -> list[tuple[str, bool]]:
    """Each step of the agency's ``selection.steps`` and whether it is done (the Chief's
    approval and the designation are what the decision itself does)."""
    return _steps_done(application.applicant, application.program, application, day)


#: Steps only an application can satisfy (a letter, the vacancy it answers, the interview).
APPLICATION_STEPS = ("letter_of_request", "vacancy_announcement", "psychologist_interview")


def _steps_done(user: Any, program: str, application: Application | None,
                day: date | None = None) -> list[tuple[str, bool]]:
    day = day or timezone.localdate()
    policy = _policy_of(user)
    facts = compliance.load_facts([user])[user.pk]
    done = {
        "letter_of_request": bool(application and application.letter),
        "vacancy_announcement": bool(application and application.vacancy_id is not None),
        "psychologist_interview": bool(
            application and application.interview_outcome == InterviewOutcome.RECOMMENDED),
        "background_vetting": compliance.current_check(facts, day) is not None,
        "cjis_background_check": compliance.current_check(facts, day) is not None,
        "initial_training": compliance.initial_completion(facts, policy, program, day)
        is not None,
        "confidentiality_agreement": any(k == "confidentiality" for k, _ in facts.signed),
        "nondisclosure_agreement": any(k == "nda" for k, _ in facts.signed),
        "certification": bool(facts.certified_from),
        "chief_approval": bool(application and application.status
                               == ApplicationStatus.APPROVED),
        "official_designation": bool(application and application.status
                                     == ApplicationStatus.APPROVED),
    }
    return [(step, done[step]) for step in policy.selection.steps]


def _steps_after_decision(policy: Any) -> set[str]:
    """Steps the preset lists after the Chief's decision (Columbus 18.107: training follows
    selection). They are not conditions of the approval; the gate waits for them."""
    steps = list(policy.selection.steps)
    decisions = [steps.index(s) for s in DECISION_STEPS if s in steps]
    return set(steps[min(decisions) + 1:]) - set(DECISION_STEPS) if decisions else set()


def _refuse_missing_steps(user: Any, program: str, application: Application | None) -> None:
    """The preset's selection steps before a designation (by decision or directly)."""
    from tandem.agencies.presets import choice_label

    later = _steps_after_decision(_policy_of(user)) if application is not None else set()
    missing = [s for s, ok in _steps_done(user, program, application)
               if not ok and s not in DECISION_STEPS and s not in later
               and STEP_PROGRAMS.get(s, program) == program]
    if missing:
        raise ValidationError(
            "These steps are not complete yet: "
            + "; ".join(choice_label(s) for s in missing) + ".")


DECISION_STEPS = ("chief_approval", "official_designation")
#: Steps that concern one program only (as in the compliance rules).
STEP_PROGRAMS = {"confidentiality_agreement": "psp", "nondisclosure_agreement": "prp",
                 "certification": "prp"}
#: The roles a person needs to be designated to each program's team directly.
TEAM_ROLES = {"psp": ("supporter",), "prp": ("aro", "prs")}
TEAM_ROLE_WORDS = {"psp": "peer supporter", "prp": "peer recovery (ARO or PRS)"}


def _policy_of(user: Any) -> Any:
    return user.agency.policy_model()


@transaction.atomic
def application_decide(*, acting_user: User, application: Application, approve: bool,
                       version: int | None = None) -> Application:
    """The Chief approves (which designates) or declines. Never their own application."""
    if application.applicant_id == acting_user.pk:
        raise ValidationError(
            "You cannot decide your own application; another Chief or designee must.")
    locked = _lock_application(application, version)
    if approve:
        steps = _policy_of(application.applicant).selection.steps
        if "psychologist_interview" in steps \
                and locked.interview_outcome == InterviewOutcome.NOT_RECOMMENDED:
            raise ValidationError("The psychologist did not recommend this applicant.")
        _refuse_missing_steps(locked.applicant, locked.program, locked)
    locked.status = ApplicationStatus.APPROVED if approve else ApplicationStatus.DECLINED
    locked.decided_by = acting_user
    locked.decided_at = timezone.now()
    locked.version += 1
    locked.save(update_fields=["status", "decided_by", "decided_at", "version"])
    audit_record(
        action="readiness.application_decided",
        actor=acting_user,
        agency_id=locked.agency_id,
        obj=locked,
        detail={"approved": approve},
    )
    if approve:
        designation_grant(acting_user=acting_user, user=locked.applicant,
                          program=locked.program, application=locked)
    return locked


@transaction.atomic
def designation_grant(*, acting_user: User, user: Any, program: str,
                      application: Application | None = None,
                      designated_on: date | None = None) -> Designation:
    """Official designation by the Chief (a condition of privilege). Without an application
    (a team member from before Tandem) the person must hold the team's role and every
    selection step of the preset must be complete, as when deciding an application."""
    if user.pk == acting_user.pk:
        raise ValidationError("You cannot designate yourself.")
    if program not in Program.values:
        raise ValidationError("Choose a program.")
    if user.agency_id != acting_user.agency_id:
        raise ValidationError("This person is not in the agency.")
    if application is None:
        if not user.has_role(*TEAM_ROLES[program]):
            raise ValidationError(
                f"{user.get_full_name() or user.username} does not hold the "
                f"{TEAM_ROLE_WORDS[program]} role; an administrator gives it first.")
        steps = set(_policy_of(user).selection.steps)
        if steps & set(APPLICATION_STEPS):
            raise ValidationError(
                "This agency's selection starts with a letter of request and an "
                "interview: decide their application instead.")
    if Designation.objects.filter(user=user, program=program, removed_on__isnull=True).exists():
        raise ValidationError("This person is already designated to this team.")
    day = designated_on or timezone.localdate()
    policy = _policy_of(user)
    facts = compliance.load_facts([user])[user.pk]
    trained_later = application is not None and "initial_training" in _steps_after_decision(
        policy)
    if policy.training.initial_before_serving and not trained_later and \
            compliance.initial_completion(facts, policy, program, day) is None:
        missing = compliance.missing_topics(facts, policy, program, day)
        raise ValidationError(
            "Initial training must be complete before designation. Missing: "
            + ", ".join(missing) + ".")
    if application is None:
        _refuse_missing_steps(user, program, None)
    try:
        with transaction.atomic():
            designation = Designation.objects.create(
                agency_id=user.agency_id, user=user, program=program, application=application,
                designated_on=day, designated_by=acting_user)
    except IntegrityError:
        raise ValidationError("This person is already designated to this team.") from None
    audit_record(
        action="readiness.designated",
        actor=acting_user,
        agency_id=user.agency_id,
        obj=user,
        detail={"program": program, "designation": designation.pk},
    )
    person_recompute(user=user, acting_user=acting_user, cause="designated")
    return designation


@transaction.atomic
def designation_remove(*, acting_user: User, designation: Designation, reason: str,
                       removed_on: date | None = None) -> Designation:
    if reason not in RemovalReason.values:
        raise ValidationError("Choose the reason for the removal.")
    locked = Designation.objects.select_for_update().get(pk=designation.pk)
    if locked.removed_on is not None:
        raise ValidationError("This person was already removed from the team.")
    day = removed_on or timezone.localdate()
    if day < locked.designated_on:
        raise ValidationError("The removal date is before the designation.")
    locked.removed_on = day
    locked.removed_by = acting_user
    locked.removal_reason = reason
    locked.save(update_fields=["removed_on", "removed_by", "removal_reason"])
    audit_record(
        action="readiness.removed",
        actor=acting_user,
        agency_id=locked.agency_id,
        obj=locked.user,
        detail={"program": locked.program, "reason": reason},
    )
    person_recompute(user=locked.user, acting_user=acting_user, cause="removed")
    return locked


# ---------------------------------------------------------------------------------------
# Training sessions and attendance (PS-12)
# ---------------------------------------------------------------------------------------


@transaction.atomic
def session_schedule(*, acting_user: User, course: Course, starts_at: datetime,
                     ends_at: datetime, place: str, instructor: str,
                     capacity: int) -> TrainingSession:
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
                agency_id=course.agency_id, course=course, starts_at=starts_at, ends_at=ends_at,
                place=place.strip(), instructor=instructor.strip(), capacity=capacity,
                created_by=acting_user)
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
def session_enrol(*, acting_user: User, session: TrainingSession, user: Any) -> Enrolment:
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
def attendance_mark(*, acting_user: User, session: TrainingSession, user: Any,
                    status: str) -> Attendance:
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
            session=locked, user=user, status=status, marked_by=acting_user)
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


# ---------------------------------------------------------------------------------------
# Clearances (PR-7)
# ---------------------------------------------------------------------------------------


@transaction.atomic
def check_record(*, acting_user: User, user: Any, checked_on: date, result: str,
                 renewal_due: date) -> BackgroundCheck:
    if result not in CheckResult.values:
        raise ValidationError("Choose the result of the check.")
    if checked_on > timezone.localdate():
        raise ValidationError("The check date is in the future.")
    if renewal_due <= checked_on:
        raise ValidationError("The renewal date must be after the check date.")
    if user.agency_id != acting_user.agency_id:
        raise ValidationError("This person is not in the agency.")
    try:
        with transaction.atomic():
            check = BackgroundCheck.objects.create(
                agency_id=user.agency_id, user=user, checked_on=checked_on, result=result,
                renewal_due=renewal_due, recorded_by=acting_user)
    except IntegrityError:
        raise ValidationError("A check on that date is already recorded.") from None
    audit_record(
        action="readiness.background_check_recorded",
        actor=acting_user,
        agency_id=user.agency_id,
        obj=user,
        detail={"result": result},
    )
    person_recompute(user=user, acting_user=acting_user, cause="background_check")
    return check


# ---------------------------------------------------------------------------------------
# Agreements (PS-13, PR-8)
# ---------------------------------------------------------------------------------------


def content_hash(title: str, body: str) -> str:
    text = f"{title.strip()}\n\n{body.strip()}".replace("\r\n", "\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@transaction.atomic
def agreement_publish(*, acting_user: User, kind: str, title: str, body: str
                      ) -> AgreementDocument:
    """A new version of an agreement; earlier versions can no longer be signed."""
    if kind not in AgreementKind.values:
        raise ValidationError("Choose the kind of agreement.")
    if not title.strip() or not body.strip():
        raise ValidationError("The agreement needs a title and a text.")
    agency_id = acting_user.home_agency_id
    digest = content_hash(title, body)
    latest = AgreementDocument.objects.select_for_update().filter(
        agency_id=agency_id, kind=kind).order_by("-version").first()
    if latest is not None and latest.content_hash == digest:
        return latest  # the same text again (or a double submit)
    document = AgreementDocument.objects.create(
        agency_id=agency_id, kind=kind, version=(latest.version + 1) if latest else 1,
        title=title.strip(), body=body.strip(), content_hash=digest, published_by=acting_user)
    audit_record(
        action="readiness.agreement_published",
        actor=acting_user,
        agency_id=agency_id,
        obj=document,
        detail={"kind": kind, "version": document.version, "hash": digest},
    )
    if latest is not None:
        # Signatures on the replaced version stop counting now: whoever relied on one
        # must sign again, and their gates follow at once.
        from tandem.accounts.models import User

        signer_ids = Signature.objects.filter(document__agency_id=agency_id,
                                              document__kind=kind).values("user_id")
        for signer in User.objects.filter(pk__in=signer_ids).select_related("agency",
                                                                             "member"):
            person_recompute(user=signer, acting_user=acting_user, cause="agreement_version")
    return document


def current_version(document: AgreementDocument) -> AgreementDocument | None:
    return AgreementDocument.objects.filter(
        agency_id=document.agency_id, kind=document.kind).order_by("-version").first()


LOCKED_MESSAGE = ("Your account is locked after too many wrong passwords or codes. "
                  "Ask an administrator to unlock it.")


def _names_match(typed: str, user: Any) -> bool:
    def norm(text: str) -> str:
        return " ".join(text.split()).casefold()

    full = user.get_full_name()
    return bool(full.strip()) and norm(typed) == norm(full)


def agreement_sign(*, acting_user: User, document: AgreementDocument, typed_name: str,
                   password: str, code: str) -> Signature:
    """E-signature: the typed name must match the account, and the signer proves it is
    them again with their password and a current code from their authenticator app. The
    signature keeps the time and the hash of the exact version signed."""
    from tandem.accounts import mfa
    from tandem.accounts.services import signin_failed

    latest = current_version(document)
    if latest is None or latest.pk != document.pk:
        raise ValidationError(
            "This version of the agreement has been replaced. Please read and sign the "
            "current version.")
    existing = Signature.objects.filter(document=document, user=acting_user).first()
    if existing is not None:
        return existing
    if not _names_match(typed_name, acting_user):
        raise ValidationError("Type your full name exactly as it appears on your account: "
                              f"{acting_user.get_full_name()}.")
    acting_user.refresh_from_db(fields=["locked_at", "failed_attempts"])
    if acting_user.is_locked:
        raise ValidationError(LOCKED_MESSAGE)
    device = mfa.app_device(acting_user)
    password_ok = acting_user.check_password(password)
    result = mfa.check_totp(device, code) if (password_ok and device) else None
    if result is None or result.device is None:
        audit_record(
            action="readiness.signature_refused",
            actor=acting_user,
            agency_id=acting_user.agency_id,
            obj=document,
            detail={"password_ok": password_ok},
        )
        problem = (result.problem if result else None) or mfa.CodeProblem.WRONG
        # A wrong password or code here is a guess like any other: it counts toward the
        # account lockout exactly as at sign-in.
        locked = signin_failed(user=acting_user,
                               stage="signature_password" if not password_ok
                               else "signature_code",
                               reason="wrong_password" if not password_ok else str(problem))
        if locked:
            raise ValidationError(LOCKED_MESSAGE)
        if not password_ok:
            raise ValidationError("Your password is not correct.")
        if problem == mfa.CodeProblem.MALFORMED:
            raise ValidationError("Enter the 6-digit code your authenticator app shows now "
                                  "(backup codes cannot be used to sign).")
        raise ValidationError(mfa.PROBLEM_MESSAGES[problem])
    return _signature_write(acting_user=acting_user, document=document, typed_name=typed_name)


@transaction.atomic
def _signature_write(*, acting_user: User, document: AgreementDocument,
                     typed_name: str) -> Signature:
    # The same lock a new version's publication takes: the version signed is still current
    # when the signature is written.
    latest = AgreementDocument.objects.select_for_update().filter(
        agency_id=document.agency_id, kind=document.kind).order_by("-version").first()
    if latest is None or latest.pk != document.pk:
        raise ValidationError(
            "This version of the agreement has been replaced. Please read and sign the "
            "current version.")
    try:
        with transaction.atomic():
            signature = Signature.objects.create(
                agency_id=document.agency_id, document=document, user=acting_user,
                typed_name=" ".join(typed_name.split()), content_hash=document.content_hash,
                reauthenticated_with="password+totp")
    except IntegrityError:
        return Signature.objects.get(document=document, user=acting_user)
    audit_record(
        action="readiness.agreement_signed",
        actor=acting_user,
        agency_id=document.agency_id,
        obj=document,
        detail={"kind": document.kind, "version": document.version,
                   "hash": document.content_hash},
    )
    person_recompute(user=acting_user, acting_user=acting_user, cause="agreement")
    return signature


@transaction.atomic
def policy_review_record(*, acting_user: User, reviewed_on: date | None = None) -> PolicyReview:
    day = reviewed_on or timezone.localdate()
    review, made = PolicyReview.objects.get_or_create(
        agency_id=acting_user.home_agency_id, reviewed_on=day,
        defaults={"reviewed_by": acting_user})
    if made:
        audit_record(
            action="readiness.policy_reviewed",
            actor=acting_user,
            agency_id=acting_user.agency_id,
            object_type="agencies.Agency",
            object_id=acting_user.agency_id,
        )
    return review


def policy_review_due(agency: Any) -> date:
    last = PolicyReview.objects.filter(agency=agency).aggregate(m=Max("reviewed_on"))["m"]
    start = last or timezone.localdate(agency.created_at)
    return compliance.add_months(start, agency.policy_model().document.review_months)


# ---------------------------------------------------------------------------------------
# Certification and hours (PR-11)
# ---------------------------------------------------------------------------------------

#: What the person records about themselves.
SELF_FIELDS = ("education", "exam_date", "exam_result")
#: The credential itself: recorded only by a supervisor who signs off hours, never by the
#: person it certifies (the "certification" selection step relies on it).
CREDENTIAL_FIELDS = ("credential_number", "issued_on", "expires_on", "renewed_on")
CERTIFICATION_FIELDS = SELF_FIELDS + CREDENTIAL_FIELDS


@transaction.atomic
def certification_update(*, acting_user: User, user: Any, version: int | None,
                         **values: Any) -> Certification:
    if user.pk != acting_user.pk:
        require_actor_role(acting_user, *HOUR_SIGNERS)
    if user.agency_id != acting_user.agency_id:
        raise ValidationError("This person is not in the agency.")
    if not user.has_role("aro", "prs"):
        raise ValidationError("Certification is recorded for peer recovery team members.")
    if set(values) & set(CREDENTIAL_FIELDS) and (
        user.pk == acting_user.pk or not acting_user.has_role(*HOUR_SIGNERS)
    ):
        raise ValidationError("Only a supervisor records the credential (number and dates); "
                              "ask your supervisor to enter it.")
    cert, _ = Certification.objects.select_for_update().get_or_create(
        user=user, defaults={"agency_id": user.agency_id})
    if version is not None and cert.version != version:
        raise ValidationError("Someone else changed this certification record meanwhile. "
                              "Here is the current record; please check it and try again.")
    issued, expires = values.get("issued_on"), values.get("expires_on")
    if issued and expires and expires <= issued:
        raise ValidationError("The expiry date must be after the issue date.")
    if values.get("credential_number") and not issued:
        raise ValidationError("Give the date the credential was issued.")
    changed = []
    for name in CERTIFICATION_FIELDS:
        if name in values:
            value = (values[name] or "") if name == "credential_number" else values[name]
            if getattr(cert, name) != value:
                changed.append(name)
            setattr(cert, name, value)
    cert.version += 1
    cert.updated_at = timezone.now()
    cert.save()
    audit_record(
        action="readiness.certification_updated",
        actor=acting_user,
        agency_id=user.agency_id,
        obj=user,
        detail={"fields": sorted(changed)},
    )
    person_recompute(user=user, acting_user=acting_user, cause="certification")
    return cert


def _lock_person(user: Any) -> None:
    """One writer of a person's hours at a time (the daily sum and the double-submit key are
    checked under this lock)."""
    from tandem.accounts.models import User

    User.objects.select_for_update().filter(pk=user.pk).first()


def _check_hours(hours: Decimal, worked_on: date) -> None:
    if hours <= 0:
        raise ValidationError("Hours must be more than zero.")
    if hours > MAX_HOURS_PER_DAY:
        raise ValidationError("A day has at most 24 hours.")
    if worked_on > timezone.localdate():
        raise ValidationError("The date is in the future.")


@transaction.atomic
def hours_log(*, acting_user: User, kind: str, worked_on: date, hours: Decimal,
              idempotency_key: str) -> HourLog:
    if kind not in HourKind.values:
        raise ValidationError("Choose the kind of hours.")
    _check_hours(hours, worked_on)
    _lock_person(acting_user)
    existing = HourLog.objects.filter(user=acting_user, idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing  # a double submit: the first one stands
    day_total = HourLog.objects.filter(user=acting_user, worked_on=worked_on).aggregate(
        s=Sum("hours"))["s"] or Decimal(0)
    if day_total + hours > MAX_HOURS_PER_DAY:
        raise ValidationError(
            f"You already logged {day_total} hours on {when(worked_on)}; a day has at "
            "most 24.")
    try:
        with transaction.atomic():
            log = HourLog.objects.create(
                agency_id=acting_user.home_agency_id, user=acting_user, kind=kind,
                worked_on=worked_on, hours=hours, idempotency_key=idempotency_key)
    except IntegrityError:
        return HourLog.objects.get(user=acting_user, idempotency_key=idempotency_key)
    audit_record(
        action="readiness.hours_logged",
        actor=acting_user,
        agency_id=acting_user.agency_id,
        obj=log,
        detail={"kind": kind},
    )
    return log


@transaction.atomic
def hours_sign_off(*, acting_user: User, log: HourLog) -> HourLog:
    """A supervisor vouches for the hours: the signer's role is part of what is recorded."""
    if log.user_id == acting_user.pk:
        raise ValidationError("Your own hours must be signed off by another supervisor.")
    require_actor_role(acting_user, *HOUR_SIGNERS)
    locked = HourLog.objects.select_for_update().get(pk=log.pk)
    if locked.signed_off_at is None:
        locked.signed_off_by = acting_user
        locked.signed_off_at = timezone.now()
        locked.save(update_fields=["signed_off_by", "signed_off_at"])
        audit_record(
            action="readiness.hours_signed_off",
            actor=acting_user,
            agency_id=locked.agency_id,
            obj=locked,
        )
    return locked


def certification_progress(user: Any) -> dict[str, Any]:
    """Signed-off hours against the policy's certification (PR-11)."""
    cert_policy = user.agency.policy_model().recovery.certification
    totals = {k: Decimal(0) for k in HourKind.values}
    pending = Decimal(0)
    for kind, hours, signed in HourLog.objects.filter(user=user).values_list(
        "kind", "hours", "signed_off_at"
    ):
        if signed is None:
            pending += hours
        else:
            totals[kind] += hours
    supervision = totals["supervision"] + totals["ethics"]
    cert = Certification.objects.filter(user=user).first()
    return {
        "policy": cert_policy,
        # Beside the hours, what else the credential needs (PR-11): a diploma or GED and
        # the IC&RC exam — so a supervisor sees the whole picture on one screen.
        "education": cert.get_education_display() if cert else "Not yet recorded",
        "education_met": bool(cert and cert.education != "none"),
        "exam_result": cert.get_exam_result_display() if cert else "Not taken",
        "exam_date": cert.exam_date if cert else None,
        "exam_met": bool(cert and cert.exam_result == "passed"),
        "experience": totals["experience"],
        "supervision": supervision,
        "ethics": totals["ethics"],
        "pending": pending,
        "experience_met": bool(
            cert_policy and totals["experience"] >= cert_policy.experience_hours
        ),
        "supervision_met": bool(cert_policy and supervision >= cert_policy.supervision_hours),
        "ethics_met": bool(cert_policy and totals["ethics"] >= cert_policy.ethics_hours),
    }


# ---------------------------------------------------------------------------------------
# Hours worked (PS-14)
# ---------------------------------------------------------------------------------------


@transaction.atomic
def time_entry_add(*, acting_user: User, worked_on: date, hours: Decimal,
                   idempotency_key: str) -> TimeEntry:
    """Hours Worked under the agency's activity code. Never says whom it was spent with."""
    _check_hours(hours, worked_on)
    _lock_person(acting_user)
    existing = TimeEntry.objects.filter(user=acting_user,
                                        idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing  # a double submit: the first one stands
    day_total = TimeEntry.objects.filter(user=acting_user, worked_on=worked_on).aggregate(
        s=Sum("hours"))["s"] or Decimal(0)
    if day_total + hours > MAX_HOURS_PER_DAY:
        raise ValidationError(
            f"You already recorded {day_total} hours on {when(worked_on)}; a day has at "
            "most 24.")
    code = acting_user.home_agency.policy_model().training.hours_activity_code
    try:
        with transaction.atomic():
            entry = TimeEntry.objects.create(
                agency_id=acting_user.home_agency_id, user=acting_user, worked_on=worked_on,
                hours=hours, activity_code=code, idempotency_key=idempotency_key)
    except IntegrityError:
        return TimeEntry.objects.get(user=acting_user, idempotency_key=idempotency_key)
    audit_record(
        action="readiness.time_entry_added",
        actor=acting_user,
        agency_id=acting_user.agency_id,
        obj=entry,
    )
    return entry


@transaction.atomic
def time_entry_delete(*, acting_user: User, entry: TimeEntry) -> None:
    if entry.user_id != acting_user.pk:
        raise ValidationError("You can remove only your own entries.")
    audit_record(
        action="readiness.time_entry_deleted",
        actor=acting_user,
        agency_id=entry.agency_id,
        obj=entry,
    )
    entry.delete()


# ---------------------------------------------------------------------------------------
# Reminders
# ---------------------------------------------------------------------------------------


def _remind_once(user: Any, key: str) -> bool:
    with transaction.atomic():
        _, made = ReminderSent.objects.get_or_create(user=user, key=key)
        if made:
            notify(kind="readiness.reminder", recipient_user=user, agency=user.agency)
        return made


def reminders_send() -> int:
    """Daily job: remind people of due dates in the coming weeks, and the coordinators of
    the policy's periodic review. One reminder per due date."""
    from tandem.accounts.models import users_with_role
    from tandem.agencies.models import Agency
    from tandem.readiness.selectors import team_people

    sent = 0
    today = timezone.localdate()
    for agency in Agency.objects.all():
        people = list(team_people(agency).select_related("agency"))
        for user_id, status in compliance.statuses_for(agency, people).items():
            user = next(u for u in people if u.pk == user_id)
            for due in status.due:
                if 0 <= (due.on - today).days <= compliance.DUE_SOON_DAYS:
                    sent += int(_remind_once(user, due.key))
        review_due = policy_review_due(agency)
        if (review_due - today).days <= compliance.DUE_SOON_DAYS:
            for coordinator in users_with_role(agency, ["coordinator"]):
                sent += int(_remind_once(coordinator, f"policy-review-{review_due}"))
    return sent
