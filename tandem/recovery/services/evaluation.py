"""Annual personnel evaluation (OO 2-78 E.1–2).

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.recovery.models import (
    PersonnelEvaluation,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User


# --- Annual personnel evaluation (OO 2-78 E.1–2) -------------------------------------------


EVALUATION_TEXT_MAX = 8000


@transaction.atomic
def personnel_evaluation_write(
    *, acting_user: User, person: User, year: int, feedback: str, version: int | None = None
) -> PersonnelEvaluation:
    """The evaluator writes (or, until it is acknowledged, rewrites) the year's feedback to
    one ARO or PRS; the figures of the year are kept with it as they stand now."""
    from tandem.recovery.access import require_evaluator
    from tandem.recovery.evaluation import evaluated_role, evaluation_for

    agency = require_evaluator(acting_user)
    role = evaluated_role(agency, person) if person.agency_id == agency.pk else ""
    if not role:
        raise ValidationError("Only an ARO or a PRS of the agency is evaluated here.")
    if person.pk == acting_user.pk:
        raise ValidationError("Nobody writes their own evaluation.")
    text = (feedback or "").strip()
    if not text:
        raise ValidationError({"feedback": "Write the feedback for this year."})
    if len(text) > EVALUATION_TEXT_MAX:
        raise ValidationError(
            {"feedback": f"Keep the feedback under {EVALUATION_TEXT_MAX} characters."}
        )
    if not 2000 <= year <= timezone.localdate().year:
        raise ValidationError("Choose a year that has begun.")
    figures = [
        [line.duty, line.label, line.value] for line in evaluation_for(person, role, year).lines
    ]
    evaluation = (
        PersonnelEvaluation.objects.select_for_update().filter(person=person, year=year).first()
    )
    if evaluation is None:
        evaluation = PersonnelEvaluation(agency=agency, person=person, year=year, role=role)
    else:
        if evaluation.is_acknowledged:
            raise ValidationError("This evaluation was acknowledged; it no longer changes.")
        if version is not None and version != evaluation.version:
            raise ValidationError(
                "Someone changed this evaluation meanwhile. Reload the page to see it."
            )
        evaluation.version += 1
    evaluation.figures = figures
    evaluation.feedback = text  # encrypted text
    evaluation.evaluator = acting_user
    evaluation.written_at = timezone.now()
    evaluation.save()
    audit_record(
        action="recovery.evaluation_write",
        actor=acting_user,
        obj=evaluation,
        detail={"year": year, "role": role, "version": evaluation.version},
    )
    _notify_evaluation(evaluation)
    return evaluation


def _notify_evaluation(evaluation: PersonnelEvaluation) -> None:
    from tandem.core.notifications import notify

    notify(kind="recovery.evaluation", recipient_user=evaluation.person, agency=evaluation.agency)


@transaction.atomic
def personnel_evaluation_acknowledge(
    *, acting_user: User, evaluation: PersonnelEvaluation, response: str = ""
) -> PersonnelEvaluation:
    """The person evaluated acknowledges having read it, optionally with a response."""
    locked = PersonnelEvaluation.objects.select_for_update().get(pk=evaluation.pk)
    if locked.person_id != acting_user.pk:
        raise ValidationError("Only the person evaluated acknowledges an evaluation.")
    if locked.is_acknowledged:
        return locked
    text = (response or "").strip()
    if len(text) > EVALUATION_TEXT_MAX:
        raise ValidationError(
            {"response": f"Keep the response under {EVALUATION_TEXT_MAX} characters."}
        )
    locked.response = text  # encrypted text
    locked.acknowledged_at = timezone.now()
    locked.save(update_fields=["response", "acknowledged_at"])
    audit_record(
        action="recovery.evaluation_acknowledge",
        actor=acting_user,
        obj=locked,
        detail={"year": locked.year, "response": bool(text)},
    )
    return locked


def personnel_evaluation_exported(*, acting_user: User, evaluation: PersonnelEvaluation) -> None:
    """Audit the printing of an evaluation (the PDF carries the feedback in the clear)."""
    audit_record(
        action="recovery.evaluation_export",
        actor=acting_user,
        obj=evaluation,
        detail={"year": evaluation.year, "format": "pdf"},
    )
