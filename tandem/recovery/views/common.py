"""Shared by the modules of this package.

Part of ``tandem.recovery.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import Any

from django.forms import BaseForm
from django.utils import timezone

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.recovery import vocab

PER_PAGE = 50

#: Timeline entries per page on the client page (a phone shows ten before "Older entries").
TIMELINE_PAGE = 10
OPEN_GOALS = {vocab.GoalStatus.OPEN, vocab.GoalStatus.IN_PROGRESS}


def _stale_form(
    form_class: type,
    request: AuthenticatedHttpRequest,
    version: int,
    **kwargs: Any,
) -> Any:
    """The user's submitted form again, now based on the newer record's ``version``: saving
    it once more (after reviewing the newer values) is an ordinary edit, not a stale one."""
    data = request.POST.copy()
    data["version"] = str(version)
    form = form_class(data, request.FILES or None, **kwargs)
    form.is_valid()
    return form


def _display(field: Any, value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    choices = dict(getattr(field, "choices", None) or [])
    if isinstance(value, list | tuple):
        return ", ".join(str(choices.get(v, v)) for v in value)
    if hasattr(value, "get_full_name"):
        return str(value.get_full_name() or value.username)
    if hasattr(value, "pk"):
        return str(value)
    if hasattr(value, "strftime"):
        moment = timezone.localtime(value) if hasattr(value, "tzinfo") and value.tzinfo else value
        return moment.strftime("%Y-%m-%d %H:%M" if hasattr(moment, "hour") else "%Y-%m-%d")
    return str(choices.get(value, value))


def _comparable(value: Any) -> Any:
    if hasattr(value, "pk"):
        return value.pk
    if isinstance(value, list | tuple):
        return sorted(str(v) for v in value)
    if hasattr(value, "tzinfo") and getattr(value, "tzinfo", None):
        return timezone.localtime(value).replace(second=0, microsecond=0)
    return value if value not in ("", None, []) else None


def _newer_values(form: BaseForm, current: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, saved value) of every field where the newer record differs from the input."""
    rows = []
    for name, field in form.fields.items():
        if field.widget.is_hidden or name not in current or name == "photo":
            continue
        theirs = current[name]
        if _comparable(theirs) != _comparable(form.cleaned_data.get(name)):
            rows.append(
                (str(field.label or name.replace("_", " ").capitalize()), _display(field, theirs))
            )
    return rows
