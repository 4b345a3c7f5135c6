"""On call and dispatch over the agency API: on call now as the dispatchers' page says it,
no count of waiting requests, a request from dispatch that returns only its receipt, and
what a receipt tells."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from tandem.support import selectors as support_selectors
from tandem.support import services as support_services
from tandem.support.models import SupportRequest
from tests.api.support import call, cast_of, issue
from tests.conftest import make_user, sign_in
from tests.peer_support.support import T0, open_everything

CLOCK_START = T0  # the shared clock fixture starts where peer support's does

pytestmark = pytest.mark.usefixtures("team", "clock")  # the rota on call, time frozen


def test_on_call_now_is_the_dispatchers_page_answer(
    agency: Any,
    cast: dict[str, Any],
    tokens: Callable[[str], str],
) -> None:
    body = call(tokens("oncall:read"), "get", reverse("api:on_call")).json()
    expected = support_selectors.on_call_now(agency, timezone.now())
    assert [
        (x["label"], [(p["name"], p["phone"]) for p in x["people"]], x["note"])
        for x in body["lines"]
    ] == [(line.label, [tuple(p) for p in line.people], line.note) for line in expected]
    phones = {p["phone"] for x in body["lines"] for p in x["people"]}
    assert {"+1 555 0111", "+1 555 0122"} <= phones  # primary and backup
    assert len(body["lines"]) == 4  # primary, backup, coordinator, psychologist
    page = sign_in(HttpClient(), cast["dispatcher"]).get(reverse("support:on_call_now"))
    for line in body["lines"]:
        for person in line["people"]:
            assert person["name"] in page.content.decode()


def test_on_call_over_the_api_gives_no_count_of_waiting_requests(
    agency: Any,
    cast: dict[str, Any],
    tokens: Callable[[str], str],
) -> None:
    """Polling a live count of unrouted requests would time each arrival of a request for
    peer support; the dispatchers' screen keeps it, the API answer and its schema do not."""
    body = call(tokens("oncall:read"), "get", reverse("api:on_call")).json()
    assert set(body) == {"at", "lines"}
    spec = sign_in(HttpClient(), cast["nobody"]).get(reverse("api:schema")).content.decode()
    assert "unrouted" not in spec


def test_a_request_from_dispatch_returns_only_its_receipt(
    agency: Any,
    cast: dict[str, Any],
    tokens: Callable[[str], str],
) -> None:
    """The answer holds the receipt and nothing else to follow the request by: no id, no
    Location, and the request keeps neither the receipt nor the caller's own key."""
    open_everything(agency)
    secret = tokens("dispatch:request")
    body = {
        "idempotency_key": "cad-1",
        "name": "A caller",
        "urgency": "now",
        "contact_method": "phone",
        "phone": "555-0100",
    }
    answer = call(secret, "post", reverse("api:dispatch_request"), body)
    assert answer.status_code == 202
    assert set(answer.json()) == {"status", "receipt"}
    assert answer.json()["status"] == "sent to the on-call chain"
    receipt = answer.json()["receipt"]
    assert "Location" not in answer
    request = SupportRequest.objects.get()
    assert str(request.pk) not in answer.content.decode().replace("555-0100", "")
    assert request.channel == "dispatch"
    assert request.offers.filter(active=True).exists()  # routed like the screen's request
    assert request.receipt_digest == support_services.receipt_digest(receipt)
    assert receipt not in {request.idempotency_key, request.receipt_digest}
    assert request.idempotency_key != "cad-1"
    # A retry of the same call (a lost answer) makes no second request, same receipt.
    again = call(secret, "post", reverse("api:dispatch_request"), body)
    assert again.status_code == 202
    assert again.json()["receipt"] == receipt
    assert SupportRequest.objects.count() == 1


