"""The administrator's single sign-on screen: the agency's identity provider (issuer,
client, subject claim, what counts as multi-factor, e-mail domains, just-in-time creation,
on or off) and a connection test that reads the provider's discovery document and keys."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.accounts.oidc import ConnectionCheck, identity_provider_set, identity_provider_test
from tandem.agencies.access import require_role
from tandem.agencies.models import Agency, Role
from tandem.api import selectors
from tandem.api.forms import IdentityProviderForm
from tandem.api.models import IdentityProvider


def _initial(provider: IdentityProvider | None) -> dict[str, Any]:
    if provider is None:
        return {
            "subject_claim": "sub",
            "leeway_seconds": 60,
            "active": True,
            "mfa_amr": " ".join(IdentityProvider._meta.get_field("mfa_amr").get_default()),
        }
    return {
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "subject_claim": provider.subject_claim,
        "mfa_amr": " ".join(provider.mfa_amr),
        "mfa_acr": " ".join(provider.mfa_acr),
        "email_domains": " ".join(provider.email_domains),
        "leeway_seconds": provider.leeway_seconds,
        "jit_create": provider.jit_create,
        "active": provider.active,
    }


def _page(
    request: HttpRequest,
    agency: Agency,
    form: IdentityProviderForm,
    provider: IdentityProvider | None,
    checks: list[ConnectionCheck] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "api/sso_settings.html",
        {
            "form": form,
            "provider": provider,
            "checks": checks,
            "checks_ok": checks is not None and all(c.ok for c in checks),
            "linked": selectors.linked_accounts(provider),
            "has_secret": bool(provider and provider.client_secret),
            "callback_url": request.build_absolute_uri(reverse("sso:callback")),
            "signin_url": request.build_absolute_uri(reverse("accounts:login"))
            + f"?agency={agency.slug}",
        },
        status=status,
    )


@require_http_methods(["GET", "POST"])
def sso_settings(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, Role.ADMINISTRATOR)
    admin = request.user
    provider = selectors.identity_provider(agency)
    form = IdentityProviderForm(request.POST or None, initial=_initial(provider))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        linked_before = selectors.agency_linked_accounts(agency)
        try:
            saved = identity_provider_set(
                acting_user=admin,
                issuer=data["issuer"],
                client_id=data["client_id"],
                client_secret=data["client_secret"] or None,
                subject_claim=data["subject_claim"],
                mfa_amr=data["mfa_amr"],
                mfa_acr=data["mfa_acr"],
                email_domains=data["email_domains"],
                jit_create=data["jit_create"],
                active=data["active"],
                leeway_seconds=data["leeway_seconds"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            removed = linked_before - selectors.linked_accounts(saved)
            messages.success(
                request,
                "Single sign-on settings saved. Use “Test connection” "
                "to check that Tandem can reach the provider.",
            )
            if removed > 0:
                messages.warning(
                    request,
                    f"The issuer or subject claim changed, so {removed} "
                    "account(s) must be linked again before they can "
                    "sign in with the provider (provisioning does this).",
                )
            return redirect("api:sso_settings")
    return _page(request, agency, form, provider, status=400 if form.errors else 200)


@require_POST
def sso_test(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, Role.ADMINISTRATOR)
    admin = request.user
    provider = selectors.identity_provider(agency)
    if provider is None:
        messages.error(request, "Save the identity provider's settings first.")
        return redirect("api:sso_settings")
    checks = identity_provider_test(acting_user=admin, request=request)
    return _page(
        request, agency, IdentityProviderForm(initial=_initial(provider)), provider, checks
    )
