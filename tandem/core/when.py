"""How dates and times are written: one format per context, in the agency's locale.

The agency's policy names its ``locale`` (``en-US`` unless it says ``en-GB``). Screens take
it from the signed-in person's agency (``AgencyLocaleMiddleware`` activates it for the
request), documents and jobs from the agency they are made for (``agency_locale``).
Templates never spell a pattern: they name the context, ``{{ value|when:"date" }}``.

Contexts:

* ``date`` — a day (*Mon, Nov 30, 2026* / *Mon 30 Nov 2026*);
* ``short_date`` — a day in the coming weeks (*Mon, Nov 30* / *Mon 30 Nov*);
* ``datetime`` — a moment (*Mon, Nov 30, 2026, 17:51*);
* ``short_datetime`` — a moment in the coming days (*Mon, Nov 30, 17:51*);
* ``time`` — a time of day, 24-hour as dispatch and patrol use it (*17:51*);
* ``month`` — a month (*November 2026*);
* ``exact`` — to the second, for the audit trail (*2026-11-30 17:51:07*, the same everywhere).

Django's own format modules (``tandem/formats/<locale>/formats.py``) are built from the
same table, so a date Django prints by itself (``{{ day }}``) agrees.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time
from typing import TYPE_CHECKING

from django.utils import dateformat, timezone, translation

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

DEFAULT_LOCALE = "en-US"

#: Locale → context → Django date-format pattern.
FORMATS: dict[str, dict[str, str]] = {
    "en-US": {
        "date": "D, M j, Y",
        "short_date": "D, M j",
        "datetime": "D, M j, Y, H:i",
        "short_datetime": "D, M j, H:i",
        "time": "H:i",
        "month": "F Y",
        "exact": "Y-m-d H:i:s",
    },
    "en-GB": {
        "date": "D j M Y",
        "short_date": "D j M",
        "datetime": "D j M Y, H:i",
        "short_datetime": "D j M, H:i",
        "time": "H:i",
        "month": "F Y",
        "exact": "Y-m-d H:i:s",
    },
}
LOCALES = tuple(FORMATS)
CONTEXTS = tuple(FORMATS[DEFAULT_LOCALE])


def django_formats(locale: str) -> dict[str, str]:
    """The table as Django's format-module settings (``DATE_FORMAT`` …) for ``locale``."""
    table = FORMATS[locale]
    return {
        "DATE_FORMAT": table["date"],
        "SHORT_DATE_FORMAT": table["short_date"],
        "DATETIME_FORMAT": table["datetime"],
        "SHORT_DATETIME_FORMAT": table["short_datetime"],
        "TIME_FORMAT": table["time"],
        "YEAR_MONTH_FORMAT": table["month"],
        "MONTH_DAY_FORMAT": "F j" if locale == "en-US" else "j F",
    }


def language_code(locale: str) -> str:
    """Django's language code for a locale name (``en-GB`` → ``en-gb``)."""
    return locale.lower()


def current_locale() -> str:
    """The locale of what is being rendered now (the request's or the document's agency)."""
    active = (translation.get_language() or "").lower()
    for locale in LOCALES:
        if locale.lower() == active:
            return locale
    return DEFAULT_LOCALE


def agency_locale_name(agency: Agency | None) -> str:
    """The locale the agency's policy names (en-US when it names none)."""
    value = (getattr(agency, "policy", None) or {}).get("locale")
    return value if value in FORMATS else DEFAULT_LOCALE


@contextmanager
def agency_locale(agency: Agency | None) -> Iterator[str]:
    """Render in the agency's locale (documents, jobs, e-mails made outside a request)."""
    locale = agency_locale_name(agency)
    with translation.override(language_code(locale)):
        yield locale


def when(
    value: date | datetime | time | None, context: str = "date", locale: str | None = None
) -> str:
    """``value`` written for ``context`` in ``locale`` (default: the active one); a moment in
    the agency's time zone. ``""`` for no value, so templates can add ``|default:"—"``."""
    if value is None or value == "":
        return ""
    if context not in CONTEXTS:
        raise ValueError(f"unknown date context {context!r} (one of {', '.join(CONTEXTS)})")
    pattern = FORMATS[locale or current_locale()][context]
    if isinstance(value, time):
        if context != "time":
            raise ValueError(f"a time of day has no day to show as {context!r}")
        return dateformat.time_format(value, pattern)
    if isinstance(value, datetime):
        if timezone.is_aware(value):
            value = timezone.localtime(value)
    elif context not in ("date", "short_date", "month"):
        raise ValueError(f"a day has no time of day to show as {context!r}")
    return dateformat.format(value, pattern)
