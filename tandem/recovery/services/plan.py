"""Readiness and plan (PR-3).

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.recovery import vocab
from tandem.recovery.models import (
    Client,
    Goal,
    StageAssessment,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User


# --- Readiness and plan (PR-3) ------------------------------------------------------------


@transaction.atomic
def stage_record(
    *, acting_user: User, client: Client, stage: str, assessed_at: datetime | None = None
) -> StageAssessment:
    if stage not in vocab.Stage.values:
        raise ValidationError("Choose a stage of change from the list.")
    moment = assessed_at or timezone.now()
    if moment > timezone.now() + timedelta(minutes=15):
        raise ValidationError("An assessment cannot be dated in the future.")
    record = StageAssessment.objects.create(
        agency=client.agency,
        client=client,
        stage=stage,
        assessed_at=moment,
        assessed_by=acting_user,
    )
    audit_record(
        action="recovery.stage_record",
        actor=acting_user,
        obj=record,
        detail={"client": client.pk, "stage": stage},
    )
    return record


@transaction.atomic
def goal_create(
    *, acting_user: User, client: Client, text: str, target_on: date | None = None
) -> Goal:
    if not text.strip():
        raise ValidationError("Describe the goal.")
    goal = Goal.objects.create(
        agency=client.agency,
        client=client,
        text=text.strip(),
        target_on=target_on,
        created_by=acting_user,
    )
    audit_record(
        action="recovery.goal_create",
        actor=acting_user,
        obj=goal,
        detail={"client": client.pk},
    )
    return goal


@transaction.atomic
def goal_set_status(*, acting_user: User, goal: Goal, status: str) -> Goal:
    if status not in vocab.GoalStatus.values:
        raise ValidationError("Choose a status from the list.")
    goal.status = status
    goal.updated_at = timezone.now()
    goal.save(update_fields=["status", "updated_at"])
    audit_record(
        action="recovery.goal_status",
        actor=acting_user,
        obj=goal,
        detail={"status": status},
    )
    return goal
