"""Caseload; clients.

Part of ``tandem.recovery.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.models import Role
from tandem.core.db_router import reads_from_replica
from tandem.core.forms import form_errors
from tandem.core.keyset import keyset_page, page_query, parse_cursor
from tandem.recovery import selectors, services
from tandem.recovery.access import (
    can_read_cji,
    get_client_for_user,
    get_flags_client_for_user,
    is_sworn_program,
    require_program,
)
from tandem.recovery.forms import (
    ClientForm,
    ClientSearchForm,
    GoalForm,
    GoalStatusForm,
    SafetyFlagsForm,
    StageForm,
)

from .common import OPEN_GOALS, PER_PAGE, TIMELINE_PAGE, _newer_values, _stale_form

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

# --- Caseload -------------------------------------------------------------------------------


@require_GET
@reads_from_replica
def caseload(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    start, end = selectors.day_bounds(timezone.localdate())
    clients = keyset_page(
        selectors.my_clients(agency, request.user),
        size=PER_PAGE,
        order=("last_name", "first_name", "pk"),
        after=parse_cursor(request.GET.get("after")),
        before=parse_cursor(request.GET.get("before")),
    )
    context = {
        "clients": clients,
        "follow_ups": selectors.follow_ups_due(agency, request.user),
        "visits": selectors.planned_between(agency, start, end, request.user),
    }
    return render(request, "recovery/caseload.html", context)


# --- Clients ----------------------------------------------------------------------------


@require_GET
@reads_from_replica
def client_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    form = ClientSearchForm(request.GET or None)
    text = status = ""
    if form.is_valid():
        text, status = form.cleaned_data["q"], form.cleaned_data["status"]
    page = keyset_page(
        selectors.client_search(agency, text, status),
        size=PER_PAGE,
        order=("last_name", "first_name", "pk"),
        after=parse_cursor(request.GET.get("after")),
        before=parse_cursor(request.GET.get("before")),
    )
    template = "recovery/partials/client_rows.html" if request.htmx else "recovery/client_list.html"
    return render(
        request, template, {"form": form, "page": page, "q": text, "query": page_query(request)}
    )


def _duplicates_for(agency: Agency, data: Any, exclude_pk: int | None = None) -> list[Any]:
    from datetime import date

    try:
        dob = date.fromisoformat(str(data.get("date_of_birth") or ""))
    except ValueError:
        dob = None
    return selectors.likely_duplicates(
        agency,
        first_name=str(data.get("first_name", ""))[:80],
        last_name=str(data.get("last_name", ""))[:80],
        date_of_birth=dob,
        phone=str(data.get("phone", ""))[:32],
        exclude_pk=exclude_pk,
    )


@require_GET
def client_duplicates(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The htmx partial shown while a client is being typed in (PR-2)."""
    agency = require_program(request.user)
    return render(
        request,
        "recovery/partials/duplicates.html",
        {"duplicates": _duplicates_for(agency, request.GET)},
    )


@require_http_methods(["GET", "POST"])
def client_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    form = ClientForm(
        request.POST or None,
        request.FILES or None,
        agency=agency,
        initial=_own_assignment(request.user),
    )
    duplicates: list[Any] = []
    if request.method == "POST" and form.is_valid():
        duplicates = _duplicates_for(agency, request.POST)
        if duplicates and not request.POST.get("confirm_new"):
            form.add_error(
                None,
                "This person may already be in the registry. Open the match "
                "instead, or confirm that none of them is the same person.",
            )
        else:
            try:
                client = services.client_create(
                    acting_user=request.user,
                    data=form.service_data(),
                    photo=form.photo_bytes,
                    photo_type=form.photo_type,
                    idempotency_key=form.cleaned_data["idempotency_key"],
                )
            except ValidationError as exc:
                form_errors(form, exc)
            else:
                messages.success(request, "The client was added.")
                return redirect("recovery:client_detail", client.pk)
    status = 400 if form.errors else 200
    return render(
        request,
        "recovery/client_form.html",
        {"form": form, "duplicates": duplicates},
        status=status,
    )


