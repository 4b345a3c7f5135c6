"""Fixtures of the platform tests: fast hashing, the master key, the SMS outbox, a sealed model."""

from __future__ import annotations

import io
import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import HTTPServer
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import User
from tandem.agencies.models import Agency, Member, Role, Unit
from tandem.audit.models import AuditEvent
from tandem.audit.services import audit_record
from tandem.core import jobs, sms
from tandem.core.logging import ScrubFilter
from tests.authz import (
    World,
    make_world,
)
from tests.conftest import make_user
from tests.platform.support import KEY_A, SealedNote, _Provider, periodic_calls


@pytest.fixture
def roster(agency: Agency) -> dict[str, Member]:
    """Alpha's HR roster before an import: two units, three people."""
    d1 = Unit.objects.create(agency=agency, code="D1", name="District 1", kind="district")
    Unit.objects.create(agency=agency, code="D1-P", name="Patrol", parent=d1)
    chief = Member.objects.create(
        agency=agency,
        employee_number="100",
        first_name="Ana",
        last_name="Chief",
        category="sworn",
        unit=d1,
    )
    sgt = Member.objects.create(
        agency=agency,
        employee_number="200",
        first_name="Bo",
        last_name="Sergeant",
        category="sworn",
        unit=d1,
        supervisor=chief,
    )
    old = Member.objects.create(
        agency=agency,
        employee_number="300",
        first_name="Cy",
        last_name="Leaving",
        category="civilian",
    )
    return {"chief": chief, "sgt": sgt, "old": old}


@pytest.fixture(autouse=True)
def _quick_hashing(settings: Any) -> None:
    """Argon2 is slow on purpose; these tests hash hundreds of passwords, so they use a fast
    hasher. ``test_passwords_are_stored_with_argon2`` checks the configured one."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def newcomer(agency: Any) -> User:
    """An account made by an administrator that has never signed in (no second factor)."""
    user = make_user(agency, "newcomer", Role.SUPPORTER)
    TOTPDevice.objects.filter(user=user).delete()
    return user


@pytest.fixture
def world(agency: Any, cast: dict[str, Any]) -> World:
    return make_world(agency, cast, [])


@pytest.fixture
def trail(cast: dict[str, User], stranger: User) -> dict[str, AuditEvent]:
    coordinator = cast["coordinator"]
    with time_machine.travel(timezone.now() - timedelta(days=10), tick=False):
        older = audit_record(
            action="member.import",
            actor=cast["administrator"],
            object_type="agencies.Agency",
            object_id=coordinator.agency_id,
        )
    return {
        "older": older,
        "view": audit_record(
            action="member.create", actor=coordinator, object_type="agencies.Member", object_id=7
        ),
        "denied": audit_record(
            action="policy.update",
            actor=coordinator,
            outcome="denied",
            object_type="agencies.Agency",
            object_id=1,
        ),
        "bravo": audit_record(
            action="member.create", actor=stranger, object_type="agencies.Member", object_id=7
        ),
    }


@pytest.fixture(scope="session")
def note_table(django_db_setup: Any, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        if SealedNote._meta.db_table not in connection.introspection.table_names():
            with connection.schema_editor() as editor:
                editor.create_model(SealedNote)


@pytest.fixture(autouse=True)
def master_key(settings: Any) -> None:
    settings.TANDEM_MASTER_KEYS = KEY_A


@pytest.fixture
def notes(note_table: None, db: Any) -> type[SealedNote]:
    return SealedNote


@pytest.fixture
def committed_notes(note_table: None, transactional_db: Any) -> Iterator[type[SealedNote]]:
    yield SealedNote
    SealedNote.objects.all().delete()


@pytest.fixture(autouse=True)
def sms_outbox(settings: Any) -> Iterator[list[sms.SmsMessage]]:
    settings.TANDEM_SMS_BACKEND = "tandem.core.sms.LocmemSmsBackend"
    settings.SITE_URL = "https://tandem.example.test"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def zebulon(agency: Agency) -> User:
    user = make_user(agency, "zebulon", "supporter")
    user.first_name, user.last_name, user.phone = "Zebulon", "Quillfeather", "719-555-0142"
    user.save(update_fields=["first_name", "last_name", "phone"])
    return user


@pytest.fixture
def provider() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Provider.seen = []
    _Provider.answer = 201
    yield f"http://127.0.0.1:{server.server_port}/Messages.json"
    server.shutdown()
    server.server_close()


@pytest.fixture
def schedule(monkeypatch: pytest.MonkeyPatch) -> list[tuple[timedelta, str]]:
    periodic_calls.clear()
    job = "tests.platform.support.count_periodic"
    table: list[tuple[timedelta, str]] = [(timedelta(hours=1), job)]
    monkeypatch.setattr(jobs, "PERIODIC", table)
    return table


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the configured console handler (JSON, scrubbed) writes, for every logger."""
    stream = io.StringIO()
    handlers = {
        h
        for name in ("", "django.request", "django.server", "tandem.access")
        for h in logging.getLogger(name).handlers
        if isinstance(h, logging.StreamHandler)
        and any(isinstance(f, ScrubFilter) for f in h.filters)
    }
    assert handlers, "the console handler with ScrubFilter is configured"
    previous = {h: h.setStream(stream) for h in handlers}
    yield stream
    for handler, old in previous.items():
        handler.setStream(old)
