"""Readiness and plan.

Part of ``tandem.recovery.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.recovery import services
from tandem.recovery.access import (
    get_client_for_user,
    get_goal_for_user,
)
from tandem.recovery.forms import (
    GoalForm,
    GoalStatusForm,
    StageForm,
)

from .clients import _client_section

# --- Readiness and plan -------------------------------------------------------------------


@require_POST
def stage_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=True)
    form = StageForm(request.POST)
    if form.is_valid():
        services.stage_record(
            acting_user=request.user, client=client, stage=form.cleaned_data["stage"]
        )
        messages.success(request, "The stage of change was recorded.")
    else:
        messages.error(request, "Choose a stage of change from the list.")
    if request.POST.get("next") == "deconflict":
        return redirect("recovery:deconflict")
    return _client_section(client.pk, "stages")


@require_POST
def goal_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=True)
    form = GoalForm(request.POST)
    if form.is_valid():
        services.goal_create(
            acting_user=request.user,
            client=client,
            text=form.cleaned_data["text"],
            target_on=form.cleaned_data["target_on"],
        )
        messages.success(request, "The goal was added to the plan.")
    else:
        messages.error(request, "Describe the goal (at most 500 characters).")
    return _client_section(client.pk, "goals")


@require_POST
def goal_status(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    goal = get_goal_for_user(request.user, pk)
    form = GoalStatusForm(request.POST)
    if form.is_valid():
        services.goal_set_status(
            acting_user=request.user, goal=goal, status=form.cleaned_data["status"]
        )
        messages.success(request, "The goal was updated.")
    else:
        messages.error(request, "Choose a status from the list.")
    return _client_section(goal.client_id, "goals")
