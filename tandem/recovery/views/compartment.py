"""The CJI compartment.

Part of ``tandem.recovery.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.recovery import services
from tandem.recovery.access import (
    get_cji_client_for_user,
)
from tandem.recovery.forms import (
    CJIEntryForm,
    CJIReadForm,
    SwornNoteForm,
)

# --- The CJI compartment -------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def cji(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_cji_client_for_user(request.user, pk, write=False)
    form = CJIReadForm(request.POST or None)
    context: dict[str, Any] = {"client": client, "form": form, "shown": False}
    if request.method == "POST" and form.is_valid():
        entries, notes = services.cji_read(
            acting_user=request.user, client=client, purpose=form.cleaned_data["purpose"]
        )
        context.update(
            shown=True,
            entries=entries,
            notes=notes,
            entry_form=CJIEntryForm(initial={"queried_on": timezone.localdate()}),
            note_form=SwornNoteForm(),
        )
    return render(request, "recovery/cji.html", context, status=400 if form.errors else 200)


@require_POST
def cji_entry_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_cji_client_for_user(request.user, pk, write=True)
    form = CJIEntryForm(request.POST)
    if form.is_valid():
        try:
            services.cji_entry_create(acting_user=request.user, client=client, **form.cleaned_data)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, "The CJI entry was recorded.")
    else:
        messages.error(request, "Give the source, a query date, the purpose and a summary.")
    return redirect("recovery:cji", client.pk)


@require_POST
def sworn_note_create(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    client = get_cji_client_for_user(request.user, pk, write=True)
    form = SwornNoteForm(request.POST)
    if form.is_valid():
        services.sworn_note_create(
            acting_user=request.user, client=client, text=form.cleaned_data["text"]
        )
        messages.success(request, "The sworn-only note was recorded.")
    else:
        messages.error(request, "Write the note.")
    return redirect("recovery:cji", client.pk)
