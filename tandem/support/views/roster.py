"""Roster.

Part of ``tandem.support.views``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies import selectors as agency_selectors
from tandem.agencies.access import pk_or_404, require_account
from tandem.agencies.models import Agency, Unit
from tandem.core.db_router import reads_from_replica
from tandem.core.keyset import keyset_page, page_query, parse_cursor
from tandem.core.pdf import Document
from tandem.support import access, forms, selectors
from tandem.support.models import (
    SupporterProfile,
)

# --- Roster ---------------------------------------------------------------------------


#: Supporters per roster page: a page of cards a phone scrolls through, however big the team.
ROSTER_PER_PAGE = 50


@require_GET
@reads_from_replica
def directory(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_account(request.user)
    form = forms.DirectoryFilterForm(request.GET or None, agency=agency)
    filters = form.cleaned_data if form.is_valid() else {}
    policy = agency.policy_model()
    page = keyset_page(
        selectors.roster(agency, filters),
        order=selectors.ROSTER_ORDER,
        size=ROSTER_PER_PAGE,
        after=parse_cursor(request.GET.get("after")),
        before=parse_cursor(request.GET.get("before")),
    )
    context = {
        "form": form,
        "page": page,
        "query": page_query(request),
        "policy": policy,
        "help_url": reverse("support:intake", args=[access.help_pass_for(agency)]),
        "referrals": selectors.takes_referrals(policy),
    }
    return render(request, "support/directory.html", context)


def _poster_rows(
    request: AuthenticatedHttpRequest,
) -> tuple[Agency, Unit | None, list[SupporterProfile]]:
    """The whole department-wide team, whichever unit the poster is for: 18.107 B.1.a posts
    every team member's name and number in every district, section and unit."""
    agency = require_account(request.user)
    unit = None
    if request.GET.get("unit"):
        unit = agency_selectors.unit_or_none(agency, pk_or_404(request.GET["unit"]))
        if unit is None:
            raise Http404
    return agency, unit, list(selectors.roster(agency, {}))


def _poster_contacts(agency: Agency) -> dict[str, Any]:
    """Who to call when no team member answers: Communications, then the psychologist."""

    psychologists = [
        (str(u), (u.member.phone if u.member else "") or u.phone)
        for u in selectors.psychologists(agency)
    ]
    policy = agency.policy_model()
    title, phone = selectors.communications(policy)
    return {
        "communications_title": title,
        "communications_phone": phone,
        "psychologist_title": policy.title("psychologist"),
        "psychologists": psychologists,
    }


def _poster_title(unit: Unit | None) -> str:
    return "Peer support team" + (f" — posted in {unit.name}" if unit else "")


POSTER_LEDE = (
    "Call any of us, at any hour. What you say stays with us, within the limits we "
    "explain at the start."
)


@require_GET
def poster(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency, unit, profiles = _poster_rows(request)
    units = agency_selectors.units(agency)
    return render(
        request,
        "support/poster.html",
        {
            "unit": unit,
            "profiles": profiles,
            "units": units,
            "title": _poster_title(unit),
            **_poster_contacts(agency),
        },
    )


@require_GET
def poster_pdf(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency, unit, profiles = _poster_rows(request)
    contacts = _poster_contacts(agency)
    # Poster type (large, from across a room) is the document's own; the whole team fits.
    doc = Document(agency=agency, title=_poster_title(unit), subtitle=POSTER_LEDE, poster=True)
    doc.table(
        ["Name", "Phone", "Sworn / civilian", "Unit"],
        [
            [
                p.display_name,
                p.reach_phone,
                p.get_affiliation_display(),
                p.unit.name if p.unit else "",
            ]
            for p in profiles
        ],
        widths=[60, 45, 35, 50],
    )
    doc.heading(
        f"No answer? Call {contacts['communications_title']}"
        + (f": {contacts['communications_phone']}" if contacts["communications_phone"] else "")
    )
    doc.paragraph(
        "They reach a team member at any hour, and if none answers, the "
        f"{contacts['psychologist_title']}.",
        size=13,
    )
    for name, phone in contacts["psychologists"]:
        doc.paragraph(
            f"{contacts['psychologist_title']}: {name}" + (f", {phone}" if phone else ""), size=13
        )
    return doc.response("peer-support-roster.pdf")
