"""Deconfliction, spreadsheet import: mapping, dry run, all-or-nothing commit, bad input."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.recovery import services
from tandem.recovery.models import (
    Client,
    Contact,
)
from tests.deconfliction.support import CLIENT_CSV, add, browser, upload

# ========================================================================================
# 4. Spreadsheet import: mapping, dry run, all-or-nothing commit, bad input
# ========================================================================================


def test_a_client_list_is_mapped_dry_run_then_imported_all_at_once(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    existing = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="5405550199")
    response = upload(prs, "clients.csv", CLIENT_CSV.encode())
    assert response.status_code == 302
    batch_url = response.url
    page = browser(prs).get(batch_url).content.decode()
    # Headings suggest the mapping; the file's words get suggestions from the closed lists.
    assert '<option value="Surname" selected>' in page
    assert '<option value="Given name" selected>' in page
    assert '<option value="DOB" selected>' in page
    assert '"Heroin"' in page
    assert Client.objects.count() == 1  # nothing written by the upload
    form = {
        "map_first_name": "Given name",
        "map_last_name": "Surname",
        "map_date_of_birth": "DOB",
        "map_phone": "Phone",
        "map_gender": "Sex",
        "map_substances": "Drug of choice",
    }
    from tandem.recovery.imports import vocabulary_values
    from tandem.recovery.models import ImportBatch

    batch = ImportBatch.objects.get()
    words = vocabulary_values("clients", batch.header, batch.rows, form)
    codes = {"M": "male", "Female": "female", "F": "female", "male": "male"}
    for name, found in words.items():
        for i, word in enumerate(found):
            if name == "gender":
                form[f"value_{name}_{i}"] = codes[word]
            else:
                form[f"value_{name}_{i}"] = {"Heroin": "opioids", "alcohol": "alcohol"}.get(
                    word, "stimulants"
                )
    dry = browser(prs).post(batch_url, form).content.decode()
    assert "2 new · 2 matched to existing · 0 uncertain · 0 invalid" in dry
    assert f"record {existing.pk}" in dry
    assert "same person as row 3" in dry
    assert "Date of birth: the same" in dry
    assert Client.objects.count() == 1  # the dry run writes nothing

    done = browser(prs).post(reverse("recovery:import_commit", args=[batch.pk]))
    assert done.status_code == 302
    names = sorted(Client.objects.values_list("last_name", flat=True))
    assert names == ["Lindqvist", "Okafor", "Rivera"]
    okafor = Client.objects.get(last_name="Okafor")
    assert okafor.gender == "female"
    assert okafor.substances == ["alcohol", "stimulants"]
    assert AuditEvent.objects.filter(action="recovery.import_commit").count() == 1
    again = browser(prs).post(reverse("recovery:import_commit", args=[batch.pk]))
    assert again.status_code == 302
    assert Client.objects.count() == 3


def test_an_invalid_row_blocks_the_whole_import_with_row_numbered_messages(
    cast: dict[str, Any],
) -> None:
    prs = cast["prs"]
    data = (
        b"First name,Last name,Date of birth\n"
        b"Avery,Stone,1990-01-02\n"
        b",Blank,1990-01-02\n"  # row 3: first name missing
        b"Casey,Mold,31/02/1990\n"  # row 4: not a date
        b'Dale,Formula,"=HYPERLINK(""http://x"",""y"")"\n'  # row 5: a formula
        b"Eve,Future,2999-01-01\n"  # row 6: in the future
    )
    response = upload(prs, "list.csv", data)
    dry = (
        browser(prs)
        .post(
            response.url,
            {
                "map_first_name": "First name",
                "map_last_name": "Last name",
                "map_date_of_birth": "Date of birth",
            },
        )
        .content.decode()
    )
    assert "1 new · 0 matched to existing · 0 uncertain · 4 invalid" in dry
    assert "Row 3: first name is missing." in dry
    assert "Row 4: date of birth &quot;31/02/1990&quot; is not a date" in dry
    assert "Row 5, column &quot;Date of birth&quot;: a formula" in dry
    assert "Row 6: date of birth is in the future." in dry
    from tandem.recovery.models import ImportBatch

    batch = ImportBatch.objects.get()
    refused = browser(prs).post(reverse("recovery:import_commit", args=[batch.pk]), follow=True)
    assert "Nothing was imported: 4 row(s) need fixing." in refused.content.decode()
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("roster.pdf", b"%PDF-1.7 binary", "Upload a CSV (.csv) or Excel (.xlsx) file"),
        ("list.csv", b"PK\x03\x04zip", "Upload a CSV (.csv) or Excel (.xlsx) file"),
        ("list.xlsx", b"PK\x03\x04 not really", "This XLSX file cannot be opened"),
        (
            "list.csv",
            "First name,Last name\nJos\u00e9,Pe\u00f1a\n".encode("cp1252"),
            "Row 2: the file is not UTF-8 text",
        ),
        ("list.csv", b"First name,Last name,first name\nA,B,C\n", "appears twice"),
        ("list.csv", b"First name,,Last name\nA,B,C\n", "Row 1: column 2 has no heading."),
        ("list.csv", b"", "The file is empty."),
        ("list.csv", b"a\x00b,c\n", "binary data"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused_with_a_clear_message(
    cast: dict[str, Any], name: str, data: bytes, message: str
) -> None:
    response = upload(cast["prs"], name, data)
    assert response.status_code == 400
    assert message in response.content.decode()
    from tandem.recovery.models import ImportBatch

    assert not ImportBatch.objects.exists()


def test_uploaded_spreadsheets_are_forgotten_after_a_week(cast: dict[str, Any]) -> None:
    import time_machine

    from tandem.recovery.models import ImportBatch

    upload(cast["prs"], "list.csv", b"First name,Last name\nAvery,Stone\n")
    assert services.import_batches_purge() == 0
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert services.import_batches_purge() == 1
    assert not ImportBatch.objects.exists()


def test_a_file_of_more_than_100000_rows_is_refused(cast: dict[str, Any]) -> None:
    data = b"First name,Last name\n" + b"A,B\n" * 100_001
    response = upload(cast["prs"], "big.csv", data)
    assert response.status_code == 400
    assert "more than 100,000 rows" in response.content.decode()


def test_an_xlsx_client_list_with_dates_and_a_formula_cell(cast: dict[str, Any]) -> None:
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["First name", "Last name", "Date of birth", "Status"])
    sheet.append(["Morgan", "Ellis", datetime_of(1985, 3, 9), "Active"])
    sheet.append(["Riley", "Shaw", "=DATE(1990,1,1)", "lost"])
    buffer = io.BytesIO()
    book.save(buffer)
    response = upload(cast["aro"], "list.xlsx", buffer.getvalue())
    assert response.status_code == 302
    dry = (
        browser(cast["aro"])
        .post(
            response.url,
            {
                "map_first_name": "First name",
                "map_last_name": "Last name",
                "map_date_of_birth": "Date of birth",
                "map_status": "Status",
                "value_status_0": "active",
                "value_status_1": "lost_contact",
            },
        )
        .content.decode()
    )
    assert "1 new · 0 matched to existing · 0 uncertain · 1 invalid" in dry
    assert "Row 3, column &quot;Date of birth&quot;: a formula" in dry


def datetime_of(year: int, month: int, day: int) -> Any:
    from datetime import datetime

    return datetime(year, month, day)  # noqa: DTZ001 - a spreadsheet cell has no zone


def test_a_contact_log_is_recorded_on_the_clients_it_matches(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5))
    today = timezone.localdate().isoformat().encode()
    data = (
        b"First,Last,DOB,Date,Type,Result\n"
        b"Jamie,Rivera,1990-04-05," + today + b",Phone,engaged\n"
        b"Nobody,Known,1970-01-01," + today + b",Phone,engaged\n"
        b"Jamie,Rivera,1990-04-05,2020-01-15,Phone,engaged\n"
    )
    response = upload(prs, "log.csv", data, kind="contacts")
    form = {
        "map_first_name": "First",
        "map_last_name": "Last",
        "map_date_of_birth": "DOB",
        "map_occurred_at": "Date",
        "map_kind": "Type",
        "map_outcome": "Result",
        "value_kind_0": "phone",
        "value_outcome_0": "engaged",
    }
    dry = browser(prs).post(response.url, form).content.decode()
    assert "Row 3: no client in the registry surely matches Nobody Known" in dry
    assert "0 new · 1 matched to existing · 0 uncertain · 2 invalid" in dry
    assert "Row 4: the contact is dated before the client was registered" in dry
    # Fixed file: only the known client.
    fixed = upload(prs, "log.csv", b"\n".join(data.split(b"\n")[:2]) + b"\n", kind="contacts")
    browser(prs).post(fixed.url, form)
    from tandem.recovery.models import ImportBatch

    batch = ImportBatch.objects.order_by("-pk").first()
    done = browser(prs).post(reverse("recovery:import_commit", args=[batch.pk]), follow=True)
    body = done.content.decode()
    assert "Imported: 0 new" in body
    contact = Contact.objects.get()
    assert contact.client_id == client.pk
    assert timezone.localdate(contact.occurred_at) == timezone.localdate()
