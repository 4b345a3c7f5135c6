"""Tamper-evident, per-agency audit chains (issue 11, P3, X-4), tried the way a DBA would.

Each agency's trail is its own chain of events numbered 1, 2, 3, ..., each authenticated by
an HMAC under the audit key, a file the database never holds, with signed checkpoints of
every chain head written outside the database. The tampering below is done with the rights
of the database owner or a superuser (triggers dropped or disabled, the replica role,
``INSERT OR REPLACE``), and ``tandem audit verify`` must fail naming the agency and event.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.audit import keys
from tandem.audit.actions import ACTIONS
from tandem.audit.checkpoints import audit_checkpoint, checkpoint_file_path
from tandem.audit.models import AuditEvent, canonical_json
from tandem.audit.services import (
    UnknownAuditAction,
    audit_purge,
    audit_record,
    audit_retention_days,
)
from tandem.audit.verify import ALTERED, verify_chain
from tandem.core.jobs import PERIODIC
from tests.conftest import make_agency
from tests.platform.support import raw, refused, triggers_dropped

PROJECT_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db
postgresql_only = pytest.mark.skipif("connection.vendor != 'postgresql'")
sqlite_only = pytest.mark.skipif("connection.vendor != 'sqlite'")


# --- helpers ------------------------------------------------------------------------------


def record(n: int, agency: Agency | None = None, action: str = "member.create") -> list[AuditEvent]:
    return [
        audit_record(
            action=action,
            agency_id=agency.pk if agency else None,
            object_type="agencies.Member",
            object_id=i,
            detail={"n": i, "ratio": 0.25},
        )
        for i in range(n)
    ]


def verify_fails(*args: str) -> str:
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify", *args, stdout=StringIO())
    assert failure.value.returncode == 1
    return str(failure.value)


def verify_passes(*args: str) -> str:
    out = StringIO()
    call_command("audit", "verify", *args, stdout=out)
    return out.getvalue()


def checkpoint() -> None:
    call_command("audit", "checkpoint", stdout=StringIO())


@contextmanager
def replica_role() -> Iterator[None]:
    """A PostgreSQL superuser: no user trigger fires for this session's changes."""
    raw("SET LOCAL session_replication_role = replica")
    yield
    raw("SET LOCAL session_replication_role = origin")


def tamper(method: str) -> Any:
    return replica_role() if method == "replica" else triggers_dropped()


def recompute_without_key(chain: int, from_seq: int) -> None:
    """Re-link every event from ``from_seq`` on, as one who has the database but not the key
    would: SHA-256 over the same content (the trail's scheme before it was keyed)."""
    previous = (
        AuditEvent.objects.get(chain=chain, seq=from_seq - 1).hash if from_seq > 1 else ("0" * 64)
    )
    for event in AuditEvent.objects.filter(chain=chain, seq__gte=from_seq).order_by("seq"):
        digest = hashlib.sha256(
            (previous + "\n" + canonical_json(event.canonical())).encode()
        ).hexdigest()
        raw(
            "UPDATE audit_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
            [previous, digest, event.pk],
        )
        previous = digest


def row_values(event_id: int) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM audit_auditevent WHERE id = %s", [event_id])
        names = [column[0] for column in cursor.description]
        return dict(zip(names, cursor.fetchone(), strict=True))


def insert_or_replace(values: dict[str, Any]) -> None:
    columns = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    sql = f"INSERT OR REPLACE INTO audit_auditevent ({columns}) VALUES ({marks})"  # noqa: S608
    raw(sql, list(values.values()))


# --- keyed, anchored, per-agency chains ---------------------------------------------------


def test_each_agency_numbers_its_own_events_from_one(agency: Agency, other_agency: Agency) -> None:
    alpha = record(3, agency)
    bravo = record(2, other_agency)
    operator = record(1)
    assert [e.seq for e in alpha] == [1, 2, 3]
    assert [e.seq for e in bravo] == [1, 2]
    assert [(e.chain, e.seq) for e in operator] == [(0, 1)]
    assert all(e.key_id == keys.audit_keys().current_id for e in alpha + bravo + operator)
    out = verify_passes()
    assert "Agency alpha intact: 3 events, first #1, last #3" in out
    assert "Agency bravo intact: 2 events, first #1, last #2" in out
    assert "Deployment chain intact: 1 events" in out


