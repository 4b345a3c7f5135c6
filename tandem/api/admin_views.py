"""The administrator's screens for API clients: create, approve (a second person), issue
a token (shown once), revoke."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_role
from tandem.api import services
from tandem.api.access import (
    READERS,
    api_clients_for_user,
    get_api_client_for_user,
    get_api_client_to_approve,
    get_api_token_for_user,
)
from tandem.api.forms import ApiClientForm, TokenForm
from tandem.api.scopes import SCOPES


@require_GET
def client_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    clients = api_clients_for_user(request.user)
    user = request.user
    reader = user.has_role(*READERS)
    return render(
        request,
        "api/client_list.html",
        {
            "clients": clients,
            "scopes": SCOPES,
            "token_form": TokenForm(),
            "manage": user.has_role(*services.MANAGERS),
            "approvable": {c.pk for c in clients if c.may_approve(user)},
            "failures": services.api_auth_failures_for_agency(user.agency_id)
            if reader and user.agency_id
            else [],
            "reasons": services.FAILURE_REASONS,
            "show_failures": reader,
        },
    )


@require_http_methods(["GET", "POST"])
def client_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_role(request.user, *services.MANAGERS)
    form = ApiClientForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            client = services.api_client_create(
                acting_user=request.user,
                name=form.cleaned_data["name"],
                scopes=form.cleaned_data["scopes"],
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"{client.name} was created."
                + (
                    "" if client.is_approved else " Another person must approve its program scopes."
                ),
            )
            return redirect("api:client_list")
    return render(
        request, "api/client_form.html", {"form": form}, status=400 if form.errors else 200
    )


@require_POST
def client_approve(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_api_client_to_approve(request.user, pk)
    try:
        services.api_client_approve(acting_user=request.user, client=client)
    except PermissionDenied:
        raise Http404 from None
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"{client.name} may now use its program scopes.")
    return redirect("api:client_list")


@require_POST
def token_issue(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_api_client_for_user(request.user, pk, write=True)
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A token lasts between 1 and 366 days.")
        return redirect("api:client_list")
    try:
        token, secret = services.api_token_issue(
            acting_user=request.user, client=client, days=form.cleaned_data["days"]
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("api:client_list")
    return render(
        request, "api/token_issued.html", {"client": client, "token": token, "secret": secret}
    )


@require_POST
def token_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    token = get_api_token_for_user(request.user, pk)
    services.api_token_revoke(acting_user=request.user, token=token)
    messages.success(request, "The token no longer works.")
    return redirect("api:client_list")


@require_POST
def client_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_api_client_for_user(request.user, pk, write=True)
    services.api_client_revoke(acting_user=request.user, client=client)
    messages.success(request, f"{client.name} and all its tokens no longer work.")
    return redirect("api:client_list")
