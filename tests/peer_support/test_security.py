"""Security review: no timestamp, routing or identity trail back to a peer-support requester."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.audit.models import AuditEvent
from tandem.core.models import DataKey
from tandem.support import services, vocab
from tandem.support.models import RequestOffer, SupportRequest, UsageRecord
from tests.authz_support import requester_of
from tests.conftest import sign_in
from tests.peer_support.support import (
    T0,
    _accepted,
    ask,
    help_data,
    help_url,
    offered_to,
    publish,
    set_policy,
    status_page,
)

CLOCK_START = T0  # where the shared ``clock`` fixture stops time

pytestmark = pytest.mark.django_db


# ========================================================================================
# Security review: no timestamp, routing or identity trail back to the requester
# ========================================================================================


def _close_usage() -> dict[str, Any]:
    return {"gender": "male", "member_category": "sworn", "duration_bucket": "15_60"}


def test_sessions_keep_only_five_minute_times_so_they_cannot_date_a_request(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    from django.contrib.sessions.models import Session

    from tandem.accounts.middleware import SESSION_AUTH_AT, SESSION_LAST_SEEN

    client = sign_in(Client(), cast["member"])
    clock.shift(timedelta(minutes=7, seconds=13, microseconds=250_000))
    assert client.get(reverse("support:directory")).status_code == 200
    client.post(help_url(cast["member"].agency), help_data("coarse"))
    assert SupportRequest.objects.count() == 1
    rows = list(Session.objects.all())
    assert rows
    for row in rows:
        stored = row.get_decoded()
        assert float(stored[SESSION_LAST_SEEN]) % 300 == 0
        assert float(stored[SESSION_AUTH_AT]) % 300 == 0
        assert row.expire_date.timestamp() % 300 == 0
    written = {row.pk: (row.session_data, row.expire_date) for row in rows}
    clock.shift(timedelta(minutes=1))  # same five-minute bucket: the row is not rewritten
    assert client.get(reverse("support:directory")).status_code == 200
    assert {row.pk: (row.session_data, row.expire_date) for row in Session.objects.all()} == written


def test_closed_withdrawn_and_expired_requests_leave_no_row_and_no_offer(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    closed = _accepted(cast, team)
    services.request_close(acting_user=team["pia"], request=closed, usage=_close_usage())
    withdrawn = ask(cast["chief"], key="w", status_digest=services.status_code_digest("w" * 32))
    services.request_withdraw(acting_user=None, request=withdrawn)
    ask(cast["supervisor"], key="e")
    services.expire_open_requests(timezone.now() + timedelta(days=31))
    assert RequestOffer.objects.count() == 0  # offers go at once
    assert SupportRequest.objects.filter(status__in=vocab.OPEN_STATUSES).count() == 0
    services.publish_finished_requests(timezone.now() + timedelta(days=32))
    assert SupportRequest.objects.count() == 0
    assert DataKey.objects.filter(purpose="psp.request", wrapped_key__isnull=False).count() == 0


def test_usage_record_times_are_hours_and_whole_minutes(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    clock.shift(timedelta(minutes=13, seconds=27))
    request = ask(cast["member"])
    clock.shift(timedelta(seconds=95))
    request = services.request_accept(acting_user=team["pia"], request=request)
    clock.shift(timedelta(minutes=4, seconds=10))
    services.request_contact(acting_user=team["pia"], request=request, notice_given=True)
    clock.shift(timedelta(minutes=41, seconds=3))
    services.request_close(acting_user=team["pia"], request=request, usage=_close_usage())
    ask(cast["chief"], key="late")
    services.expire_open_requests(timezone.now() + timedelta(days=31, seconds=17))
    services.publish_finished_requests(timezone.now() + timedelta(days=32))
    for record in UsageRecord.objects.all():
        for moment in (record.started_at, record.closed_at):
            if moment is not None:
                assert (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)
        for seconds in (record.seconds_to_ack, record.seconds_to_contact):
            assert seconds is None or seconds % 60 == 0
    record = UsageRecord.objects.get(outcome="closed")
    assert (record.seconds_to_ack, record.seconds_to_contact) == (120, 360)


def test_request_audit_rows_carry_no_time_and_no_routing_detail(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    before = AuditEvent.objects.count()
    request = ask(team["pia"])  # the primary on call asks: routing must not show it
    request = services.request_accept(acting_user=team["ben"], request=request)
    services.request_contact(acting_user=team["ben"], request=request, notice_given=True)
    services.request_close(acting_user=team["ben"], request=request, usage=_close_usage())
    assert not [
        e for e in AuditEvent.objects.order_by("id")[before:] if e.action.startswith("psp.request")
    ]  # nothing at the moment it happens
    publish()
    events = [
        e for e in AuditEvent.objects.order_by("id")[before:] if e.action.startswith("psp.request")
    ]
    assert {e.action for e in events} >= {
        "psp.request.created",
        "psp.request.offered",
        "psp.request.accepted",
        "psp.request.closed",
    }
    moment = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\d{10}\.\d")
    for event in events:
        assert not {"target", "offered", "step", "usage_record"} & set(event.detail or {})
        assert not moment.search(json.dumps(event.detail or {})), event.detail


def test_helpers_offered_a_request_see_no_identity_until_one_accepts(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = ask(
        cast["member"],
        phone="+1 555 6161 616",
        topic="grief",
        contact_method=vocab.ContactMethod.TEXT,
    )
    name = requester_of(cast["member"])["name"]
    client = sign_in(Client(), team["pia"])
    url = reverse("support:request_detail", args=[request.pk])
    before = client.get(url).content.decode()
    assert "6161" not in before
    assert name not in before
    for shown in ("Grief", "Text", "Now"):
        assert shown in before
    client.post(reverse("support:request_accept", args=[request.pk]))
    after = client.get(url).content.decode()
    assert "6161" in after
    assert name in after
    assert sign_in(Client(), team["ben"]).get(url).status_code == 404


def test_topic_urgency_and_channel_are_kept_only_when_the_preset_collects_them(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    set_policy(agency, "usage_form", fields=["topic", "urgency", "activation_channel"])
    kept = _accepted(cast, team, topic="grief")
    services.request_close(acting_user=team["pia"], request=kept, usage={})
    set_policy(agency, "usage_form", fields=["duration_bucket"])
    dropped = ask(cast["chief"], key="dropped", topic="family")
    services.expire_open_requests(timezone.now() + timedelta(days=31))
    services.publish_finished_requests(timezone.now() + timedelta(days=32))
    both = {r.outcome: (r.topic, r.urgency, r.channel) for r in UsageRecord.objects.all()}
    assert both == {"closed": ("grief", "now", "self_request"), "expired": ("", "", "")}
    assert dropped.pk not in set(SupportRequest.objects.values_list("pk", flat=True))


def test_a_request_nobody_can_be_offered_is_counted_for_the_dispatcher(
    cast: dict[str, User], clock: Any
) -> None:
    request = ask(cast["member"])  # nobody on call: the coordinator is offered it first
    assert offered_to(request) == {cast["coordinator"].username}
    services.request_recuse(
        acting_user=cast["coordinator"], request=request, reason=vocab.RecusalReason.values[0]
    )
    assert offered_to(request) == {cast["psychologist"].username}
    services.request_recuse(
        acting_user=cast["psychologist"], request=request, reason=vocab.RecusalReason.values[0]
    )
    assert offered_to(request) == set()
    assert not RequestOffer.objects.filter(request=request, active=True, recused_reason="")
    page = sign_in(Client(), cast["dispatcher"]).get(reverse("support:on_call_now"))
    text = page.content.decode()
    assert "1 request is waiting with nobody to offer it to" in text
    services.escalate_due(timezone.now() + timedelta(hours=2))  # still nobody: still shown
    text = sign_in(Client(), cast["dispatcher"]).get(reverse("support:on_call_now")).content
    assert b"1 request is waiting with nobody to offer it to" in text


def test_a_referred_member_does_not_see_or_withdraw_the_referral(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    colleague = cast["member"]
    done = sign_in(Client(), cast["supervisor"]).post(
        help_url(agency, **{"for": "colleague"}),
        help_data(
            "ref-own",
            name="Member Tester",
            phone="+1 555 0188",
            employee_number=colleague.member.employee_number,
        ),
    )
    assert b"status code" not in done.content  # a referral has no code to look it up by
    referral = SupportRequest.objects.get()
    assert not referral.status_digest
    client = sign_in(Client(), colleague)
    assert "no open request" in status_page(client, "ref-own", action="withdraw")
    assert SupportRequest.objects.get(pk=referral.pk).is_open
    with pytest.raises(ValidationError):
        services.request_withdraw(acting_user=None, request=referral)
