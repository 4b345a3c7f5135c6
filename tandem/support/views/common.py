"""Shared by the modules of this package.

Part of ``tandem.support.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from tandem.accounts.http import AuthenticatedHttpRequest

FEED_PURPOSE = "psp.shifts"


def _form_page(
    request: AuthenticatedHttpRequest,
    *,
    title: str,
    form: Any,
    submit: str,
    lede: str = "",
    cancel: str = "",
    status: int = 200,
    extra: dict[str, Any] | None = None,
) -> HttpResponse:
    context = {
        "title": title,
        "form": form,
        "submit": submit,
        "lede": lede,
        "cancel": cancel,
        **(extra or {}),
    }
    return render(request, "support/form.html", context, status=status)


def _posted(request: HttpRequest) -> Any:
    """The submitted data of a POST (even an empty one), else None for an unbound form."""
    return request.POST if request.method == "POST" else None
