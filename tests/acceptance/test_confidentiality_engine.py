"""Shredding that survives the database engine (issue 10, finding 4).

The adversary is the operator: every byte the database engine keeps (PostgreSQL heap pages
with their dead tuples and the write-ahead log; SQLite's file, its rollback journal and a
``tandem backup`` copy) and every key file still on disk afterwards (the master key file
and the epoch key files that were not yet destroyed). The tests make peer-support requests
through the real services, close some, let the epoch rotation job run on a frozen clock,
then extract every wrapped data key and every sealed value found in those bytes and try
to open each with every key the operator holds. Closed requests must stay closed; an open
request (positive control) must still open, so the search is shown to work.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils.module_loading import import_string

from tandem.audit.models import AuditEvent
from tandem.core import crypto, epochs, jobs
from tandem.core.models import DataKey, EnvelopeEncrypted
from tandem.support import services
from tandem.support.models import SupportRequest
from tests.conftest import make_agency, make_user
from tests.helpers import MIGRATED_SQLITE, child_env, python_output

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
USAGE = {
    "gender": "female",
    "member_category": "sworn",
    "duration_bucket": "15_60",
    "services": ["listening"],
}
CLOSED = ("Closed-Early-Quillon", "Withdrawn-Marisol", "Closed-Late-Bartholomew")
OPEN = ("Open-Still-Ignatius", "Open-Still-Perpetua")
ROTATION_JOB = "tandem.core.epochs.epoch_rotate_if_due"


@pytest.fixture(autouse=True)
def _own_epoch_dir(settings: Any, tmp_path: Path) -> None:
    settings.TANDEM_EPOCH_KEY_DIR = str(tmp_path / "epoch-keys")
    settings.TANDEM_EPOCH_HOURS = 6


# --- The operator's attack: find every wrapped key and sealed value, try every key ----------

WRAPPED_RE = re.compile(re.escape(crypto.EPOCH_WRAP_TAG) + rb".{60}", re.DOTALL)
SEALED_RE = re.compile(
    rb"v1:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):([A-Za-z0-9_-]{16,}):"
    rb"([A-Za-z0-9_-]{16,})"
)


def sealed_field_contexts() -> list[str]:
    return [
        f"{model._meta.label_lower}.{name}"
        for model in apps.get_models()
        if issubclass(model, EnvelopeEncrypted)
        for name in model.encrypted_field_names()
    ]


class Harvest:
    """Every wrapped data key and every sealed value found in some bytes."""

    def __init__(self, chunks: Iterable[bytes] = ()) -> None:
        self.blobs: set[bytes] = set()
        self.tokens: set[str] = set()
        for chunk in chunks:
            self.add(chunk)

    def add(self, chunk: bytes) -> Harvest:
        self.blobs.update(m.group(0) for m in WRAPPED_RE.finditer(chunk))
        self.tokens.update(m.group(0).decode() for m in SEALED_RE.finditer(chunk))
        return self

    def holds(self, blob: bytes) -> bool:
        return blob in self.blobs


def reopen(
    found: Harvest | Iterable[bytes],
    known: dict[str, str],
    masters: list[crypto.MasterKey],
    epoch_keys: list[epochs.EpochKey],
) -> list[str]:
    """Every plaintext the operator can recover: each wrapped key found is tried against
    every known data key id (rows survive shredding) with every master key and every
    remaining epoch key; each sealed value found is then tried with every key so
    recovered, in every encrypted field's context."""
    found = found if isinstance(found, Harvest) else Harvest(found)
    opened: dict[str, bytes] = {}
    for blob in found.blobs:
        for key_id, purpose in known.items():
            for master in masters:
                for epoch in epoch_keys:
                    try:
                        opened[key_id] = crypto.unwrap_epoch_blob(
                            blob, data_key_id=key_id, purpose=purpose, master=master, epoch=epoch
                        )
                    except crypto.DecryptionFailed:
                        continue
    plaintexts = []
    contexts = sealed_field_contexts()
    for token in found.tokens:
        key_id = crypto.token_data_key_id(token)
        if key_id not in opened:
            continue
        data_key = DataKey(id=uuid.UUID(key_id), purpose=known[key_id])
        data_key.remember_plain_key(opened[key_id])
        for candidate in _trimmed(token):
            for context in contexts:
                try:
                    plaintexts.append(crypto.unseal(data_key, candidate, aad=context))
                except crypto.DecryptionFailed:
                    continue
    return plaintexts