@pytest.mark.parametrize("method", ["drop", "replica"])
def test_rewritten_event_with_hashes_recomputed_without_the_key_is_named(
    agency: Agency, method: str
) -> None:
    if method == "replica" and connection.vendor != "postgresql":
        pytest.skip("the replica role is PostgreSQL's")
    events = record(8, agency)
    checkpoint()
    with tamper(method):
        raw("UPDATE audit_auditevent SET object_id = %s WHERE id = %s", ["999", events[4].pk])
        recompute_without_key(agency.pk, 5)
    assert verify_fails() == f"Agency alpha broken at event #5: {ALTERED}"
    assert verify_fails("--agency", "alpha") == f"Agency alpha broken at event #5: {ALTERED}"


@sqlite_only
def test_sqlite_refuses_insert_or_replace_of_an_audit_event(agency: Agency) -> None:
    events = record(5, agency)
    third = row_values(events[2].pk)
    # Same id and seq: REPLACE would delete the original without firing DELETE triggers.
    assert refused_replace({**third, "object_id": "999"})
    # A fresh seq but an existing, lower id: the AFTER INSERT check refuses it.
    assert refused_replace({**third, "seq": 6, "hash": "f" * 64})
    # A lower seq under a fresh id is refused too.
    assert refused_replace({**third, "id": 100, "hash": "e" * 64})
    # The newest id with a fresh seq: REPLACE would silently drop the newest event.
    newest = row_values(events[-1].pk)
    assert refused_replace({**newest, "seq": 6, "hash": "d" * 64})
    assert refused_replace({**newest, "chain": 0, "agency_id": None, "seq": 1, "hash": "c" * 64})
    assert AuditEvent.objects.get(pk=events[2].pk).object_id == events[2].object_id
    assert AuditEvent.objects.count() == 5
    verify_passes()


def refused_replace(values: dict[str, Any]) -> bool:
    try:
        with transaction.atomic():
            insert_or_replace(values)
    except DatabaseError:
        return True
    return False


@sqlite_only
def test_insert_or_replace_with_triggers_dropped_and_chain_recomputed_is_named(
    agency: Agency,
) -> None:
    events = record(6, agency)
    checkpoint()
    with triggers_dropped():
        insert_or_replace({**row_values(events[2].pk), "action": "unit.update"})
        recompute_without_key(agency.pk, 3)
    assert AuditEvent.objects.get(chain=agency.pk, seq=3).action == "unit.update"
    assert verify_fails() == f"Agency alpha broken at event #3: {ALTERED}"


@pytest.mark.parametrize("method", ["drop", "replica"])
def test_truncating_the_newest_twenty_events_is_caught_by_the_checkpoint(
    agency: Agency, method: str
) -> None:
    if method == "replica" and connection.vendor != "postgresql":
        pytest.skip("the replica role is PostgreSQL's")
    record(30, agency)
    checkpoint()
    with tamper(method):
        raw("DELETE FROM audit_auditevent WHERE chain = %s AND seq > 10", [agency.pk])
    message = verify_fails()
    assert message.startswith("Agency alpha broken at event #11: the chain ends at #10 but the ")
    assert "records #30: events #11 to #30 were removed" in message


def test_without_a_checkpoint_the_newest_rows_are_the_only_exposure(agency: Agency) -> None:
    """What the periodic checkpoint is for: rows after the last checkpoint are protected
    by their MACs only, so removing them is seen once a checkpoint has covered them."""
    record(5, agency)
    checkpoint()
    record(5, agency)
    with triggers_dropped():
        raw("DELETE FROM audit_auditevent WHERE chain = %s AND seq > 7", [agency.pk])
    assert "Agency alpha intact: 7 events" in verify_passes()
    with triggers_dropped():
        raw("DELETE FROM audit_auditevent WHERE chain = %s AND seq > 3", [agency.pk])
    assert "events #4 to #5 were removed" in verify_fails()


