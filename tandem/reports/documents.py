"""A produced report (``services.report_build`` content) as CSV, XLSX and PDF (X-9).

All three are written from the same already-protected content, so a withheld figure is the
same mark everywhere and no export can hold a number the screen did not show.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from django.http import HttpResponse

from tandem.core.exports import Sheet, csv_response, xlsx_response
from tandem.core.pdf import LOGO_MAX_BYTES, Document
from tandem.reports.charts import bar_chart

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

LONG_HEADER = ["Section", "Table", "Category", "Column", "Value"]


def filename(content: dict[str, Any], extension: str) -> str:
    period = content["period"]
    return f"{content['report']}_{period['start'][:7]}_{period['end'][:7]}.{extension}"


def about_rows(content: dict[str, Any]) -> list[list[Any]]:
    rows: list[list[Any]] = [
        ["Report", content["title"]],
        ["Agency", content["agency"]],
        ["Period", content["period"]["label"]],
        ["From", content["period"]["start"]],
        ["To", content["period"]["end"]],
        ["Smallest group shown", content["threshold"]],
        ["Withheld", content["legend"]],
    ]
    if content.get("epsilon"):
        level = content["epsilon"]
        rows.append(
            [
                "Noise",
                f"Random noise added to protect people (level {level} for the "
                "whole release); figures are not exact.",
            ]
        )
    if content.get("empty"):
        rows.append(["Note", "Nothing was recorded in this period."])
    return rows


def long_rows(content: dict[str, Any]) -> list[list[Any]]:
    """Every figure on one line: section, table, category, column, value (for funders)."""
    rows: list[list[Any]] = []
    for section in content["sections"]:
        for table in section["tables"]:
            columns = table["header"][1:]
            for row in table["rows"]:
                for column, value in zip(columns, row[1:], strict=False):
                    rows.append([section["title"], table["title"], row[0], column, value])
        for label, value in section["figures"]:
            rows.append([section["title"], "Figures", label, "", value])
    return rows


def csv_export(content: dict[str, Any]) -> HttpResponse:
    rows = [[label, "", "", "", value] for label, value in about_rows(content)]
    return csv_response(filename(content, "csv"), LONG_HEADER, [*rows, *long_rows(content)])


def xlsx_export(content: dict[str, Any]) -> HttpResponse:
    sheets: list[Sheet] = [("About", ["Item", "Value"], about_rows(content))]
    used = {"About"}
    for section in content["sections"]:
        for table in section["tables"]:
            title = _unique_title(table["title"], used)
            sheets.append((title, table["header"], table["rows"]))
        if section["figures"]:
            title = _unique_title(f"{section['title']} figures", used)
            sheets.append((title, ["Figure", "Value"], section["figures"]))
    return xlsx_response(filename(content, "xlsx"), sheets)


def _unique_title(title: str, used: set[str]) -> str:
    cleaned = "".join(ch for ch in title if ch not in "[]:*?/\\")[:28]
    candidate, n = cleaned, 2
    while candidate in used:
        candidate, n = f"{cleaned[:25]} {n}", n + 1
    used.add(candidate)
    return candidate


class ReportDocument(Document):
    """The shared document, with SVG logos in the letterhead too."""

    def _logo_src(self, agency: Agency) -> str:
        logo = getattr(agency, "logo", None)
        if logo and str(logo.name).lower().endswith(".svg"):
            try:
                with logo.open("rb") as handle:
                    data = handle.read(LOGO_MAX_BYTES + 1)
            except OSError:  # a logo that cannot be read leaves the name alone
                return ""
            if len(data) > LOGO_MAX_BYTES:
                return ""
            return "data:image/svg+xml;base64," + base64.b64encode(data).decode()
        return super()._logo_src(agency)


def pdf_export(content: dict[str, Any], agency: Agency) -> HttpResponse:
    doc = ReportDocument(
        agency=agency,
        title=content["title"],
        subtitle=f"{content['period']['label']} - {content['agency']}",
    )
    doc.fields([(label, value) for label, value in about_rows(content)[2:]])
    for section in content["sections"]:
        doc.heading(section["title"])
        for table in section["tables"]:
            withheld = not any(isinstance(v, int) for _, v in table["chart"])
            doc.chart(table["title"], bar_chart(table["title"], table["chart"]), withheld=withheld)
            doc.table(table["header"], table["rows"])
        if section["figures"]:
            doc.fields([(label, value) for label, value in section["figures"]])
        for note in section["notes"]:
            doc.paragraph(note, size=9)
    return doc.response(filename(content, "pdf"))
