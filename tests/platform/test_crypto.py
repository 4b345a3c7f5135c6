"""Encryption (X-5, P1): acceptance tests from the user's side."""

from __future__ import annotations

import base64
import json
import pickle
from pathlib import Path
from typing import Any

import pytest
from django.core import serializers
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.db import connection, models, transaction
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from tandem.audit.models import AuditEvent
from tandem.core import crypto
from tandem.core.fields import EncryptedTextField
from tandem.core.models import DataKey
from tests.helpers import child_env, pg_dump, python_output
from tests.platform.support import KEY_A, KEY_B, SealedNote, key_entry

pytestmark = pytest.mark.django_db


# ========================================================================================
# 7. Encryption (X-5, P1)
# Encryption at rest (issue 2, point 7; X-5, P1): envelope keys, encrypted fields, shredding,
# rotation, master-key configuration.
#
# The field is exercised through ``SealedNote``, a model that exists only in this test run
# (app label "cryptotest", not installed, its table made by the schema editor). Its data-key
# foreign key has no database constraint so that pytest-django can TRUNCATE ``core_datakey``
# between transactional tests on PostgreSQL; the encryption behaviour is the real one.
# ========================================================================================


SECRET = "Sgt. Quillon Zebedee-Marsh, 719-555-0199, confided about divorce"


def raw_column(note: SealedNote, column: str) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM cryptotest_sealednote WHERE id = %s",  # noqa: S608
            [note.pk],
        )
        return cursor.fetchone()[0]


def set_raw_column(note: SealedNote, column: str, value: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE cryptotest_sealednote SET {column} = %s WHERE id = %s",  # noqa: S608
            [value, note.pk],
        )


# --- The field: plaintext in Python, ciphertext in the database -------------------------


def test_encrypted_field_reads_plaintext_while_the_column_holds_only_ciphertext(notes: Any) -> None:
    note = notes.objects.create(label="n1", secret=SECRET, extra={"phone": "719-555-0199"})
    stored = raw_column(note, "secret")
    assert stored.startswith(f"v1:{note.data_key_id}:")
    assert SECRET not in stored
    assert "Quillon" not in stored
    assert "719-555-0199" not in raw_column(note, "extra")

    fresh = notes.objects.select_related("data_key").get(pk=note.pk)
    assert fresh.secret == SECRET
    assert fresh.extra == {"phone": "719-555-0199"}
    assert fresh.is_shredded is False


def test_each_record_gets_its_own_key_and_equal_values_encrypt_differently(notes: Any) -> None:
    one = notes.objects.create(label="a", secret=SECRET)
    two = notes.objects.create(label="b", secret=SECRET)
    assert one.data_key_id != two.data_key_id
    assert raw_column(one, "secret") != raw_column(two, "secret")
    assert DataKey.objects.get(pk=one.data_key_id).purpose == "test.note"
    # Saving again re-encrypts only what changed; a new value gets a fresh nonce.
    before = raw_column(one, "secret")
    one.label = "a2"
    one.save(update_fields=["label"])
    assert raw_column(one, "secret") == before
    one.secret = SECRET
    one.save()
    assert raw_column(one, "secret") != before
    assert notes.objects.get(pk=one.pk).secret == SECRET


def test_deferred_and_refreshed_encrypted_values_still_decrypt(notes: Any) -> None:
    note = notes.objects.create(label="d", secret=SECRET)
    deferred = notes.objects.only("label").get(pk=note.pk)
    assert deferred.secret == SECRET
    note.refresh_from_db()
    assert note.secret == SECRET
    dumped = json.loads(serializers.serialize("json", [note]))[0]["fields"]
    assert dumped["secret"].startswith("v1:")
    assert SECRET not in json.dumps(dumped)


def test_encrypted_field_outside_an_envelope_model_fails_the_system_check() -> None:
    class PlainNote(models.Model):
        secret = EncryptedTextField()

        class Meta:
            app_label = "cryptotest"

        def __str__(self) -> str:
            return "plain note"

    errors = PlainNote._meta.get_field("secret").check()
    assert [e.id for e in errors] == ["tandem.E001"]


def test_ciphertext_length_does_not_reveal_exact_length_of_short_values(notes: Any) -> None:
    short = notes.objects.create(label="s", secret="Al")
    longer = notes.objects.create(label="l", secret="Bartholomew")
    assert len(raw_column(short, "secret")) == len(raw_column(longer, "secret"))


def test_bulk_created_records_each_get_a_data_key(notes: Any) -> None:
    made = notes.objects.bulk_create(
        [notes(label=f"b{i}", secret=f"{SECRET} {i}") for i in range(3)]
    )
    assert len({n.data_key_id for n in made}) == 3
    assert [n.secret for n in notes.objects.filter(label__startswith="b").order_by("label")] == [
        f"{SECRET} {i}" for i in range(3)
    ]


