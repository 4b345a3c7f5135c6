"""Printable documents as PDF (X-9), made from HTML by WeasyPrint.

Every app builds its PDFs through ``Document`` so they look alike: the agency's name (and
its logo when it has one) on top, a title, then headings, paragraphs, key/value lines,
tables and charts, and a footer with the page number and the time it was made::

    doc = Document(agency=agency, title="Peer support roster — District 1")
    doc.heading("On the team")
    doc.table(["Name", "Phone"], rows, widths=[100, 80])
    return doc.response("roster.pdf")

The PDF is tagged (PDF/UA-1: a structure tree a screen reader follows), names its language
and carries real, extractable text in an embedded font. The page is the agency's paper size
(the policy's ``paper``: US Letter unless the agency says A4). A heading is never left at the foot
of a page away from what follows it, a chart stays with its title, and a chart whose every
figure is withheld is replaced by one line saying so. A stored logo that cannot be read (not
an image, a decompression bomb, a missing file) is left out with a warning in the log: the
document is still made.
"""

from __future__ import annotations

import base64
import io
import logging
import warnings
from collections.abc import Sequence
from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from PIL import Image

from tandem.core.when import agency_locale_name, when

logger = logging.getLogger(__name__)

#: A stored logo larger than this is not drawn (uploads are re-encoded far smaller).
LOGO_MAX_BYTES = 2 * 1024 * 1024
LOGO_MAX_PIXELS = 4096 * 4096


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


#: Paper sizes by the name an agency gives; US departments print on Letter.
PAPER_SIZES = {"letter": "letter", "a4": "A4", "legal": "legal"}
DEFAULT_PAPER = "letter"

STYLE = """
@page { size: %(paper)s%(orientation)s; margin: 18mm 16mm 20mm;
  @bottom-center { content: "%(footer)s    Page " counter(page) " of " counter(pages);
                   font-size: 8pt; color: #555; } }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt;
       color: #000; line-height: 1.35; }
.letterhead { display: flex; align-items: center; gap: 4mm; font-weight: bold;
              color: #333; font-size: 11pt; margin-bottom: 4mm; }
.letterhead img { height: 14mm; }
h1 { font-size: 18pt; margin: 0 0 2mm; }
.subtitle { font-size: 11pt; margin: 0 0 4mm; }
h2 { font-size: 13pt; margin: 5mm 0 2mm; break-after: avoid; }
h3 { font-size: 11pt; margin: 4mm 0 1.5mm; break-after: avoid; }
p { margin: 0 0 2mm; }
dl { display: grid; grid-template-columns: 55mm 1fr; gap: 1mm 3mm; margin: 0 0 3mm; }
dt { font-weight: bold; } dd { margin: 0; }
table { width: 100%%; border-collapse: collapse; margin: 0 0 3mm; }
th, td { border: 0.3pt solid #777; padding: 1.2mm 1.6mm; text-align: left;
         vertical-align: top; }
thead th { background: #e8eef4; }
thead { display: table-header-group; } tr { break-inside: avoid; }
figure { margin: 0 0 3mm; break-inside: avoid; }
figure svg, figure img { width: 100%%; max-height: 120mm; }
.keep { break-inside: avoid; }
.note { font-style: italic; color: #333; }
.poster h1 { font-size: 30pt; } .poster .subtitle { font-size: 16pt; }
.poster table { font-size: 18pt; } .poster th, .poster td { padding: 4mm 3mm; }
"""


def paper_size(agency: Any) -> str:
    """The agency's paper (its policy's ``paper``), US Letter when it says nothing."""
    try:
        name = str(agency.policy_model().paper)
    except AttributeError:  # a document made without an agency
        name = DEFAULT_PAPER
    return PAPER_SIZES.get(name, PAPER_SIZES[DEFAULT_PAPER])


