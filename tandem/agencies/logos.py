"""Checking an uploaded agency logo: PNG, JPEG or a plain SVG (no scripts, no external
references), at most ``MAX_LOGO_BYTES``. The logo is served from our own origin with a
sandboxing Content-Security-Policy as a second line of defence."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # noqa: S405 - input is checked for DTDs/entities first

from django.core.exceptions import ValidationError

MAX_LOGO_BYTES = 512 * 1024
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


def check_logo(data: bytes, filename: str) -> str:
    """The file type ("png", "jpg" or "svg") of an acceptable logo, else ``ValidationError``."""
    if len(data) > MAX_LOGO_BYTES:
        raise ValidationError(
            f"The logo is {len(data) // 1024} KB; the limit is {MAX_LOGO_BYTES // 1024} KB."
        )
    if not data:
        raise ValidationError("The file is empty.")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if filename.lower().endswith(".svg") or data.lstrip()[:5] in (b"<?xml", b"<svg "):
        _check_svg(data)
        return "svg"
    raise ValidationError("The logo must be a PNG, JPEG or SVG image.")
