"""Contacts.

Part of ``tandem.recovery.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.core.forms import form_errors
from tandem.recovery import services
from tandem.recovery.access import (
    get_client_for_user,
    get_contact_for_user,
    get_planned_for_user,
)
from tandem.recovery.forms import (
    ContactForm,
)

from .common import _newer_values, _stale_form

# --- Contacts ---------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def contact_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=request.method == "POST")
    is_aro = request.user.has_role("aro")
    now = timezone.localtime().replace(second=0, microsecond=0)
    planned_pk = request.GET.get("planned") or ""
    initial = {
        "occurred_at": now,
        "aro_present": is_aro,
        "prs_present": request.user.has_role("prs"),
        "planned": planned_pk or None,
    }
    if planned_pk.isdigit():
        # Logged from a planned visit: who was planned to be there, and the planned kind.
        planned = get_planned_for_user(request.user, planned_pk)
        if planned.client_id == client.pk:
            initial["kind"] = planned.kind
            initial["aro_present"] = is_aro or planned.aro_id is not None
            initial["prs_present"] = initial["prs_present"] or planned.with_prs
    form = ContactForm(request.POST or None, client=client, initial=initial)
    moment = now
    if request.method == "POST" and form.is_valid():
        moment = form.cleaned_data["occurred_at"]
    # The same rule as the Deconflict list: the same client and day, another person.
    same_day = list(services.contacts_same_day(client, moment, other_than=request.user))
    if request.method == "POST" and form.is_valid():
        separate = bool(request.POST.get("confirm_separate"))
        if same_day and not separate:
            form.add_error(
                None,
                "Somebody else already logged a contact with this client that day. Open it "
                "if it is the same encounter, or confirm that this one is separate.",
            )
        else:
            try:
                services.contact_create(
                    acting_user=request.user,
                    client=client,
                    data=form.service_data(),
                    idempotency_key=form.cleaned_data["idempotency_key"],
                    separate_from_same_day=separate and bool(same_day),
                )
            except ValidationError as exc:
                form_errors(form, exc)
            else:
                messages.success(request, "The contact was recorded.")
                return redirect("recovery:client_detail", client.pk)
    return render(
        request,
        "recovery/contact_form.html",
        {"form": form, "client": client, "same_day": same_day},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def contact_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    contact = get_contact_for_user(request.user, pk)
    if request.method == "GET":
        services.contact_view_log(acting_user=request.user, contact=contact)
    initial = {name: getattr(contact, name) for name in services.CONTACT_FIELDS}
    initial.update(
        planned=contact.planned_id,
        version=contact.version,
        occurred_at=timezone.localtime(contact.occurred_at),
    )
    form = ContactForm(request.POST or None, client=contact.client, initial=initial)
    status = 200
    newer: list[tuple[str, str]] = []
    if request.method == "POST" and form.is_valid():
        try:
            services.contact_update(
                acting_user=request.user,
                contact=contact,
                data=form.service_data(),
                version=form.cleaned_data["version"] or 0,
            )
        except services.StaleEdit as exc:
            contact = get_contact_for_user(request.user, pk)
            form = _stale_form(ContactForm, request, contact.version, client=contact.client)
            current = {name: getattr(contact, name) for name in services.CONTACT_FIELDS}
            newer = _newer_values(form, current)
            form_errors(form, exc)
            status = 409
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The contact was saved.")
            return redirect("recovery:client_detail", contact.client_id)
    if form.errors and status == 200:
        status = 400
    return render(
        request,
        "recovery/contact_form.html",
        {"form": form, "client": contact.client, "contact": contact, "newer": newer},
        status=status,
    )