def test_a_receipt_tells_dispatch_where_the_request_stands_never_who(
    agency: Any,
    cast: dict[str, Any],
    tokens: Callable[[str], str],
    stranger: Any,
) -> None:
    open_everything(agency)
    secret = tokens("dispatch:request")
    receipt = call(
        secret,
        "post",
        reverse("api:dispatch_request"),
        {
            "idempotency_key": "cad-7",
            "name": "A caller",
            "urgency": "now",
            "contact_method": "phone",
            "phone": "555-0100",
        },
    ).json()["receipt"]
    path = reverse("api:dispatch_receipt")
    routing = call(secret, "post", path, {"receipt": receipt})
    assert routing.status_code == 200
    assert routing.json() == {"state": "routing", "status": "Looking for a supporter"}
    request = SupportRequest.objects.get()
    helper = request.offers.filter(active=True).first().user
    accepted_page = sign_in(HttpClient(), helper).post(
        reverse("support:request_accept", args=[request.pk])
    )
    assert accepted_page.status_code == 302
    accepted = call(secret, "post", path, {"receipt": receipt})
    assert accepted.json() == {"state": "accepted", "status": "A supporter accepted it"}
    text = accepted.content.decode()
    assert helper.get_full_name() not in text
    assert helper.username not in text
    assert str(request.pk) not in text
    # The screen's receipt page answers the same for the API's receipt.
    page = sign_in(HttpClient(), cast["dispatcher"]).post(
        reverse("support:receipt"), {"code": receipt}
    )
    assert "A supporter accepted it" in page.content.decode()
    # Unknown, malformed, another agency's: the one 404; another scope: 403.
    for wrong in ("A" * 32, receipt[:-1] + ("A" if receipt[-1] != "A" else "B")):
        unknown = call(secret, "post", path, {"receipt": wrong})
        assert unknown.status_code == 404
        assert unknown["Content-Type"] == "application/problem+json"
    assert call(secret, "post", path, {"receipt": "short"}).status_code == 400
    theirs = issue(stranger, "dispatch:request", approver=cast_of(stranger))
    assert call(theirs, "post", path, {"receipt": receipt}).status_code == 404
    assert call(tokens("oncall:read"), "post", path, {"receipt": receipt}).status_code == 403


#: The dispatcher's "request for someone" form for a caller, but its idempotency key.
CALLER_ON_THE_PHONE = {
    "channel": "dispatch",
    "urgency": "now",
    "contact_method": "phone",
    "name": "A caller",
    "phone": "555-0100",
    "best_time": "any",
}


def test_a_screen_receipt_answers_over_the_api(
    agency: Any,
    cast: dict[str, Any],
    tokens: Callable[[str], str],
) -> None:
    open_everything(agency)
    dispatcher = sign_in(HttpClient(), cast["dispatcher"])
    form = dispatcher.get(reverse("support:on_behalf_new")).context["form"]
    key = form.initial["idempotency_key"]
    sent = dispatcher.post(
        reverse("support:on_behalf_new"), {"idempotency_key": key, **CALLER_ON_THE_PHONE}
    )
    receipt = sent.context["receipt"]
    answer = call(
        tokens("dispatch:request"), "post", reverse("api:dispatch_receipt"), {"receipt": receipt}
    )
    assert answer.json()["state"] == "routing"


def test_a_key_chosen_by_hand_never_becomes_a_guessable_receipt(
    agency: Any, cast: dict[str, Any]
) -> None:
    """The screen's receipt is derived from the form's key under the server's secret: a
    sender who posts the key ``1`` gets a long receipt, and ``1`` finds nothing."""
    open_everything(agency)
    dispatcher = sign_in(HttpClient(), cast["dispatcher"])
    fields = CALLER_ON_THE_PHONE
    sent = dispatcher.post(reverse("support:on_behalf_new"), {"idempotency_key": "1", **fields})
    assert sent.status_code == 200
    receipt = sent.context["receipt"]
    assert receipt != "1"
    assert len(receipt) == 32
    again = dispatcher.post(reverse("support:on_behalf_new"), {"idempotency_key": "1", **fields})
    assert again.context["receipt"] == receipt  # a double submit shows the same receipt

    def where(code: str) -> str:
        page = dispatcher.post(reverse("support:receipt"), {"code": code})
        return " ".join(page.content.decode().split())

    assert "Looking for a supporter" in where(receipt)
    assert "Looking for a supporter" not in where("1")
    # Another dispatcher posting the same key sends a request of their own.
    other = sign_in(HttpClient(), make_user(agency, "dispatcher2", "dispatcher"))
    theirs = other.post(reverse("support:on_behalf_new"), {"idempotency_key": "1", **fields})
    assert theirs.context["receipt"] != receipt
    assert SupportRequest.objects.filter(agency=agency).count() == 2
