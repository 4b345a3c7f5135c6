"""The HR roster import: a dry run, an all-or-nothing commit, clear errors by row, the
command, staged files that expire, accounts of people who leave."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tandem.accounts.models import User
from tandem.agencies.models import Agency, Member, RosterUpload, Unit
from tandem.agencies.roster import RosterError, roster_parse, roster_plan
from tandem.agencies.services import (
    roster_import_commit,
    roster_upload_stage,
    roster_uploads_purge,
)
from tandem.audit.models import AuditEvent
from tests.platform.support import SignedIn

pytestmark = pytest.mark.django_db


HEADER = (
    "employee_number,first_name,last_name,rank_title,category,unit_code,"
    "supervisor_employee_number,phone,email\n"
)


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return (header + "\n".join(rows) + "\n").encode()


# --- HR roster import -------------------------------------------------------------------------


def roster_file() -> bytes:
    return csv_bytes(
        "100,Ana,Chief,Chief,sworn,D1,,555-0100,ana@example.test",
        "200,Bo,Sergeant,Sergeant,sworn,D1-P,100,,",
        "400,Di,New,Officer,sworn,D1-P,200,,di@example.test",
    )


def upload(client: Client, data: bytes, name: str = "roster.csv") -> Any:
    return client.post(
        reverse("agencies:roster_import"),
        {"action": "upload", "file": SimpleUploadedFile(name, data, "text/csv")},
    )


def test_roster_dry_run_shows_added_changed_and_deactivated_without_writing(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User], signed_in: SignedIn
) -> None:
    before = Member.objects.filter(agency=agency).count()
    page = upload(signed_in(cast["administrator"]), roster_file()).content.decode()
    assert "Added (1)" in page
    assert "Di" in page
    assert "Changed (2)" in page
    assert "<strong>unit</strong>: “District 1” → “D1-P”" not in page
    assert "<strong>unit</strong>: “D1” → “D1-P”" in page
    assert "<strong>phone</strong>: “” → “555-0100”" in page
    assert "Deactivated (" in page
    assert "Leaving" in page
    assert Member.objects.filter(agency=agency).count() == before
    roster["old"].refresh_from_db()
    assert roster["old"].active


def test_roster_confirm_commits_everything_once(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User], signed_in: SignedIn
) -> None:
    client = signed_in(cast["administrator"])
    # Everyone active who is not in the file is deactivated: "Leaving" and the test cast.
    missing = (
        Member.objects.filter(agency=agency, active=True)
        .exclude(employee_number__in=["100", "200"])
        .count()
    )
    page = upload(client, roster_file())
    digest = page.context["plan"].digest
    response = client.post(
        reverse("agencies:roster_import"), {"action": "confirm", "digest": digest}
    )
    assert response.status_code == 302
    new = Member.objects.get(agency=agency, employee_number="400")
    assert new.supervisor == roster["sgt"]
    assert [m.employee_number for m in new.supervisor_chain()] == ["200", "100"]
    roster["sgt"].refresh_from_db()
    assert roster["sgt"].unit.code == "D1-P"
    roster["old"].refresh_from_db()
    assert not roster["old"].active
    event = AuditEvent.objects.get(action="member.import")
    assert event.detail | {"digest": ""} == {
        "rows": 3,
        "added": 1,
        "changed": 2,
        "deactivated": missing,
        "digest": "",
    }
    # A double submit changes nothing more and records nothing more.
    again = client.post(
        reverse("agencies:roster_import"), {"action": "confirm", "digest": digest}, follow=True
    )
    assert "no longer current" in again.content.decode()
    assert AuditEvent.objects.filter(action="member.import").count() == 1
    assert RosterUpload.objects.get().content in (b"", memoryview(b""))


def test_confirm_cannot_be_replayed_at_the_service_either(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User]
) -> None:
    admin = cast["administrator"]
    _upload, plan = roster_upload_stage(acting_user=admin, agency=agency, data=roster_file())
    roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)
    with pytest.raises(RosterError, match="already been imported"):
        roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            ["500,Ed,Bad,,deputy,,,,"],
            "Row 2: category &#x27;deputy&#x27; is not one of sworn, civilian, volunteer.",
        ),
        (
            ["500,Ed,Ok,,sworn,,,,", "501,Fi,Ok,,sworn,ZZ,,,"],
            "Row 3: unit code &#x27;ZZ&#x27; is not a unit of this agency.",
        ),
        (
            ["500,Ed,Ok,,sworn,,999,,"],
            "Row 2: supervisor &#x27;999&#x27; is not in the file or on the roster.",
        ),
        (
            ["500,Ed,Ok,,sworn,,,,", "500,Ed,Again,,sworn,,,,"],
            "Row 3: employee number &#x27;500&#x27; already appears in row 2.",
        ),
        (
            ["500,Ed,Ok,,sworn,,501,,", "501,Fi,Ok,,sworn,,500,,"],
            "Row 2: supervisor chain loops: 500 → 501 → 500.",
        ),
        (["500,Ed,,,sworn,,,,"], "Row 2: last_name is empty."),
        (
            ["500,Ed,Ok,,sworn,,,,not-an-email"],
            "Row 2: email &#x27;not-an-email&#x27; is not a valid e-mail address.",
        ),
        (["500,Ed,Ok,sworn"], "Row 2: has 4 values but the header has 9."),
    ],
)
def test_bad_rows_are_reported_by_number_and_nothing_is_written(
    agency: Agency,
    roster: dict[str, Member],
    cast: dict[str, User],
    signed_in: SignedIn,
    rows: list[str],
    message: str,
) -> None:
    response = upload(signed_in(cast["administrator"]), csv_bytes(*rows))
    body = response.content.decode()
    assert response.status_code == 400
    assert message in body
    assert "Nothing was changed" in body
    assert not RosterUpload.objects.exists()
    assert Member.objects.filter(agency=agency, employee_number__startswith="5").count() == 0


def test_row_numbers_match_the_spreadsheet_rows() -> None:
    with pytest.raises(RosterError) as caught:
        roster_parse(csv_bytes("1,A,B,,sworn,,,,", "", "2,C,D,,deputy,,,,"))
    assert caught.value.errors == [
        "Row 4: category 'deputy' is not one of sworn, civilian, volunteer."
    ]


def test_header_is_matched_case_insensitively_and_in_any_order(
    agency: Agency, roster: dict[str, Member]
) -> None:
    data = csv_bytes("Ed,500,SWORN", header="First_Name,Employee_Number,CATEGORY,Last Name\n")
    with pytest.raises(RosterError, match="Row 2: has 3 values but the header has 4"):
        roster_plan(agency, data)
    plan = roster_plan(
        agency,
        csv_bytes("Ed,500,SWORN,Ok", header="First_Name,Employee_Number,CATEGORY,Last Name\n"),
    )
    assert [r.employee_number for r in plan.added] == ["500"]
    assert plan.added[0].category == "sworn"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (HEADER.encode() + b"1,A,B,,sworn,,,,\n" * 150_000, "the limit is 2 MB"),
        (
            HEADER.encode() + b"".join(b"%d,A,B,,sworn,,,,\n" % i for i in range(50_001)),
            "more than 50,000 rows",
        ),
        (
            "employee_number,first_name,last_name,category\n1,José,Núñez,sworn\n".encode("latin-1"),
            "not UTF-8",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
        (b"", "empty"),
        (b"name,age\nx,1\n", "unknown column(s)"),
        (HEADER.encode() + b'1,"A,B,,sworn,,,,\n', "not valid CSV"),
    ],
)
def test_oversize_or_malformed_files_get_a_clear_message(
    agency: Agency,
    roster: dict[str, Member],
    cast: dict[str, User],
    signed_in: SignedIn,
    data: bytes,
    message: str,
) -> None:
    before = list(Member.objects.filter(agency=agency).values_list("pk", "active", "unit_id"))
    response = upload(signed_in(cast["administrator"]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert (
        list(Member.objects.filter(agency=agency).values_list("pk", "active", "unit_id")) == before
    )


def test_import_is_all_or_nothing_even_when_the_roster_changes_after_review(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User]
) -> None:
    admin = cast["administrator"]
    _upload, plan = roster_upload_stage(acting_user=admin, agency=agency, data=roster_file())
    Unit.objects.filter(agency=agency, code="D1-P").delete()  # the file refers to it
    with pytest.raises(RosterError, match="unit code 'D1-P' is not a unit"):
        roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)
    assert not Member.objects.filter(agency=agency, employee_number="400").exists()
    roster["old"].refresh_from_db()
    assert roster["old"].active
    assert not AuditEvent.objects.filter(action="member.import").exists()


def test_import_failing_half_way_leaves_the_database_untouched(
    agency: Agency,
    roster: dict[str, Member],
    cast: dict[str, User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tandem.agencies import services

    admin = cast["administrator"]
    _upload, plan = roster_upload_stage(acting_user=admin, agency=agency, data=roster_file())

    def broken_audit(**kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services, "audit_record", broken_audit)
    with pytest.raises(RuntimeError):
        roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)
    assert not Member.objects.filter(agency=agency, employee_number="400").exists()
    roster["old"].refresh_from_db()
    assert roster["old"].active
    assert RosterUpload.objects.get().committed_at is None


def test_roster_command_dry_run_then_commit(
    agency: Agency, roster: dict[str, Member], tmp_path: Path
) -> None:
    path = tmp_path / "hr.csv"
    path.write_bytes(roster_file())
    out = StringIO()
    call_command("roster", "import", str(path), "--agency", "alpha", stdout=out)
    assert "Dry run" in out.getvalue()
    assert "1 added, 2 changed, 1 deactivated" in out.getvalue()
    assert not Member.objects.filter(employee_number="400").exists()
    out = StringIO()
    call_command("roster", "import", str(path), "--agency", "alpha", "--commit", stdout=out)
    assert "Imported: 1 added" in out.getvalue()
    assert Member.objects.get(agency=agency, employee_number="400").supervisor == roster["sgt"]


def test_roster_command_reports_errors_and_exits_non_zero(
    agency: Agency, roster: dict[str, Member], tmp_path: Path
) -> None:
    path = tmp_path / "hr.csv"
    path.write_bytes(csv_bytes("500,Ed,Bad,,deputy,,,,"))
    with pytest.raises(CommandError, match="Row 2: category 'deputy'"):
        call_command("roster", "import", str(path), "--agency", "alpha", "--commit")
    with pytest.raises(CommandError, match="No agency with the slug 'nope'"):
        call_command("roster", "import", str(path), "--agency", "nope")


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000) | st.text(max_size=3000).map(str.encode))
def test_any_uploaded_bytes_give_rows_or_a_clear_error_never_a_crash(data: bytes) -> None:
    errors: list[str] = []
    rows = []
    try:
        rows = roster_parse(HEADER.encode() + data)
    except RosterError as exc:
        errors = exc.errors
    assert bool(errors) != bool(rows)
    assert all(isinstance(e, str) and e for e in errors)
    assert all(r.row >= 2 for r in rows)


def test_staged_roster_files_expire_after_an_hour(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User]
) -> None:
    admin = cast["administrator"]
    with time_machine.travel("2026-03-01 09:00Z", tick=False):
        _upload, plan = roster_upload_stage(acting_user=admin, agency=agency, data=roster_file())
    with time_machine.travel("2026-03-01 10:01Z", tick=False):
        with pytest.raises(RosterError, match="expired"):
            roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)
        assert roster_uploads_purge() == 1
    assert not RosterUpload.objects.exists()


def test_people_who_leave_the_roster_lose_their_account_but_the_importer_keeps_theirs(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User]
) -> None:
    admin = cast["administrator"]
    leaver = cast["member"]
    _upload, plan = roster_upload_stage(acting_user=admin, agency=agency, data=roster_file())
    roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)
    leaver.refresh_from_db()
    admin.refresh_from_db()
    assert not leaver.is_active
    assert admin.is_active
    assert AuditEvent.objects.filter(
        action="account.deactivated", object_id=str(leaver.pk), detail__reason="left the roster"
    ).exists()