def _trimmed(token: str) -> Iterator[str]:
    """A token found in raw bytes may run on into the next column's characters: try every
    length a padded ciphertext can have (a multiple of the pad block plus the GCM tag)."""
    head, body = token.rsplit(":", 1)
    for length in range(len(body), 21, -1):
        if length % 4 != 1 and (length * 3 // 4) % crypto.PAD_BLOCK == 16:
            yield f"{head}:{body[:length]}"


def names_in(plaintexts: list[str], names: Iterable[str]) -> set[str]:
    return {name for name in names if any(name in text for text in plaintexts)}


def remaining_epoch_keys(directory: Path) -> list[epochs.EpochKey]:
    return [epochs.read_epoch_file(path) for path in sorted(directory.glob("*.key"))]


# --- The story: requests made, closed, and the rotation job running over 18 hours -----------


def _requester(user: Any, name: str) -> dict[str, Any]:
    # What the help page seals for a member asking for themselves (never their account).
    return {"kind": "member", "member_id": user.member_id, "name": name, "phone": "+1 555 0142"}


def run_epoch_flow(
    *,
    probe_after_first_close: Callable[[], list[str]] | None = None,
    on_shred: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Five members ask; at +1 h one request is closed and one withdrawn, at +6 h 5 min a
    third is closed; the rotation job runs every 10 minutes until +18 h 10 min. Returns the
    wrapped keys the closed requests had when they were shredded, for the search."""
    from tests.peer_support.support import make_supporter, rotation

    agency = make_agency("epoch", "Epoch PD")
    coordinator = make_user(agency, "ecoord", "coordinator")
    pia = make_supporter(agency, "epia", phone="+1 555 0111")
    ben = make_supporter(agency, "eben", phone="+1 555 0122", sworn=False)
    with time_machine.travel(T0 - timedelta(days=2), tick=False):
        rotation(agency, coordinator, "primary", [pia], hours=24 * 7)
        rotation(agency, coordinator, "backup", [ben], hours=24 * 7)
    if on_shred is not None:
        real_shred = crypto.crypto_shred

        def shred_and_watch(**kwargs: Any) -> Any:
            done = real_shred(**kwargs)
            on_shred()
            return done

        crypto.crypto_shred = shred_and_watch  # type: ignore[assignment]
    job = import_string(ROTATION_JOB)
    out: dict[str, Any] = {"closed_blobs": [], "reopened_before": []}
    try:
        with time_machine.travel(T0, tick=False) as clock:
            asked: dict[str, tuple[Any, int]] = {}
            for number, name in enumerate(CLOSED + OPEN):
                user = make_user(agency, f"emember{number}", "member")
                request, _ = services.request_create(
                    acting_user=None,
                    agency=agency,
                    idempotency_key=f"epoch-{number}",
                    channel="self_request",
                    urgency="now",
                    contact_method="phone",
                    requester=_requester(user, name),
                    status_digest=services.status_code_digest(f"epoch-code-{number}"),
                )
                asked[name] = (user, request.pk)
            out["all_epoch_wrapped"] = all(
                DataKey.objects.get(pk=SupportRequest.objects.get(pk=pk).data_key_id).epoch_id
                for _, pk in asked.values()
            )
            clock.shift(timedelta(hours=1))
            for name in (CLOSED[0], CLOSED[2], *OPEN):
                services.request_accept(
                    acting_user=pia, request=SupportRequest.objects.get(pk=asked[name][1])
                )
            _close(out, asked[CLOSED[0]][1], pia)
            _close(out, asked[CLOSED[1]][1], asked[CLOSED[1]][0], withdraw=True)
            if probe_after_first_close is not None:
                out["reopened_before"] = probe_after_first_close()
            for _ in range(31):  # to +6 h 10 min: the first rotation happened at +6 h
                clock.shift(timedelta(minutes=10))
                job()
            _close(out, asked[CLOSED[2]][1], pia)
            for _ in range(72):  # to +18 h 10 min
                clock.shift(timedelta(minutes=10))
                job()
    finally:
        if on_shred is not None:
            crypto.crypto_shred = real_shred  # type: ignore[assignment]
    out["open_still_readable"] = sorted(
        SupportRequest.objects.get(pk=asked[name][1]).requester["name"] for name in OPEN
    )
    return out


def _close(out: dict[str, Any], pk: int, actor: Any, *, withdraw: bool = False) -> None:
    request = SupportRequest.objects.select_related("data_key").get(pk=pk)
    out["closed_blobs"].append(bytes(request.data_key.wrapped_key).hex())
    if withdraw:
        services.request_withdraw(acting_user=None, request=request)
        return
    request = services.request_contact(acting_user=actor, request=request, notice_given=True)
    services.request_close(acting_user=actor, request=request, usage=USAGE)


# --- PostgreSQL: heap pages (dead tuples included) and the write-ahead log -----------------


def _pg_one(sql: str, params: list[Any] | None = None) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()[0]


def _pg_ready() -> Path:
    """The pg_wal directory, or a skip saying why the raw storage cannot be read."""
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL heap pages and WAL")
    if not _pg_one("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"):
        pytest.skip("pageinspect, CHECKPOINT and the data directory need a superuser")
    try:
        with connection.cursor() as cursor:
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pageinspect")
    except Exception as exc:  # noqa: BLE001 - any failure means: cannot inspect pages
        pytest.skip(f"the pageinspect extension is not available: {exc}")
    if _pg_one("SHOW wal_compression") not in ("off", "false"):
        pytest.skip("wal_compression is on: full-page images cannot be searched as bytes")
    wal = Path(_pg_one("SHOW data_directory")) / "pg_wal"
    try:
        next(wal.iterdir())
    except (OSError, StopIteration) as exc:
        pytest.skip(f"the WAL directory {wal} cannot be read by this user: {exc}")
    return wal


def _heap_pages(table: str) -> list[bytes]:
    pages = _pg_one("SELECT pg_relation_size(%s::regclass) / 8192", [table])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT get_raw_page(%s, 'main', n) FROM generate_series(0, %s - 1) AS n",
            [table, pages],
        )
        return [bytes(row[0]) for row in cursor.fetchall()]


def _dead_tuples(table: str) -> int:
    return _pg_one(
        "SELECT count(*) FROM generate_series(0, pg_relation_size(%s::regclass) / 8192 - 1) n,"
        " heap_page_items(get_raw_page(%s, 'main', n::int)) items"
        " WHERE items.t_xmax <> '0'::xid AND items.lp_len > 0",
        [table, table],
    )


def _harvest_wal(found: Harvest, wal: Path, first_segment: str) -> Harvest:
    """WAL segments from the one the test began in (recycled ones included): raw, and with
    the page headers cut out so a record crossing a page boundary is contiguous again."""
    for path in sorted(wal.iterdir()):
        if not re.fullmatch(r"[0-9A-F]{24}", path.name) or path.name < first_segment:
            continue
        raw = path.read_bytes()
        pages = [raw[i : i + 8192] for i in range(0, len(raw), 8192)]
        found.add(raw).add(b"".join(page[40 if n == 0 else 24 :] for n, page in enumerate(pages)))
    return found


def _harvest_heap(found: Harvest) -> Harvest:
    for page in _heap_pages("core_datakey") + _heap_pages("support_supportrequest"):
        found.add(page)
    return found


def _known_pg() -> dict[str, str]:
    return {str(pk): purpose for pk, purpose in DataKey.objects.values_list("id", "purpose")}


@pytest.mark.django_db(transaction=True)
def test_postgresql_heap_and_wal_reopen_no_closed_request_once_its_epoch_is_destroyed(
    settings: Any,
) -> None:
    wal = _pg_ready()
    first_segment = _pg_one("SELECT pg_walfile_name(pg_current_wal_lsn())")
    directory = Path(settings.TANDEM_EPOCH_KEY_DIR)
    masters = list(crypto.master_keys().keys)

    def probe() -> list[str]:
        found = _harvest_heap(_harvest_wal(Harvest(), wal, first_segment))
        return reopen(found, _known_pg(), masters, remaining_epoch_keys(directory))

    out = run_epoch_flow(probe_after_first_close=probe)
    assert out["all_epoch_wrapped"]
    assert out["open_still_readable"] == sorted(OPEN)
    # Before its epoch was destroyed, the WAL did give the first closed identity back:
    # the search below is the one that would have found it.
    assert CLOSED[0] in names_in(out["reopened_before"], CLOSED)

    found = _harvest_wal(Harvest(), wal, first_segment)  # before a checkpoint recycles it
    with connection.cursor() as cursor:
        cursor.execute("CHECKPOINT")
    _harvest_heap(_harvest_wal(found, wal, first_segment))
    assert _dead_tuples("core_datakey") + _dead_tuples("support_supportrequest") > 0
    # The material is there: each closed request's wrapped key, as it was when shredded.
    for blob in out["closed_blobs"]:
        assert found.holds(bytes.fromhex(blob)), blob[:16]
    left = remaining_epoch_keys(directory)
    assert len(left) == 2
    plaintexts = reopen(found, _known_pg(), masters, left)
    assert names_in(plaintexts, CLOSED) == set()
    assert names_in(plaintexts, OPEN) == set(OPEN)  # positive control


# --- SQLite: the database file, its journal and a `tandem backup` copy ---------------------

SQLITE_SCRIPT = (
    MIGRATED_SQLITE
    + r"""
import shutil
from pathlib import Path
from tests.acceptance import test_confidentiality_engine as t
db, copies, backup = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
copies.mkdir()
with connection.cursor() as cursor:
    cursor.execute("PRAGMA journal_mode")
    mode = cursor.fetchone()[0]

def keep_journal():
    # The rollback journal exists only inside the write transaction; this copy stands for
    # its bytes left behind by the file system (or a crash) after it was deleted.
    journal = Path(str(db) + "-journal")
    if journal.exists():
        shutil.copyfile(journal, copies / f"{len(list(copies.iterdir()))}.journal")

def probe():
    return t.reopen([p.read_bytes() for p in copies.iterdir()], t.known_sqlite(db),
                    list(t.crypto.master_keys().keys),
                    t.remaining_epoch_keys(Path(settings.TANDEM_EPOCH_KEY_DIR)))

out = t.run_epoch_flow(probe_after_first_close=probe, on_shred=keep_journal)
call_command("backup", str(backup))
connection.close()
out["journal_mode"] = mode
print(json.dumps(out))
"""
)


def known_sqlite(db_path: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
        rows = db.execute("SELECT id, purpose FROM core_datakey").fetchall()
    return {str(uuid.UUID(key_id)): purpose for key_id, purpose in rows}


def test_sqlite_file_journal_and_backup_reopen_no_closed_request_once_its_epoch_is_destroyed(
    tmp_path: Path,
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("reads the bytes of a SQLite database file")
    db_path, copies, backup = tmp_path / "t.sqlite3", tmp_path / "journals", tmp_path / "b.db"
    master = crypto.generate_master_key_line("engine-test")
    env = child_env(
        TANDEM_SQLITE_PATH=str(db_path),
        TANDEM_VAR_DIR=str(tmp_path),
        TANDEM_MASTER_KEYS=master,
        TANDEM_EPOCH_KEY_DIR=str(tmp_path / "epochs"),
    )
    args = [str(db_path), str(copies), str(backup)]
    out = json.loads(python_output(env, "-c", SQLITE_SCRIPT, *args, timeout=600).splitlines()[-1])
    assert out["journal_mode"] == "delete"
    assert out["all_epoch_wrapped"]
    assert out["open_still_readable"] == sorted(OPEN)
    assert CLOSED[0] in names_in(out["reopened_before"], CLOSED)  # the search works

    assert not Path(str(db_path) + "-wal").exists()
    assert not Path(str(db_path) + "-journal").exists()
    main, copy = db_path.read_bytes(), backup.read_bytes()
    journals = [path.read_bytes() for path in sorted(copies.iterdir())]
    assert journals
    for blob in map(bytes.fromhex, out["closed_blobs"]):
        # secure_delete: not even the dead wrapped key is left in the file or the backup ...
        assert blob not in main
        assert blob not in copy
        # ... but a journal left behind holds it, which is what the epoch is for.
        assert any(blob in journal for journal in journals)
    masters = list(crypto.parse_master_keys([master], source="test").keys)
    left = remaining_epoch_keys(tmp_path / "epochs")
    assert len(left) == 2
    plaintexts = reopen([main, copy, *journals], known_sqlite(db_path), masters, left)
    assert names_in(plaintexts, CLOSED) == set()
    assert names_in(reopen([main], known_sqlite(db_path), masters, left), OPEN) == set(OPEN)
    assert names_in(reopen([copy], known_sqlite(db_path), masters, left), OPEN) == set(OPEN)


# --- Rotation safety -----------------------------------------------------------------------


def _open_requests(count: int) -> list[int]:
    agency = make_agency("rot", "Rotation PD")
    made = []
    for number in range(count):
        user = make_user(agency, f"rmember{number}", "member")
        request, _ = services.request_create(
            acting_user=None,
            agency=agency,
            idempotency_key=f"rot-{number}",
            channel="self_request",
            urgency="today",
            contact_method="phone",
            requester=_requester(user, f"Open-{number}"),
        )
        made.append(request.pk)
    return made


def _names(pks: list[int]) -> list[str]:
    return [
        SupportRequest.objects.select_related("data_key").get(pk=pk).requester["name"] for pk in pks
    ]


CLOCK_START = T0  # where the shared ``clock`` fixture stops time


def test_rotations_and_a_long_outage_never_lose_an_open_request(clock: Any) -> None:
    pks = _open_requests(4)
    first = epochs.list_epochs()
    assert len(first) == 1
    clock.shift(timedelta(days=3))  # the worker was down for three days
    result = epochs.epoch_rotate_if_due()
    assert (result.rotated, result.rewrapped, result.destroyed) == (True, 4, 0)
    for _ in range(5):
        epochs.epoch_rotate(force=True)
        assert _names(pks) == [f"Open-{n}" for n in range(4)]
    assert len(epochs.list_epochs()) == 2
    assert first[0].epoch_id not in {e.epoch_id for e in epochs.list_epochs()}
    current = epochs.list_epochs()[-1].epoch_id
    assert set(
        DataKey.objects.filter(shredded_at__isnull=True).values_list("epoch_id", flat=True)
    ) == {current}


def test_an_epoch_whose_keys_cannot_be_rewrapped_is_kept_until_they_can(
    clock: Any, settings: Any
) -> None:
    pks = _open_requests(1)
    epochs.epoch_rotate(force=True)
    configured = settings.TANDEM_MASTER_KEYS
    stuck = DataKey.objects.get(pk=SupportRequest.objects.get(pk=pks[0]).data_key_id)
    settings.TANDEM_MASTER_KEYS = crypto.generate_master_key_line("other")  # its master is gone
    result = epochs.epoch_rotate(force=True)
    assert result.unreadable == 1
    assert stuck.epoch_id in {e.epoch_id for e in epochs.list_epochs()}
    result = epochs.epoch_rotate(force=True)
    assert (result.kept, result.destroyed) == (1, 0)
    assert stuck.epoch_id in {e.epoch_id for e in epochs.list_epochs()}
    settings.TANDEM_MASTER_KEYS = configured  # the master key is back
    result = epochs.epoch_rotate(force=True)
    assert (result.rewrapped, result.unreadable, result.destroyed) == (1, 0, 2)
    assert stuck.epoch_id not in {e.epoch_id for e in epochs.list_epochs()}
    assert _names(pks) == ["Open-0"]


def _straggler_under(epoch: epochs.EpochKey, monkeypatch: Any) -> int:
    """A request made by a web process that listed the epochs just before a rotation."""
    with monkeypatch.context() as patch:
        patch.setattr(epochs, "current_epoch", lambda: epoch)
        [pk] = _more(1)
    return pk


def _more(count: int) -> list[int]:
    agency = SupportRequest.objects.first().agency
    made = []
    for _ in range(count):
        user = make_user(agency, f"late{uuid.uuid4().hex[:6]}", "member")
        request, _ = services.request_create(
            acting_user=None,
            agency=agency,
            idempotency_key=uuid.uuid4().hex,
            channel="self_request",
            urgency="today",
            contact_method="phone",
            requester=_requester(user, "Straggler"),
        )
        made.append(request.pk)
    return made


def test_a_straggler_under_the_previous_epoch_is_rewrapped_before_that_epoch_is_destroyed(
    clock: Any, monkeypatch: Any
) -> None:
    _open_requests(2)
    previous = epochs.list_epochs()[-1]
    epochs.epoch_rotate(force=True)  # previous is now the previous epoch
    straggler = _straggler_under(previous, monkeypatch)
    assert (
        DataKey.objects.get(pk=SupportRequest.objects.get(pk=straggler).data_key_id).epoch_id
        == previous.epoch_id
    )
    result = epochs.epoch_rotate(force=True)  # previous is now older than the previous one
    assert result.destroyed == 1
    assert previous.epoch_id not in {e.epoch_id for e in epochs.list_epochs()}
    assert _names([straggler]) == ["Straggler"]


def test_a_straggler_arriving_during_the_rotation_is_caught_by_the_check_before_destroying(
    clock: Any, monkeypatch: Any
) -> None:
    _open_requests(1)
    oldest = epochs.list_epochs()[-1]
    epochs.epoch_rotate(force=True)
    real = epochs._rewrap_all
    late: list[int] = []

    def rewrap_then_straggle(current: Any, batch_size: int) -> Any:
        done = real(current, batch_size)
        late.append(_straggler_under(oldest, monkeypatch))  # after the sweep, before destroy
        return done

    monkeypatch.setattr(epochs, "_rewrap_all", rewrap_then_straggle)
    result = epochs.epoch_rotate(force=True)
    assert (result.stragglers, result.destroyed) == (1, 1)
    assert oldest.epoch_id not in {e.epoch_id for e in epochs.list_epochs()}
    assert _names(late) == ["Straggler"]


def test_a_closed_request_under_a_destroyed_epoch_reads_as_shredded_even_from_an_old_row(
    clock: Any,
) -> None:
    [pk] = _open_requests(1)
    old_row = DataKey.objects.get(pk=SupportRequest.objects.get(pk=pk).data_key_id)
    for _ in range(2):
        epochs.epoch_rotate(force=True)
    # An old copy of the row (as a backup would hold it) names an epoch that is gone.
    with pytest.raises(crypto.EpochKeyUnavailable):
        crypto.unwrap_data_key(old_row)
    assert _names([pk]) == ["Open-0"]  # the live row was re-wrapped and still opens


def test_only_peer_support_keys_are_epoch_wrapped_and_need_both_keys(settings: Any) -> None:
    psp = crypto.new_data_key(purpose="psp.delivery")
    other = crypto.new_data_key(purpose="prp.client")
    assert psp.epoch_id
    assert not other.epoch_id
    stored = DataKey.objects.get(pk=psp.pk)
    assert bytes(stored.wrapped_key).startswith(crypto.EPOCH_WRAP_TAG)
    assert crypto.unwrap_data_key(stored) == psp.plain_key()
    epoch = epochs.epoch_key(stored.epoch_id)
    master = crypto.master_keys().current
    alone = [
        (master, epochs.EpochKey(epoch.epoch_id, epoch.created_at, master.key)),
        (crypto.MasterKey(master.key_id, epoch.key), epoch),
    ]
    for wrong_master, wrong_epoch in alone:
        with pytest.raises(crypto.DecryptionFailed):
            crypto.unwrap_epoch_blob(
                bytes(stored.wrapped_key),
                data_key_id=stored.pk,
                purpose=stored.purpose,
                master=wrong_master,
                epoch=wrong_epoch,
            )


def test_shredding_forgets_the_epoch_and_the_wrapped_key() -> None:
    data_key = crypto.new_data_key(purpose="psp.request")
    crypto.crypto_shred(data_key=data_key, reason="request closed")
    row = DataKey.objects.get(pk=data_key.pk)
    assert (row.wrapped_key, row.epoch_id) == (None, "")


# --- Key files on disk ---------------------------------------------------------------------


def test_epoch_key_directory_and_files_are_owner_only_and_created_on_first_use(
    settings: Any,
) -> None:
    directory = Path(settings.TANDEM_EPOCH_KEY_DIR)
    assert not directory.exists()
    crypto.new_data_key(purpose="psp.request")
    assert directory.stat().st_mode & 0o777 == 0o700
    [key_file] = directory.glob("*.key")
    assert key_file.stat().st_mode & 0o777 == 0o600
    directory.chmod(0o755)
    with pytest.raises(epochs.EpochKeyError, match="chmod 700"):
        crypto.new_data_key(purpose="psp.request")
    directory.chmod(0o700)


def test_a_destroyed_epoch_key_is_overwritten_before_it_is_unlinked(
    settings: Any, tmp_path: Path
) -> None:
    epoch = epochs.create_epoch()
    path = Path(settings.TANDEM_EPOCH_KEY_DIR) / f"{epoch.epoch_id}.key"
    other_name = tmp_path / "same-inode"
    os.link(path, other_name)  # what a file-level copy of the same blocks would still see
    epochs.destroy_epoch_file(epoch.epoch_id)
    assert not path.exists()
    left = other_name.read_bytes()
    assert base64.b64encode(epoch.key) not in left
    assert b"tandem-epoch-key" not in left
    with pytest.raises(crypto.EpochKeyUnavailable):
        epochs.epoch_key(epoch.epoch_id)


def test_processes_forget_epoch_keys_destroyed_by_another_process(settings: Any) -> None:
    epoch = epochs.create_epoch()
    assert epochs.epoch_key(epoch.epoch_id) == epoch
    (Path(settings.TANDEM_EPOCH_KEY_DIR) / f"{epoch.epoch_id}.key").unlink()  # the worker
    epochs.list_epochs()
    assert not [k for k in epochs._cache if k[1] == epoch.epoch_id]


# --- The job, the command and the audit trail ----------------------------------------------


def test_the_worker_runs_the_rotation_check_often_enough_for_the_24_hour_promise(
    settings: Any,
) -> None:
    [interval] = [i for i, path in jobs.PERIODIC if path == ROTATION_JOB]
    bound = 2 * (timedelta(hours=settings.TANDEM_EPOCH_HOURS) + interval)
    assert bound < timedelta(hours=24)
    with time_machine.travel(T0, tick=False):
        crypto.new_data_key(purpose="psp.request")
    with time_machine.travel(T0 + timedelta(hours=6, minutes=1), tick=False):
        assert ROTATION_JOB in jobs.run_due_periodic()
    assert len(epochs.list_epochs()) == 2


def test_keys_status_and_rotate_epoch_show_epochs_and_audit_counts_only(
    clock: Any, capsys: Any
) -> None:
    pks = _open_requests(2)
    call_command("keys", "rotate-epoch")
    assert "re-wrapped 2 data key(s)" in capsys.readouterr().out
    call_command("keys", "rotate-epoch")
    out = capsys.readouterr().out
    assert "destroyed 1 old epoch key(s)" in out
    call_command("keys", "status")
    out = capsys.readouterr().out
    current, previous = epochs.list_epochs()[::-1]
    assert f"Epoch {current.epoch_id} (current, 0.0 h old): 2 live data key(s)" in out
    assert f"Epoch {previous.epoch_id} (previous" in out
    events = list(AuditEvent.objects.filter(action="crypto.epoch_rotate").order_by("id"))
    assert [e.detail["rewrapped"] for e in events] == [2, 2]
    assert [e.detail["destroyed"] for e in events] == [0, 1]
    text = json.dumps([e.canonical() for e in events])
    for epoch in (current, previous):
        assert epoch.epoch_id not in text
    for pk in pks:
        assert str(SupportRequest.objects.get(pk=pk).data_key_id) not in text
    # A key under a destroyed epoch (lost directory, wrong TANDEM_EPOCH_KEY_DIR) is loud.
    DataKey.objects.filter(pk=SupportRequest.objects.get(pk=pks[0]).data_key_id).update(
        epoch_id="ep-0000000000000000"
    )
    with pytest.raises(CommandError, match="epoch keys that are not in the epoch key dir"):
        call_command("keys", "status")
    assert "UNREADABLE" in capsys.readouterr().out


def test_existing_peer_support_keys_under_the_master_key_alone_move_to_an_epoch(
    settings: Any,
) -> None:
    data_key = crypto.new_data_key(purpose="psp.request")
    plain = data_key.plain_key()
    legacy = crypto.wrap_data_key(
        plain, data_key_id=data_key.pk, purpose="psp.request", master=crypto.master_keys().current
    )
    DataKey.objects.filter(pk=data_key.pk).update(wrapped_key=legacy, epoch_id="")
    assert crypto.unwrap_data_key(DataKey.objects.get(pk=data_key.pk)) == plain
    assert epochs.epoch_status().not_epoch_wrapped == 1
    epochs.epoch_rotate(force=True)
    moved = DataKey.objects.get(pk=data_key.pk)
    assert moved.epoch_id
    assert crypto.unwrap_data_key(moved) == plain


def test_master_key_rotation_moves_epoch_wrapped_keys_and_skips_ones_whose_epoch_is_gone(
    settings: Any,
) -> None:
    kept = crypto.new_data_key(purpose="psp.request")
    lost = crypto.new_data_key(purpose="psp.request")
    plain = kept.plain_key()
    DataKey.objects.filter(pk=lost.pk).update(epoch_id="ep-0000000000000000")
    old = crypto.master_keys().current
    settings.TANDEM_MASTER_KEYS = ",".join(
        [
            crypto.generate_master_key_line("next"),
            f"{old.key_id}:{base64.b64encode(old.key).decode()}",
        ]
    )
    result = crypto.keys_rotate()
    assert result.rewrapped == 1
    moved = DataKey.objects.get(pk=kept.pk)
    assert moved.master_key_id == "next"
    assert moved.epoch_id
    assert crypto.unwrap_data_key(moved) == plain


def test_deploy_check_refuses_an_epoch_key_directory_others_can_read(settings: Any) -> None:
    assert crypto.check_epoch_keys() == []
    directory = Path(settings.TANDEM_EPOCH_KEY_DIR)
    directory.chmod(0o750)
    [error] = crypto.check_epoch_keys()
    assert error.id == "tandem.E003"
    assert "chmod 700" in error.msg
    directory.chmod(0o700)