def _data_uri(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


class Document:
    """A printable document, assembled in order and made into a tagged PDF at the end."""

    def __init__(
        self,
        *,
        agency: Any,
        title: str,
        subtitle: str = "",
        landscape: bool = False,
        poster: bool = False,
        language: str | None = None,
    ) -> None:
        self.agency = agency
        self.title = title
        # The document's language and its dates follow the agency's locale (core/when.py).
        locale = agency_locale_name(agency)
        self.language = language or locale
        self.landscape = landscape
        self.poster = poster
        made = when(timezone.now(), "datetime", locale)
        self.footer = f"{getattr(agency, 'name', '')} - made {made}"
        self.parts: list[SafeString] = [self._letterhead(agency), format_html("<h1>{}</h1>", title)]
        if subtitle:
            self.parts.append(format_html('<p class="subtitle">{}</p>', subtitle))

    def _logo_src(self, agency: Any) -> str:
        logo = getattr(agency, "logo", None)
        if not logo or not str(logo.name).lower().endswith((".png", ".jpg", ".jpeg")):
            return ""
        image = letterhead_image(logo)
        return _data_uri(image) if image is not None else ""

    def _letterhead(self, agency: Any) -> SafeString:
        src = self._logo_src(agency)
        image = format_html('<img src="{}" alt="">', src) if src else ""
        return format_html(
            '<div class="letterhead">{}<span>{}</span></div>', image, getattr(agency, "name", "")
        )

    def heading(self, text: str) -> None:
        self.parts.append(format_html("<h2>{}</h2>", text))

    def paragraph(self, text: str, *, size: int = 10) -> None:
        self.parts.append(format_html('<p style="font-size: {}pt">{}</p>', size, text))

    def note(self, text: str) -> None:
        self.parts.append(format_html('<p class="note">{}</p>', text))

    def fields(self, pairs: Sequence[tuple[str, Any]]) -> None:
        """Label/value lines, e.g. [("Designated", "2026-03-01 by the Chief")]."""
        rows = format_html_join(
            "",
            "<dt>{}</dt><dd>{}</dd>",
            ((label, "" if value is None else value) for label, value in pairs),
        )
        self.parts.append(format_html("<dl>{}</dl>", rows))

    def table(
        self,
        header: Sequence[str],
        rows: Sequence[Sequence[Any]],
        widths: Sequence[float] | None = None,
        *,
        size: int = 9,
    ) -> None:
        total = sum(widths) if widths else 0
        cols = (
            format_html_join(
                "", '<col style="width: {}%">', ((round(100 * w / total, 1),) for w in widths or ())
            )
            if total
            else ""
        )
        head = format_html_join("", '<th scope="col">{}</th>', ((h,) for h in header))
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            (
                (format_html_join("", "<td>{}</td>", (("" if v is None else v,) for v in row)),)
                for row in rows
            ),
        )
        style = "" if self.poster else f"font-size: {size}pt"
        self.parts.append(
            format_html(
                '<table style="{}"><colgroup>{}</colgroup><thead><tr>{}</tr></thead>'
                "<tbody>{}</tbody></table>",
                style,
                cols,
                head,
                body,
            )
        )

    def chart(self, title: str, svg: str, *, withheld: bool = False) -> None:
        """A chart under its title, kept on one page; one line instead when all is withheld."""
        if withheld:
            self.parts.append(
                format_html(
                    '<div class="keep"><h3>{}</h3><p class="note">Every figure of this chart is '
                    "withheld to protect the people counted; no chart is shown.</p></div>",
                    title,
                )
            )
            return
        self.parts.append(format_html("<figure><h3>{}</h3>{}</figure>", title, mark_safe(svg)))  # noqa: S308 - SVG made by reports.charts

    def html(self) -> str:
        orientation = " landscape" if self.landscape else ""
        footer = self.footer.replace("\\", "\\\\").replace('"', '\\"')
        style = STYLE % {
            "paper": paper_size(self.agency),
            "orientation": orientation,
            "footer": footer,
        }
        body = "".join(self.parts)
        return (
            f'<!doctype html><html lang="{escape(self.language)}"><head><meta charset="utf-8">'
            f"<title>{escape(self.title)}</title><style>{style}</style></head>"
            f'<body class="{"poster" if self.poster else ""}">{body}</body></html>'
        )

    def bytes(self) -> bytes:
        from weasyprint import HTML  # imported on use: it loads Pango

        document = HTML(string=self.html(), base_url=None)
        return bytes(
            document.write_pdf(
                pdf_variant="pdf/ua-1", uncompressed_pdf=False, custom_metadata=False
            )
        )

    def response(self, filename: str, *, inline: bool = True) -> HttpResponse:
        response = HttpResponse(self.bytes(), content_type="application/pdf")
        disposition = "inline" if inline else "attachment"
        response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
        return response
