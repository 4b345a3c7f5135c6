"""Jobs and notifications (X-8); health and logs: acceptance tests from the user's side."""

from __future__ import annotations

import io
import logging
import smtplib
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tandem.accounts.models import User
from tandem.audit.models import AuditEvent
from tandem.core import jobs, sms
from tandem.core.models import DataKey, PeriodicRun
from tandem.core.notifications import CATALOGUE, notify, site_url
from tandem.notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    SealedDestination,
)
from tests.platform.support import _Provider, periodic_calls, run_worker

pytestmark = pytest.mark.django_db


# ========================================================================================
# 8. Jobs and notifications; health and logs
# Jobs, notifications, health and logs (issue 2, points 1 and 8; X-8, P1).
#
# Queued jobs are run the way production runs them: ``tandem worker --once`` claims every
# ready job from the database and runs it; a second invocation stands for a restarted worker.
# Clocks are moved with time-machine to reach retry and periodic schedules.
# ========================================================================================


MARKERS = ("Zebulon", "Quillfeather", "marital", "719-555-0187", "Alpha Police")


OUTSIDE_EMAIL = "quillfeather.family@example.test"


OUTSIDE_PHONE = "(719) 555-0187"


def all_database_text() -> str:
    """Every value of every row of every table, as text (what a stolen backup would show)."""
    chunks: list[str] = []
    for model in apps.get_models():
        table = model._meta.db_table
        if table not in connection.introspection.table_names():
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


# --- Queue ------------------------------------------------------------------------------


def test_queued_jobs_survive_a_worker_restart(zebulon: User, mailoutbox: list[Any]) -> None:
    for _ in range(3):
        notify(kind="report.ready", recipient_user=zebulon)
    assert DBTaskResult.objects.filter(status="READY").count() == 3
    assert mailoutbox == []

    run_worker("--max-tasks", "1", "--worker-id", "first")  # then this worker "dies"
    assert len(mailoutbox) == 1
    assert DBTaskResult.objects.filter(status="READY").count() == 2

    run_worker("--worker-id", "second")  # a new worker process after the restart
    assert len(mailoutbox) == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    workers = {tuple(ids) for ids in DBTaskResult.objects.values_list("worker_ids", flat=True)}
    assert workers == {("first",), ("second",)}


def test_job_rows_hold_only_the_delivery_id(db: Any) -> None:
    notify(kind="psp.escalation", email=OUTSIDE_EMAIL, phone=OUTSIDE_PHONE)
    jobs_args = list(DBTaskResult.objects.values_list("args_kwargs", flat=True))
    ids = sorted(Delivery.objects.values_list("pk", flat=True))
    assert sorted(a["args"][0] for a in jobs_args) == ids
    assert all(a == {"args": [a["args"][0]], "kwargs": {}} for a in jobs_args)


def test_worker_command_reports_how_many_jobs_it_ran(zebulon: User) -> None:
    notify(kind="account.security", recipient_user=zebulon)
    out = io.StringIO()
    call_command("worker", "--once", stdout=out)
    assert out.getvalue().strip() == "Ran 2 queued job(s)."  # e-mail and SMS


# --- Notifications: fixed wording only ---------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CATALOGUE))
def test_notification_text_is_fixed_wording_and_a_link(
    kind: str, zebulon: User, mailoutbox: list[Any], sms_outbox: list[sms.SmsMessage]
) -> None:
    notify(kind=kind, recipient_user=zebulon, agency=zebulon.agency)
    notify(kind=kind, email=OUTSIDE_EMAIL, phone=OUTSIDE_PHONE)
    run_worker()

    spec = CATALOGUE[kind]
    url = "https://tandem.example.test/"
    assert site_url() == url
    emails = [(m.subject, m.body) for m in mailoutbox]
    assert emails == [(spec.subject, spec.email_body(url))] * 2
    assert sorted(m.to[0] for m in mailoutbox) == sorted([OUTSIDE_EMAIL, "zebulon@example.test"])
    expected_sms = 2 if "sms" in spec.channels else 1  # the outside phone always gets one
    assert [m.body for m in sms_outbox] == [spec.sms_body(url)] * expected_sms
    for text in [*(s + b for s, b in emails), *(m.body for m in sms_outbox)]:
        assert url in text
        for marker in (*MARKERS, "zebulon", "quillfeather", "555"):
            assert marker not in text


