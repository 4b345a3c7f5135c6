"""File exports (X-9): CSV and XLSX answers built the same way by every app.

Cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return) are prefixed with an apostrophe, so an exported name such as
``=HYPERLINK(...)`` stays text (OWASP "CSV injection"). Numbers are written as numbers.

CSV files quote every field. A spreadsheet set to a semicolon locale may still split a
comma-separated file at ``;`` (and at tabs and line breaks) whatever the quotes say, so in a
CSV cell every piece that would begin after such a split gets the apostrophe too:
``a;=1+1`` is written ``a;'=1+1``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from django.http import HttpResponse

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """The value as a spreadsheet should see it: text that cannot run as a formula."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int | float):
        return value
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


# A formula character at the start of a piece a semicolon-locale spreadsheet would split off
# (after ; a tab or a line break, leading spaces ignored).
_SPLIT_FORMULA = re.compile(r"([;\t\r\n][ ]*)(?=[=+\-@])")


def csv_cell(value: Any) -> Any:
    """``safe_cell`` for a CSV file: no piece of the cell can start a formula either."""
    cell = safe_cell(value)
    if isinstance(cell, str):
        cell = _SPLIT_FORMULA.sub(r"\1'", cell)
    return cell


def _attachment(response: HttpResponse, filename: str) -> HttpResponse:
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_ALL)
    writer.writerow([csv_cell(h) for h in header])
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
    return buffer.getvalue().encode("utf-8-sig")


def csv_response(
    filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]
) -> HttpResponse:
    response = HttpResponse(csv_bytes(header, rows), content_type="text/csv; charset=utf-8")
    return _attachment(response, filename)


Sheet = tuple[str, Sequence[str], Iterable[Sequence[Any]]]  # (title, header, rows)


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    workbook = Workbook(write_only=False)
    workbook.remove(workbook.active)
    for title, header, rows in sheets:
        sheet = workbook.create_sheet(title=title[:31] or "Sheet")
        sheet.append([safe_cell(h) for h in header])
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows:
            sheet.append([safe_cell(v) for v in row])
        sheet.freeze_panes = "A2"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def xlsx_response(filename: str, sheets: Sequence[Sheet]) -> HttpResponse:
    response = HttpResponse(
        xlsx_bytes(sheets),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    return _attachment(response, filename)
