"""No exact time, no order, on anything peer-support (issue 10, findings 1, 2, 3, 5, 8).

Written as the attacker who identified every requester from timing and order: members ask
for support among decoy activity (colleagues signing in, working, being audited), then the
attacker tries to blame each request on the sign-in just before its audit events, to date
requests from the rows the database keeps, to join usage records back to the closing
order, to read the routing from the coordinator's queue, and to read who was alerted from
the logs and the console back ends. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection, models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.accounts.services import signin_succeeded
from tandem.agencies.models import Agency
from tandem.audit.models import AuditEvent
from tandem.audit.services import audit_record
from tandem.core.models import DataKey
from tandem.notifications.models import PeerSupportDelivery
from tandem.notifications.services import peer_support_deliveries_send
from tandem.readiness.gates import gate_update
from tandem.support import services, vocab
from tandem.support.models import (
    FollowUpReminder,
    RequestOffer,
    SupportRequest,
    UsageRecord,
)
from tests.conftest import make_user, sign_in

pytestmark = pytest.mark.django_db

# An odd second on purpose: anything copied from the clock shows minutes and seconds.
T0 = datetime(2026, 3, 2, 9, 7, 13, 250_000, tzinfo=UTC)
LIFECYCLE = (
    "psp.request.created",
    "psp.request.offered",
    "psp.request.accepted",
    "psp.request.contacted",
    "psp.request.recused",
    "psp.request.closed",
    "psp.request.withdrawn",
    "psp.request.expired",
)
USAGE = {"gender": "male", "member_category": "sworn", "duration_bucket": "15_60"}


# --- the scene --------------------------------------------------------------------------


def supporter(agency: Agency, username: str, phone: str, *, supervisor: User | None = None) -> User:
    user = make_user(agency, username, "supporter")
    user.phone, user.email = phone, f"{username}@example.test"
    user.save(update_fields=["phone", "email"])
    gate_update(user=user, peer_support=True, cji=False)
    services.profile_for(user)
    return user


CLOCK_START = T0  # where the shared ``clock`` fixture stops time


@pytest.fixture
def team(agency: Agency, cast: dict[str, User], clock: Any) -> dict[str, User]:
    """Pia is the primary on call, Ben the backup, all week."""
    pia = supporter(agency, "pia", "+1 555 0111")
    ben = supporter(agency, "ben", "+1 555 0122")
    for layer, person in ((vocab.Layer.PRIMARY, pia), (vocab.Layer.BACKUP, ben)):
        services.rotation_save(
            acting_user=cast["coordinator"],
            agency=agency,
            rotation=None,
            participants=[services.profile_for(person)],
            name=f"{layer} rota",
            layer=layer,
            starts_on=date(2026, 3, 1),
            handoff_time=time(7, 0),
            shift_hours=24 * 7,
        )
    return {"pia": pia, "ben": ben}


def sign_in_traced(user: User) -> Client:
    """A sign-in as the sign-in page records it: the audit row and last_login."""
    signin_succeeded(user=user, method="totp")
    return sign_in(Client(), user)


def decoy_work(decoys: list[User], clock: Any, round_no: int) -> None:
    """Colleagues signing in and doing audited work around the requests."""
    for offset in range(2):
        person = decoys[(2 * round_no + offset) % len(decoys)]
        sign_in_traced(person)
        clock.shift(timedelta(seconds=7))
        audit_record(
            action="report.viewed",
            actor=person,
            object_type="reports.Report",
            object_id=str(round_no),
        )
        clock.shift(timedelta(seconds=11))


def ask(user: User | None, agency: Agency, key: str, **extra: Any) -> SupportRequest:
    # What the help page seals for a member asking for themselves (never their account).
    requester = (
        {"kind": "member", "member_id": user.member_id, "name": user.get_full_name()}
        if user is not None
        else {"kind": "member", "name": f"Person {key}"}
    )
    request, created = services.request_create(
        acting_user=None,
        agency=agency,
        idempotency_key=key,
        channel="self_request",
        urgency=vocab.Urgency.NOW,
        contact_method=vocab.ContactMethod.PHONE,
        requester={**requester, "phone": "+1 555 0199"},
        **{"status_digest": services.status_code_digest(f"code-{key}"), **extra},
    )
    assert created
    return request


def fine_times() -> list[str]:
    """Every time finer than the hour on a peer-support row: requests, offers, usage
    records, peer-support deliveries, peer-support data keys, follow-up reminders."""
    found: list[str] = []
    keys = DataKey.objects.filter(purpose__startswith="psp.")
    for rows in (
        SupportRequest.objects.all(),
        RequestOffer.objects.all(),
        UsageRecord.objects.all(),
        PeerSupportDelivery.objects.all(),
        keys,
        FollowUpReminder.objects.all(),
    ):
        fields = [
            f.name for f in rows.model._meta.concrete_fields if isinstance(f, models.DateTimeField)
        ]
        for row in rows.values("pk", *fields):
            for name in fields:
                value = row[name]
                if value is not None and (value.minute, value.second, value.microsecond) != (
                    0,
                    0,
                    0,
                ):
                    found.append(f"{rows.model.__name__}.{name}={value.isoformat()}")
    return found


def spearman(xs: list[float], ys: list[float]) -> float:
    def ranks(values: list[float]) -> list[float]:
        order = sorted(range(len(values)), key=values.__getitem__)
        result = [0.0] * len(values)
        for rank, index in enumerate(order):
            result[index] = float(rank)
        return result

    rx, ry = ranks(xs), ranks(ys)
    n = len(xs)
    mean = (n - 1) / 2
    cov = sum((a - mean) * (b - mean) for a, b in zip(rx, ry, strict=True))
    var = sum((a - mean) ** 2 for a in rx)
    return cov / var


def physical_order(table: str) -> list[str]:
    """Row keys in the order the engine stores them (rowid on SQLite, ctid on PostgreSQL)."""
    column = "rowid" if connection.vendor == "sqlite" else "ctid"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id FROM {table} ORDER BY {column}")  # noqa: S608 - fixed names
        return [str(row[0]).replace("-", "") for row in cursor.fetchall()]


# --- (a) adjacency and (b) timing ---------------------------------------------------------


def test_lifecycle_events_cannot_be_blamed_on_the_sign_in_before_them(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    requesters = [make_user(agency, f"asker{i}", "member") for i in range(6)]
    decoys = [make_user(agency, f"decoy{i}", "member") for i in range(8)]
    made: dict[str, User] = {}
    for round_no, person in enumerate(requesters):
        decoy_work(decoys, clock, round_no)
        sign_in_traced(person)
        clock.shift(timedelta(seconds=3))
        made[str(ask(person, agency, f"adj-{round_no}").pk)] = person
        clock.shift(timedelta(minutes=1, seconds=9))
    assert not fine_times()
    requests = {pk: SupportRequest.objects.get(pk=pk) for pk in made}
    keys = list(made)
    # Two withdraw (right after signing in again), two are accepted and closed, one
    # expires, one is accepted and stays open.
    for pk in keys[:2]:
        decoy_work(decoys, clock, 7)
        sign_in_traced(made[pk])
        services.request_withdraw(acting_user=None, request=requests[pk])
        clock.shift(timedelta(minutes=2, seconds=1))
    for pk in keys[2:4]:
        accepted = services.request_accept(acting_user=team["pia"], request=requests[pk])
        clock.shift(timedelta(minutes=3, seconds=17))
        services.request_contact(acting_user=team["pia"], request=accepted, notice_given=True)
        services.request_close(acting_user=team["pia"], request=accepted, usage=USAGE)
    services.request_accept(acting_user=team["pia"], request=requests[keys[5]])
    assert not fine_times()
    # Nothing about a request is audited at the moment it happens, not even the shredding.
    assert not AuditEvent.objects.filter(action__startswith="psp.request.").exists()
    assert not [
        e
        for e in AuditEvent.objects.filter(action="crypto.shred")
        if (e.detail or {}).get("purpose", "").startswith("psp.")
    ]

    clock.move_to(T0 + timedelta(days=3, hours=3, minutes=41, seconds=5))
    assert services.expire_open_requests() == 1
    decoy_work(decoys, clock, 9)
    clock.move_to(T0 + timedelta(days=4, hours=1, minutes=2, seconds=3))
    assert services.publish_finished_requests() == 5
    decoy_work(decoys, clock, 10)
    assert not fine_times()

    events = list(AuditEvent.objects.filter(action__in=LIFECYCLE).order_by("id"))
    assert {e.object_id for e in events} == set(keys[:5])  # the open one waits
    moment = re.compile(r"\d{2}:\d{2}")
    supporters = {team["pia"].pk, team["ben"].pk}
    for event in events:
        assert event.actor_id is None or event.actor_id in supporters, event.action
        assert not moment.search(json.dumps(event.detail)), event.detail
        assert set(event.detail) - {"channel", "urgency", "notice_given", "reason"} == {"on"}
    # The attack: blame every event on the last sign-in before it.
    last_signin: int | None = None
    right = blamed = 0
    for row in AuditEvent.objects.order_by("id"):
        if row.action == "signin.succeeded":
            last_signin = row.actor_id
        elif row.action in LIFECYCLE:
            blamed += 1
            right += last_signin == made[row.object_id].pk
    assert blamed == len(events) >= 15
    # All were written after the same sign-in, in one batch: at most that one person's own
    # events can be "right" — no better than picking among everyone who signed in.
    assert right <= 4
    # And the events of one request are not written next to each other.
    positions: dict[str, list[int]] = {}
    for index, event in enumerate(events):
        positions.setdefault(event.object_id, []).append(index)
    assert not all(p == list(range(p[0], p[0] + len(p))) for p in positions.values())


def test_no_peer_support_row_holds_a_time_finer_than_the_hour(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    from django_tasks_db.models import DBTaskResult

    request = ask(cast["member"], agency, "t-1", topic=vocab.Topic.GRIEF)
    clock.shift(timedelta(minutes=15, seconds=5))
    services.escalate_due()  # the primary's step timed out: offered to the backup
    assert {o.user_id for o in RequestOffer.objects.filter(active=True)} == {team["ben"].pk}
    assert not fine_times()
    accepted = services.request_accept(acting_user=team["ben"], request=request)
    clock.shift(timedelta(minutes=4, seconds=33))
    services.request_contact(acting_user=team["ben"], request=accepted, notice_given=True)
    peer_support_deliveries_send()
    services.request_close(
        acting_user=team["ben"], request=accepted, usage=USAGE, follow_up_on=date(2026, 3, 9)
    )
    assert not fine_times()
    assert PeerSupportDelivery.objects.filter(status="sent").exists()
    assert not DBTaskResult.objects.exists()  # no job row per peer-support message
    clock.shift(timedelta(days=1, minutes=3))
    services.publish_finished_requests()
    record = UsageRecord.objects.get()
    assert (record.seconds_to_ack, record.seconds_to_contact) == (900, 1200)  # whole minutes
    assert not fine_times()


def test_routing_still_runs_to_the_minute_from_sealed_moments(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    request = ask(cast["member"], agency, "r-1")
    stored = SupportRequest.objects.get(pk=request.pk)
    assert stored.created_at == T0.replace(minute=0, second=0, microsecond=0)
    assert stored.step_started_at == T0  # unsealed, exact
    with connection.cursor() as cursor:
        cursor.execute("SELECT timing FROM support_supportrequest")
        (sealed,) = cursor.fetchone()
    assert T0.isoformat()[:16] not in sealed
    assert sealed.startswith("v1:")
    clock.shift(timedelta(minutes=14, seconds=59))
    assert services.escalate_due() == 0
    clock.shift(timedelta(seconds=2))
    assert services.escalate_due() == 1  # the primary's 15 minutes are up, to the second
    assert SupportRequest.objects.get(pk=request.pk).step_started_at == timezone.now()


# --- (c) ordering ---------------------------------------------------------------------------


def test_usage_records_cannot_be_joined_to_the_closing_order(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    count = 60
    made = [ask(None, agency, f"o-{i}") for i in range(count)]
    accepted = [services.request_accept(acting_user=team["pia"], request=r) for r in made]
    # First contact i minutes after the request came in: the test's own ground truth,
    # which the usage record keeps as seconds_to_contact.
    for index, request in enumerate(accepted):
        clock.move_to(T0 + timedelta(minutes=index + 1))
        services.request_contact(acting_user=team["pia"], request=request, notice_given=True)
    for request in accepted:  # closed in that same order, a few minutes apart
        clock.shift(timedelta(minutes=3, seconds=7))
        services.request_close(acting_user=team["pia"], request=request, usage=USAGE)
    close_rank = {str(r.pk): i for i, r in enumerate(accepted)}
    clock.shift(timedelta(days=1))
    assert services.publish_finished_requests() == count

    records = {r.pk.hex: r.seconds_to_contact // 60 - 1 for r in UsageRecord.objects.all()}
    assert sorted(records.values()) == list(range(count))
    # Physical order and key order against the closing order: no better than a shuffle.
    # For 60 shuffled rows the rank correlation has a standard deviation of about 0.13;
    # 0.6 is more than four of them away, yet a join in closing order gives 1.0.
    physical = [records[key] for key in physical_order("support_usagerecord")]
    assert abs(spearman(list(range(count)), physical)) < 0.6
    by_key = [records[key] for key in sorted(records)]
    assert abs(spearman(list(range(count)), by_key)) < 0.6
    # And the "closed" audit events, the attacker's other join, are shuffled as well.
    closed = [
        close_rank[e.object_id]
        for e in AuditEvent.objects.filter(action="psp.request.closed").order_by("id")
    ]
    assert len(closed) == count
    assert abs(spearman(list(range(count)), closed)) < 0.6


# --- (d) the coordinator's queue ------------------------------------------------------------


def test_the_coordinators_queue_shows_no_step_and_no_supporter(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    member = cast["member"]
    member.member.supervisor = team["pia"].member  # Pia is the asker's supervisor
    member.member.save(update_fields=["supervisor"])
    skipped = ask(member, agency, "q-1", chosen_supporter=services.profile_for(team["ben"]))
    assert {o.user_id for o in RequestOffer.objects.filter(request=skipped, active=True)} == {
        team["ben"].pk
    }  # routing skipped the primary: she is in the chain of command
    other = ask(cast["chief"], agency, "q-2")
    services.request_accept(acting_user=team["pia"], request=other)
    clock.shift(timedelta(hours=2, minutes=5))
    page = sign_in(Client(), cast["coordinator"]).get(reverse("support:queue"))
    html = page.content.decode()
    assert skipped.reference in html
    assert other.reference in html
    assert "Looking for a supporter" in html
    assert "A supporter accepted" in html
    assert "2\xa0hours" in html  # how long it has waited, to the hour it came in
    for name in ("pia", "ben", "Pia", "Ben"):
        assert name not in html, name
    for user in (team["pia"], team["ben"]):
        assert user.get_full_name() not in html
    assert not re.search(r"\bStep\b|\bstep\b", html)


# --- (e) logs and console back ends -----------------------------------------------------------


def test_logs_and_console_back_ends_hold_no_recipient_for_peer_support_kinds(
    agency: Agency,
    cast: dict[str, User],
    team: dict[str, User],
    clock: Any,
    settings: Any,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from django.core.management import call_command

    from tandem.core.notifications import notify

    settings.EMAIL_BACKEND = "tandem.core.notifications.ConsoleEmailBackend"
    settings.TANDEM_SMS_BACKEND = "tandem.core.sms.ConsoleSmsBackend"
    coordinator = cast["coordinator"]
    coordinator.email, coordinator.phone = "coord.q3@example.test", "+1 555 0177"
    coordinator.save(update_fields=["email", "phone"])
    with caplog.at_level(logging.DEBUG):
        ask(cast["member"], agency, "log-1")
        notify(kind="psp.escalation", email="outside.q4@example.test", phone="+1 555 0188")
        notify(kind="report.ready", recipient_user=coordinator)  # not peer support
        call_command("worker", "--once", verbosity=0)
        clock.shift(timedelta(minutes=1))
        peer_support_deliveries_send()
    out = capsys.readouterr().out
    mine = PeerSupportDelivery.objects.filter(kind__in=["psp.request.assigned", "psp.escalation"])
    assert [d.status for d in mine] == ["sent"] * 4
    assert out.count("recipient withheld") == PeerSupportDelivery.objects.count() >= 4
    assert "E-mail (psp.request.assigned): recipient withheld" in out
    assert "SMS (psp.escalation): recipient withheld" in out
    assert "coord.q3@example.test" in out  # other kinds still print: the search works
    pia = team["pia"]
    secrets_of_recipients = (
        "pia@example.test",
        "0111",
        "outside.q4",
        "0188",
        "pia",
        f'"user_id": {pia.pk}',
    )
    withheld = out.replace("coord.q3@example.test", "")
    # Message ids and dates of the other kinds' e-mails are random digits, not recipients.
    withheld = re.sub(r"(?m)^(Message-ID|Date): .*$", "", withheld)
    for secret in secrets_of_recipients[:-1]:
        assert secret not in withheld, secret
    for record in caplog.records:
        fields = {k: v for k, v in vars(record).items() if k not in ("msg", "args")}
        text = json.dumps(fields, default=str) + record.getMessage()
        if "psp." not in text:
            continue
        assert "user_id" not in fields, text
        assert "recipient_user_id" not in fields, text
        for secret in secrets_of_recipients:
            assert secret not in text, (secret, text)


class FailingOnceSmsBackend:
    """Refuses the first message, then delivers into the locmem outbox."""

    failures = 1

    def __init__(self, **options: Any) -> None:
        pass

    def send(self, *, to: str, body: str) -> None:
        from tandem.core import sms

        if FailingOnceSmsBackend.failures:
            FailingOnceSmsBackend.failures -= 1
            raise sms.SmsError("SMS provider answered HTTP 503.")
        sms.outbox.append(sms.SmsMessage(to=to, body=body))


def test_peer_support_messages_retry_from_sealed_times_then_forget_whom_and_go(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any, settings: Any
) -> None:
    from tandem.core import sms
    from tandem.core.notifications import notify

    settings.TANDEM_SMS_BACKEND = f"{__name__}.FailingOnceSmsBackend"
    FailingOnceSmsBackend.failures = 1
    sms.outbox.clear()
    (message,) = notify(kind="psp.escalation", recipient_user=team["ben"], channels=["sms"])
    assert peer_support_deliveries_send() == 1
    message = PeerSupportDelivery.objects.get(pk=message.pk)
    assert (message.status, message.attempts) == ("retrying", 1)
    assert message.schedule_data["due"] == (T0 + timedelta(minutes=1)).isoformat()
    clock.shift(timedelta(seconds=59))
    assert peer_support_deliveries_send() == 0  # not due yet
    clock.shift(timedelta(seconds=1))
    assert peer_support_deliveries_send() == 1
    message = PeerSupportDelivery.objects.get(pk=message.pk)
    assert (message.status, message.attempts) == ("sent", 2)
    assert [m.to for m in sms.outbox] == ["+15550122"]
    assert message.is_shredded
    assert (message.recipient, message.schedule) == (None, None)
    team["pia"].is_active = False
    team["pia"].save(update_fields=["is_active"])
    notify(kind="psp.request.assigned", recipient_user=team["pia"], channels=["email"])
    peer_support_deliveries_send()
    assert PeerSupportDelivery.objects.filter(status="cancelled").count() == 1
    clock.shift(timedelta(days=8))
    peer_support_deliveries_send()
    assert not PeerSupportDelivery.objects.exists()  # finished ones go after a week
    sms.outbox.clear()