def test_catalogue_wording_says_nothing_about_peer_support() -> None:
    for spec in CATALOGUE.values():
        text = " ".join([spec.subject, spec.sms_body("U"), spec.email_body("U")]).lower()
        for word in ("peer", "support", "psp", "duty", "report to", "counsel", "crisis"):
            assert word not in text
        assert len(spec.sms_body("https://tandem.example.test/")) <= 160


def test_free_text_cannot_be_passed_and_unknown_kinds_are_refused(zebulon: User) -> None:
    with pytest.raises(TypeError):
        notify(kind="report.ready", recipient_user=zebulon, body="Officer X disclosed ...")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        notify(kind="report.ready", recipient_user=zebulon, subject="Marital problems")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="Unknown notification kind"):
        notify(kind="Officer X disclosed marital problems", recipient_user=zebulon)
    with pytest.raises(ValueError, match="not both"):
        notify(kind="report.ready", recipient_user=zebulon, email=OUTSIDE_EMAIL)
    with pytest.raises(ValueError, match="phone"):
        notify(kind="report.ready", phone="call me")
    assert not Delivery.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_outside_address_is_never_stored_in_plain_text_and_is_shredded_after_sending(
    db: Any, mailoutbox: list[Any], sms_outbox: list[sms.SmsMessage]
) -> None:
    deliveries = notify(kind="account.security", email=OUTSIDE_EMAIL, phone=OUTSIDE_PHONE)
    stored = all_database_text()
    for secret in (OUTSIDE_EMAIL, "quillfeather", "7195550187", "555-0187"):
        assert secret not in stored
    assert sorted(d.destination_hint for d in deliveries) == ["q•••@•••.test", "•••87"]
    key_ids = [d.destination.data_key_id for d in deliveries]

    run_worker()

    assert [m.to for m in mailoutbox] == [[OUTSIDE_EMAIL]]
    assert [m.to for m in sms_outbox] == ["+17195550187"]
    assert not SealedDestination.objects.exists()
    assert all(k.is_shredded for k in DataKey.objects.filter(pk__in=key_ids))
    assert set(Delivery.objects.values_list("destination", flat=True)) == {None}
    assert OUTSIDE_EMAIL not in all_database_text()


def test_rolled_back_change_sends_nothing(zebulon: User, mailoutbox: list[Any]) -> None:
    from django.db import transaction

    def change_that_fails() -> None:
        with transaction.atomic():
            notify(kind="psp.escalation", recipient_user=zebulon)
            raise RuntimeError("the change that caused the notification failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    run_worker()
    assert mailoutbox == []
    assert not Delivery.objects.exists()


def test_deactivated_account_gets_nothing_and_delivery_is_cancelled(
    zebulon: User, mailoutbox: list[Any], sms_outbox: list[sms.SmsMessage]
) -> None:
    notify(kind="account.security", recipient_user=zebulon)
    zebulon.is_active = False
    zebulon.save(update_fields=["is_active"])
    run_worker()
    assert mailoutbox == []
    assert sms_outbox == []
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.CANCELLED}


# --- Retries ----------------------------------------------------------------------------


class FlakySmsBackend(sms.SmsBackend):
    """Fails ``failures`` times, then delivers into the locmem outbox."""

    failures = 0

    def send(self, *, to: str, body: str) -> None:
        if FlakySmsBackend.failures > 0:
            FlakySmsBackend.failures -= 1
            raise sms.SmsError("SMS provider answered HTTP 503.")
        sms.LocmemSmsBackend().send(to=to, body=body)


class RefusingEmailBackend(BaseEmailBackend):
    """Like an SMTP server that refuses the recipient: the error text echoes the address."""

    def send_messages(self, email_messages: Any) -> int:
        recipients = {to: (550, b"mailbox unavailable") for m in email_messages for to in m.to}
        raise smtplib.SMTPRecipientsRefused(recipients)