def test_removing_every_event_of_an_agency_is_caught(agency: Agency) -> None:
    record(4, agency)
    checkpoint()
    with triggers_dropped():
        raw("DELETE FROM audit_auditevent WHERE chain = %s", [agency.pk])
    assert "events #1 to #4 were removed" in verify_fails()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("DELETE FROM audit_auditevent WHERE chain = {c} AND seq = 4", "#5: previous-hash"),
        (
            "UPDATE audit_auditevent SET seq = -2 WHERE chain = {c} AND seq = 2;"
            "UPDATE audit_auditevent SET seq = 2 WHERE chain = {c} AND seq = 5;"
            "UPDATE audit_auditevent SET seq = 5 WHERE chain = {c} AND seq = -2",
            "#2: previous-hash",
        ),
        (
            "UPDATE audit_auditevent SET outcome = 'denied' WHERE chain = {c} AND seq = 6",
            f"#6: {ALTERED}",
        ),
    ],
    ids=["delete-middle", "reorder", "rewrite"],
)
def test_deleting_reordering_or_rewriting_is_named(agency: Agency, change: str, named: str) -> None:
    record(8, agency)
    checkpoint()
    with triggers_dropped():
        for sql in change.format(c=agency.pk).split(";"):
            raw(sql)
    assert verify_fails().startswith(f"Agency alpha broken at event {named}")


def test_a_checkpoint_line_forged_without_the_key_is_named(agency: Agency) -> None:
    record(3, agency)
    checkpoint()
    path = checkpoint_file_path()
    written = path.read_text().splitlines()
    line = json.loads(written[-1])
    line.update(seq=1, hash=AuditEvent.objects.get(chain=agency.pk, seq=1).hash)
    with path.open("a") as handle:
        handle.write(json.dumps(line) + "\n")
    number = len(written) + 1
    assert f"checkpoint file line {number} is not authentic (its MAC is wrong)" in verify_fails()


def test_checkpoints_are_signed_lines_appended_outside_the_database(agency: Agency) -> None:
    record(2, agency)
    checkpoint()
    lines = [json.loads(text) for text in checkpoint_file_path().read_text().splitlines()]
    alpha = next(line for line in lines if line["agency"] == "alpha")
    assert (alpha["seq"], alpha["hash"]) == (2, AuditEvent.objects.get(chain=agency.pk, seq=2).hash)
    assert alpha["key_id"] == keys.audit_keys().current_id
    assert len(alpha["mac"]) == 64
    assert os.stat(checkpoint_file_path()).st_mode & 0o077 == 0
    assert (timedelta(minutes=15), "tandem.audit.checkpoints.audit_checkpoint_job") in PERIODIC
    # The periodic job writes only the heads that moved: the deployment chain's, which holds
    # the record of the last checkpoint, and so is a heartbeat too.
    assert [(p.agency, p.seq) for p in audit_checkpoint()] == [("", 1)]
    record(1, agency)
    assert [(p.agency, p.seq) for p in audit_checkpoint()] == [("", 2), ("alpha", 3)]


def test_agency_chains_verify_independently(agency: Agency, other_agency: Agency) -> None:
    record(4, agency)
    bravo = record(4, other_agency)
    record(2)
    checkpoint()
    with triggers_dropped():
        raw("UPDATE audit_auditevent SET action = 'unit.delete' WHERE id = %s", [bravo[1].pk])
    assert "Agency alpha intact: 4 events" in verify_passes("--agency", "alpha")
    message = verify_fails("--agency", "bravo")
    assert message == f"Agency bravo broken at event #2: {ALTERED}"
    everything = verify_fails()
    assert everything == message  # only the broken chain is named


def test_retention_purge_keeps_each_chain_verifiable(agency: Agency) -> None:
    days = audit_retention_days() + 10
    with time_machine.travel(timezone.now() - timedelta(days=days), tick=False):
        record(3)
    record(2, agency)
    checkpoint()
    result = audit_purge()
    assert (result.deleted, result.through_seq) == (3, 3)
    assert list(AuditEvent.objects.filter(chain=0).values_list("seq", "action")) == [
        (4, "audit.checkpoint"),
        (5, "audit.purge"),
    ]
    checkpoint()
    out = verify_passes()
    assert (
        "Deployment chain intact: 3 events, first #4, last #6 (events up to #3 were purged" in out
    )
    assert "Agency alpha intact: 2 events" in out


def test_rotated_key_signs_new_events_and_old_ones_still_verify(
    agency: Agency, settings: Any, tmp_path: Path
) -> None:
    settings.TANDEM_AUDIT_KEY_FILE = str(tmp_path / "audit.key")
    call_command("audit", "keygen", stdout=StringIO())
    assert os.stat(tmp_path / "audit.key").st_mode & 0o777 == 0o600
    old = record(2, agency)
    call_command("audit", "keygen", "--rotate", stdout=StringIO())
    new = record(1, agency)
    assert new[0].key_id != old[0].key_id == old[1].key_id
    assert AuditEvent.objects.filter(action="audit.key_rotated", chain=0).exists()
    verify_passes()
    # Without the old key its events cannot be checked, and verify says so.
    lines = (tmp_path / "audit.key").read_text().splitlines()
    (tmp_path / "audit.key").write_text(lines[0] + "\n")
    assert verify_fails().startswith(f"Agency alpha broken at event #1: {ALTERED}")