def test_query_update_and_lookups_cannot_bypass_encryption(notes: Any) -> None:
    note = notes.objects.create(label="q", secret=SECRET)
    with pytest.raises(TypeError, match="encrypted"), transaction.atomic():
        notes.objects.filter(pk=note.pk).update(secret="plain text")
    with pytest.raises(FieldError), transaction.atomic():
        list(notes.objects.filter(secret=SECRET))
    assert notes.objects.filter(secret__isnull=False).count() == 1
    assert SECRET not in raw_column(note, "secret")


def test_tampered_ciphertext_fails_authentication_with_a_clear_error(notes: Any) -> None:
    note = notes.objects.create(label="t", secret=SECRET)
    token = raw_column(note, "secret")
    head, body = token.rsplit(":", 1)
    flipped = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    set_raw_column(note, "secret", f"{head}:{flipped}")
    with pytest.raises(crypto.DecryptionFailed, match="failed authentication"):
        _ = notes.objects.get(pk=note.pk).secret


def test_tampered_wrapped_key_fails_authentication(notes: Any) -> None:
    note = notes.objects.create(label="w", secret=SECRET)
    wrapped = bytearray(DataKey.objects.get(pk=note.data_key_id).wrapped_key)
    wrapped[-1] ^= 1
    DataKey.objects.filter(pk=note.data_key_id).update(wrapped_key=bytes(wrapped))
    with pytest.raises(crypto.DecryptionFailed, match="altered"):
        _ = notes.objects.get(pk=note.pk).secret


def test_ciphertext_moved_to_another_record_or_field_is_rejected(notes: Any) -> None:
    one = notes.objects.create(label="one", secret=SECRET, extra="x")
    two = notes.objects.create(label="two", secret="other", extra="y")
    token = raw_column(one, "secret")
    set_raw_column(two, "secret", token)
    with pytest.raises(crypto.DecryptionFailed, match="different data key"):
        _ = notes.objects.get(pk=two.pk).secret
    # Even with the key id in the token rewritten, the ciphertext does not open.
    set_raw_column(two, "secret", token.replace(str(one.data_key_id), str(two.data_key_id)))
    with pytest.raises(crypto.DecryptionFailed, match="failed authentication"):
        _ = notes.objects.get(pk=two.pk).secret
    # Same record, another field: the field name is bound in.
    set_raw_column(one, "extra", token)
    with pytest.raises(crypto.DecryptionFailed, match="failed authentication"):
        _ = notes.objects.get(pk=one.pk).extra


def test_seal_and_unseal_round_trip_and_bind_the_context(db: Any) -> None:
    data_key = crypto.new_data_key(purpose="test.blob")
    reloaded = DataKey.objects.get(pk=data_key.pk)

    @hyp_settings(max_examples=60, deadline=None)
    @given(st.text())
    def round_trip(text: str) -> None:
        token = crypto.seal(data_key, text, aad="test.blob")
        assert crypto.unseal(reloaded, token, aad="test.blob") == text

    round_trip()
    token = crypto.seal(data_key, SECRET, aad="test.blob")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.unseal(reloaded, token, aad="test.other")
    with pytest.raises(crypto.DecryptionFailed, match="Malformed"):
        crypto.unseal(reloaded, "not a token", aad="test.blob")


def test_unwrapped_keys_and_plaintext_never_reach_a_pickle(notes: Any) -> None:
    note = notes.objects.create(label="p", secret=SECRET)
    fresh = notes.objects.select_related("data_key").get(pk=note.pk)
    assert fresh.secret == SECRET
    plain_key = fresh.data_key.plain_key()
    dumped = pickle.dumps(fresh)
    assert plain_key not in dumped
    assert SECRET.encode() not in dumped


# --- Shredding ---------------------------------------------------------------------------


def test_shredded_record_can_never_be_read_again(notes: Any, cast: dict[str, Any]) -> None:
    note = notes.objects.create(label="s", secret=SECRET, extra={"a": 1})
    old_token = raw_column(note, "secret")
    note.shred(acting_user=cast["coordinator"], reason="retention period ended")

    fresh = notes.objects.get(pk=note.pk)
    assert fresh.is_shredded is True
    assert fresh.secret is None
    assert fresh.extra is None
    assert raw_column(note, "secret") is None
    key = DataKey.objects.get(pk=note.data_key_id)
    assert key.wrapped_key is None
    assert key.shredded_at is not None
    with pytest.raises(crypto.KeyShredded):
        crypto.unseal(key, old_token, aad="cryptotest.sealednote.secret")
    # Putting the old ciphertext back does not bring the data back either.
    set_raw_column(note, "secret", old_token)
    assert notes.objects.get(pk=note.pk).secret is None
    # A shredded record takes no new secrets.
    fresh.secret = "new"
    with pytest.raises(crypto.KeyShredded), transaction.atomic():
        fresh.save()

    event = AuditEvent.objects.get(action="crypto.shred")
    assert event.object_id == str(note.data_key_id)
    assert event.actor_id == cast["coordinator"].pk
    assert SECRET not in json.dumps(event.canonical())


