"""The help page: asking without an account.

Part of ``tandem.support.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from tandem.agencies.models import PEER_SUPPORT, Agency
from tandem.core.decorators import public
from tandem.core.forms import form_errors
from tandem.core.http import client_ip
from tandem.support import access, forms, selectors, services, throttle, vocab

from .common import _posted
from .on_behalf import _policy_ways, _status

# --- The help page: asking without an account ---------------------------------------------
# Reached by the agency's posted link or QR code, or from "Get support" inside Tandem through
# a help pass (the same for every member that day). Served cookie-free (the middleware drops
# the browser's cookies on these paths), so a signed-in member's session is neither read nor
# written; the request never takes ``request.user``; a status code shown once, whose digest
# alone is stored, is the only way back to it.


def _help_kinds(agency: Agency) -> list[tuple[str, str]]:
    eligibility = agency.policy_model().eligibility
    own = vocab.Channel.SELF_REQUEST in eligibility.channels
    offered = [
        ("member", f"I work for {agency.name}", eligibility.members and own),
        (
            vocab.RequesterKind.FAMILY,
            f"I am family of someone who works for {agency.name}",
            eligibility.families and own,
        ),
        (
            vocab.RequesterKind.RETIREE,
            f"I retired from {agency.name}",
            eligibility.retirees and own,
        ),
        (
            vocab.RequesterKind.OTHER_AGENCY,
            "I work for another agency",
            eligibility.other_agencies and vocab.Channel.OTHER_AGENCY in eligibility.channels,
        ),
    ]
    return [(str(kind), label) for kind, label, allowed in offered if allowed]


def _help_form(request: HttpRequest, agency: Agency, *, referral: bool) -> Any:
    topic = "topic" in services.usage_fields(agency)
    initial: dict[str, Any] = {"code": forms.new_idempotency_key()}
    if referral:
        return forms.HelpReferralForm(_posted(request), topic=topic, initial=initial)
    kinds = _help_kinds(agency)
    if len(kinds) == 1:
        initial["requester_kind"] = kinds[0][0]
    initial["chosen_supporter"] = request.GET.get("supporter") or None
    return forms.HelpForm(
        _posted(request),
        kinds=kinds,
        supporters=selectors.roster(agency),
        topic=topic,
        initial=initial,
    )


def _help_page(request: HttpRequest, agency: Agency) -> HttpResponse:
    if not agency.runs(PEER_SUPPORT):  # its posted link outlived the program
        raise Http404
    policy = agency.policy_model()
    referrals = selectors.takes_referrals(policy)
    asked_to_refer = request.GET.get("for") == "colleague"
    referral = asked_to_refer and referrals
    form = _help_form(request, agency, referral=referral)
    context = {
        "form": form,
        "intake_agency": agency,
        "referral": referral,
        "kinds": referral or bool(_help_kinds(agency)),
        "referrals": referrals,
        "no_referrals": asked_to_refer and not referrals,
        "ways": _policy_ways(agency, leave_out=(vocab.Channel.SELF_REQUEST,)),
        "eligibility": policy.eligibility,
    }
    if request.method == "POST" and form.is_valid():
        if not throttle.allow(
            [
                (throttle.client_bucket(client_ip(request)), throttle.PER_CLIENT_PER_HOUR),
                (f"agency:{agency.pk}", throttle.PER_AGENCY_PER_HOUR),
            ]
        ):
            return render(request, "support/intake_busy.html", context, status=429)
        try:
            _help_submit(agency, form, referral=referral)
        except ValidationError as exc:
            form_errors(form, exc)
        else:
            code = "" if referral else form.cleaned_data["code"]
            return render(
                request,
                "support/intake_done.html",
                {**context, "code": code, "communications": selectors.communications(policy)},
            )
    return render(request, "support/intake.html", context, status=_status(form))


def _help_submit(agency: Agency, form: Any, *, referral: bool) -> None:
    data = form.cleaned_data
    code = data["code"]
    # The employee number finds the member only to keep their chain of command out of
    # routing; nothing else about the member (account, category) is taken from it.
    member = services.member_by_number(agency, data.get("employee_number", ""))
    person = {
        "name": data["name"],
        "phone": data["phone"],
        "email": data["email"],
        "member_id": member.pk if member else None,
    }
    common = {
        "acting_user": None,
        "agency": agency,
        "urgency": data["urgency"],
        "idempotency_key": services.help_idempotency_key(code),
        "contact_method": data["contact_method"],
        "best_time": data["best_time"],
        "topic": data.get("topic", ""),
    }
    if referral:
        referrer = (
            {"name": data["referrer_name"], "phone": data["referrer_phone"]}
            if data["referrer_name"] or data["referrer_phone"]
            else None
        )
        services.request_create(
            **common,
            channel=vocab.Channel.REFERRAL,
            requester={"kind": "member", **person},
            referrer=referrer,
        )
        return
    kind = data["requester_kind"]
    channel = (
        vocab.Channel.OTHER_AGENCY
        if kind == vocab.RequesterKind.OTHER_AGENCY
        else vocab.Channel.SELF_REQUEST
    )
    services.request_create(
        **common,
        channel=channel,
        chosen_supporter=data["chosen_supporter"],
        preferences=form.preferences(),
        status_digest=services.status_code_digest(code),
        requester={
            "kind": kind,
            **person,
            "agency_name": data.get("agency_name", ""),
            "category": "" if kind == "member" else kind,
        },
    )


@public
@csrf_exempt
@require_http_methods(["GET", "POST"])
def intake(request: HttpRequest, token: str) -> HttpResponse:
    """The help page, opened by the posted link or by an in-app help pass (one URL shape,
    so not even the masked access log tells the two apart)."""
    if access.is_help_pass(token):
        return _help_page(request, access.get_agency_for_help_pass(token))
    link = services.intake_link_for(token)
    if link is None:
        raise Http404
    if not link.is_valid_at(timezone.now()):
        return render(
            request, "support/intake_closed.html", {"intake_agency": link.agency}, status=410
        )
    return _help_page(request, link.agency)


@public
@csrf_exempt
@require_http_methods(["GET", "POST"])
def help_status(request: HttpRequest) -> HttpResponse:
    """Where a request stands, for whoever holds its status code; one neutral answer for a
    request that ended and a code that never existed."""
    form = forms.StatusForm(_posted(request))
    if request.method != "POST" or not form.is_valid():
        return render(request, "support/intake_status.html", {"form": form})
    code = form.cleaned_data["code"]
    try:
        item = access.get_request_by_status_code(code)
        withdraw = request.POST.get("action") == "withdraw"
        if withdraw and request.POST.get("confirm") == "yes":
            services.request_withdraw(acting_user=None, request=item)
            return render(request, "support/intake_status.html", {"withdrawn": True})
    except (Http404, ValidationError):
        return render(
            request, "support/intake_status.html", {"form": forms.StatusForm(), "neutral": True}
        )
    policy = item.agency.policy_model()
    return render(
        request,
        "support/intake_status.html",
        {
            "item": item,
            "code": code,
            "excluded": services.chosen_supporter_excluded(item),
            "exceptions": policy.confidentiality.exceptions,
            "confirm_missing": withdraw,
            "communications": selectors.communications(policy),
        },
    )
