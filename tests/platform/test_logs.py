"""Health: acceptance tests from the user's side."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.db import connection
from django.db.utils import OperationalError
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from django.utils import timezone
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from tandem.core.decorators import public
from tandem.core.logging import scrub_text
from tandem.core.models import WorkerHeartbeat
from tests.platform.support import run_worker

pytestmark = pytest.mark.django_db


# --- Health -----------------------------------------------------------------------------


def test_health_is_ok_with_database_migrations_and_a_recent_worker(db: Any) -> None:
    run_worker()
    response = Client().get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["migrations"] == "ok"
    assert body["worker"] == "ok"
    assert 0 <= body["worker_heartbeat_age_seconds"] < 60
    assert set(body) == {
        "status",
        "database",
        "migrations",
        "worker",
        "worker_heartbeat_age_seconds",
    }
    assert "no-cache" in response["Cache-Control"]


def test_health_is_degraded_but_serving_when_the_worker_is_gone(db: Any) -> None:
    assert Client().get("/health/").json()["worker"] == "missing"
    WorkerHeartbeat.objects.create(
        worker_id="old", started_at=timezone.now(), seen_at=timezone.now() - timedelta(hours=1)
    )
    response = Client().get("/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["worker"] == "stale"
    assert response.json()["worker_heartbeat_age_seconds"] >= 3600


def test_health_is_503_when_the_database_does_not_answer(db: Any) -> None:
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("db is down")):
        response = Client().get("/health/")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}
    assert b"db is down" not in response.content


def test_health_is_503_when_migrations_are_pending(db: Any) -> None:
    run_worker()
    with mock.patch(
        "django.db.migrations.executor.MigrationExecutor.migration_plan",
        return_value=[("a migration", False)],
    ):
        response = Client().get("/health/")
    assert response.status_code == 503
    assert response.json()["migrations"] == "pending"
    assert b"a migration" not in response.content


# --- Logs -------------------------------------------------------------------------------


SECRETS = ("HUNTER2-PIN-7731", "QUERYSECRET", "COOKIESECRET", "HEADERSECRET")


@public
def crashing_view(request: HttpRequest) -> HttpResponse:
    pin = request.POST["pin"]
    return HttpResponse(str(int(pin)))  # ValueError whose message holds the posted value


@public
def quiet_view(request: HttpRequest, token: str) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("crash/", crashing_view), path("quiet/<str:token>/", quiet_view)]


@pytest.mark.urls(__name__)
def test_crash_with_posted_secret_is_logged_and_mailed_without_any_request_data(
    db: Any, settings: Any, log_output: io.StringIO
) -> None:
    settings.ADMINS = [("Operators", "ops@example.test")]
    client = Client(raise_request_exception=False, HTTP_X_CUSTOM="HEADERSECRET")
    client.cookies["theme"] = "COOKIESECRET"
    response = client.post(
        "/crash/?token=QUERYSECRET", {"pin": "HUNTER2-PIN-7731", "name": "bob@example.test"}
    )
    assert response.status_code == 500

    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    error = next(line for line in lines if line["logger"] == "django.request")
    assert error["message"] == "Internal Server Error: /crash/"
    assert error["request"] == "POST /crash/"
    assert "ValueError (message withheld)" in error["exc_info"]
    assert "crashing_view" in error["exc_info"]
    assert error["request_id"] == response["X-Request-Id"]
    access = next(line for line in lines if line["logger"] == "tandem.access")
    assert (access["method"], access["path"], access["status"]) == ("POST", "/crash/", 500)

    (report,) = mail.outbox
    assert report.to == ["ops@example.test"]
    assert "ValueError (message withheld)" in report.body
    everything = log_output.getvalue() + report.subject + report.body
    for secret in (*SECRETS, "bob@example.test", "invalid literal"):
        assert secret not in everything


def test_error_page_reporter_hides_every_value_a_browser_sent(rf: Any) -> None:
    from django.views.debug import ExceptionReporter

    request = rf.post(
        "/x/?token=QUERYSECRET",
        {"pin": "HUNTER2-PIN-7731"},
        HTTP_X_CUSTOM="HEADERSECRET",
        HTTP_COOKIE="theme=COOKIESECRET",
    )
    try:
        secret_local = "HUNTER2-PIN-7731"  # noqa: F841 - a local the report must not show
        raise ValueError("boom")
    except ValueError as exc:
        text = ExceptionReporter(request, type(exc), exc, exc.__traceback__).get_traceback_text()
    for secret in ("HUNTER2-PIN-7731", "COOKIESECRET", "HEADERSECRET"):
        assert secret not in text


def test_calendar_link_tokens_are_masked_in_logged_paths() -> None:
    from tandem.core.logging import mask_path

    token = "GaJib7JlxcCSCAs9IzrRKEJIFla5HmKkhCPwMs-bfIA"
    assert mask_path(f"/support/calendar/{token}.ics") == "/support/calendar/[token].ics"
    assert mask_path(f"/support/intake/{token}/") == "/support/intake/[token]/"
    assert mask_path("/support/roster/print.pdf") == "/support/roster/print.pdf"


@pytest.mark.urls(__name__)
def test_one_access_log_line_per_request_without_query_string_or_tokens(
    db: Any, caplog: pytest.LogCaptureFixture, log_output: io.StringIO
) -> None:
    with caplog.at_level(logging.INFO, logger="tandem.access"):
        response = Client().get(
            "/quiet/Zq8Rk2Lm9Tx4Wv7Yp3Nb6Hc1/?email=bob@example.test&q=QUERYSECRET"
        )
    assert response.status_code == 200
    (record,) = [r for r in caplog.records if r.name == "tandem.access"]
    assert record.method == "GET"  # type: ignore[attr-defined]
    assert record.path == "/quiet/[token]/"  # type: ignore[attr-defined]
    assert record.status == 200  # type: ignore[attr-defined]
    assert record.duration_ms >= 0  # type: ignore[attr-defined]
    assert record.request_id == response["X-Request-Id"]  # type: ignore[attr-defined]
    (line,) = [json.loads(x) for x in log_output.getvalue().splitlines()]
    assert set(line) >= {"time", "level", "logger", "message", "request_id", "status", "path"}
    assert not {"user", "user_id", "ip", "remote_addr"} & set(line)
    for secret in ("QUERYSECRET", "bob@example.test", "Zq8Rk2Lm9Tx4Wv7Yp3Nb6Hc1", "email="):
        assert secret not in log_output.getvalue()


def test_log_messages_and_extras_are_scrubbed(log_output: io.StringIO) -> None:
    logger = logging.getLogger("tandem.test")
    logger.warning(
        "could not reach %s at %s via /x/?code=QUERYSECRET",
        "bob@example.test",
        "+1 719-555-0187",
        extra={"contact": "call 719.555.0187", "nested": {"email": "bob@example.test"}},
    )
    typed = "HUNTER2-PIN-7731"
    try:
        int(typed)
    except ValueError:
        logger.exception("parse failed")
    output = log_output.getvalue()
    for secret in ("bob@example.test", "555-0187", "555.0187", "QUERYSECRET", "HUNTER2"):
        assert secret not in output
    first = json.loads(output.splitlines()[0])
    assert first["message"] == "could not reach [email] at [phone] via /x/"
    assert first["contact"] == "call [phone]"
    assert first["nested"] == {"email": "[email]"}


@hyp_settings(max_examples=60, deadline=None)
@given(
    area=st.from_regex(r"[2-9]\d\d", fullmatch=True),
    line=st.from_regex(r"\d{4}", fullmatch=True),
    style=st.sampled_from(
        ["({a}) 555-{l}", "{a}-555-{l}", "{a}.555.{l}", "+1 {a} 555 {l}", "1{a}555{l}", "{a}555{l}"]
    ),
    prefix=st.sampled_from(["", "call ", "tel:", "number="]),
)
def test_phone_numbers_in_any_common_format_are_masked(
    area: str, line: str, style: str, prefix: str
) -> None:
    number = style.format(a=area, l=line)
    scrubbed = scrub_text(f"{prefix}{number} please")
    assert line not in scrubbed
    assert scrubbed.endswith(" please")


def test_dates_times_and_durations_survive_scrubbing() -> None:
    text = "ran at 2025-03-01 12:30:05 in 1234.5 ms for job 42"
    assert scrub_text(text) == text
