"""Intake page.

Part of ``tandem.support.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_role
from tandem.support import access, selectors, services

# --- Intake page ------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def intake_admin(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.COORDINATORS)
    link_url = ""
    if request.method == "POST":
        token = services.intake_link_rotate(acting_user=request.user, agency=agency)
        link_url = request.build_absolute_uri(reverse("support:intake", args=[token]))
        messages.success(request, "A new intake link was made; the old one stopped working.")
    current = selectors.current_intake_link(agency)
    return render(
        request,
        "support/intake_admin.html",
        {
            "current": current,
            "link_url": link_url,
            "now": timezone.now(),
            "eligibility": agency.policy_model().eligibility,
        },
    )