def test_audit_key_file_readable_by_others_is_refused(settings: Any, tmp_path: Path) -> None:
    path = tmp_path / "audit.key"
    path.write_text(keys.generate_audit_key_line("k1") + "\n")
    path.chmod(0o644)
    settings.TANDEM_AUDIT_KEY_FILE = str(path)
    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        keys.audit_keys()
    assert [m.id for m in keys.check_audit_key()] == ["tandem.audit.E001"]


# --- the auditor's screen: one agency's numbers only --------------------------------------


def test_auditor_sees_only_their_agencys_numbers_and_counts(
    cast: dict[str, User], stranger: User, signed_in: Callable[..., Any]
) -> None:
    other = Agency.objects.get(slug="bravo")
    record(40, other)
    record(7)
    record(3, cast["auditor"].agency)
    client = signed_in(cast["auditor"])
    html = client.get(reverse("audit:event_list")).content.decode()
    numbers = sorted(int(p.split("/")[0]) for p in html.split('href="/audit/events/')[1:])
    assert numbers == [1, 2, 3]
    result = client.post(reverse("audit:verify"), HTTP_HX_REQUEST="true").content.decode()
    # Its own 3 events and the audit.view just recorded; not Bravo's 40, not the operator's 7.
    assert "Agency alpha intact: 4 events, first #1, last #4" in result
    assert "bravo" not in result
    assert "Deployment" not in result
    verified = AuditEvent.objects.get(action="audit.verify")
    assert (verified.chain, verified.detail["events"]) == (cast["auditor"].agency_id, 4)


# --- least privilege and concurrency on PostgreSQL -----------------------------------------


@postgresql_only
def test_application_role_that_does_not_own_the_audit_tables_cannot_change_them(
    agency: Agency,
) -> None:
    suffix = os.urandom(4).hex()
    owner, app = f"tandem_audit_owner_{suffix}", f"tandem_app_{suffix}"
    raw(f'CREATE ROLE "{app}" NOLOGIN')
    # The application role keeps every right on the other tables (here: what the test needs).
    raw(f'GRANT USAGE ON SCHEMA public TO "{app}"')
    raw(f'GRANT SELECT ON agencies_agency TO "{app}"')
    days = audit_retention_days() + 10
    with time_machine.travel(timezone.now() - timedelta(days=days), tick=False):
        old = record(1)
    call_command("audit", "setup-roles", "--owner", owner, "--app-role", app, stdout=StringIO())
    assert raw("SELECT tableowner FROM pg_tables WHERE tablename = 'audit_auditevent'") == [
        (owner,)
    ]
    raw(f'SET LOCAL ROLE "{app}"')
    event = audit_record(action="member.create", agency_id=agency.pk)  # INSERT and SELECT
    assert refused("UPDATE audit_auditevent SET action = 'x.y' WHERE id = %s", [event.pk])
    assert refused("DELETE FROM audit_auditevent WHERE id = %s", [old[0].pk])
    assert refused("TRUNCATE audit_auditevent")
    assert refused("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
    assert refused("SET LOCAL session_replication_role = replica")
    assert refused("UPDATE audit_auditcheckpoint SET chain = 5")
    # The retention purge still works, through the owner's function (only old rows).
    assert audit_purge().deleted == 1
    raw("RESET ROLE")
    assert verify_chain().ok


def write_with_lock_timeout(agency: Agency, timeout: str) -> AuditEvent:
    with transaction.atomic():
        raw("SET LOCAL lock_timeout = %s", [timeout])
        return audit_record(action="member.create", agency_id=agency.pk)


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_two_agencies_audited_writes_do_not_wait_on_each_other() -> None:
    alpha = make_agency("alpha", "Alpha Police Department")
    bravo = make_agency("bravo", "Bravo Police Department", preset="columbus")
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def alpha_writer_holding_its_transaction() -> None:
        try:
            with transaction.atomic():
                audit_record(action="member.create", agency_id=alpha.pk)
                holding.set()
                release.wait(20)
        except BaseException as error:  # reported by the main thread
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=alpha_writer_holding_its_transaction)
    thread.start()
    try:
        assert holding.wait(20)
        with transaction.atomic():
            raw("SET LOCAL lock_timeout = '3s'")
            started = time.monotonic()
            event = audit_record(action="member.create", agency_id=bravo.pk)
            elapsed = time.monotonic() - started
        # The control: a second write to Alpha's chain does wait for the first.
        with pytest.raises(DatabaseError, match="lock timeout"):
            write_with_lock_timeout(alpha, "300ms")
    finally:
        release.set()
        thread.join(20)
    assert not errors
    assert elapsed < 1.0
    assert (event.chain, event.seq) == (bravo.pk, 1)
    assert verify_chain().ok


