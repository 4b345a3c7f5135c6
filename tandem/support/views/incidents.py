"""Critical incidents and mutual aid.

Part of ``tandem.support.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies import selectors as agency_selectors
from tandem.agencies.access import require_role
from tandem.core.forms import form_errors
from tandem.support import access, forms, selectors, services
from tandem.support.models import (
    CriticalIncident,
)

from .common import _posted
from .on_behalf import _status

# --- Critical incidents and mutual aid --------------------------------------------------


@require_http_methods(["GET", "POST"])
def incident_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    form = forms.IncidentForm(
        _posted(request),
        units=agency_selectors.units(agency),
        supporters=selectors.all_profiles(agency),
    )
    if request.method == "POST" and form.is_valid():
        try:
            incident = services.incident_create(
                acting_user=request.user, agency=agency, **form.cleaned_data
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "Incident recorded.")
            return redirect("support:incident_detail", pk=incident.pk)
    incidents = selectors.incident_list(agency)
    return render(
        request,
        "support/incident_list.html",
        {"incidents": incidents, "form": form},
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
def incident_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    incident = access.get_incident_for_user(request.user, pk)
    ready = selectors.roster(incident.agency)
    deploy_form = forms.DeploymentForm(supporters=ready)
    session_form = forms.GroupSessionForm()
    if request.method == "POST":
        if request.POST.get("action") == "deploy":
            deploy_form = forms.DeploymentForm(request.POST, supporters=ready)
            _deploy(request, incident, deploy_form)
        else:
            session_form = forms.GroupSessionForm(request.POST)
            _session(request, incident, session_form)
        if not (deploy_form.errors or session_form.errors):
            return redirect("support:incident_detail", pk=incident.pk)
    context = {
        "incident": incident,
        "deploy_form": deploy_form,
        "session_form": session_form,
        "deployments": selectors.deployments_of(incident),
        "sessions": selectors.group_sessions_of(incident),
    }
    status = 400 if deploy_form.errors or session_form.errors else 200
    return render(request, "support/incident_detail.html", context, status=status)


def _deploy(request: AuthenticatedHttpRequest, incident: CriticalIncident, form: BaseForm) -> None:
    if form.is_valid():
        try:
            services.deployment_create(
                acting_user=request.user,
                incident=incident,
                supporter=form.cleaned_data["supporter"],
            )
            messages.success(request, "Supporter deployed and notified.")
        except ValidationError as exc:
            form_errors(form, exc)


def _session(request: AuthenticatedHttpRequest, incident: CriticalIncident, form: BaseForm) -> None:
    if form.is_valid():
        try:
            services.group_session_create(
                acting_user=request.user, incident=incident, **form.cleaned_data
            )
            messages.success(request, "Group session recorded.")
        except ValidationError as exc:
            form_errors(form, exc)


@require_http_methods(["GET", "POST"])
def mutual_aid(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    item = (
        access.get_mutual_aid_for_user(request.user, request.GET["edit"])
        if request.GET.get("edit")
        else None
    )
    form = forms.MutualAidForm(
        _posted(request), instance=item, initial={"requested_on": timezone.localdate()}
    )
    if request.method == "POST" and form.is_valid():
        services.mutual_aid_save(
            acting_user=request.user, agency=agency, item=item, **form.cleaned_data
        )
        messages.success(request, "Mutual-aid request saved.")
        return redirect("support:mutual_aid")
    items = selectors.mutual_aid_requests(agency)
    return render(
        request,
        "support/mutual_aid.html",
        {"items": items, "form": form, "editing": item},
        status=_status(form),
    )
