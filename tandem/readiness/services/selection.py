"""Selection (PS-11).

Part of ``tandem.readiness.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.readiness import compliance
from tandem.readiness.models import (
    OPEN_APPLICATION,
    PROGRAM_OF,
    Application,
    ApplicationStatus,
    Designation,
    InterviewOutcome,
    Program,
    RemovalReason,
    Vacancy,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.presets import Policy
from .gates import person_recompute

# ---------------------------------------------------------------------------------------
# Selection (PS-11)
# ---------------------------------------------------------------------------------------


@transaction.atomic
def vacancy_create(
    *,
    acting_user: User,
    program: str,
    title: str,
    description: str = "",
    closes_on: date | None = None,
) -> Vacancy:
    if program not in Program.values:
        raise ValidationError("Choose a program.")
    if not acting_user.home_agency.runs(PROGRAM_OF[program]):
        raise ValidationError("The agency does not run this program.")
    if closes_on is not None and closes_on < timezone.localdate():
        raise ValidationError("The closing date is in the past.")
    try:
        with transaction.atomic():
            vacancy = Vacancy.objects.create(
                agency_id=acting_user.home_agency_id,
                program=program,
                title=title.strip(),
                description=description.strip(),
                closes_on=closes_on,
                created_by=acting_user,
            )
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
    if Designation.objects.filter(
        user=acting_user, program=vacancy.program, removed_on__isnull=True
    ).exists():
        raise ValidationError("You are already designated to this team.")
    existing = Application.objects.filter(
        applicant=acting_user, program=vacancy.program, status__in=OPEN_APPLICATION
    ).first()
    if existing is not None:
        if existing.vacancy_id == vacancy.pk:
            return existing  # a double submit: the first one stands
        raise ValidationError("You already have an application open for this team.")
    try:
        with transaction.atomic():
            application = Application.objects.create(
                agency_id=acting_user.agency_id,
                vacancy=vacancy,
                applicant=acting_user,
                program=vacancy.program,
                letter=letter.strip(),
            )
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
            "Here is the current state; please check it and try again."
        )
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
def application_interview(
    *,
    acting_user: User,
    application: Application,
    outcome: str,
    interviewed_on: date,
    version: int | None = None,
) -> Application:
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
    locked.save(
        update_fields=["interview_outcome", "interviewed_on", "interviewed_by", "status", "version"]
    )
    audit_record(
        action="readiness.application_interviewed",
        actor=acting_user,
        agency_id=locked.agency_id,
        obj=locked,
        detail={"outcome": outcome},
    )
    return locked


def selection_progress(application: Application, day: date | None = None) -> list[tuple[str, bool]]:
    """Each step of the agency's ``selection.steps`` and whether it is done (the Chief's
    approval and the designation are what the decision itself does)."""
    return _steps_done(application.applicant, application.program, application, day)


#: Steps only an application can satisfy (a letter, the vacancy it answers, the interview).
APPLICATION_STEPS = ("letter_of_request", "vacancy_announcement", "psychologist_interview")


def _steps_done(
    user: User, program: str, application: Application | None, day: date | None = None
) -> list[tuple[str, bool]]:
    day = day or timezone.localdate()
    policy = _policy_of(user)
    facts = compliance.load_facts([user])[user.pk]
    done = {
        "letter_of_request": bool(application and application.letter),
        "vacancy_announcement": bool(application and application.vacancy_id is not None),
        "psychologist_interview": bool(
            application and application.interview_outcome == InterviewOutcome.RECOMMENDED
        ),
        "background_vetting": compliance.current_check(facts, day) is not None,
        "cjis_background_check": compliance.current_check(facts, day) is not None,
        "initial_training": compliance.initial_completion(facts, policy, program, day) is not None,
        "confidentiality_agreement": any(k == "confidentiality" for k, _ in facts.signed),
        "nondisclosure_agreement": any(k == "nda" for k, _ in facts.signed),
        "certification": bool(facts.certified_from),
        "chief_approval": bool(application and application.status == ApplicationStatus.APPROVED),
        "official_designation": bool(
            application and application.status == ApplicationStatus.APPROVED
        ),
    }
    return [(step, done[step]) for step in policy.selection.steps]


def _steps_after_decision(policy: Policy) -> set[str]:
    """Steps the preset lists after the Chief's decision (Columbus 18.107: training follows
    selection). They are not conditions of the approval; the gate waits for them."""
    steps: list[str] = list(policy.selection.steps)
    decisions = [steps.index(s) for s in DECISION_STEPS if s in steps]
    return set(steps[min(decisions) + 1 :]) - set(DECISION_STEPS) if decisions else set()


def _refuse_missing_steps(user: User, program: str, application: Application | None) -> None:
    """The preset's selection steps before a designation (by decision or directly)."""
    from tandem.agencies.presets import choice_label

    later = _steps_after_decision(_policy_of(user)) if application is not None else set()
    missing = [
        s
        for s, ok in _steps_done(user, program, application)
        if not ok
        and s not in DECISION_STEPS
        and s not in later
        and STEP_PROGRAMS.get(s, program) == program
    ]
    if missing:
        raise ValidationError(
            "These steps are not complete yet: " + "; ".join(choice_label(s) for s in missing) + "."
        )


