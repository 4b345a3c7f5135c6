"""Resources and referrals.

Part of ``tandem.recovery.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import cast

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import BaseForm, ChoiceField
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.core.forms import form_errors
from tandem.recovery import selectors, services, vocab
from tandem.recovery.access import (
    get_client_for_user,
    get_referral_for_user,
    get_resource_for_user,
    require_program,
)
from tandem.recovery.forms import (
    ReferralForm,
    ReferralStepForm,
    ResourceForm,
)
from tandem.recovery.models import (
    Referral,
    Resource,
)

# --- Resources and referrals --------------------------------------------------------------


@require_GET
def resource_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_program(request.user)
    category = request.GET.get("category", "")
    resources = selectors.resources(agency, category)
    return render(
        request,
        "recovery/resource_list.html",
        {
            "resources": resources,
            "categories": vocab.ResourceCategory.choices,
            "category": category,
        },
    )


def _resource_form_page(
    request: AuthenticatedHttpRequest, resource: Resource | None
) -> HttpResponse:
    fields = [f for f in ResourceForm.base_fields if f != "idempotency_key"]
    initial = {f: getattr(resource, f) for f in fields} if resource else {}
    form = ResourceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.resource_save(
                acting_user=request.user,
                data=form.cleaned_data,
                resource=resource,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The directory was updated.")
            return redirect("recovery:resource_list")
    return render(
        request,
        "recovery/resource_form.html",
        {"form": form, "resource": resource},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def resource_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_program(request.user)
    return _resource_form_page(request, None)


@require_http_methods(["GET", "POST"])
def resource_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _resource_form_page(request, get_resource_for_user(request.user, pk))


@require_http_methods(["GET", "POST"])
def referral_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=request.method == "POST")
    form = ReferralForm(request.POST or None, agency=client.agency)
    if request.method == "POST" and form.is_valid():
        try:
            referral = services.referral_create(
                acting_user=request.user,
                client=client,
                resource=form.cleaned_data["resource"],
                follow_up_on=form.cleaned_data["follow_up_on"],
                sent=form.cleaned_data["sent"],
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The referral was recorded.")
            return redirect("recovery:referral_detail", referral.pk)
    return render(
        request,
        "recovery/referral_form.html",
        {"form": form, "client": client},
        status=400 if form.errors else 200,
    )


def _referral_page(
    request: AuthenticatedHttpRequest,
    referral: Referral,
    form: BaseForm | None = None,
    status: int = 200,
) -> HttpResponse:
    step_form = form or ReferralStepForm(initial={"on": timezone.localdate()})
    cast(ChoiceField, step_form.fields["status"]).choices = referral.next_steps()
    return render(
        request,
        "recovery/referral_detail.html",
        {"referral": referral, "form": step_form},
        status=status,
    )


@require_GET
def referral_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    referral = get_referral_for_user(request.user, pk)
    services.referral_view_log(acting_user=request.user, referral=referral)
    return _referral_page(request, referral)


@require_POST
def referral_advance(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    referral = get_referral_for_user(request.user, pk)
    form = ReferralStepForm(request.POST)
    cast(ChoiceField, form.fields["status"]).choices = referral.next_steps()
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.referral_advance(
                acting_user=request.user,
                referral=referral,
                status=data["status"],
                on=data["on"],
                reason=data["reason"],
                follow_up_on=data["follow_up_on"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The referral was updated.")
            return redirect("recovery:referral_detail", referral.pk)
    return _referral_page(request, referral, form, status=400)
