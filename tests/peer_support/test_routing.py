"""Peer support, routing and escalation: acceptance tests from the user's side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.urls import reverse

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.support import services
from tandem.support.models import (
    RequestOffer,
    SupportRequest,
)
from tests.conftest import sign_in
from tests.peer_support.support import T0, ask, deliveries, make_supporter, offered_to

pytestmark = pytest.mark.django_db


CLOCK_START = T0  # where the shared ``clock`` fixture stops time


# ========================================================================================
# 4. Routing and escalation
# ========================================================================================


def test_chosen_supporter_is_asked_first(cast: dict[str, User], team: dict[str, User]) -> None:
    request = ask(cast["member"], chosen_supporter=services.profile_for(team["ben"]))
    assert offered_to(request) == {"ben"}
    assert deliveries("psp.request.assigned", team["ben"])


def test_preferences_offer_a_matching_supporter_first(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = ask(cast["member"], preferences={"language": "es"})
    assert offered_to(request) == {"pia"}
    detail = (
        sign_in(Client(), team["pia"])
        .get(reverse("support:request_detail", args=[request.pk]))
        .content.decode()
    )
    assert "Spanish" in detail


def test_unacknowledged_request_escalates_through_the_chain_on_a_frozen_clock(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    request = ask(cast["member"])
    assert offered_to(request) == {"pia"}
    assert deliveries("psp.request.assigned", team["pia"])
    clock.shift(timedelta(minutes=14))
    assert services.escalate_due() == 0
    clock.shift(timedelta(minutes=1))
    services.escalate_due()
    assert offered_to(request) == {"ben"}
    clock.shift(timedelta(minutes=15))
    services.escalate_due()
    assert offered_to(request) == {"coordinator"}
    clock.shift(timedelta(minutes=30))
    services.escalate_due()
    assert offered_to(request) == {"psychologist"}
    clock.shift(timedelta(minutes=30))
    services.escalate_due()  # end of the chain: coordinator and psychologist again
    assert offered_to(request) == {"coordinator", "psychologist"}
    assert deliveries("psp.escalation", cast["psychologist"])
    clock.shift(timedelta(minutes=5))
    services.request_accept(acting_user=cast["psychologist"], request=request)
    request.refresh_from_db()
    assert request.status == "accepted"
    assert (request.accepted_at - request.created_at) == timedelta(minutes=95)


def test_two_supporters_accepting_at_once_get_one_winner_and_a_clear_message(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    request = ask(cast["member"])
    clock.shift(timedelta(minutes=20))
    services.escalate_due()
    request.refresh_from_db()  # now at the backup step: Pia is offered it there too
    RequestOffer.objects.create(request=request, user=team["pia"], step=request.step)
    pia, ben = sign_in(Client(), team["pia"]), sign_in(Client(), team["ben"])
    assert ben.post(reverse("support:request_accept", args=[request.pk])).status_code == 302
    late = pia.post(reverse("support:request_accept", args=[request.pk]), follow=True)
    assert late.status_code == 200  # the offer was withdrawn at once: a message, not a 404
    assert "Another supporter accepted this request a moment ago" in late.content.decode()
    with pytest.raises(ValidationError, match="Another supporter accepted"):
        services.request_accept(acting_user=team["pia"], request=request)
    request.refresh_from_db()
    assert request.accepted_by.user == team["ben"]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_accepts_in_two_connections_have_exactly_one_winner(
    agency: Agency, cast: dict[str, User]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks between connections are exercised on PostgreSQL")
    import threading

    from django.db import connections

    pia, ben = make_supporter(agency, "pia"), make_supporter(agency, "ben")
    request = ask(cast["member"])
    for user in (pia, ben):
        RequestOffer.objects.get_or_create(
            request=request, user=user, step=request.step, active=True
        )
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def accept(user: User) -> None:
        try:
            barrier.wait()
            services.request_accept(acting_user=user, request=request)
            outcomes[user.username] = "won"
        except ValidationError as exc:
            outcomes[user.username] = exc.messages[0]
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(u,)) for u in (pia, ben)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values())[1] == "won"
    assert "Another supporter accepted" in sorted(outcomes.values())[0]
    ledger = SupportRequest.objects.get(pk=request.pk).ledger  # audited by the daily batch
    assert [e["action"] for e in ledger].count("psp.request.accepted") == 1


def test_accept_page_message_when_someone_was_quicker(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = ask(cast["member"], phone="+1 555 8282 828")
    assert offered_to(request) == {"pia"}
    RequestOffer.objects.create(request=request, user=team["ben"], step=request.step)
    client = sign_in(Client(), team["pia"])
    services.request_accept(acting_user=team["ben"], request=request)  # Ben is quicker
    late = client.post(reverse("support:request_accept", args=[request.pk]), follow=True)
    page = late.content.decode()
    assert late.status_code == 200
    assert "Another supporter accepted this request a moment ago" in page
    assert "8282" not in page
    assert SupportRequest.objects.get(pk=request.pk).accepted_by.user == team["ben"]
    # Someone who was never offered it still finds nothing.
    never = sign_in(Client(), cast["coordinator"])
    assert never.post(reverse("support:request_accept", args=[request.pk])).status_code == 404