DECISION_STEPS = ("chief_approval", "official_designation")
#: Steps that concern one program only (as in the compliance rules).
STEP_PROGRAMS = {
    "confidentiality_agreement": "psp",
    "nondisclosure_agreement": "prp",
    "certification": "prp",
}
#: The roles a person needs to be designated to each program's team directly.
TEAM_ROLES = {"psp": ("supporter",), "prp": ("aro", "prs")}
TEAM_ROLE_WORDS = {"psp": "peer supporter", "prp": "peer recovery (ARO or PRS)"}


def _policy_of(user: User) -> Any:
    return user.home_agency.policy_model()


@transaction.atomic
def application_decide(
    *, acting_user: User, application: Application, approve: bool, version: int | None = None
) -> Application:
    """The Chief approves (which designates) or declines. Never their own application."""
    if application.applicant_id == acting_user.pk:
        raise ValidationError(
            "You cannot decide your own application; another Chief or designee must."
        )
    locked = _lock_application(application, version)
    if approve:
        steps = _policy_of(application.applicant).selection.steps
        if (
            "psychologist_interview" in steps
            and locked.interview_outcome == InterviewOutcome.NOT_RECOMMENDED
        ):
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
        designation_grant(
            acting_user=acting_user,
            user=locked.applicant,
            program=locked.program,
            application=locked,
        )
    return locked


@transaction.atomic
def designation_grant(
    *,
    acting_user: User,
    user: User,
    program: str,
    application: Application | None = None,
    designated_on: date | None = None,
) -> Designation:
    """Official designation by the Chief (a condition of privilege). Without an application
    (a team member from before Tandem) the person must hold the team's role and every
    selection step of the preset must be complete, as when deciding an application."""
    if user.pk == acting_user.pk:
        raise ValidationError("You cannot designate yourself.")
    if program not in Program.values:
        raise ValidationError("Choose a program.")
    if user.agency_id != acting_user.agency_id:
        raise ValidationError("This person is not in the agency.")
    if not user.home_agency.runs(PROGRAM_OF[program]):
        raise ValidationError("The agency does not run this program.")
    if application is None:
        if not user.has_role(*TEAM_ROLES[program]):
            raise ValidationError(
                f"{user.get_full_name() or user.username} does not hold the "
                f"{TEAM_ROLE_WORDS[program]} role; an administrator gives it first."
            )
        steps = set(_policy_of(user).selection.steps)
        if steps & set(APPLICATION_STEPS):
            raise ValidationError(
                "This agency's selection starts with a letter of request and an "
                "interview: decide their application instead."
            )
    if Designation.objects.filter(user=user, program=program, removed_on__isnull=True).exists():
        raise ValidationError("This person is already designated to this team.")
    day = designated_on or timezone.localdate()
    policy = _policy_of(user)
    facts = compliance.load_facts([user])[user.pk]
    trained_later = application is not None and "initial_training" in _steps_after_decision(policy)
    if (
        policy.training.initial_before_serving
        and not trained_later
        and compliance.initial_completion(facts, policy, program, day) is None
    ):
        missing = compliance.missing_topics(facts, policy, program, day)
        raise ValidationError(
            "Initial training must be complete before designation. Missing: "
            + ", ".join(missing)
            + "."
        )
    if application is None:
        _refuse_missing_steps(user, program, None)
    try:
        with transaction.atomic():
            designation = Designation.objects.create(
                agency_id=user.home_agency_id,
                user=user,
                program=program,
                application=application,
                designated_on=day,
                designated_by=acting_user,
            )
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
def designation_remove(
    *, acting_user: User, designation: Designation, reason: str, removed_on: date | None = None
) -> Designation:
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
