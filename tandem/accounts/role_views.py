"""Program roles awaiting a second person: the chief or a holder of the role approves or
declines what an administrator proposed (two people for program power)."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tandem.accounts import services
from tandem.accounts.access import get_role_request_for_user
from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.accounts.models import RoleRequest
from tandem.accounts.selectors import role_requests_proposed_by, role_requests_to_decide
from tandem.agencies.access import require_account


@require_GET
def role_requests(request: AuthenticatedHttpRequest) -> HttpResponse:
    me = request.user
    agency = require_account(me)
    context = {
        "to_decide": [(r, agency.title_for(r.role)) for r in role_requests_to_decide(me)],
        "proposed": [(r, agency.title_for(r.role)) for r in role_requests_proposed_by(me)],
    }
    return render(request, "accounts/role_requests.html", context)


def _decide(
    request: AuthenticatedHttpRequest, pk: int, action: Callable[[RoleRequest], str]
) -> HttpResponse:
    role_request = get_role_request_for_user(request.user, pk)
    try:
        messages.success(request, action(role_request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("accounts:role_requests")


@require_POST
def role_request_approve(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    me = request.user

    def approve(role_request: RoleRequest) -> str:
        services.role_grant_approve(acting_user=me, role_request=role_request, request=request)
        title = me.home_agency.title_for(role_request.role)
        return f"{role_request.user.username} now holds the role {title}."

    return _decide(request, pk, approve)


@require_POST
def role_request_decline(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    me = request.user

    def decline(role_request: RoleRequest) -> str:
        services.role_grant_reject(acting_user=me, role_request=role_request, request=request)
        title = me.home_agency.title_for(role_request.role)
        return f"Declined: {role_request.user.username} does not get the role {title}."

    return _decide(request, pk, decline)
