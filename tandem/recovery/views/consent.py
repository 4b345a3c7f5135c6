"""Consent and disclosures.

Part of ``tandem.recovery.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.core.forms import form_errors
from tandem.core.pdf import Document
from tandem.recovery import selectors, services
from tandem.recovery.access import (
    get_client_for_user,
    get_consent_for_user,
    get_disclosure_for_user,
)
from tandem.recovery.forms import (
    ConsentForm,
    DisclosureForm,
)
from tandem.recovery.models import REDISCLOSURE_NOTICE

# --- Consent and disclosures ---------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def consent_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=request.method == "POST")
    form = ConsentForm(
        request.POST or None,
        agency=client.agency,
        initial={
            "discloser": f"{client.agency.name} Peer Recovery Program",
            "starts_on": timezone.localdate(),
            "signed_on": timezone.localdate(),
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            consent = services.consent_create(
                acting_user=request.user,
                client=client,
                data=form.cleaned_data,
                idempotency_key=form.cleaned_data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The consent was recorded.")
            return redirect("recovery:consent_detail", consent.pk)
    return render(
        request,
        "recovery/consent_form.html",
        {"form": form, "client": client},
        status=400 if form.errors else 200,
    )


@require_GET
def consent_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consent = get_consent_for_user(request.user, pk)
    services.consent_view_log(acting_user=request.user, consent=consent)
    return render(
        request,
        "recovery/consent_detail.html",
        {"consent": consent, "disclosures": selectors.consent_disclosures(consent)},
    )


@require_POST
def consent_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    consent = get_consent_for_user(request.user, pk)
    try:
        services.consent_revoke(acting_user=request.user, consent=consent)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The consent is revoked; nothing more may be disclosed under it.")
    return redirect("recovery:consent_detail", consent.pk)


@require_POST
def consent_event(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The event on which the consent ends has happened: it ends at once."""
    consent = get_consent_for_user(request.user, pk)
    try:
        services.consent_event_occurred(acting_user=request.user, consent=consent)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "The consent has ended; nothing more may be disclosed under it.")
    return redirect("recovery:consent_detail", consent.pk)


@require_http_methods(["GET", "POST"])
def disclosure_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=request.method == "POST")
    form = DisclosureForm(request.POST or None, agency=client.agency)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            disclosure = services.disclosure_create(
                acting_user=request.user,
                client=client,
                recipient=data["recipient"],
                purpose=data["purpose"],
                information=data["information"],
                description=data["description"],
                idempotency_key=data["idempotency_key"],
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            messages.success(request, "The disclosure was recorded in the ledger.")
            return redirect("recovery:disclosure_detail", disclosure.pk)
    return render(
        request,
        "recovery/disclosure_form.html",
        {"form": form, "client": client},
        status=400 if form.errors else 200,
    )


@require_GET
def disclosure_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    disclosure = get_disclosure_for_user(request.user, pk)
    services.disclosure_view_log(acting_user=request.user, disclosure=disclosure)
    return render(request, "recovery/disclosure_detail.html", {"disclosure": disclosure})


@require_GET
def accounting(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=False)
    services.accounting_view_log(acting_user=request.user, client=client)
    return render(
        request,
        "recovery/accounting.html",
        {
            "client": client,
            "ledger": selectors.disclosure_ledger(client),
            "notice": REDISCLOSURE_NOTICE,
        },
    )


@require_GET
def accounting_pdf(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_client_for_user(request.user, pk, write=False)
    services.accounting_view_log(acting_user=request.user, client=client)
    doc = Document(
        agency=client.agency,
        title="Accounting of disclosures",
        subtitle=f"{client.full_name}, born {client.date_of_birth or 'unknown'}",
    )
    rows = [
        (
            timezone.localtime(d.disclosed_at).strftime("%Y-%m-%d"),
            d.recipient_name,
            d.description,
            d.get_purpose_display(),
        )
        for d in selectors.disclosure_ledger(client)
    ]
    doc.table(
        ["Date", "Recipient", "Description", "Purpose"],
        rows or [("—", "", "", "")],
        widths=[25, 50, 75, 40],
    )
    doc.heading("Notice to recipients (42 CFR 2.32)")
    doc.paragraph(REDISCLOSURE_NOTICE, size=8)
    return doc.response(f"disclosures-{client.pk}.pdf")