# --- export for a SIEM ----------------------------------------------------------------------


def test_export_gives_the_agencys_trail_as_json_lines_ending_with_a_signed_checkpoint(
    agency: Agency, other_agency: Agency, tmp_path: Path
) -> None:
    record(3, agency)
    record(5, other_agency)
    target = tmp_path / "alpha.jsonl"
    call_command("audit", "export", "--agency", "alpha", "--output", str(target))
    lines = [json.loads(text) for text in target.read_text().splitlines()]
    events, last = lines[:-1], lines[-1]
    assert [e["seq"] for e in events] == [1, 2, 3, 4]  # the export records itself first
    assert {e["agency"] for e in events} == {"alpha"}
    assert events[-1]["action"] == "audit.export"
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(events, events[1:], strict=False))
    assert last["type"] == "tandem.audit.checkpoint"
    assert (last["seq"], last["hash"]) == (4, events[-1]["hash"])
    assert json.loads(checkpoint_file_path().read_text().splitlines()[-1]) == last
    verify_passes()


def test_export_as_syslog_lines_and_since_a_date(agency: Agency) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=30), tick=False):
        record(2, agency)
    record(1, agency)
    out = StringIO()
    since = (timezone.now() - timedelta(days=1)).date().isoformat()
    call_command(
        "audit", "export", "--agency", "alpha", "--format", "syslog", "--since", since, stdout=out
    )
    lines = out.getvalue().splitlines()
    assert all(line.startswith("<86>1 ") for line in lines)
    assert [" audit - " in line for line in lines] == [True, True, False]
    assert " checkpoint - " in lines[-1]
    assert '"seq": 3' in lines[0]


def test_export_of_an_unknown_agency_fails_plainly() -> None:
    with pytest.raises(CommandError, match="No agency with the slug 'nowhere'"):
        call_command("audit", "export", "--agency", "nowhere", stdout=StringIO())


# --- one vocabulary -------------------------------------------------------------------------


def test_every_action_used_in_the_code_is_in_the_closed_list() -> None:
    used = used_audit_actions(PROJECT_ROOT / "tandem")
    assert len(used) > 100  # the collector does see the code
    missing = {action: sorted(paths) for action, paths in used.items() if action not in ACTIONS}
    assert missing == {}


def test_an_unknown_action_is_an_error_in_tests_and_debug() -> None:
    with pytest.raises(UnknownAuditAction, match="member.peeked"):
        audit_record(action="member.peeked")
    assert not AuditEvent.objects.exists()


def test_object_type_comes_from_the_model(agency: Agency) -> None:
    event = audit_record(action="agency.create", obj=agency)
    assert (event.object_type, event.object_id, event.chain) == (
        "agencies.Agency",
        str(agency.pk),
        0,
    )


def test_no_app_keeps_a_private_audit_wrapper() -> None:
    """Every app calls ``audit_record`` itself, with the object as ``obj``: no private helper
    outside ``tandem/audit`` renames the call or invents its own object types."""
    audit_dir = PROJECT_ROOT / "tandem" / "audit"
    wrappers = []
    for path in sorted((PROJECT_ROOT / "tandem").rglob("*.py")):
        if audit_dir in path.parents:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            calls = {
                getattr(call.func, "id", getattr(call.func, "attr", ""))
                for call in ast.walk(node)
                if isinstance(call, ast.Call)
            }
            if node.name.startswith("_") and "audit" in node.name and "audit_record" in calls:
                wrappers.append(f"{path.relative_to(PROJECT_ROOT)}:{node.lineno} {node.name}")
    assert wrappers == []


