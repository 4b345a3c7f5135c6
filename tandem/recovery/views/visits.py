"""Planned contacts and the safety gate.

Part of ``tandem.recovery.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.models import PEER_RECOVERY
from tandem.core.decorators import public
from tandem.core.forms import form_errors
from tandem.core.ical import (
    FEED_DAYS_AHEAD,
    FeedEvent,
    calendar_response,
    feed_token_issue,
    feed_token_user,
)
from tandem.recovery import selectors, services, vocab
from tandem.recovery.access import (
    PROGRAM,
    get_client_for_user,
    get_planned_for_user,
    is_sworn_program,
    require_program,
    require_sworn_program,
)
from tandem.recovery.forms import (
    PlannedForm,
    SafetyAssessmentForm,
)
from tandem.recovery.models import PlannedContact

# --- Planned contacts and the safety gate ------------------------------------------------


@require_GET
def planned_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    today = timezone.localdate()
    start, _ = selectors.day_bounds(today)
    asked = request.GET.get("days", "")
    days = min(max(int(asked), 1), 90) if asked.isdigit() else 14
    visits = selectors.planned_between(agency, start, start + timedelta(days=days))
    context = {
        "visits": visits,
        "days": days,
        "feed_url": request.session.pop("recovery.feed_url", ""),
    }
    return render(request, "recovery/planned_list.html", context)


@require_http_methods(["GET", "POST"])
def planned_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    client_pk = request.GET.get("client") or ""
    initial = {
        "client": client_pk or None,
        "aro": request.user.pk if request.user.has_role("aro") else None,
        "prs": request.user.pk if request.user.has_role("prs") else None,
    }
    if client_pk.isdigit():
        # Planned from a client's page: the client's own ARO and PRS unless it is you.
        client = get_client_for_user(request.user, client_pk, write=False)
        initial["aro"] = initial["aro"] or client.aro_id
        initial["prs"] = initial["prs"] or client.prs_id
    form = PlannedForm(request.POST or None, agency=agency, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            planned = services.planned_create(
                acting_user=request.user,
                client=data["client"],
                kind=data["kind"],
                starts_at=data["starts_at"],
                ends_at=data["ends_at"],
                aro=data["aro"],
                prs=data["prs"],
                with_prs=data["with_prs"],
                idempotency_key=data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            same_day = selectors.visits_same_day_as(planned)
            if selectors.has_overlap(planned):
                messages.warning(
                    request,
                    "Another visit to this client is planned at an "
                    "overlapping time. Agree with your partner who goes.",
                )
            elif same_day:
                other = same_day[0]
                messages.warning(
                    request,
                    f"Another visit to this client is planned the same day, at "
                    f"{timezone.localtime(other.starts_at):%H:%M}"
                    f"{' by ' + other.created_by.get_full_name() if other.created_by else ''}."
                    " Agree with your partner who goes; it is listed on the Deconflict page.",
                )
            else:
                messages.success(request, "The visit was planned.")
            return redirect("recovery:planned_detail", planned.pk)
    return render(
        request, "recovery/planned_form.html", {"form": form}, status=400 if form.errors else 200
    )


def _planned_page(
    request: AuthenticatedHttpRequest,
    planned: PlannedContact,
    form: BaseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    checklist = list(planned.agency.policy_model().recovery.safety_checklist)
    context = {
        "planned": planned,
        "assessments": selectors.planned_assessments(planned),
        "overlapping": selectors.overlapping_visits(planned),
        "form": form or SafetyAssessmentForm(checklist=checklist),
        "can_assess": is_sworn_program(request.user),
    }
    return render(request, "recovery/planned_detail.html", context, status=status)


@require_GET
def planned_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _planned_page(request, get_planned_for_user(request.user, pk))


@require_POST
def planned_assess(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    require_sworn_program(request.user)
    planned = get_planned_for_user(request.user, pk)
    checklist = list(planned.agency.policy_model().recovery.safety_checklist)
    form = SafetyAssessmentForm(request.POST, checklist=checklist)
    if form.is_valid():
        try:
            assessment = services.safety_assessment_record(
                acting_user=request.user,
                planned=planned,
                confirmed=form.cleaned_data["confirmed"],
                reassessment=planned.status == vocab.PlanStatus.STARTED,
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            if assessment.all_clear:
                messages.success(request, "Safety assessment recorded: the contact may go ahead.")
            else:
                messages.warning(
                    request,
                    "Not every item was confirmed: the PRS must not "
                    "take part until a complete assessment is recorded.",
                )
            return redirect("recovery:planned_detail", planned.pk)
    planned.refresh_from_db()
    return _planned_page(request, planned, form, status=400)


@require_POST
def planned_start(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    planned = get_planned_for_user(request.user, pk)
    try:
        services.planned_start(acting_user=request.user, planned=planned)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The contact has started.")
    return redirect("recovery:planned_detail", planned.pk)


@require_POST
def planned_cancel(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    planned = get_planned_for_user(request.user, pk)
    try:
        services.planned_cancel(acting_user=request.user, planned=planned)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The visit was cancelled.")
    if request.POST.get("next") == "deconflict":
        return redirect("recovery:deconflict")
    return redirect("recovery:planned_detail", planned.pk)


FEED_PURPOSE = "prp.visits"


@require_POST
def feed_issue(request: AuthenticatedHttpRequest) -> HttpResponse:
    """A new secret calendar link for my planned visits (the old one stops working)."""
    require_program(request.user)
    token = feed_token_issue(acting_user=request.user, user=request.user, purpose=FEED_PURPOSE)
    request.session["recovery.feed_url"] = request.build_absolute_uri(
        reverse("recovery:feed", args=[token])
    )
    messages.success(request, "Your calendar link is ready. Any earlier link stops working.")
    return redirect("recovery:planned_list")


@public
@require_GET
def feed(request: AuthenticatedHttpRequest, token: str) -> HttpResponse:
    """My planned visits as iCal. A lock screen may show it: no client names."""
    user = feed_token_user(token, purpose=FEED_PURPOSE)
    if user is None or not user.has_role(*PROGRAM) or not user.home_agency.runs(PEER_RECOVERY):
        raise Http404
    start, _ = selectors.day_bounds(timezone.localdate())
    visits = selectors.planned_between(
        user.agency, start - timedelta(days=7), start + timedelta(days=FEED_DAYS_AHEAD), user
    )
    events = [
        FeedEvent(
            uid=f"prp-visit-{v.pk}@tandem",
            start=v.starts_at,
            end=v.ends_at,
            summary=f"Peer recovery visit — {v.get_kind_display().lower()}",
        )
        for v in visits
    ]
    return calendar_response("Peer recovery visits", events)
