"""Readiness, hours worked: acceptance tests from the user's side."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.readiness import services
from tandem.readiness.models import (
    TimeEntry,
)

# ========================================================================================
# 8. Hours worked
# ========================================================================================


@pytest.mark.django_db
def test_hours_worked_are_validated_per_day(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter = cast["supporter"]
    client = signed_in(supporter)
    url = reverse("readiness:time_entries")
    today = timezone.localdate().isoformat()
    for hours, message in (
        ("-1", b"more than zero"),
        ("0", b"more than zero"),
        ("25", b"at most 24"),
    ):
        response = client.post(
            url, {"worked_on": today, "hours": hours, "idempotency_key": f"k{hours}"}
        )
        assert response.status_code == 400
        assert message in response.content
    assert (
        client.post(url, {"worked_on": today, "hours": "20", "idempotency_key": "x1"}).status_code
        == 302
    )
    client.post(url, {"worked_on": today, "hours": "20", "idempotency_key": "x1"})  # resent
    over = client.post(url, {"worked_on": today, "hours": "5", "idempotency_key": "x2"})
    assert over.status_code == 400
    assert b"a day has at most 24" in over.content
    future = client.post(
        url,
        {
            "worked_on": (timezone.localdate() + timedelta(days=2)).isoformat(),
            "hours": "1",
            "idempotency_key": "x3",
        },
    )
    assert future.status_code == 400
    entry = TimeEntry.objects.get(user=supporter)
    assert entry.hours == Decimal("20")
    assert entry.activity_code == "peer_support"
    # Someone else's entry cannot be removed; one's own can.
    other = signed_in(cast["coordinator"])
    assert other.post(reverse("readiness:time_entry_delete", args=[entry.pk])).status_code == 404
    client.post(reverse("readiness:time_entry_delete", args=[entry.pk]))
    assert not TimeEntry.objects.exists()


@pytest.mark.django_db
def test_time_entries_never_link_to_whom_was_helped() -> None:
    relations = {f.name for f in TimeEntry._meta.get_fields() if f.is_relation}
    assert relations == {"agency", "user"}
    with connection.cursor() as cursor:
        columns = {
            c.name
            for c in connection.introspection.get_table_description(
                cursor, TimeEntry._meta.db_table
            )
        }
    assert columns == {
        "id",
        "agency_id",
        "user_id",
        "worked_on",
        "hours",
        "activity_code",
        "created_at",
        "idempotency_key",
    }


@pytest.mark.django_db
def test_hours_export_for_the_scheduling_system(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter = cast["supporter"]
    supporter.first_name = "=HYPERLINK(1)"
    supporter.save(update_fields=["first_name"])
    services.time_entry_add(
        acting_user=supporter,
        worked_on=timezone.localdate(),
        hours=Decimal("2.5"),
        idempotency_key="e1",
    )
    client = signed_in(cast["coordinator"])
    day = timezone.localdate().isoformat()
    response = client.get(reverse("readiness:time_export"), {"start": day, "end": day})
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0] == '"Date","Employee number","Name","Activity code","Hours"'
    assert f'"{day}","E-supporter","\'=HYPERLINK(1) Tester","peer_support","2.5"' in text
    bad = client.get(reverse("readiness:time_export"), {"start": day, "end": "2000-01-01"})
    assert bad.status_code == 400