def test_every_stored_object_type_names_a_model(cast: dict[str, User]) -> None:
    """A sample run across the apps: each event's object type is empty or
    ``app_label.ModelName``, whichever app wrote it."""
    from tandem.accounts.services import signin_succeeded
    from tandem.agencies.services import unit_create
    from tandem.api.services import api_client_create
    from tandem.readiness.services import vacancy_create
    from tandem.recovery.services import client_create
    from tandem.support import services as support
    from tandem.support import vocab

    admin, coordinator = cast["administrator"], cast["coordinator"]
    signin_succeeded(user=admin, method="password")
    unit_create(acting_user=admin, agency=admin.agency, code="K9", name="K-9 Unit")
    api_client_create(acting_user=admin, name="Roster sync", scopes=["roster:read"])
    vacancy_create(acting_user=coordinator, program="psp", title="Peer supporter")
    client_create(
        acting_user=cast["aro"],
        data={"first_name": "Jamie", "last_name": "Rivera", "substances": ["opioids"]},
    )
    member = cast["member"]
    request, _ = support.request_create(
        acting_user=None,
        agency=member.agency,
        idempotency_key="sample",
        channel=vocab.Channel.SELF_REQUEST,
        urgency=vocab.Urgency.NOW,
        contact_method=vocab.ContactMethod.PHONE,
        requester={"kind": "member", "member_id": member.member_id, "phone": "555-0199"},
        status_digest=support.status_code_digest("s" * 32),
    )
    support.request_withdraw(acting_user=None, request=request)
    support.publish_finished_requests(timezone.now() + timedelta(days=1))

    types = set(AuditEvent.objects.values_list("object_type", flat=True))
    assert {
        "accounts.User",
        "agencies.Unit",
        "api.ApiClient",
        "readiness.Vacancy",
        "recovery.Client",
        "support.SupportRequest",
    } <= types
    assert [t for t in types if t and not re.fullmatch(r"[a-z_]+\.[A-Z][A-Za-z]*", t)] == []


def test_deploy_check_reports_a_missing_audit_key(settings: Any, tmp_path: Path) -> None:
    settings.TANDEM_AUDIT_KEY_FILE = str(tmp_path / "missing.key")
    settings.DEBUG = False
    settings.DEMO_MODE = False
    settings.INSECURE_HTTP = False
    [message] = keys.check_audit_key()
    assert "tandem audit keygen" in message.msg
    assert settings.TANDEM_AUDIT_KEY_FILE.endswith("missing.key")


# --- the collector of used actions (static, from the source) -------------------------


def used_audit_actions(root: Path) -> dict[str, set[str]]:
    """Every action string the code passes to ``audit_record``, directly or through a
    module's own wrapper (``_audit("psp.request.created", ...)``, ``f"readiness.{action}"``)."""
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for action in _module_actions(tree):
            found.setdefault(action, set()).add(str(path.relative_to(root)))
    return found


def _strings(node: ast.AST, names: dict[str, list[ast.AST]]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _strings(node.body, names) + _strings(node.orelse, names)
    if isinstance(node, ast.Name):
        return [s for value in names.get(node.id, []) for s in _strings(value, names)]
    return []


def _assignments(function: ast.AST) -> dict[str, list[ast.AST]]:
    names: dict[str, list[ast.AST]] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    names.setdefault(target.id, []).append(node.value)
    return names


def _wrapper(function: ast.FunctionDef) -> tuple[int, str, str] | None:
    """(position, parameter name, prefix) when ``function`` passes a parameter on as the
    action of ``audit_record``."""
    params = [a.arg for a in function.args.posonlyargs + function.args.args]
    params += [a.arg for a in function.args.kwonlyargs]
    for node in ast.walk(function):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "audit_record"):
            continue
        for keyword in node.keywords:
            value, prefix = keyword.value, ""
            if keyword.arg != "action":
                continue
            if isinstance(value, ast.JoinedStr) and len(value.values) == 2:
                head, tail = value.values
                if isinstance(head, ast.Constant) and isinstance(tail, ast.FormattedValue):
                    prefix, value = str(head.value), tail.value
            if isinstance(value, ast.Name) and value.id in params:
                return params.index(value.id), value.id, prefix
    return None


def _module_actions(tree: ast.Module) -> set[str]:
    wrappers = {
        node.name: spec
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef) and (spec := _wrapper(node)) is not None
    }
    actions: set[str] = set()
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)] + [tree]
    for function in functions:
        names = _assignments(function)
        for node in ast.walk(function):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name == "audit_record":
                for keyword in node.keywords:
                    if keyword.arg == "action":
                        actions.update(_strings(keyword.value, names))
            elif name in wrappers:
                position, param, prefix = wrappers[name]
                values = [k.value for k in node.keywords if k.arg == param]
                if len(node.args) > position:
                    values.append(node.args[position])
                for value in values:
                    actions.update(prefix + s for s in _strings(value, names))
    return actions


