"""Peer support: no way to ask "did X use peer support?" (PS-5, PS-8), from the user's side."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.audit.models import AuditEvent
from tandem.notifications.models import Delivery, PeerSupportDelivery
from tandem.support import services
from tandem.support.models import (
    SupportRequest,
)
from tests.authz_support import ROWS
from tests.conftest import sign_in
from tests.peer_support.support import _accepted, help_data, help_url, publish, status_page

pytestmark = pytest.mark.django_db


# ========================================================================================
# 9. No way to ask "did X use peer support?" (PS-5, PS-8)
# ========================================================================================


def test_no_page_searches_peer_support_by_member(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    request = _accepted(cast, team)
    member = cast["member"]
    for role in ("chief", "administrator", "coordinator", "auditor"):
        client = sign_in(Client(), cast[role])
        for row in ROWS:
            if row.method != "get" or row.path is not None:
                continue
            plain = client.get(reverse(row.url_name))
            probe = client.get(
                reverse(row.url_name),
                {
                    "q": member.last_name,
                    "member": member.member_id,
                    "user": member.pk,
                    "employee_number": "E-member",
                },
            )
            assert probe.status_code == plain.status_code
            if plain.status_code == 200 and row.url_name != "support:on_behalf_new":
                assert b"555-0199" not in probe.content
    assert request.pk  # the request exists; no page above led to it


def test_closed_requests_show_no_identity_to_anyone(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = _accepted(cast, team)
    services.request_close(
        acting_user=team["pia"],
        request=request,
        usage={"gender": "male", "member_category": "sworn", "duration_bucket": "under_15"},
    )
    for user in [*cast.values(), team["pia"]]:
        assert (
            sign_in(Client(), user)
            .get(reverse("support:request_detail", args=[request.pk]))
            .status_code
            == 404
        )
    queue = sign_in(Client(), cast["coordinator"]).get(reverse("support:queue")).content
    assert request.reference.encode() not in queue


def test_audit_rows_name_request_ids_never_the_requester_or_referrer(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    before = AuditEvent.objects.count()
    member, referrer = cast["member"], cast["supervisor"]
    request = _accepted(cast, team)
    services.request_close(
        acting_user=team["pia"],
        request=request,
        usage={"gender": "male", "member_category": "sworn", "duration_bucket": "under_15"},
    )
    sign_in(Client(), referrer).post(
        help_url(referrer.agency, **{"for": "colleague"}),
        help_data("aud-ref", name="Member Tester", phone="+1 555 0188", referrer_name="Sup"),
    )
    sign_in(Client(), member).post(help_url(member.agency), help_data("again"))
    withdrawn = SupportRequest.objects.get(status_digest__gt="")
    status_page(sign_in(Client(), member), "again", action="withdraw")
    publish()
    events = list(AuditEvent.objects.order_by("id")[before:])
    # Published: the closed and the withdrawn request (rows now gone); the open referral's
    # events wait until it ends.
    request_ids = {str(request.pk), str(withdrawn.pk)}
    assert {e.object_id for e in events if e.action.startswith("psp.request")} == request_ids
    for event in events:
        blob = json.dumps(event.canonical())
        assert "Member Tester" not in blob
        assert "555-0199" not in blob
        assert "0188" not in blob
        assert event.actor_id not in (member.pk, referrer.pk), event.action


def test_finished_peer_support_messages_forget_whom_they_went_to(
    db: Any, cast: dict[str, User]
) -> None:
    """Kept, delivery rows would show which helpers each request was offered to, and so who
    was left out: the requester's chain of command."""
    from django.core.management import call_command

    from tandem.core.notifications import notify

    supporter = cast["supporter"]
    supporter.phone = "+1 555 0142"
    supporter.save(update_fields=["phone"])
    offered = notify(kind="psp.request.assigned", recipient_user=supporter)
    other = notify(kind="report.ready", recipient_user=cast["coordinator"])
    assert {d.recipient_data["user_id"] for d in offered} == {supporter.pk}  # sealed
    assert not Delivery.objects.filter(kind__startswith="psp.").exists()
    call_command("worker", "--once", verbosity=0)
    for delivery in offered:
        delivery = PeerSupportDelivery.objects.get(pk=delivery.pk)
        assert delivery.status == "sent"
        assert delivery.is_shredded
        assert (delivery.recipient, delivery.schedule) == (None, None)
    # No audit row at the second a helper was alerted: it would date the request.
    assert not AuditEvent.objects.filter(object_id__in=[str(d.pk) for d in offered])
    other[0].refresh_from_db()
    assert other[0].recipient_user_id == cast["coordinator"].pk  # other kinds keep theirs
