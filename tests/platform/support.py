"""Helpers shared by the platform tests."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from django.core.management import call_command
from django.db import DatabaseError, connection, models, transaction
from django.test import Client
from django.urls import reverse

from tandem.accounts.models import User
from tandem.audit.models import AuditEvent
from tandem.audit.services import audit_record
from tandem.core.fields import EncryptedJSONField, EncryptedTextField, EnvelopeKeyField
from tandem.core.models import EnvelopeEncrypted

SignedIn = Callable[[User], Client]  # the ``signed_in`` fixture


def record(n: int, *, action: str = "member.create", **kwargs: Any) -> list[AuditEvent]:
    return [
        audit_record(
            action=action,
            object_type="agencies.Member",
            object_id=i,
            detail={"n": i, "ratio": 0.25, "big": 1e20},
            **kwargs,
        )
        for i in range(n)
    ]


def raw(sql: str, params: list[Any] | None = None) -> list[Any]:
    """Run ``sql`` past the ORM; the rows it returns, if any."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def refused(sql: str, params: list[Any] | None = None) -> bool:
    try:
        with transaction.atomic():
            raw(sql, params)
    except DatabaseError:
        return True
    return False


AUDIT_TABLES = ("audit_auditevent", "audit_auditcheckpoint")


@contextmanager
def triggers_dropped() -> Iterator[None]:
    """A DBA with the owner's rights: PostgreSQL ``DISABLE TRIGGER USER``; SQLite drops the
    triggers and re-creates them afterwards."""
    if connection.vendor == "postgresql":
        for table in AUDIT_TABLES:
            raw(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield
        for table in AUDIT_TABLES:
            raw(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        return
    saved = raw("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
    saved = [row for row in saved if row[0].startswith("tandem_audit_")]
    for name, _sql in saved:
        raw(f"DROP TRIGGER {name}")
    yield
    for _name, sql in saved:
        raw(sql)


def listing(client: Any, **params: Any) -> str:
    response = client.get(reverse("audit:event_list"), params)
    assert response.status_code == 200
    return response.content.decode()


def rows(html: str) -> int:
    return html.count('href="/audit/events/')


class SealedNote(EnvelopeEncrypted):
    data_key_purpose = "test.note"
    # The base class's data key, without the foreign-key constraint.
    data_key = EnvelopeKeyField(
        **{**EnvelopeEncrypted._meta.get_field("data_key").deconstruct()[3], "db_constraint": False}
    )
    label = models.CharField(max_length=100)
    secret = EncryptedTextField(blank=True)
    extra = EncryptedJSONField(blank=True)

    class Meta:
        app_label = "cryptotest"


def key_entry(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


KEY_A, KEY_B = key_entry("test-a"), key_entry("test-b")


def run_worker(*args: str) -> None:
    call_command("worker", "--once", *args, verbosity=0)


class _Provider(BaseHTTPRequestHandler):
    answer = 201
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers["Content-Length"])
        form = parse_qs(self.rfile.read(length).decode())
        _Provider.seen.append({"form": form, "auth": self.headers.get("Authorization")})
        self.send_response(_Provider.answer)
        self.end_headers()
        self.wfile.write(b'{"message": "rejected +17195550187"}')

    def log_message(self, format: str, *args: Any) -> None:
        pass


periodic_calls: list[str] = []


def count_periodic() -> None:
    periodic_calls.append("ran")
