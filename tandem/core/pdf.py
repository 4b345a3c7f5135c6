"""Printable documents as PDF (X-9), built with fpdf2 (pure Python, no system libraries).

Every app builds its PDFs through ``Document`` so they look alike: the agency's name (and
its PNG/JPEG logo when it has one) on top, a title, then headings, paragraphs, key/value
lines and tables, and a footer with the page number and the time it was made::

    doc = Document(agency=agency, title="Peer support roster — District 1")
    doc.heading("On the team")
    doc.table(["Name", "Phone"], rows, widths=[100, 80])
    return doc.response("roster.pdf")

Text is set in the core Helvetica font; characters it lacks are replaced, never dropped
silently into an error. A stored logo that cannot be read (not an image, a decompression
bomb, a missing file) is left out with a warning in the log: the document is still made.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Sequence
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from PIL import Image

logger = logging.getLogger(__name__)

#: A stored logo larger than this is not drawn (uploads are re-encoded far smaller).
LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_PIXELS = 4096 * 4096

_REPLACEMENTS = {"—": "-", "–": "-", "’": "'", "‘": "'", "“": '"', "”": '"', "…": "...",
                 "›": ">", "•": "-", "≥": ">=", "≤": "<="}


def latin1(text: Any) -> str:
    """Text the core PDF fonts can set."""
    value = "" if text is None else str(text)
    for old, new in _REPLACEMENTS.items():
        value = value.replace(old, new)
    return value.encode("latin-1", "replace").decode("latin-1")


def letterhead_image(logo: Any) -> Image.Image | None:
    """The stored logo decoded (PNG or JPEG, at most ``LOGO_MAX_PIXELS``), or ``None`` with a
    warning when it cannot be: a document is never refused because of its letterhead."""
    try:
        with logo.open("rb") as handle:
            data = handle.read(LOGO_MAX_BYTES + 1)
        if len(data) > LOGO_MAX_BYTES:
            raise ValueError("file too large")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
            if image.width * image.height > LOGO_MAX_PIXELS:
                raise ValueError("too many pixels")
            image.load()
    except Exception as exc:  # noqa: BLE001 - any unreadable logo is left out the same way
        logger.warning("letterhead logo left out: %s", type(exc).__name__)
        return None
    return image


class _PDF(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("Helvetica", size=8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 6, latin1(f"{self.footer_text}    Page {self.page_no()}/{{nb}}"),
                  align="C")


class Document:
    def __init__(self, *, agency: Any, title: str, subtitle: str = "",
                 landscape: bool = False) -> None:
        self.pdf = _PDF(orientation="L" if landscape else "P", unit="mm", format="A4")
        self.pdf.set_title(latin1(title))
        self.pdf.set_creator("Tandem")
        made = timezone.localtime().strftime("%Y-%m-%d %H:%M")
        self.pdf.footer_text = f"{getattr(agency, 'name', '')} - made {made}"
        self.pdf.set_auto_page_break(auto=True, margin=16)
        self.pdf.add_page()
        self._letterhead(agency)
        self.pdf.set_font("Helvetica", style="B", size=18)
        self.pdf.multi_cell(0, 9, latin1(title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        if subtitle:
            self.pdf.set_font("Helvetica", size=11)
            self.pdf.multi_cell(0, 6, latin1(subtitle), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(3)

    def _letterhead(self, agency: Any) -> None:
        logo = getattr(agency, "logo", None)
        name = getattr(agency, "name", "")
        if logo and str(logo.name).lower().endswith((".png", ".jpg", ".jpeg")):
            image = letterhead_image(logo)
            if image is not None:
                try:
                    self.pdf.image(image, x=self.pdf.l_margin, y=10, h=14)
                    self.pdf.set_x(self.pdf.l_margin + 18)
                except Exception:  # noqa: BLE001 - the document matters more than its logo
                    logger.warning("letterhead logo could not be drawn; document made without it")
                    self.pdf.set_x(self.pdf.l_margin)
        self.pdf.set_font("Helvetica", style="B", size=11)
        self.pdf.set_text_color(60, 60, 60)
        self.pdf.cell(0, 14, latin1(name), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.set_text_color(0, 0, 0)
        self.pdf.ln(2)

    def heading(self, text: str) -> None:
        self.pdf.ln(2)
        self.pdf.set_font("Helvetica", style="B", size=13)
        self.pdf.multi_cell(0, 7, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(1)

    def paragraph(self, text: str, *, size: int = 10) -> None:
        self.pdf.set_font("Helvetica", size=size)
        self.pdf.multi_cell(0, 5, latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.pdf.ln(1)

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """Label/value lines, e.g. [("Designated", "2026-03-01 by the Chief")]."""
        for label, value in pairs:
            self.pdf.set_font("Helvetica", style="B", size=10)
            self.pdf.cell(55, 6, latin1(label))
            self.pdf.set_font("Helvetica", size=10)
            self.pdf.multi_cell(0, 6, latin1(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def table(self, header: Sequence[str], rows: Sequence[Sequence[Any]],
              widths: Sequence[float] | None = None, *, size: int = 9) -> None:
        self.pdf.set_font("Helvetica", size=size)
        kwargs: dict[str, Any] = {"text_align": "LEFT", "first_row_as_headings": True}
        if widths:
            kwargs["col_widths"] = tuple(widths)
        with self.pdf.table(**kwargs) as table:
            head = table.row()
            for cell in header:
                head.cell(latin1(cell))
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(latin1(value))
        self.pdf.ln(2)

    def image_png(self, data: bytes, *, width: float = 170) -> None:
        self.pdf.image(io.BytesIO(data), w=width)
        self.pdf.ln(2)

    def page_break(self) -> None:
        self.pdf.add_page()

    def bytes(self) -> bytes:
        return bytes(self.pdf.output())

    def response(self, filename: str, *, inline: bool = True) -> HttpResponse:
        response = HttpResponse(self.bytes(), content_type="application/pdf")
        disposition = "inline" if inline else "attachment"
        response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
        return response
