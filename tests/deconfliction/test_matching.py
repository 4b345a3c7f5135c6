"""Deconfliction, registry-wide matching finds the known duplicates of a hand-made registry."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.urls import reverse

from tandem.audit.models import AuditEvent
from tandem.recovery import services
from tandem.recovery.models import (
    MatchCandidate,
    MatchRun,
)
from tests.deconfliction.support import add, browser, scan

# ========================================================================================
# Helpers
# ========================================================================================


def proposed(agency: Any) -> set[frozenset[int]]:
    threshold = agency.policy_model().recovery.match_threshold
    return {
        frozenset((c.left_id, c.right_id))
        for c in MatchCandidate.objects.filter(
            agency=agency, status="open", probability__gte=threshold
        )
    }


# ========================================================================================
# 1. Registry-wide matching finds the known duplicates of a hand-made registry
# ========================================================================================


def test_a_scan_finds_the_known_duplicates_of_a_small_registry(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    people = [
        ("Jamie", "Rivera", date(1990, 4, 5), "540 555 0199", "12 Elm Street", ""),
        ("Dana", "Whitfield", date(1985, 11, 2), "540 555 0101", "4 Oak Lane", "Dee"),
        ("Marcus", "Oyelaran", date(1978, 1, 30), "540 555 0102", "9 Pine Road", ""),
        ("Lucia", "Fernandez", date(1995, 7, 14), "540 555 0103", "77 Cedar Court", ""),
        ("Tom", "Becker", date(1969, 3, 8), "540 555 0104", "2 Birch Way", "Tommy B"),
        ("Ana", "Kowalski", date(2001, 12, 25), "540 555 0105", "31 Maple Ave", ""),
        ("Rashid", "Haddad", date(1988, 6, 1), "540 555 0106", "5 Spruce Street", ""),
        ("Grace", "O'Neill", date(1992, 9, 9), "540 555 0107", "18 Willow Drive", ""),
        ("Peter", "Nguyen", date(1975, 2, 17), "540 555 0108", "60 Ash Road", ""),
        ("Helen", "Schmidt", date(1983, 8, 21), "540 555 0109", "3 Poplar Place", ""),
    ]
    made = [
        add(aro, f, ln, date_of_birth=d, phone=p, address=a, aliases=al)
        for f, ln, d, p, a, al in people
    ]
    # What the PRS typed later, with the usual slips.
    dupes = [
        add(prs, "Jaime", "Rivera", date_of_birth=date(1990, 5, 4), phone="5405550199"),
        add(prs, "Dee", "Whitfeld", date_of_birth=date(1985, 11, 2)),
        add(prs, "Marcus", "Oyelaran", date_of_birth=date(1978, 1, 3), address="9 Pine Rd"),
        add(prs, "Tommy B", "", date_of_birth=date(1969, 3, 8), phone="(540) 555-0104"),
    ]
    # Same first name or birthday, different people.
    add(prs, "Lucia", "Ferris", date_of_birth=date(1961, 7, 14), phone="540 555 0900")
    add(prs, "Helen", "Schwartz", date_of_birth=date(1983, 8, 22), phone="540 555 0901")
    add(prs, "Peter", "Nyman", date_of_birth=date(1999, 2, 17))

    run = scan(prs)

    assert run.status == "done", run.error
    assert run.records == 17
    truth = {frozenset((a.pk, b.pk)) for a, b in zip(made[:3] + [made[4]], dupes, strict=True)}
    found = proposed(run.agency)
    true_positives = len(found & truth)
    precision = true_positives / len(found) if found else 0.0
    recall = true_positives / len(truth)
    assert recall == 1.0, (found, truth)
    assert precision == 1.0, (found, truth)
    event = AuditEvent.objects.get(action="recovery.match_run")
    assert event.detail["records"] == 17


def test_the_deconflict_page_starts_a_scan_and_shows_each_pair_explained(
    cast: dict[str, Any], django_capture_on_commit_callbacks: Any
) -> None:
    aro = cast["aro"]
    one = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")
    two = add(aro, "Jaime", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")
    page = browser(aro)
    with django_capture_on_commit_callbacks(execute=True):
        response = page.post(reverse("recovery:deconflict_scan"))
    assert response.status_code == 302
    run = MatchRun.objects.get()
    assert run.trigger == "on_demand"
    if run.status == "queued":  # the task backend queues it: run it as the worker would
        services.match_run_execute(run_id=run.pk)
    listing = page.get(reverse("recovery:deconflict")).content.decode()
    candidate = MatchCandidate.objects.get()
    assert {candidate.left_id, candidate.right_id} == {one.pk, two.pk}
    assert reverse("recovery:candidate_detail", args=[candidate.pk]) in listing
    detail = page.get(reverse("recovery:candidate_detail", args=[candidate.pk])).content.decode()
    for words in ("Date of birth", "the same", "First name", "nearly the same", "Phone"):
        assert words in detail
    assert "strong evidence for the same person" in detail
    assert "Match probability" in detail
    assert AuditEvent.objects.filter(action="recovery.candidate_view").count() == 1


def test_disagreeing_fields_are_named(cast: dict[str, Any]) -> None:
    aro = cast["aro"]
    add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")
    add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 7777")
    scan(aro)
    candidate = MatchCandidate.objects.get()
    assert candidate.disagreeing == ["Phone"]
    page = browser(aro).get(reverse("recovery:candidate_detail", args=[candidate.pk]))
    assert "Fields that disagree:</strong> Phone" in page.content.decode()
