"""Limits of confidentiality.

Part of ``tandem.support.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_account, require_role
from tandem.agencies.models import Role
from tandem.core.forms import form_errors
from tandem.support import access, forms, selectors, services, vocab

from .common import _form_page, _posted
from .on_behalf import _status

# --- Limits of confidentiality ----------------------------------------------------------


@require_http_methods(["GET", "POST"])
def duty_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, Role.SUPPORTER)
    categories = services.exception_choices(agency, request.user)
    form = forms.DutyForm(_posted(request), categories=categories)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.duty_file(
                acting_user=request.user,
                category=data["category"],
                emergency=data["emergency"],
                subject={"name": data["subject_name"], "phone": data["subject_phone"]},
                self_disclosure_due=data["self_disclosure_due"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(
                request,
                "Notice filed. The Wellness Unit and the psychologist were alerted."
                if data["emergency"]
                else "Notice filed with the self-disclosure plan.",
            )
            return redirect("support:workspace")
    return _form_page(
        request,
        title="Duty-to-report notice",
        form=form,
        submit="File notice",
        lede="Emergency: the coordinator and the psychologist are alerted at "
        "once by text and e-mail until one of them acknowledges.",
        cancel=reverse("support:workspace"),
        status=_status(form),
    )


@require_GET
def duty_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.DUTY_READERS)
    notices = selectors.duty_notices(agency)
    labels = services.exception_labels(agency)
    return render(request, "support/duty_list.html", {"notices": notices, "labels": labels})


@require_GET
def duty_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    notice = access.get_duty_for_user(request.user, pk)
    labels = services.exception_labels(notice.agency)
    return render(
        request,
        "support/duty_detail.html",
        {"notice": notice, "label": labels.get(notice.category, notice.category)},
    )


@require_POST
def duty_acknowledge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    notice = access.get_duty_for_user(request.user, pk)
    if request.POST.get("action") == "resolve":
        services.duty_resolve(acting_user=request.user, notice=notice)
        messages.success(request, "Resolved; the identity on the notice was erased.")
    else:
        services.duty_acknowledge(acting_user=request.user, notice=notice)
        messages.success(request, "Acknowledged; the alerts stop.")
    return redirect("support:duty_detail", pk=notice.pk)


@require_http_methods(["GET", "POST"])
def consult_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, Role.SUPPORTER)
    form = forms.ConsultForm(
        _posted(request), categories=services.exception_choices(agency, request.user)
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.consultation_ask(
                acting_user=request.user, category=form.cleaned_data["category"]
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "Your question was sent without anyone's identity.")
            return redirect("support:workspace")
    return _form_page(
        request,
        title="Is this reportable?",
        form=form,
        submit="Ask",
        lede="Ask the Wellness Unit without identifying the member.",
        cancel=reverse("support:workspace"),
        status=_status(form),
    )


@require_http_methods(["GET", "POST"])
def consult_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_account(request.user)
    if not request.user.has_role(agency.policy_model().confidentiality.consult_role):
        raise Http404
    if request.method == "POST":
        item = access.get_consultation_for_user(request.user, request.POST.get("consultation", ""))
        form = forms.ConsultAnswerForm(request.POST)
        if form.is_valid():
            services.consultation_answer(
                acting_user=request.user, consultation=item, answer=form.cleaned_data["answer"]
            )
            messages.success(request, "Answer recorded.")
        else:
            messages.error(request, "Choose an answer.")
        return redirect("support:consult_list")
    items = selectors.consultations(agency)
    labels = services.exception_labels(agency)
    return render(
        request,
        "support/consult_list.html",
        {"items": items, "labels": labels, "answers": vocab.ConsultationAnswer},
    )


@require_http_methods(["GET", "POST"])
def breach_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_role(request.user, *access.HELPERS)
    form = forms.BreachForm(_posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            services.breach_report(acting_user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "Reported to the Wellness Unit and the psychologist.")
            return redirect("support:workspace")
    return _form_page(
        request,
        title="Report a breach of confidentiality",
        form=form,
        submit="Report",
        cancel=reverse("support:workspace"),
        status=_status(form),
    )
