"""Breach reports on the screen of the people the policy notifies (GO 702 .38: the
Wellness Unit Sergeant and the licensed psychologist), with acknowledgement."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.support import selectors, services
from tandem.support.access import breach_readers_agency, get_breach_for_user


@require_GET
def breach_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = breach_readers_agency(request.user)
    rows = [
        {"report": r, "acks": acks, "mine": any(a.user_id == request.user.pk for a in acks)}
        for r, acks in selectors.breach_reports(agency)
    ]
    titles = [agency.title_for(role) for role in services.breach_readers(agency)]
    return render(
        request,
        "support/breach_list.html",
        {"rows": rows, "readers": titles, "waiting": sum(1 for row in rows if not row["mine"])},
    )


@require_POST
def breach_acknowledge(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    report = get_breach_for_user(request.user, pk)
    try:
        services.breach_acknowledge(acting_user=request.user, report=report)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Acknowledged.")
    return redirect("support:breach_list")
