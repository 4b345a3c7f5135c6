"""Planned contacts and the safety gate (PR-6).

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.recovery import vocab
from tandem.recovery.access import is_sworn_program
from tandem.recovery.models import (
    Client,
    PlannedContact,
    SafetyAssessment,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .common import _claim

# --- Planned contacts and the safety gate (PR-6) -------------------------------------------


@transaction.atomic
def planned_create(
    *,
    acting_user: User,
    client: Client,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    aro: User,
    prs: User,
    with_prs: bool,
    idempotency_key: str = "",
) -> PlannedContact:
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": "The visit must end after it starts."})
    _claim(client.agency, idempotency_key)
    planned = PlannedContact.objects.create(
        agency=client.agency,
        client=client,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        aro=aro,
        prs=prs,
        with_prs=with_prs,
        created_by=acting_user,
    )
    audit_record(
        action="recovery.planned_create",
        actor=acting_user,
        obj=planned,
        detail={"client": client.pk, "kind": kind},
    )
    return planned


@transaction.atomic
def planned_cancel(*, acting_user: User, planned: PlannedContact) -> PlannedContact:
    if planned.status in (vocab.PlanStatus.DONE, vocab.PlanStatus.CANCELLED):
        raise ValidationError("This visit is already closed.")
    planned.status = vocab.PlanStatus.CANCELLED
    planned.save(update_fields=["status"])
    audit_record(
        action="recovery.planned_cancel",
        actor=acting_user,
        obj=planned,
    )
    return planned


@transaction.atomic
def safety_assessment_record(
    *, acting_user: User, planned: PlannedContact, confirmed: list[str], reassessment: bool = False
) -> SafetyAssessment:
    """The ARO's checklist (000 C.1–C.2). A complete first assessment starts the visit."""
    if not is_sworn_program(acting_user):
        raise ValidationError("Only a sworn officer of the program records the safety assessment.")
    planned = PlannedContact.objects.select_for_update().get(pk=planned.pk)
    if planned.status in (vocab.PlanStatus.DONE, vocab.PlanStatus.CANCELLED):
        raise ValidationError("This visit is closed; plan a new one.")
    if reassessment and planned.status != vocab.PlanStatus.STARTED:
        raise ValidationError("A reassessment is recorded during a contact that has started.")
    items = list(planned.agency.policy_model().recovery.safety_checklist)
    checklist = {item: item in confirmed for item in items}
    all_clear = all(checklist.values())
    assessment = SafetyAssessment.objects.create(
        planned=planned,
        assessed_by=acting_user,
        reassessment=reassessment,
        checklist=checklist,
        all_clear=all_clear,
    )
    if all_clear and planned.status == vocab.PlanStatus.PLANNED:
        planned.status = vocab.PlanStatus.STARTED
        planned.started_at = timezone.now()
        planned.save(update_fields=["status", "started_at"])
    audit_record(
        action="recovery.safety_assessment",
        actor=acting_user,
        obj=planned,
        detail={"all_clear": all_clear, "reassessment": reassessment},
    )
    return assessment


@transaction.atomic
def planned_start(*, acting_user: User, planned: PlannedContact) -> PlannedContact:
    """Start a visit that needs no assessment, or refuse until the ARO recorded one."""
    planned = PlannedContact.objects.select_for_update().get(pk=planned.pk)
    if planned.status != vocab.PlanStatus.PLANNED:
        raise ValidationError("This visit has already started or is closed.")
    if not planned.safe_to_start():
        raise ValidationError(
            "A field contact with the PRS cannot start until the ARO records a complete "
            "safety assessment."
        )
    planned.status = vocab.PlanStatus.STARTED
    planned.started_at = timezone.now()
    planned.save(update_fields=["status", "started_at"])
    audit_record(
        action="recovery.planned_start",
        actor=acting_user,
        obj=planned,
    )
    return planned
