"""Overdoses, naloxone, outreach; public statements (PR-8).

Part of ``tandem.recovery.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_role
from tandem.core.exports import csv_response
from tandem.core.forms import form_errors
from tandem.recovery import selectors, services
from tandem.recovery.access import (
    STATEMENT_READERS,
    get_statement_for_user,
    require_program,
)
from tandem.recovery.forms import (
    NaloxoneKitForm,
    OutreachForm,
    OverdoseForm,
    StatementDecisionForm,
    StatementForm,
)

# --- Overdoses, naloxone, outreach -------------------------------------------------------


@require_http_methods(["GET", "POST"])
def overdose_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    form = OverdoseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data, naloxone_doses=form.cleaned_data["naloxone_doses"] or 0)
        try:
            services.overdose_create(
                acting_user=request.user, data=data, idempotency_key=data["idempotency_key"]
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The overdose response was recorded.")
            return redirect("recovery:overdose_list")
    records = selectors.overdoses(agency)[:200]
    return render(
        request,
        "recovery/overdose_list.html",
        {"form": form, "records": records},
        status=400 if form.errors else 200,
    )


# ODMAP column layout. ODMAP (Washington/Baltimore HIDTA) records four required elements —
# date/time of the suspected overdose, its approximate location, fatal or non-fatal, and
# whether naloxone was administered (with the number of doses) — plus optional suspected drug
# and case number; see the CSTE overdose-alert guide, "How Information is Captured in ODMAP"
# (odalerts.cste.org, page 197) and the HIDTA ODMAP entry form. The columns follow that order.
ODMAP_COLUMNS = [
    "Date",
    "Time",
    "Latitude",
    "Longitude",
    "Address",
    "Fatal/Non-Fatal",
    "Naloxone Administered",
    "Naloxone Doses",
    "Suspected Drug",
    "Agency Case Number",
]


@require_GET
def overdose_export(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    records = selectors.overdoses(agency, oldest_first=True)
    rows = []
    for r in records:
        local = timezone.localtime(r.occurred_at)
        rows.append(
            [
                local.strftime("%m/%d/%Y"),
                local.strftime("%H:%M"),
                r.latitude if r.latitude is not None else "",
                r.longitude if r.longitude is not None else "",
                r.location or "",
                "Fatal" if r.fatal else "Non-Fatal",
                "Yes" if r.naloxone_given else "No",
                r.naloxone_doses,
                r.get_suspected_drug_display(),
                r.case_number,
            ]
        )
    services.overdose_export_log(acting_user=request.user, count=len(rows))
    return csv_response("odmap-overdoses.csv", ODMAP_COLUMNS, rows)


@require_http_methods(["GET", "POST"])
def naloxone_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    form = NaloxoneKitForm(request.POST or None, initial={"given_on": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            services.naloxone_kit_create(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The naloxone kits were recorded.")
            return redirect("recovery:naloxone_list")
    kits = selectors.naloxone_kits(agency)[:200]
    total = selectors.naloxone_total(agency)
    return render(
        request,
        "recovery/naloxone_list.html",
        {"form": form, "kits": kits, "total": total},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def outreach_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    form = OutreachForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.outreach_create(
                acting_user=request.user,
                data=form.cleaned_data,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The outreach event was recorded.")
            return redirect("recovery:outreach_list")
    events = selectors.outreach_events(agency)[:200]
    return render(
        request,
        "recovery/outreach_list.html",
        {"form": form, "events": events},
        status=400 if form.errors else 200,
    )


# --- Public statements (PR-8) --------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def statement_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *STATEMENT_READERS)
    can_request = request.user.has_role("aro", "prs", "crt_supervisor")
    form = StatementForm(request.POST or None) if can_request else None
    if request.method == "POST":
        if form is None:
            raise Http404
        if form.is_valid():
            try:
                services.statement_request_create(acting_user=request.user, **form.cleaned_data)
            except ValidationError as exc:
                form_errors(form, exc)
            else:
                messages.success(request, "Your request was sent to the Chief.")
                return redirect("recovery:statement_list")
    statements = selectors.statements_for(agency, request.user)
    return render(
        request,
        "recovery/statement_list.html",
        {
            "form": form,
            "statements": statements,
            "decision_form": StatementDecisionForm(),
            "is_chief": request.user.has_role("chief"),
        },
        status=400 if form is not None and form.errors else 200,
    )


@require_POST
def statement_decide(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    statement = get_statement_for_user(request.user, pk, write=True)
    form = StatementDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose to approve or refuse.")
        return redirect("recovery:statement_list")
    try:
        services.statement_decide(
            acting_user=request.user,
            statement=statement,
            approve=form.cleaned_data["decision"] == "approve",
            note=form.cleaned_data["note"],
        )
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The decision was recorded.")
    return redirect("recovery:statement_list")
