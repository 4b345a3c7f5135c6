"""Deconfliction, bad input: large files go to the worker; encodings, extra values, formulas."""

from __future__ import annotations

import html
from datetime import date
from typing import Any

import pytest
from django.urls import reverse

from tandem.recovery import services
from tandem.recovery.models import (
    Client,
)
from tests.deconfliction.support import CLIENT_CSV, add, browser, upload

# ========================================================================================
# 7. Bad input: large files go to the worker; encodings, extra values, array formulas
# ========================================================================================


def test_a_large_file_is_checked_and_imported_by_the_worker_without_losing_it(
    cast: dict[str, Any], monkeypatch: Any
) -> None:
    from tandem.recovery.models import ImportBatch

    monkeypatch.setattr(services.imports, "IMPORT_INLINE_ROWS", 2)
    aro, prs = cast["aro"], cast["prs"]
    add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="5405550199")
    batch_url = upload(prs, "clients.csv", CLIENT_CSV.encode()).url
    batch = ImportBatch.objects.get()
    form = {
        "map_first_name": "Given name",
        "map_last_name": "Surname",
        "map_date_of_birth": "DOB",
        "map_phone": "Phone",
    }
    page = browser(prs).post(batch_url, form).content.decode()
    assert "Dry run in progress" in page
    assert "Dry run</button>" not in page  # no second run while one is under way
    services.import_check_execute(batch_id=batch.pk)  # as the worker runs it
    page = browser(prs).get(batch_url).content.decode()
    assert "2 new · 2 matched to existing · 0 uncertain · 0 invalid" in page
    done = browser(prs).post(reverse("recovery:import_commit", args=[batch.pk]))
    assert done.status_code == 302
    assert "Import in progress" in browser(prs).get(batch_url).content.decode()
    assert Client.objects.count() == 1  # nothing until the worker has finished
    services.import_commit_execute(batch_id=batch.pk, user_id=prs.pk)
    assert Client.objects.count() == 3
    batch.refresh_from_db()
    assert batch.committed_at is not None
    assert batch.job_state == ""


def test_a_large_file_the_worker_refuses_says_why_row_by_row(
    cast: dict[str, Any], monkeypatch: Any
) -> None:
    from tandem.recovery.models import ImportBatch

    monkeypatch.setattr(services.imports, "IMPORT_INLINE_ROWS", 1)
    prs = cast["prs"]
    data = b"First name,Last name,DOB\nAna,Ruiz,1990-01-01\nBo,Li,not a date\n"
    batch_url = upload(prs, "clients.csv", data).url
    batch = ImportBatch.objects.get()
    form = {
        "map_first_name": "First name",
        "map_last_name": "Last name",
        "map_date_of_birth": "DOB",
    }
    browser(prs).post(batch_url, form)
    services.import_commit_request(acting_user=prs, batch=batch)
    services.import_commit_execute(batch_id=batch.pk, user_id=prs.pk)
    page = html.unescape(browser(prs).get(batch_url).content.decode())
    assert "Nothing was imported." in page
    assert 'Row 3: date of birth "not a date" is not a date' in page
    assert not Client.objects.exists()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        # Excel's "Unicode text" export: UTF-16 with a byte-order mark, tab-separated.
        ("list.csv", "First name\tLast name\nJos\u00e9\tPe\u00f1a\n".encode("utf-16")),
        # Empty columns after the last heading, as spreadsheets often save them.
        ("list.csv", "First name,Last name,,\nJos\u00e9,Pe\u00f1a,,\n".encode()),
    ],
)
def test_unicode_text_and_trailing_empty_columns_are_read(
    cast: dict[str, Any], name: str, data: bytes
) -> None:
    from tandem.recovery.models import ImportBatch

    response = upload(cast["prs"], name, data)
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    assert batch.header == ["First name", "Last name"]
    assert batch.rows == [["Jos\u00e9", "Pe\u00f1a"]]


def test_a_row_with_more_values_than_headings_is_refused_with_its_row_number(
    cast: dict[str, Any],
) -> None:
    data = b"First name,Last name,Address\nAna,Ruiz,12 Oak St\nBo,Li,3 Elm St, Apt 4\n"
    response = upload(cast["prs"], "list.csv", data)
    assert response.status_code == 400
    assert "Row 3: more values than headings (3)" in response.content.decode()


def test_an_array_formula_in_an_xlsx_cell_is_a_formula_not_a_value(cast: dict[str, Any]) -> None:
    import io

    from openpyxl import Workbook
    from openpyxl.worksheet.formula import ArrayFormula

    from tandem.recovery.models import ImportBatch

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["First name", "Last name", "Phone"])
    sheet.append(["Ana", "Ruiz", None])
    sheet["C2"] = ArrayFormula("C2:C2", "=CONCAT(A1:A2)")
    out = io.BytesIO()
    book.save(out)
    prs = cast["prs"]
    batch_url = upload(prs, "list.xlsx", out.getvalue()).url
    assert ImportBatch.objects.get().rows[0][2].startswith("=")
    form = {"map_first_name": "First name", "map_last_name": "Last name", "map_phone": "Phone"}
    page = html.unescape(browser(prs).post(batch_url, form).content.decode())
    assert 'Row 2, column "Phone": a formula' in page