def test_verify_warns_when_old_events_are_not_covered_by_a_checkpoint(agency: Agency) -> None:
    record(2, agency)
    checkpoint()
    later = timezone.now() + timedelta(hours=2)
    record(1, agency)
    with time_machine.travel(later, tick=False):
        audit_checkpoint(chains=[0])  # fresh checkpoints, but not of alpha's newest event
        out = verify_passes("--agency", "alpha")
    assert "Warning: events from #3 on are over an hour old" in out
    with time_machine.travel(later, tick=False):
        checkpoint()
        assert "Warning: events from" not in verify_passes("--agency", "alpha")


def test_one_agencys_check_ignores_bad_checkpoint_lines_of_other_agencies(
    agency: Agency, other_agency: Agency
) -> None:
    record(2, agency)
    record(2, other_agency)
    checkpoint()
    path = checkpoint_file_path()
    bravo = next(json.loads(t) for t in path.read_text().splitlines() if '"bravo"' in t)
    with path.open("a") as handle:
        handle.write(json.dumps({**bravo, "seq": 1}) + "\n")
    verify_passes("--agency", "alpha")
    assert "is not authentic" in verify_fails("--agency", "bravo")


# --- checkpoint lines that cannot be trimmed unnoticed -------------------------------------


def checkpoint_lines() -> list[str]:
    return checkpoint_file_path().read_text().splitlines()


def keep_checkpoint_lines(lines: list[str]) -> None:
    checkpoint_file_path().write_text("".join(line + "\n" for line in lines))


def test_truncated_events_with_the_newest_checkpoint_line_dropped_are_caught(
    agency: Agency,
) -> None:
    record(10, agency)
    checkpoint()
    record(10, agency)
    checkpoint()
    with triggers_dropped():
        raw("DELETE FROM audit_auditevent WHERE chain = %s AND seq > 10", [agency.pk])
    lines = checkpoint_lines()
    assert json.loads(lines[-1])["seq"] == 20
    keep_checkpoint_lines(lines[:-1])
    message = verify_fails()
    assert f"but the checkpoint file ends at #{len(lines) - 1}" in message
    assert "checkpoint lines were removed" in message
    # Dropping the whole newest batch of lines is named the same way.
    keep_checkpoint_lines(lines[:1])
    assert "but the checkpoint file ends at #1" in verify_fails("--agency", "alpha")


def test_deleting_the_checkpoint_file_and_the_newest_events_is_caught(agency: Agency) -> None:
    with time_machine.travel(timezone.now() - timedelta(minutes=20), tick=False):
        record(10, agency)
        checkpoint()
    with triggers_dropped():
        raw("DELETE FROM audit_auditevent WHERE chain = %s AND seq >= 4", [agency.pk])
    checkpoint_file_path().unlink()
    assert "but the checkpoint file is missing or empty" in verify_fails()
    # Removing the database's record of the checkpoint too still leaves old events unanchored.
    with triggers_dropped():
        raw("DELETE FROM audit_auditevent WHERE chain = 0")
    checkpoint_file_path().write_text("")
    message = verify_fails("--agency", "alpha")
    assert "no signed checkpoint although the audit trail holds events older than 15" in message


@pytest.mark.parametrize("change", ["remove", "reorder", "edit"])
def test_removing_reordering_or_editing_a_checkpoint_line_is_named(
    agency: Agency, other_agency: Agency, change: str
) -> None:
    for _ in range(3):
        record(1, agency)
        record(1, other_agency)
        checkpoint()
    lines = checkpoint_lines()
    assert [json.loads(line)["n"] for line in lines] == list(range(1, len(lines) + 1))
    if change == "remove":
        del lines[2]
    elif change == "reorder":
        lines[2], lines[3] = lines[3], lines[2]
    else:
        lines[2] = json.dumps({**json.loads(lines[2]), "at": "2020-01-01T00:00:00+00:00"})
    keep_checkpoint_lines(lines)
    message = verify_fails()
    expected = "is not authentic" if change == "edit" else "does not follow the line before it"
    assert f"checkpoint file line 3 {expected}" in message


