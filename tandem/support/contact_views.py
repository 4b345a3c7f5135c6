"""How to reach the peer-support coordinator (Joplin SOG 2-13 IV.B.2: a supervisor
activates the team through the Coordinator). Names and numbers of the coordinators only:
nothing about who is on call or about any request."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_account
from tandem.support import selectors


@require_GET
def coordinator_contact(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_account(request.user)
    people = [
        {
            "name": str(user),
            "phone": (user.member.phone if user.member else "") or user.phone,
            "email": (user.member.email if user.member else "") or user.email,
        }
        for user in selectors.coordinators(agency)
    ]
    policy = agency.policy_model()
    return render(
        request,
        "support/coordinator_contact.html",
        {
            "people": people,
            "title": policy.title("coordinator"),
            "supervisor_channel": "supervisor_via_coordinator" in policy.eligibility.channels,
            "reference": policy.document.reference,
        },
    )
