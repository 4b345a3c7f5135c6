"""The auditor's screens: the trail of their own agency, one event, and chain verification.

Every view records itself ("audit.view", "audit.verify"), and refusals are recorded as
denied before the same 404 that a missing page gives.
"""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.audit.access import get_event_for_user, require_auditor
from tandem.audit.forms import EventFilterForm
from tandem.audit.models import Outcome
from tandem.audit.selectors import event_page, filtered_events
from tandem.audit.services import audit_record
from tandem.audit.verify import verify_chain
from tandem.core.db_router import reads_from_replica


def _cursor(request: AuthenticatedHttpRequest, name: str) -> int | None:
    value = request.GET.get(name, "")
    return int(value) if value.isdigit() and len(value) <= 18 else None


def _record_denied(request: AuthenticatedHttpRequest, action: str, object_id: Any = "") -> None:
    audit_record(
        action=action,
        actor=request.user,
        outcome=Outcome.DENIED,
        request=request,
        object_type="audit.AuditEvent",
        object_id=object_id,
    )


def _auditor_only(request: AuthenticatedHttpRequest, action: str) -> None:
    """The auditor check; a refusal is recorded as denied, then answered with the 404."""
    try:
        require_auditor(request.user)
    except Http404:
        _record_denied(request, action)
        raise


@require_GET
@reads_from_replica
def event_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    _auditor_only(request, "audit.view")
    user = request.user
    form = EventFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    page = None
    if not form.is_bound or form.is_valid():
        events = filtered_events(user.home_agency_id, filters)
        page = event_page(
            events, before=_cursor(request, "before"), after=_cursor(request, "after")
        )
    audit_record(
        action="audit.view",
        actor=user,
        request=request,
        object_type="audit.AuditEvent",
        detail={"filters": sorted(k for k, v in filters.items() if v)},
    )
    query = request.GET.copy()
    for key in ("before", "after"):
        query.pop(key, None)
    return render(
        request, "audit/event_list.html", {"form": form, "page": page, "query": query.urlencode()}
    )


@require_GET
def event_detail(request: AuthenticatedHttpRequest, seq: int) -> HttpResponse:
    try:
        event = get_event_for_user(request.user, seq)
    except Http404:
        _record_denied(request, "audit.view", seq)
        raise
    audit_record(
        action="audit.view",
        actor=request.user,
        request=request,
        object_type="audit.AuditEvent",
        object_id=event.seq,
    )
    return render(request, "audit/event_detail.html", {"event": event})


@require_POST
def verify(request: AuthenticatedHttpRequest) -> HttpResponse:
    _auditor_only(request, "audit.verify")
    user = request.user
    result = verify_chain(agency_id=user.agency_id)
    audit_record(
        action="audit.verify",
        actor=user,
        request=request,
        detail={"intact": result.ok, "events": result.count, "broken_seq": result.broken_seq},
    )
    htmx = getattr(request, "htmx", False)
    template = "audit/partials/verify_result.html" if htmx else "audit/verify.html"
    return render(request, template, {"result": result})
