"""Asking for someone else (dispatch, coordinator).

Part of ``tandem.support.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_role
from tandem.agencies.models import Agency, Role
from tandem.core.forms import form_errors
from tandem.support import access, forms, selectors, services, vocab

from .common import _form_page, _posted

if TYPE_CHECKING:
    from tandem.accounts.models import User

# --- Asking for someone else (dispatch, coordinator) -----------------------------------


def _ready_choices(agency: Agency) -> Any:
    return selectors.roster(agency)


def _status(form: BaseForm) -> int:
    return 400 if form.is_bound and form.errors else 200


def _person(agency: Agency, data: dict[str, Any], kind: str = "member") -> dict[str, Any]:
    member = services.member_by_number(agency, data.get("employee_number", ""))
    return {
        "kind": kind,
        "name": data["name"],
        "phone": data.get("phone", ""),
        "email": data.get("email", ""),
        "member_id": member.pk if member else None,
        "user_id": getattr(getattr(member, "account", None), "pk", None) if member else None,
        "category": member.category if member else "",
    }


#: How each policy channel reaches the program, said to someone who must use another one.
CHANNEL_WAYS = {
    vocab.Channel.SELF_REQUEST: "the person asks for support themselves",
    vocab.Channel.SUPERVISOR: "a supervisor asks the peer-support coordinator",
    vocab.Channel.REFERRAL: "a colleague refers them confidentially",
    vocab.Channel.CRITICAL_INCIDENT: "the coordinator activates the team after a critical incident",
    vocab.Channel.DISPATCH: "the dispatch center asks on their behalf",
    vocab.Channel.OTHER_AGENCY: "another agency asks the coordinator",
}


def _policy_ways(agency: Agency, *, leave_out: tuple[str, ...] = ()) -> list[str]:
    """The ways the agency's policy takes peer-support requests, in the policy's words."""
    return [
        CHANNEL_WAYS[vocab.Channel(c)]
        for c in agency.policy_model().eligibility.channels
        if c not in leave_out
    ]


def on_behalf_channels(user: User, agency: Agency) -> list[tuple[str, str]]:
    """The channels this person may use for someone else under the agency's policy."""
    allowed = ([vocab.Channel.DISPATCH] if user.has_role(Role.DISPATCHER) else []) + (
        [vocab.Channel.SUPERVISOR, vocab.Channel.CRITICAL_INCIDENT, vocab.Channel.OTHER_AGENCY]
        if user.has_role(Role.COORDINATOR)
        else []
    )
    return [
        (c.value, c.label)
        for c in vocab.Channel
        if c in allowed and c in agency.policy_model().eligibility.channels
    ]


@require_http_methods(["GET", "POST"])
def on_behalf_new(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *access.REQUEST_ON_BEHALF)
    channels = on_behalf_channels(request.user, agency)
    for_caller = not request.user.has_role(Role.COORDINATOR)
    title = "Request support for a caller" if for_caller else "Request support for someone"
    if not channels:
        return render(
            request,
            "support/on_behalf_none.html",
            {
                "title": title,
                "through": "dispatch" if for_caller else "the coordinator",
                "who": "the caller" if for_caller else "the person",
                "ways": _policy_ways(agency, leave_out=(vocab.Channel.DISPATCH,)),
            },
        )
    form = forms.OnBehalfForm(
        _posted(request),
        channels=channels,
        for_caller=for_caller,
        incidents=selectors.incidents(agency),
        initial={"idempotency_key": forms.new_idempotency_key()},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        kind = (
            vocab.RequesterKind.OTHER_AGENCY
            if data["channel"] == vocab.Channel.OTHER_AGENCY
            else vocab.RequesterKind.MEMBER
        )
        # The sender's receipt is derived from the sender and the form's key under the
        # server's secret; the request keeps a digest of the receipt and an idempotency key
        # derived from it, so a second submit finds the same request and shows the same
        # receipt, two senders never share a request, and nothing stored gives it away.
        form_key = data["idempotency_key"]
        secret = services.screen_receipt(request.user.pk, form_key)
        try:
            services.request_create(
                acting_user=request.user,
                agency=agency,
                idempotency_key=services.help_idempotency_key(secret),
                channel=data["channel"],
                urgency=data["urgency"],
                contact_method=data["contact_method"],
                best_time=data["best_time"],
                topic=data["topic"],
                incident=data.get("incident"),
                requester=_person(agency, data, kind),
                receipt=secret,
            )
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            return render(
                request,
                "support/on_behalf_sent.html",
                {
                    "title": "Request sent",
                    "receipt": secret,
                    "who": "the caller" if for_caller else "the person",
                },
            )
    lede = f"How this request came in: {channels[0][1]}." if len(channels) == 1 else ""
    return _form_page(
        request, title=title, form=form, submit="Send request", lede=lede, status=_status(form)
    )


@require_http_methods(["GET", "POST"])
def receipt(request: AuthenticatedHttpRequest) -> HttpResponse:
    """What became of a request sent for someone, for whoever holds its receipt: looking
    for a supporter, accepted or closed — never who, never the routing step."""
    require_role(request.user, *access.REQUEST_ON_BEHALF)
    form = forms.ReceiptForm(_posted(request))
    context: dict[str, Any] = {"form": form}
    if request.method == "POST" and form.is_valid():
        try:
            item = access.get_request_by_receipt(request.user, form.cleaned_data["code"])
        except Http404:
            context["unknown"] = True
        else:
            context["answer"] = services.RECEIPT_ANSWERS[vocab.RequestStatus(item.status)]
    return render(request, "support/receipt.html", context)
