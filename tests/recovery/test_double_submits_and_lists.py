"""Peer recovery, double submits, the HTMX search and query counts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tandem.recovery.models import (
    PlannedContact,
    Referral,
)
from tests.recovery.support import browser, local, new_client, plan, resource

# ========================================================================================
# Double submits, the HTMX search and query counts
# ========================================================================================


def test_double_submitted_referrals_visits_and_overdoses_are_written_once(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    center = resource(cast["aro"])
    aro = browser(cast["aro"])
    start = timezone.now() + timedelta(hours=3)
    posts = [
        (reverse("recovery:referral_create", args=[client.pk]), {"resource": center.pk}),
        (
            reverse("recovery:planned_create"),
            {
                "client": client.pk,
                "kind": "office",
                "starts_at": local(start),
                "ends_at": local(start + timedelta(hours=1)),
            },
        ),
        (
            reverse("recovery:overdose_list"),
            {
                "occurred_at": local(timezone.now()),
                "location": "1 Main St",
                "suspected_drug": "unknown",
            },
        ),
        (
            reverse("recovery:naloxone_list"),
            {
                "given_on": timezone.localdate().isoformat(),
                "quantity": "2",
                "recipient_type": "client",
            },
        ),
    ]
    for n, (url, data) in enumerate(posts):
        first = aro.post(url, {**data, "idempotency_key": f"once-{n}"})
        assert first.status_code == 302, url
        again = aro.post(url, {**data, "idempotency_key": f"once-{n}"})
        assert "already submitted" in again.content.decode(), url
    from tandem.recovery.models import NaloxoneKit, OverdoseResponse

    assert Referral.objects.count() == 1
    assert PlannedContact.objects.count() == 1
    assert OverdoseResponse.objects.count() == 1
    assert NaloxoneKit.objects.count() == 1


def test_the_client_search_answers_htmx_with_only_the_result_rows(cast: dict[str, Any]) -> None:
    new_client(cast["aro"])
    partial = browser(cast["prs"]).get(
        reverse("recovery:client_list"), {"q": "Rivera"}, HTTP_HX_REQUEST="true"
    )
    body = partial.content.decode()
    assert "Jamie Rivera" in body
    assert "<html" not in body


def test_list_pages_cost_the_same_number_of_queries_however_many_clients(
    cast: dict[str, Any],
) -> None:
    from django.test.utils import CaptureQueriesContext

    def counts() -> list[int]:
        session = browser(cast["aro"])
        found = []
        for url in (
            reverse("recovery:client_list"),
            reverse("recovery:caseload"),
            reverse("recovery:planned_list"),
        ):
            with CaptureQueriesContext(connection) as queries:
                assert session.get(url).status_code == 200
            found.append(len(queries))
        return found

    def add(n: int) -> None:
        for i in range(n):
            client = new_client(
                cast["aro"],
                first_name=f"Person{i}",
                last_name=f"Count{n}",
                phone="",
                aro=cast["aro"],
                prs=cast["prs"],
            )
            plan(cast, client, timezone.now() + timedelta(minutes=10 + i))

    add(2)
    few = counts()
    add(8)
    assert counts() == few
