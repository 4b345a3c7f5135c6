"""Audit trail (X-4, P3): acceptance tests from the user's side."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency, Role
from tandem.audit.checkpoints import audit_checkpoint
from tandem.audit.models import AuditCheckpoint, AuditEvent
from tandem.audit.services import audit_purge, audit_record
from tandem.audit.verify import ALTERED, verify_chain
from tests.platform.support import listing, raw, record, refused, rows, triggers_dropped

pytestmark = pytest.mark.django_db


# ========================================================================================
# 6. Audit trail (X-4, P3)
# Audit trail (issue 2, point 6; X-4, P3): append-only in the database, hash-chained,
# verifiable, purged only after the retention period, readable by auditors only.
#
# Tampering is done the way a malicious database administrator would: switch the triggers
# off (PostgreSQL: ``ALTER TABLE … DISABLE TRIGGER USER``; SQLite: drop and recreate them),
# change rows with raw SQL, switch them back on — and ``tandem audit verify`` must notice.
# ========================================================================================


# --- helpers ------------------------------------------------------------------------------


def verify_fails(batch_size: int = 2000) -> str:
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify", "--batch-size", str(batch_size), stdout=StringIO())
    assert failure.value.returncode == 1
    return str(failure.value)


def verify_passes() -> str:
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


# --- the database refuses changes ---------------------------------------------------------


def test_database_refuses_to_update_an_audit_event() -> None:
    event = record(1)[0]
    assert refused("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["x.y", event.id])
    assert refused("UPDATE audit_auditevent SET purpose = %s", ["cover-up"])
    assert AuditEvent.objects.get(pk=event.pk).action == "member.create"


def test_database_refuses_to_delete_a_recent_audit_event() -> None:
    events = record(2)
    assert refused("DELETE FROM audit_auditevent WHERE id = %s", [events[0].id])
    assert refused("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.count() == 2


def test_orm_cannot_delete_or_change_audit_events_either() -> None:
    event = record(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(outcome="denied")
    assert verify_chain().ok


def test_database_allows_deleting_only_events_older_than_365_days() -> None:
    with time_machine.travel(timezone.now() - timedelta(days=366), tick=False):
        old = record(1)[0]
    recent = record(1)[0]
    assert refused("DELETE FROM audit_auditevent WHERE id = %s", [recent.id])
    assert not refused("DELETE FROM audit_auditevent WHERE id = %s", [old.id])
    # Deleting by hand, without the purge's checkpoint, still shows in the chain.
    assert "Deployment chain broken at event #2: previous-hash mismatch" in verify_fails()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_refuses_truncate_of_the_audit_tables() -> None:
    record(1)
    assert refused("TRUNCATE audit_auditevent")
    assert refused("TRUNCATE audit_auditcheckpoint")
    assert AuditEvent.objects.count() == 1


def test_database_refuses_to_change_or_delete_a_purge_checkpoint() -> None:
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=False):
        record(2)
    audit_purge()
    checkpoint = AuditCheckpoint.objects.get()
    assert refused(
        "UPDATE audit_auditcheckpoint SET through_id = 99 WHERE id = %s", [checkpoint.pk]
    )
    assert refused("DELETE FROM audit_auditcheckpoint WHERE id = %s", [checkpoint.pk])


# --- verification -------------------------------------------------------------------------


def test_intact_chain_verifies_with_a_summary() -> None:
    events = record(5)
    out = verify_passes()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert "Deployment chain intact: 5 events, first #1, last #5" in out


def test_empty_trail_verifies() -> None:
    assert "no events yet" in verify_passes()


def test_verify_reads_in_batches_and_still_finds_the_break() -> None:
    record(9)
    assert verify_chain(batch_size=2).ok
    with triggers_dropped():
        raw("UPDATE audit_auditevent SET object_id = %s WHERE seq = 7", ["999"])
    assert verify_fails(batch_size=2) == f"Deployment chain broken at event #7: {ALTERED}"


def test_altered_row_is_named_by_verify() -> None:
    record(5)
    with triggers_dropped():
        raw("UPDATE audit_auditevent SET action = %s WHERE seq = 3", ["member.edit"])
    assert verify_fails() == f"Deployment chain broken at event #3: {ALTERED}"


def test_altered_outcome_or_time_is_caught_too() -> None:
    record(4)
    with triggers_dropped():
        raw("UPDATE audit_auditevent SET outcome = %s WHERE seq = 2", ["success"])  # unchanged
        raw("UPDATE audit_auditevent SET outcome = %s WHERE seq = 4", ["denied"])
    assert verify_fails() == f"Deployment chain broken at event #4: {ALTERED}"


def test_removed_middle_row_is_named_by_the_next_row() -> None:
    record(5)
    with triggers_dropped():
        raw("DELETE FROM audit_auditevent WHERE seq = 3")
    assert verify_fails() == (
        "Deployment chain broken at event #4: previous-hash mismatch "
        "(event removed or inserted out of order)"
    )


def test_removed_first_row_is_caught() -> None:
    record(3)
    with triggers_dropped():
        raw("DELETE FROM audit_auditevent WHERE seq = 1")
    assert verify_fails().startswith("Deployment chain broken at event #2: previous-hash mismatch")


def test_swapped_rows_are_caught() -> None:
    record(5)
    with triggers_dropped():
        raw("UPDATE audit_auditevent SET seq = -2 WHERE seq = 2")
        raw("UPDATE audit_auditevent SET seq = 2 WHERE seq = 4")
        raw("UPDATE audit_auditevent SET seq = 4 WHERE seq = -2")
    assert verify_fails() == (
        "Deployment chain broken at event #2: previous-hash mismatch "
        "(event removed or inserted out of order)"
    )


def test_row_inserted_with_a_forged_seq_is_caught() -> None:
    events = record(4)
    forged = AuditEvent(
        chain=0,
        seq=10,
        key_id=events[-1].key_id,
        action="member.create",
        occurred_at=timezone.now(),
        prev_hash=events[-1].hash,
        detail={},
    )
    forged.hash = forged.compute_hash(forged.prev_hash)  # even with the audit key itself
    forged.save(force_insert=True)
    assert verify_fails() == (
        "Deployment chain broken at event #10: events #5 to #9 are missing (removed or forged)"
    )


def test_row_inserted_into_a_gap_is_caught() -> None:
    events = record(5)
    with triggers_dropped():
        raw("DELETE FROM audit_auditevent WHERE seq = 3")
        forged = AuditEvent(
            chain=0,
            seq=3,
            key_id=events[2].key_id,
            action="member.create",
            occurred_at=events[2].occurred_at,
            prev_hash=events[1].hash,
            detail={"n": 2},
        )
        forged.hash = forged.compute_hash(forged.prev_hash)
        forged.save(force_insert=True)
    assert verify_fails().startswith("Deployment chain broken at event #4: previous-hash mismatch")


def test_forged_checkpoint_cannot_hide_removed_rows() -> None:
    events = record(5)
    with triggers_dropped():
        raw("DELETE FROM audit_auditevent WHERE seq <= 2")
    AuditCheckpoint.objects.create(
        chain=0,
        through_seq=2,
        through_id=events[1].id,
        through_hash=events[1].hash,
        deleted_count=2,
        cutoff=timezone.now(),
        created_at=timezone.now(),
    )
    assert "no audit.purge event in the chain confirms the purge checkpoint at #2" in verify_fails()


def test_verify_warns_when_the_protection_is_missing() -> None:
    record(2)
    with triggers_dropped():
        with pytest.raises(CommandError) as failure:
            call_command("audit", "verify", stdout=StringIO())
        assert failure.value.returncode == 2
        assert "protection of the audit tables is missing" in str(failure.value)
    verify_passes()


# --- the same-transaction guarantee --------------------------------------------------------


def test_event_recorded_in_a_rolled_back_transaction_leaves_nothing() -> None:
    record(2)

    class Abort(Exception):
        pass

    def change_then_fail() -> None:
        with transaction.atomic():
            audit_record(action="member.update", object_type="agencies.Member", object_id=1)
            raise Abort

    with pytest.raises(Abort):
        change_then_fail()
    assert not AuditEvent.objects.filter(action="member.update").exists()
    after = audit_record(action="member.update")
    assert after.seq == 3
    assert verify_chain().ok


# --- retention purge ----------------------------------------------------------------------


def test_purge_removes_only_events_older_than_a_year_and_the_chain_still_verifies() -> None:
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=500), tick=False):
        record(3)
    with time_machine.travel(now - timedelta(days=366), tick=False):
        record(2)
    with time_machine.travel(now - timedelta(days=200), tick=False):
        kept = record(2)
    record(1)
    out = StringIO()
    call_command("audit", "purge", stdout=out)
    assert "Deleted 5 events" in out.getvalue()
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == [6, 7, 8, 9]
    assert AuditEvent.objects.filter(pk=kept[0].pk).exists()
    checkpoint = AuditCheckpoint.objects.get()
    assert (checkpoint.through_seq, checkpoint.deleted_count) == (5, 5)
    purge = AuditEvent.objects.get(action="audit.purge")
    assert purge.detail["through_seq"] == 5
    audit_checkpoint()  # the worker's periodic checkpoint (the trail holds old events)
    assert "Deployment chain intact: 5 events, first #6, last #10" in verify_passes()
    # A second purge has nothing to do, and new events keep extending the chain.
    call_command("audit", "purge", stdout=StringIO())
    assert AuditCheckpoint.objects.count() == 1
    record(1)
    assert verify_chain().ok


def test_purge_of_every_event_keeps_the_chain_going_from_the_checkpoint() -> None:
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=False):
        record(3)
    result = audit_purge()
    assert (result.deleted, result.through_seq) == (3, 3)
    purge = AuditEvent.objects.get()
    assert (purge.seq, purge.action) == (4, "audit.purge")
    assert verify_chain().ok


def test_purge_keeps_events_within_the_agencys_longer_retention(agency: Agency) -> None:
    assert agency.policy["retention"]["audit_days"] > 400
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=False):
        record(2)
    result = audit_purge()
    assert (result.deleted, result.retention_days) == (0, agency.policy["retention"]["audit_days"])
    assert AuditEvent.objects.count() == 2


def test_purge_dry_run_deletes_nothing() -> None:
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=False):
        record(2)
    out = StringIO()
    call_command("audit", "purge", "--dry-run", stdout=out)
    assert "2 events from before" in out.getvalue()
    assert AuditEvent.objects.count() == 2


def test_purge_with_a_clock_running_ahead_is_refused_by_the_database() -> None:
    record(2)
    ahead = time_machine.travel(timezone.now() + timedelta(days=800), tick=False)
    with ahead, pytest.raises(CommandError, match="refused the purge"):
        call_command("audit", "purge", stdout=StringIO())
    assert AuditEvent.objects.count() == 2
    assert not AuditCheckpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_test_database_reset_still_works_with_audit_events() -> None:
    """Transactional tests (live server, browser) end with ``flush``; it must not trip."""
    record(2)
    assert AuditEvent.objects.count() == 2


# --- the auditor's screen -----------------------------------------------------------------


@pytest.mark.parametrize("role", [r.value for r in Role if r != Role.AUDITOR] + ["nobody"])
def test_everyone_but_the_auditor_gets_not_found(
    role: str, cast: dict[str, User], trail: dict[str, AuditEvent], signed_in: Callable[..., Any]
) -> None:
    client = signed_in(cast[role])
    assert client.get(reverse("audit:event_list")).status_code == 404
    assert client.get(reverse("audit:event_detail", args=[trail["view"].seq])).status_code == 404
    assert client.post(reverse("audit:verify")).status_code == 404
    denied = AuditEvent.objects.filter(action__startswith="audit.", actor_id=cast[role].pk)
    assert set(denied.values_list("outcome", flat=True)) == {"denied"}


def test_auditor_sees_own_agency_events_newest_first_and_viewing_is_audited(
    cast: dict[str, User], trail: dict[str, AuditEvent], signed_in: Callable[..., Any]
) -> None:
    html = listing(signed_in(cast["auditor"]))
    assert html.index("policy.update") < html.index("member.import")
    assert rows(html) == 3  # Alpha's three events, not Bravo's
    assert AuditEvent.objects.filter(action="audit.view", actor_id=cast["auditor"].pk).exists()


def test_auditor_of_another_agency_sees_none_of_alphas_events(
    trail: dict[str, AuditEvent], stranger: User, signed_in: Callable[..., Any]
) -> None:
    client = signed_in(stranger)
    html = listing(client)
    assert rows(html) == 1
    assert f"/audit/events/{trail['bravo'].seq}/" in html
    # Events are numbered per agency: Bravo's numbers only ever open Bravo's own events.
    for key in ("older", "view", "denied"):
        response = client.get(reverse("audit:event_detail", args=[trail[key].seq]))
        assert trail[key].hash not in response.content.decode()
    for missing in (trail["denied"].seq + 10, 999):
        assert client.get(reverse("audit:event_detail", args=[missing])).status_code == 404
    denied = AuditEvent.objects.filter(actor_id=stranger.pk, action="audit.view", outcome="denied")
    assert denied.count() == 2
    assert set(denied.values_list("agency_id", flat=True)) == {stranger.agency_id}


def test_auditor_filters_the_trail(
    cast: dict[str, User], trail: dict[str, AuditEvent], signed_in: Callable[..., Any]
) -> None:
    client = signed_in(cast["auditor"])
    assert rows(listing(client, action="policy.")) == 1
    assert rows(listing(client, outcome="denied")) == 1
    assert rows(listing(client, actor="administrator")) == 1
    assert rows(listing(client, object_type="agencies.Member", object_id="7")) == 1
    today = timezone.now().date()
    assert rows(listing(client, action="member", date_to=str(today - timedelta(days=5)))) == 1
    assert rows(listing(client, action="member", date_from=str(today - timedelta(days=1)))) == 1
    html = listing(client, date_from=str(today), date_to=str(today - timedelta(days=1)))
    assert "The end date is before the start date." in html
    assert rows(html) == 0


def test_auditor_opens_one_event(
    cast: dict[str, User], trail: dict[str, AuditEvent], signed_in: Callable[..., Any]
) -> None:
    response = signed_in(cast["auditor"]).get(
        reverse("audit:event_detail", args=[trail["view"].seq])
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "member.create" in html
    assert trail["view"].hash in html
    assert AuditEvent.objects.filter(action="audit.view", object_id=str(trail["view"].seq)).exists()


def test_auditor_verifies_the_chain_from_the_screen(
    cast: dict[str, User], trail: dict[str, AuditEvent], signed_in: Callable[..., Any]
) -> None:
    client = signed_in(cast["auditor"])
    audit_checkpoint()  # the worker's periodic checkpoint (the trail holds old events)
    response = client.post(reverse("audit:verify"), HTTP_HX_REQUEST="true")
    assert "Agency alpha intact" in response.content.decode()
    assert "<html" not in response.content.decode()
    with triggers_dropped():
        raw("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["x.y", trail["view"].pk])
    html = client.post(reverse("audit:verify")).content.decode()
    seq = trail["view"].seq
    assert f"Agency alpha broken at event #{seq}: content does not match its MAC" in html
    assert AuditEvent.objects.filter(action="audit.verify").count() == 2


def test_audit_list_is_keyset_paginated_with_a_fixed_query_count(
    cast: dict[str, User], signed_in: Callable[..., Any]
) -> None:
    client = signed_in(cast["auditor"])
    record(3, actor=cast["coordinator"])
    listing(client)  # the session is written once per five-minute bucket, not per page
    with CaptureQueriesContext(connection) as few:
        listing(client)
    record(70, actor=cast["coordinator"])
    with CaptureQueriesContext(connection) as many:
        html = listing(client)
    assert len(many) == len(few)
    assert rows(html) == 50
    assert "Older events" in html
    last_shown = min(int(p.split("/")[0]) for p in html.split('href="/audit/events/')[1:])
    older = listing(client, before=last_shown)
    alpha = AuditEvent.objects.filter(chain=cast["auditor"].agency_id, seq__lt=last_shown)
    assert rows(older) == min(50, alpha.count())
    assert "Newer events" in older
