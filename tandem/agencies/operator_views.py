"""The deployment operator's screen: the agencies on this deployment, and a new one with
its first administrator. An operator sees no agency's people or programs."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.accounts.setup import setup_link
from tandem.agencies import services
from tandem.agencies.access import require_operator
from tandem.agencies.forms import AgencyCreateForm
from tandem.agencies.selectors import agencies_for_operator


@require_GET
def agency_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_operator(request.user)
    return render(request, "agencies/operator_agencies.html", {"agencies": agencies_for_operator()})


@never_cache
@require_http_methods(["GET", "POST"])
def agency_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_operator(request.user)
    form = AgencyCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            agency, admin = services.agency_create_with_administrator(
                acting_user=request.user, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            for message in exc.messages:
                form.add_error(None, message)
        else:
            # The link is shown this once (never stored); the operator hands it over.
            context = {"agency": agency, "admin": admin, "link": setup_link(admin)}
            return render(request, "agencies/operator_created.html", context)
    status = 400 if request.method == "POST" else 200
    return render(request, "agencies/operator_agency_form.html", {"form": form}, status=status)