def test_failed_sms_is_retried_after_backoff_then_delivered(
    settings: Any, zebulon: User, sms_outbox: list[sms.SmsMessage]
) -> None:
    settings.TANDEM_SMS_BACKEND = f"{__name__}.FlakySmsBackend"
    FlakySmsBackend.failures = 2
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        (delivery,) = notify(kind="account.security", recipient_user=zebulon, channels=["sms"])
        run_worker()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.RETRYING, 1)
        assert delivery.next_attempt_at == start + timedelta(minutes=1)

        run_worker()  # not due yet
        assert DeliveryAttempt.objects.count() == 1

        clock.shift(timedelta(minutes=1))
        run_worker()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.RETRYING, 2)
        assert delivery.next_attempt_at == timezone.now() + timedelta(minutes=5)

        clock.shift(timedelta(minutes=5))
        run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 3)
    attempts = list(delivery.attempt_log.values_list("succeeded", "error"))
    assert attempts == [
        (False, "SmsError: SMS provider answered HTTP 503."),
        (False, "SmsError: SMS provider answered HTTP 503."),
        (True, ""),
    ]
    assert [m.to for m in sms_outbox] == ["+17195550142"]


def test_delivery_fails_for_good_after_five_attempts_without_storing_the_address(
    db: Any, settings: Any, mailoutbox: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.RefusingEmailBackend"
    with time_machine.travel(timezone.now(), tick=False) as clock:
        (delivery,) = notify(kind="report.ready", email=OUTSIDE_EMAIL)
        run_worker()
        for minutes in (1, 5, 15, 60):
            clock.shift(timedelta(minutes=minutes))
            run_worker()
        clock.shift(timedelta(hours=2))
        with caplog.at_level(logging.WARNING, logger="tandem.notifications"):
            run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 5)
    assert (
        list(delivery.attempt_log.values_list("error", flat=True)) == ["SMTPRecipientsRefused"] * 5
    )
    assert DeliveryAttempt.objects.count() == 5  # no sixth try
    assert not SealedDestination.objects.exists()
    assert AuditEvent.objects.filter(
        action="notification.failed", object_id=str(delivery.pk)
    ).exists()
    assert OUTSIDE_EMAIL not in all_database_text()
    failed = [r for r in caplog.records if r.getMessage() == "notification delivery failed"]
    assert len(failed) == 1
    assert failed[0].delivery_id == delivery.pk


def test_delivery_interrupted_mid_send_is_resumed_by_housekeeping(
    zebulon: User, mailoutbox: list[Any]
) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        (delivery,) = notify(kind="report.ready", recipient_user=zebulon)
        # The worker claimed it and was killed before recording anything.
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SENDING, updated_at=timezone.now()
        )
        DBTaskResult.objects.update(status="RUNNING")
        clock.shift(timedelta(minutes=20))
        from tandem.notifications.services import deliveries_resume_stalled

        assert deliveries_resume_stalled() == 1
        clock.shift(timedelta(minutes=1))
        run_worker()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert list(delivery.attempt_log.values_list("error", flat=True)) == ["Interrupted", ""]
    assert len(mailoutbox) == 1


# --- SMS over HTTP ----------------------------------------------------------------------


def test_http_sms_backend_posts_a_twilio_style_form(settings: Any, provider: str) -> None:
    settings.TANDEM_SMS_FROM = "+17195550100"
    backend = sms.HttpSmsBackend(url=provider, token="AC123:secret-token")
    backend.send(to="+17195550187", body="You have a new item in Tandem.")
    (seen,) = _Provider.seen
    assert seen["form"] == {
        "To": ["+17195550187"],
        "From": ["+17195550100"],
        "Body": ["You have a new item in Tandem."],
    }
    assert seen["auth"] == "Basic QUMxMjM6c2VjcmV0LXRva2Vu"

    sms.HttpSmsBackend(url=provider, token="bearer-token").send(to="+17195550187", body="x")
    assert _Provider.seen[-1]["auth"] == "Bearer bearer-token"


def test_http_sms_backend_raises_on_refusal_without_naming_the_number(provider: str) -> None:
    _Provider.answer = 400
    with pytest.raises(sms.SmsError) as refused:
        sms.HttpSmsBackend(url=provider, token="t").send(to="+17195550187", body="x")
    assert str(refused.value) == "SMS provider answered HTTP 400."
    assert refused.value.__cause__ is None
    assert refused.value.__suppress_context__

    unreachable = provider.rsplit(":", 1)[0] + ":9/Messages.json"
    with pytest.raises(sms.SmsError, match="could not be reached"):
        sms.HttpSmsBackend(url=unreachable, token="t", timeout=2).send(to="+17195550187", body="x")


