"""On call.

Part of ``tandem.support.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_role
from tandem.core.forms import form_errors
from tandem.support import access, forms, selectors, services
from tandem.support.oncall import Schedule

from .common import _form_page, _posted
from .on_behalf import _ready_choices, _status, on_behalf_channels

# --- On call ----------------------------------------------------------------------------


@require_GET
def on_call_now(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.ON_CALL_READERS)
    lines = selectors.on_call_now(agency)
    return render(
        request,
        "support/on_call_now.html",
        {
            "lines": lines,
            "now": timezone.now(),
            "unrouted": selectors.unrouted_count(agency),
            "may_request": request.user.has_role(*access.REQUEST_ON_BEHALF),
            "can_request": bool(on_behalf_channels(request.user, agency)),
        },
    )


@require_GET
def schedule(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    context = {
        "rotations": selectors.rotations(agency),
        "overrides": selectors.overrides_ahead(agency),
        "override_form": forms.OverrideForm(supporters=_ready_choices(agency)),
    }
    return render(request, "support/schedule.html", context)


@require_http_methods(["GET", "POST"])
def rotation_edit(request: AuthenticatedHttpRequest, pk: int | None = None) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    rotation = access.get_rotation_for_user(request.user, pk) if pk else None
    initial: dict[str, Any] = {"shift_hours": 168, "handoff_time": "07:00"}
    if rotation is not None:
        initial = {
            "name": rotation.name,
            "layer": rotation.layer,
            "starts_on": rotation.starts_on,
            "handoff_time": rotation.handoff_time,
            "shift_hours": rotation.shift_hours,
            "version": rotation.version,
        }
        for m in selectors.rotation_members(rotation):
            initial[f"participant_{m.position + 1}"] = m.supporter_id
    supporters = selectors.all_profiles(agency)
    form = forms.RotationForm(_posted(request), supporters=supporters, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        values = {k: data[k] for k in ("name", "layer", "starts_on", "handoff_time", "shift_hours")}
        try:
            services.rotation_save(
                acting_user=request.user,
                agency=agency,
                rotation=rotation,
                participants=form.participants(),
                version=data.get("version"),
                **values,
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "Rotation saved.")
            return redirect("support:schedule")
    return _form_page(
        request,
        title="Rotation" if rotation else "New rotation",
        form=form,
        submit="Save rotation",
        cancel=reverse("support:schedule"),
        lede="Participants take turns in this order, one shift each.",
        status=_status(form),
    )


@require_POST
def override_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    form = forms.OverrideForm(request.POST, supporters=_ready_choices(agency))
    if form.is_valid():
        try:
            services.override_create(acting_user=request.user, agency=agency, **form.cleaned_data)
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "Cover saved.")
            return redirect("support:schedule")
    return _form_page(
        request,
        title="Cover or swap",
        form=form,
        submit="Save cover",
        cancel=reverse("support:schedule"),
        status=400,
    )


@require_POST
def override_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    item = access.get_override_for_user(request.user, pk)
    services.override_delete(acting_user=request.user, override=item)
    messages.success(request, "Cover removed.")
    return redirect("support:schedule")


@require_GET
def coverage(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    gaps = Schedule(agency, until=timezone.now() + timedelta(days=15), full=True).gaps()
    return render(request, "support/coverage.html", {"gaps": gaps})


@require_GET
def queue(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    now = timezone.now()
    items = [(item, selectors.waited(item.created_at, now)) for item in selectors.queue(agency)]
    return render(request, "support/queue.html", {"items": items})