def test_a_checkpoint_file_cut_and_written_again_is_caught(agency: Agency) -> None:
    record(3, agency)
    checkpoint()
    record(3, agency)
    checkpoint()
    lines = checkpoint_lines()
    keep_checkpoint_lines(lines[:1])
    checkpoint()  # the worker goes on after the line the database recorded: the gap stays
    assert [json.loads(text)["n"] for text in checkpoint_lines()][:2] == [1, len(lines) + 1]
    assert "checkpoint file line 2 does not follow the line before it" in verify_fails()


def test_each_checkpoint_is_recorded_in_the_deployment_chain(agency: Agency) -> None:
    record(2, agency)
    checkpoint()
    [line] = [json.loads(text) for text in checkpoint_lines()]
    assert (line["n"], line["prev"]) == (1, "0" * 64)
    event = AuditEvent.objects.get(action="audit.checkpoint")
    assert (event.chain, event.detail["line"], event.detail["mac"]) == (0, 1, line["mac"])
    assert "audit.checkpoint" in ACTIONS
    checkpoint()
    second = [json.loads(text) for text in checkpoint_lines()][1:]
    assert second[0]["prev"] == line["mac"]
    assert [p["n"] for p in second] == list(range(2, 2 + len(second)))


def test_the_worker_writes_a_heartbeat_and_verify_fails_when_checkpoints_stop(
    agency: Agency,
) -> None:
    from tandem.audit.checkpoints import audit_checkpoint_job

    record(2, agency)
    audit_checkpoint_job()
    before = len(checkpoint_lines())
    audit_checkpoint_job()  # nothing changed in alpha's chain: a heartbeat all the same
    assert len(checkpoint_lines()) > before
    verify_passes()
    with time_machine.travel(timezone.now() + timedelta(minutes=31), tick=False):
        message = verify_fails("--agency", "alpha")
        assert "The newest signed checkpoint" in message
        assert "older than 30 minutes although the audit trail holds events" in message
        audit_checkpoint_job()
        verify_passes("--agency", "alpha")


def test_a_missing_checkpoint_file_passes_only_while_every_event_is_recent(
    agency: Agency,
) -> None:
    record(2, agency)
    assert "no signed checkpoint yet" in verify_passes()
    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=False):
        assert "older than 15 minutes" in verify_fails()


def test_deploy_check_warns_when_checkpoints_go_only_to_a_local_file(
    settings: Any, tmp_path: Path
) -> None:
    from tandem.audit.checkpoints import check_checkpoint_destination

    settings.VAR_DIR = tmp_path
    settings.TANDEM_AUDIT_CHECKPOINT_FILE = str(tmp_path / "audit-checkpoints.jsonl")
    settings.TANDEM_AUDIT_SYSLOG = ""
    [warning] = check_checkpoint_destination()
    assert (warning.id, "TANDEM_AUDIT_SYSLOG" in warning.hint) == ("tandem.audit.W001", True)
    settings.TANDEM_AUDIT_SYSLOG = "siem.example.org:514"
    assert check_checkpoint_destination() == []
    settings.TANDEM_AUDIT_SYSLOG = ""
    settings.TANDEM_AUDIT_CHECKPOINT_FILE = "/mnt/worm/audit-checkpoints.jsonl"
    assert check_checkpoint_destination() == []


def test_rolling_back_both_the_database_and_the_file_leaves_a_gap_that_is_named(
    agency: Agency,
) -> None:
    now = timezone.now()
    with time_machine.travel(now - timedelta(hours=2), tick=False):
        record(10, agency)
        checkpoint()
    with time_machine.travel(now - timedelta(hours=1, minutes=50), tick=False):
        record(10, agency)
        checkpoint()
    lines = checkpoint_lines()
    kept = [line for line in lines if json.loads(line)["at"] == json.loads(lines[0])["at"]]
    first_record = AuditEvent.objects.filter(action="audit.checkpoint").order_by("seq").first()
    assert first_record is not None
    # Someone with the database and the file removes alpha's #11-#20, the newest lines and
    # every event of the deployment chain that no remaining line covers; the worker goes on.
    with triggers_dropped():
        raw("DELETE FROM audit_auditevent WHERE chain = %s AND seq > 10", [agency.pk])
        raw("DELETE FROM audit_auditevent WHERE chain = 0 AND seq > %s", [first_record.seq])
    keep_checkpoint_lines(kept)
    checkpoint()
    out = verify_passes()
    assert "Agency alpha intact: 10 events" in out
    assert "Warning: signed checkpoints stopped once, between " in out
    assert "checkpoint lines and events were removed" in out
