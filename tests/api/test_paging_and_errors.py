"""The agency API pages by stable cursors at a flat query count and answers errors as
problem details."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tandem.agencies.models import Member, MemberCategory
from tests.api.support import call


def test_members_page_by_stable_cursors_at_a_flat_query_count(
    agency: Any, cast: dict[str, Any], tokens: Callable[[str], str]
) -> None:
    Member.objects.bulk_create(
        [
            Member(
                agency=agency,
                employee_number=f"B-{i:04d}",
                first_name="Bulk",
                last_name=f"P{i:04d}",
                category=MemberCategory.CIVILIAN,
            )
            for i in range(230)
        ]
    )
    secret = tokens("members:read")
    seen: list[int] = []
    counts: list[int] = []
    url: str | None = reverse("api:members") + "?limit=50"
    call(secret, "get", url)  # the first call of the day also notes the token's use
    while url:
        with CaptureQueriesContext(connection) as queries:
            page = call(secret, "get", url).json()
        counts.append(len(queries))
        seen.extend(item["id"] for item in page["results"])
        url = page["next"]
    expected = Member.objects.filter(agency=agency).count()
    assert len(seen) == len(set(seen)) == expected
    assert seen == sorted(seen)
    assert max(counts) == min(counts[:-1] or counts)  # the same cost on every full page


def test_errors_are_problem_details(world: dict[str, Any], tokens: Callable[[str], str]) -> None:
    missing = call(tokens("members:read"), "get", reverse("api:member", args=[987654]))
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"
    assert set(missing.json()) >= {"type", "title", "status"}
    invalid = call(tokens("members:write"), "post", reverse("api:members"), {"category": 1})
    assert invalid.status_code == 400
    assert "employee_number" in invalid.json()["errors"]
    assert invalid["Content-Type"] == "application/problem+json"
    wrong_method = call(tokens("members:read"), "delete", reverse("api:members"))
    assert wrong_method.status_code == 405
    assert wrong_method["Content-Type"] == "application/problem+json"
    assert wrong_method["Allow"]
    # An address under the API that names no endpoint: the same problem details.
    nowhere = call(tokens("members:read"), "get", "/api/v1/no-such-thing/")
    assert nowhere.status_code == 404
    assert nowhere["Content-Type"] == "application/problem+json"
    assert nowhere.json()["status"] == 404
    unauthenticated = call(None, "get", reverse("api:members"))
    assert unauthenticated.status_code == 401
    assert unauthenticated["Content-Type"] == "application/problem+json"
    assert unauthenticated.json()["title"] == "Not authenticated"