def _own_assignment(user: Any) -> dict[str, int]:
    """A client added by the ARO or the PRS starts on their own caseload."""
    roles = (("aro", Role.ARO), ("prs", Role.PRS))
    return {field: user.pk for field, role in roles if user.has_role(role)}


@require_GET
def client_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=False)
    services.client_view_log(acting_user=request.user, client=client)
    records = selectors.client_records(client)
    timeline = selectors.client_timeline(client, records)
    page = Paginator(timeline, TIMELINE_PAGE).get_page(request.GET.get("timeline"))
    context = {
        "client": client,
        "stage": records.current_stage,
        "stages": records.stages,
        "stage_count": records.stage_count,
        "goals": records.goals,
        "goals_open": sum(g.status in OPEN_GOALS for g in records.goals),
        "referrals": records.referrals,
        "consents": records.consents,
        "glance": selectors.client_glance(timeline, records),
        "timeline": page,
        "timeline_count": len(timeline),
        "stage_form": StageForm(),
        "goal_form": GoalForm(),
        "goal_status_form": GoalStatusForm(),
        "flags_form": SafetyFlagsForm(initial={"flags": client.safety_flags}),
        "sworn": is_sworn_program(request.user),
        "cji": can_read_cji(request.user),
        "merges": selectors.merges_into(client),
    }
    return render(request, "recovery/client_detail.html", context)


def _client_section(pk: int, section: str) -> HttpResponse:
    """Back to the client page, with the section just changed opened (tandem.js)."""
    return redirect(reverse("recovery:client_detail", args=[pk]) + f"#{section}")


@require_http_methods(["GET", "POST"])
def client_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=request.method == "POST")
    form = ClientForm(
        request.POST or None,
        request.FILES or None,
        agency=client.agency,
        initial=ClientForm.initial_for(client),
    )
    status = 200
    newer: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        try:
            services.client_update(
                acting_user=request.user,
                client=client,
                data=form.service_data(),
                version=form.cleaned_data["version"] or 0,
                photo=form.photo_bytes,
                photo_type=form.photo_type,
            )
        except services.StaleEdit as exc:
            client = get_client_for_user(request.user, pk, write=False)
            form = _stale_form(ClientForm, request, client.version, agency=client.agency)
            newer = _newer_values(form, ClientForm.initial_for(client))
            form_errors(form, exc)
            status = 409
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The client was saved.")
            return redirect("recovery:client_detail", client.pk)
    if form.errors and status == 200:
        status = 400
    return render(
        request,
        "recovery/client_form.html",
        {"form": form, "client": client, "newer": newer},
        status=status,
    )


@require_GET
def client_photo(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=False)
    if not client.photo:
        raise Http404
    services.client_photo_view_log(acting_user=request.user, client=client)
    response = HttpResponse(base64.b64decode(client.photo), content_type=client.photo_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_POST
def client_flags(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_flags_client_for_user(request.user, pk, write=True)
    form = SafetyFlagsForm(request.POST)
    if form.is_valid():
        services.client_flags_set(
            acting_user=request.user, client=client, flags=form.cleaned_data["flags"]
        )
        messages.success(request, "The safety flags were saved.")
    else:
        messages.error(request, "Choose safety flags from the list.")
    return _client_section(client.pk, "flags")


@require_GET
def deconflict(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    days = agency.policy_model().recovery.deconfliction_days
    clients, doubles = selectors.deconfliction(agency, days)
    context = {
        "days": days,
        "clients": clients,
        "doubles": doubles,
        "candidates": selectors.open_candidates(agency)[:100],
        "run": selectors.latest_run(agency),
    }
    context["conflicts"], context["double_visits"] = selectors.fact_conflicts(agency, days)
    return render(request, "recovery/deconflict.html", context)