def test_crypto_shred_service_works_on_a_bare_data_key(db: Any) -> None:
    data_key = crypto.new_data_key(purpose="test.blob")
    token = crypto.seal(data_key, SECRET, aad="blob")
    crypto.crypto_shred(data_key=data_key, reason="request withdrawn")
    with pytest.raises(crypto.KeyShredded):
        crypto.unseal(data_key, token, aad="blob")
    with pytest.raises(crypto.KeyShredded):
        crypto.unseal(DataKey.objects.get(pk=data_key.pk), token, aad="blob")
    assert AuditEvent.objects.filter(action="crypto.shred", object_id=str(data_key.pk)).exists()


SUBPROCESS_SCRIPT = r"""
import importlib, json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
django.setup()
from django.core.management import call_command
from django.db import connection
SealedNote = importlib.import_module(sys.argv[1]).SealedNote
if sys.argv[2] == "create":
    call_command("migrate", verbosity=0)
    with connection.schema_editor() as editor:
        editor.create_model(SealedNote)
    note = SealedNote.objects.create(label="visible-label-7731", secret=sys.argv[3])
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM cryptotest_sealednote WHERE id = %s", [note.pk])
        token = cursor.fetchone()[0]
    out = {"pk": note.pk, "wrapped": bytes(note.data_key.wrapped_key).hex(), "token": token}
else:
    note = SealedNote.objects.get(pk=int(sys.argv[3]))
    note.shred(reason="test")
    out = {"secret_after": note.secret}
with connection.cursor() as cursor:
    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
connection.close()
print(json.dumps(out))
"""


def _run_tandem_script(env: dict[str, str], *args: str) -> dict[str, Any]:
    out = python_output(env, "-c", SUBPROCESS_SCRIPT, __name__, *args)
    return json.loads(out.splitlines()[-1])


def _file_bytes(db_path: Path) -> bytes:
    data = db_path.read_bytes()
    for suffix in ("-wal", "-journal"):
        extra = Path(str(db_path) + suffix)
        if extra.exists():
            data += extra.read_bytes()
    return data


def _forms(raw: bytes) -> list[bytes]:
    return [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw)]


