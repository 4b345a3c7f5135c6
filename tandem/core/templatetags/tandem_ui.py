"""Template helpers every page shares (a built-in library: no ``{% load %}`` needed): dates
and times in the agency's locale, the error summary of a failed form, tel: links."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms, template
from django.core.exceptions import NON_FIELD_ERRORS

register = template.Library()


@register.simple_tag
def error_items(form: forms.BaseForm | None) -> list[dict[str, str]]:
    """One entry per problem in a failed form: the message and the field it links to."""
    if form is None or not form.is_bound or not form.errors:
        return []
    items = [{"href": "", "text": str(e)} for e in form.non_field_errors()]
    for name, errors in form.errors.items():
        if name == NON_FIELD_ERRORS or name not in form.fields:
            continue
        field = form[name]
        target = field.id_for_label if not field.is_hidden else ""
        for error in errors:
            text = str(error) if field.is_hidden else f"{field.label}: {error}"
            items.append({"href": f"#{target}" if target else "", "text": text})
    return items


@register.filter(name="when", expects_localtime=False)
def when_filter(value: date | datetime | time | None, context: str = "date") -> str:
    """``{{ value|when:"date" }}``: one format per context in the agency's locale (see
    ``tandem.core.when`` for the contexts)."""
    from tandem.core.when import when

    return when(value, context)


@register.filter
def tel_href(number: Any) -> str:
    """A phone number as a tel: URI: digits only, a leading + kept (RFC 3966)."""
    text = str(number or "").strip()
    digits = "".join(c for c in text if c.isdigit())
    return f"tel:{'+' if text.startswith('+') else ''}{digits}"


@register.filter(name="unfillable")
def unfillable_filter(form: forms.BaseForm | None) -> list[str]:
    """The required lists of a form that have nothing to choose (see core.forms.unfillable)."""
    from tandem.core.forms import unfillable

    return unfillable(form) if form is not None else []
