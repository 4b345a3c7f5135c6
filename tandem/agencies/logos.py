"""Checking an uploaded agency logo: PNG, JPEG or a plain SVG (no scripts, no external
references), at most ``MAX_LOGO_BYTES``. The logo is served from our own origin with a
sandboxing Content-Security-Policy as a second line of defence.

A PNG or JPEG is decoded with Pillow and never stored as uploaded: its declared size is
checked against ``MAX_LOGO_PIXELS`` *before* the pixels are decoded (a few KB of PNG can
declare 20000 × 20000 pixels), then it is re-encoded as a clean PNG at most
``LOGO_MAX_SIDE`` pixels on a side, so nothing after the image data (an HTML page, say)
and no metadata survives, and every PDF letterhead can draw it.
"""

from __future__ import annotations

import io
import re
import warnings
import xml.etree.ElementTree as ET  # noqa: S405 - input is checked for DTDs/entities first
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from PIL import Image, ImageOps

MAX_LOGO_BYTES = 512 * 1024
#: Larger images are refused before decoding (a logo needs far fewer pixels).
MAX_LOGO_PIXELS = 4096 * 4096
#: The stored logo is at most this many pixels wide and high.
LOGO_MAX_SIDE = 512
CONTENT_TYPES = {"png": "image/png", "jpg": "image/jpeg", "svg": "image/svg+xml"}
_FORBIDDEN_SVG_TAGS = {
    "script",
    "foreignobject",
    "iframe",
    "embed",
    "object",
    "handler",
    "audio",
    "video",
    "set",
}
_SAFE_HREF = re.compile(r"^(#|data:image/(png|jpeg);base64,)", re.IGNORECASE)


def _local(name: str) -> str:
    return name.rsplit("}", 1)[-1].lower()


def _check_svg(data: bytes) -> None:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationError("The SVG file is not UTF-8 text.") from None
    if re.search(r"<!(DOCTYPE|ENTITY)", text, re.IGNORECASE):
        raise ValidationError("SVG logos may not contain a DOCTYPE or entities.")
    try:
        root = ET.fromstring(text)  # noqa: S314 - DTDs and entities rejected above
    except ET.ParseError as exc:
        raise ValidationError(f"The SVG file cannot be read ({exc}).") from None
    if _local(root.tag) != "svg":
        raise ValidationError("The file is not an SVG image.")
    for element in root.iter():
        tag = _local(element.tag)
        if tag in _FORBIDDEN_SVG_TAGS:
            raise ValidationError(f"SVG logos may not contain <{tag}> elements.")
        if tag == "style" and re.search(
            r"@import|url\(\s*['\"]?(https?:|//)", element.text or "", re.IGNORECASE
        ):
            raise ValidationError("SVG logos may not load external styles or images.")
        for name, value in element.attrib.items():
            attr = _local(name)
            if attr.startswith("on"):
                raise ValidationError("SVG logos may not contain event handlers.")
            if attr == "href" and not _SAFE_HREF.match(value.strip()):
                raise ValidationError("SVG logos may not link to other files or addresses.")
            # Browsers drop tabs, newlines and other control characters inside URLs.
            if "javascript:" in re.sub(r"[\x00-\x20]", "", value).lower():
                raise ValidationError("SVG logos may not contain scripts.")


_NOT_AN_IMAGE = "The file is not a readable PNG or JPEG image."


def open_bounded(data: bytes, *, max_pixels: int = MAX_LOGO_PIXELS) -> Image.Image:
    """The decoded PNG or JPEG in ``data``, else ``ValidationError``. The size the file
    declares is checked before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=["PNG", "JPEG"])
            width, height = image.size
            if width * height > max_pixels:
                raise ValidationError(
                    f"The image is too large ({width} × {height} pixels); logos may have at "
                    f"most {max_pixels:,} pixels."
                )
            image.load()
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValidationError("The image is too large to be a logo.") from None
    except (OSError, SyntaxError, ValueError, EOFError, MemoryError):
        raise ValidationError(_NOT_AN_IMAGE) from None
    return image


def reencode_png(image: Image.Image) -> bytes:
    """A fresh PNG of ``image``: upright, at most ``LOGO_MAX_SIDE`` on a side, no metadata."""
    image = ImageOps.exif_transpose(image)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    image = image.convert("RGBA" if has_alpha else "RGB")
    image.thumbnail((LOGO_MAX_SIDE, LOGO_MAX_SIDE))
    clean = Image.new(image.mode, image.size)
    clean.paste(image)
    buffer = io.BytesIO()
    clean.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


@dataclass(frozen=True)
class CleanLogo:
    content: bytes
    extension: str  # "png" or "svg"


def clean_logo(data: bytes, filename: str) -> CleanLogo:
    """What to store for an uploaded logo: a re-encoded PNG, or a checked SVG as sent.
    Raises ``ValidationError`` with a message for the administrator otherwise."""
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationError(
            f"The logo is {len(data) // 1024} KB; the limit is {MAX_LOGO_BYTES // 1024} KB."
        )
    if not data:
        raise ValidationError("The file is empty.")
    if data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")):
        return CleanLogo(reencode_png(open_bounded(data)), "png")
    if filename.lower().endswith(".svg") or data.lstrip()[:5] in (b"<?xml", b"<svg "):
        _check_svg(data)
        return CleanLogo(data, "svg")
    raise ValidationError("The logo must be a PNG, JPEG or SVG image.")