def test_http_sms_backend_requires_https_in_production(settings: Any) -> None:
    settings.INSECURE_HTTP = False
    settings.DEBUG = False
    with pytest.raises(sms.SmsError, match="https"):
        sms.HttpSmsBackend(url="http://sms.example.test/", token="t").send(to="+1", body="x")


def test_console_sms_backend_masks_the_number() -> None:
    out = io.StringIO()
    sms.ConsoleSmsBackend(stream=out).send(to="+17195550187", body="You have a new item.")
    assert out.getvalue() == "SMS to •••87: You have a new item.\n"


# --- Periodic jobs ----------------------------------------------------------------------


def broken_periodic() -> None:
    raise RuntimeError("housekeeping broke")


@pytest.mark.django_db
def test_periodic_job_runs_once_per_interval_even_with_two_workers(
    schedule: list[tuple[timedelta, str]],
) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        run_worker("--worker-id", "a")
        run_worker("--worker-id", "b")
        assert periodic_calls == ["ran"]

        clock.shift(timedelta(minutes=59))
        run_worker("--worker-id", "a")
        run_worker("--worker-id", "b")
        assert periodic_calls == ["ran"]

        clock.shift(timedelta(minutes=1))
        run_worker("--worker-id", "b")
        run_worker("--worker-id", "a")
        assert periodic_calls == ["ran", "ran"]
    run = PeriodicRun.objects.get(name="tests.platform.support.count_periodic")
    assert run.last_error == ""
    assert run.last_finished_at is not None


@pytest.mark.django_db
def test_worker_without_periodic_flag_leaves_housekeeping_alone(
    schedule: list[tuple[timedelta, str]],
) -> None:
    run_worker("--no-periodic")
    assert periodic_calls == []


@pytest.mark.django_db
def test_broken_periodic_jobs_are_logged_and_do_not_stop_the_others(
    schedule: list[tuple[timedelta, str]], caplog: pytest.LogCaptureFixture
) -> None:
    jobs.register_periodic(timedelta(days=1), "tandem.no_such_module.cleanup")
    jobs.register_periodic(timedelta(days=1), f"{__name__}.broken_periodic")
    jobs.register_periodic(timedelta(days=1), f"{__name__}.broken_periodic")  # idempotent
    assert len(schedule) == 3
    with time_machine.travel(timezone.now(), tick=False) as clock:
        with caplog.at_level(logging.INFO, logger="tandem.worker"):
            run_worker()
        assert periodic_calls == ["ran"]
        broken = PeriodicRun.objects.get(name=f"{__name__}.broken_periodic")
        assert broken.last_error == "RuntimeError"
        assert broken.next_run_at == timezone.now() + jobs.PERIODIC_RETRY_AFTER
        clock.shift(jobs.PERIODIC_RETRY_AFTER)
        run_worker()
    messages = [(r.getMessage(), getattr(r, "job", "")) for r in caplog.records]
    assert ("periodic job failed", f"{__name__}.broken_periodic") in messages
    assert ("periodic job cannot be imported", "tandem.no_such_module.cleanup") in messages
    assert not PeriodicRun.objects.filter(name="tandem.no_such_module.cleanup").exists()
    assert PeriodicRun.objects.get(name=f"{__name__}.broken_periodic").last_error == "RuntimeError"


def test_shipped_schedule_disables_inactive_accounts_daily() -> None:
    assert (timedelta(days=1), "tandem.accounts.services.disable_inactive_accounts") in (
        jobs.PERIODIC
    )
    for _, dotted in jobs.PERIODIC:
        assert jobs._resolve(dotted) is not None, dotted


@pytest.mark.django_db
def test_prune_removes_old_finished_jobs_only(zebulon: User) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        notify(kind="report.ready", recipient_user=zebulon)
        run_worker("--no-periodic")
    notify(kind="report.ready", recipient_user=zebulon)
    assert jobs.prune_finished_tasks() == 1
    assert DBTaskResult.objects.filter(status="READY").count() == 1
