"""Deconfliction: scans, explained pairs, merge and unmerge (issue 13).

Part of ``tandem.recovery.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.recovery import selectors, services, vocab
from tandem.recovery.access import (
    can_read_cji,
    get_candidate_for_user,
    get_client_for_user,
    get_merge_for_user,
    require_program,
)

# --- Deconfliction: scans, explained pairs, merge and unmerge (issue 13) -------------------


@require_POST
def deconflict_scan(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_program(request.user)
    services.match_run_request(acting_user=request.user)
    messages.success(request, "The scan of the whole registry has started; refresh in a while.")
    return redirect("recovery:deconflict")


@require_GET
def candidate_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    candidate = get_candidate_for_user(request.user, pk)
    services.candidate_view_log(acting_user=request.user, candidate=candidate)
    cji = can_read_cji(request.user)
    context = {
        "candidate": candidate,
        "sides": selectors.merge_sides(candidate.left, candidate.right),
        "left_counts": selectors.related_counts(candidate.left, cji=cji),
        "right_counts": selectors.related_counts(candidate.right, cji=cji),
        "merged": candidate.left.merged_into_id or candidate.right.merged_into_id,
    }
    return render(request, "recovery/candidate_detail.html", context)


@require_POST
def candidate_not_same(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    candidate = get_candidate_for_user(request.user, pk)
    try:
        services.candidate_not_same(acting_user=request.user, candidate=candidate)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("recovery:candidate_detail", candidate.pk)
    messages.success(request, "Remembered: these are two people. The pair is not proposed again.")
    return redirect("recovery:deconflict")


@require_POST
def candidate_merge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Merge the pair: the chosen survivor keeps its values except the fields ticked."""
    candidate = get_candidate_for_user(request.user, pk)
    pair = {candidate.left_id: candidate.left, candidate.right_id: candidate.right}
    survivor_pk = request.POST.get("survivor", "")
    if not survivor_pk.isdigit() or int(survivor_pk) not in pair:
        messages.error(request, "Choose which record survives the merge.")
        return redirect("recovery:candidate_detail", candidate.pk)
    survivor = pair.pop(int(survivor_pk))
    absorbed = next(iter(pair.values()))
    take = [f for f in services.MERGE_FIELDS if request.POST.get(f"take_{f}") == "absorbed"]
    try:
        merge = services.client_merge(
            acting_user=request.user, survivor=survivor, absorbed=absorbed, take=take
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("recovery:candidate_detail", candidate.pk)
    messages.success(request, "Merged. The merge can be undone from this record's page.")
    return redirect("recovery:client_detail", merge.survivor_id)


@require_POST
def merge_undo(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    merge = get_merge_for_user(request.user, pk)
    try:
        services.client_unmerge(acting_user=request.user, merge=merge)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The merge is undone: both records are as they were.")
    return redirect("recovery:client_detail", merge.survivor_id)


@require_POST
def conflict_settle(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Settle what was recorded differently, in one click from the Deconflict page."""
    from datetime import date

    client = get_client_for_user(request.user, pk, write=True)
    topic = request.POST.get("topic", "")
    try:
        day = date.fromisoformat(request.POST["day"]) if request.POST.get("day") else None
    except ValueError:
        day = None
    if topic not in vocab.ConflictTopic.values:
        messages.error(request, "Choose what to settle.")
        return redirect("recovery:deconflict")
    try:
        services.conflict_settle(
            acting_user=request.user,
            client=client,
            topic=topic,
            choice=request.POST.get("choice", ""),
            day=day,
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request, f"Settled: {vocab.ConflictTopic(topic).label.lower()} of {client.full_name}."
        )
    return redirect("recovery:deconflict")