def test_sqlite_file_holds_no_plaintext_and_nothing_readable_after_shredding(
    tmp_path: Path,
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("reads the bytes of a SQLite database file")
    db_path = tmp_path / "tandem.sqlite3"
    env = child_env(
        TANDEM_SQLITE_PATH=str(db_path),
        TANDEM_VAR_DIR=str(tmp_path),
        TANDEM_MASTER_KEYS=key_entry("file-test"),
    )
    made = _run_tandem_script(env, "create", SECRET)
    data = _file_bytes(db_path)
    assert b"visible-label-7731" in data  # the search does find what is stored in clear
    wrapped = bytes.fromhex(made["wrapped"])
    assert wrapped in data  # ... and finds the wrapped key while it exists
    assert made["token"].encode() in data
    assert SECRET.encode() not in data
    assert b"Quillon" not in data

    shredded = _run_tandem_script(env, "shred", str(made["pk"]))
    assert shredded["secret_after"] is None
    data = _file_bytes(db_path)
    assert SECRET.encode() not in data
    assert b"Quillon" not in data
    for form in _forms(wrapped):
        assert form not in data
    assert made["token"].encode() not in data


@pytest.mark.django_db(transaction=True)
def test_postgresql_dump_holds_no_plaintext_and_nothing_readable_after_shredding(
    committed_notes: Any,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("reads pg_dump output of the PostgreSQL test database")
    note = committed_notes.objects.create(label="visible-label-7731", secret=SECRET)
    wrapped = bytes(note.data_key.wrapped_key)
    dump = pg_dump()
    assert "visible-label-7731" in dump
    assert wrapped.hex() in dump
    assert SECRET not in dump
    assert "Quillon" not in dump

    note.shred(reason="test")
    dump = pg_dump()
    assert SECRET not in dump
    assert "Quillon" not in dump
    for form in _forms(wrapped):
        assert form.decode("latin-1") not in dump


# --- Rotation and status ------------------------------------------------------------------


def test_rotation_lets_an_old_master_key_be_removed_without_losing_data(
    notes: Any, settings: Any, capsys: Any
) -> None:
    made = [notes.objects.create(label=f"r{i}", secret=f"{SECRET} {i}") for i in range(5)]
    shredded = notes.objects.create(label="gone", secret="gone")
    shredded.shred(reason="test")
    assert {DataKey.objects.get(pk=n.data_key_id).master_key_id for n in made} == {"test-a"}

    settings.TANDEM_MASTER_KEYS = f"{KEY_B},{KEY_A}"
    call_command("keys", "rotate", "--batch-size", "2")
    assert "Re-wrapped 5 data key(s) under test-b (from test-a: 5) in 3 batch(es)" in (
        capsys.readouterr().out
    )
    rotations = AuditEvent.objects.filter(action="crypto.rotate").order_by("id")
    assert [e.detail["rewrapped"] for e in rotations] == [2, 2, 1]

    settings.TANDEM_MASTER_KEYS = KEY_B  # the old key is gone from the configuration
    for i, note in enumerate(made):
        assert notes.objects.get(pk=note.pk).secret == f"{SECRET} {i}"
    new = notes.objects.create(label="new", secret="fresh")
    assert DataKey.objects.get(pk=new.data_key_id).master_key_id == "test-b"

    call_command("keys", "status")
    out = capsys.readouterr().out
    assert "Current master key: test-b" in out
    assert "Data keys wrapped by test-b: 6" in out
    assert "Shredded data keys: 1" in out


def test_removing_a_master_key_before_rotation_is_reported_clearly(
    notes: Any, settings: Any, capsys: Any
) -> None:
    note = notes.objects.create(label="x", secret=SECRET)
    settings.TANDEM_MASTER_KEYS = KEY_B
    with pytest.raises(crypto.MasterKeyUnavailable, match="'test-a' is not configured"):
        _ = notes.objects.get(pk=note.pk).secret
    with pytest.raises(CommandError, match="test-a"):
        call_command("keys", "status")
    assert "Data keys wrapped by test-a: 1  NOT CONFIGURED" in capsys.readouterr().out
    with pytest.raises(CommandError, match="'test-a' is not configured"):
        call_command("keys", "rotate")
    assert DataKey.objects.get(pk=note.data_key_id).master_key_id == "test-a"


def test_keys_generate_prints_a_usable_entry(capsys: Any, settings: Any, db: Any) -> None:
    call_command("keys", "generate", "--id", "prod-2025")
    line = capsys.readouterr().out.strip()
    assert line.startswith("prod-2025:")
    settings.TANDEM_MASTER_KEYS = line
    data_key = crypto.new_data_key(purpose="test")
    assert crypto.unseal(data_key, crypto.seal(data_key, "ok", aad="x"), aad="x") == "ok"


# --- Master key configuration ---------------------------------------------------------------


def test_missing_master_key_is_a_clear_configuration_error(settings: Any, tmp_path: Path) -> None:
    settings.TANDEM_MASTER_KEYS = ""
    settings.TANDEM_MASTER_KEY_FILE = str(tmp_path / "absent.keys")
    with pytest.raises(ImproperlyConfigured, match="No master key configured"):
        crypto.master_keys()


def test_key_file_readable_by_others_is_refused(settings: Any, tmp_path: Path) -> None:
    path = tmp_path / "master.keys"
    path.write_text(KEY_A + "\n")
    path.chmod(0o644)
    settings.TANDEM_MASTER_KEYS = ""
    settings.TANDEM_MASTER_KEY_FILE = str(path)
    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        crypto.master_keys()
    path.chmod(0o600)
    assert crypto.master_keys().current.key_id == "test-a"


def test_demo_key_file_is_created_once_and_owner_only(settings: Any, tmp_path: Path) -> None:
    settings.TANDEM_MASTER_KEYS = ""
    settings.TANDEM_MASTER_KEY_FILE = str(tmp_path / "var" / "master.keys")
    path = crypto.ensure_demo_master_key()
    assert path is not None
    assert path.stat().st_mode & 0o777 == 0o600
    first = path.read_text()
    assert crypto.ensure_demo_master_key() == path
    assert path.read_text() == first
    assert len(crypto.master_keys().current.key) == 32


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("k1:" + base64.b64encode(b"short").decode(), "must be exactly 32 bytes"),
        ("k1:not base64!!", "not valid base64"),
        ("no-separator", "must look like 'id:base64key'"),
        (f"{KEY_A},{KEY_A}", "appears twice"),
    ],
)
def test_malformed_master_keys_are_refused_without_echoing_key_material(
    settings: Any, entries: str, message: str
) -> None:
    settings.TANDEM_MASTER_KEYS = entries
    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        crypto.master_keys()
    assert KEY_A.split(":")[1] not in str(caught.value)
