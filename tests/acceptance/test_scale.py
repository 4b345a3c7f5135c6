"""Pages flat with data: every list page costs the same queries at 1,000 rows and at a much
larger count, pages by key (no exact COUNT over the table), and a cursor never leaves the
agency it came from."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tandem.accounts.models import User, users_with_role
from tandem.agencies.models import Member, MemberCategory
from tandem.recovery.models import Client

SMALL, LARGE = 1_000, 50_000
CLIENTS_LARGE = 10_000
# Session, account, OTP device, agency, roles, units, anchor row, page, and the session
# bookkeeping; no COUNT(*) over the members.
MEMBER_PAGE_QUERIES = 11


def _add_members(agency: Any, upto: int) -> None:
    have = Member.objects.filter(agency=agency).count()
    Member.objects.bulk_create(
        (
            Member(agency=agency, employee_number=f"S{i:06}", first_name=f"First{i % 97}",
                   last_name=f"Name{i:06}", category=MemberCategory.SWORN)
            for i in range(have, upto)
        ),
        batch_size=5_000,
    )


def _add_clients(agency: Any, upto: int) -> None:
    have = Client.objects.filter(agency=agency).count()
    Client.objects.bulk_create(
        (
            Client(agency=agency, first_name=f"Given{i % 89}", last_name=f"Client{i:06}",
                   name_key=f"given{i % 89} client{i:06}")
            for i in range(have, upto)
        ),
        batch_size=5_000,
    )


def _queries(session: Any, url: str, params: dict[str, str] | None = None) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = session.get(url, params or {})
    assert response.status_code == 200
    sql = " ".join(q["sql"].upper() for q in captured.captured_queries)
    assert "COUNT(" not in sql.replace("COUNT(*) AS \"__COUNT\" FROM \"DJANGO_SESSION", "")
    return len(captured), response.content.decode()


def _next(body: str) -> dict[str, str]:
    found = re.search(r"after=(\d+)\">Next", body)
    assert found, "no Next link"
    return {"after": found.group(1)}


@pytest.mark.django_db
def test_member_directory_and_search_cost_the_same_queries_at_1000_and_50000_members(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    session = signed_in(cast["administrator"])
    url = reverse("agencies:member_list")
    session.get(url)  # warm caches
    counts = []
    for size in (SMALL, LARGE):
        _add_members(agency, size)
        first, body = _queries(session, url)
        following, _ = _queries(session, url, _next(body))
        search, found = _queries(session, url, {"q": "Name000999"})
        assert "Name000999" in found
        counts.append((first, following, search))
    assert counts[0] == counts[1]
    assert max(counts[1]) <= MEMBER_PAGE_QUERIES


@pytest.mark.django_db
def test_keyset_pages_walk_the_directory_in_order_without_gaps_or_repeats(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    _add_members(agency, 230)
    session = signed_in(cast["administrator"])
    url = reverse("agencies:member_list")
    seen: list[str] = []
    params: dict[str, str] = {"category": "sworn"}
    while True:
        body = session.get(url, params).content.decode()
        seen += re.findall(r"Name\d{6}", body)
        found = re.search(r"after=(\d+)\">Next", body)
        if not found:
            break
        params = {"category": "sworn", "after": found.group(1)}
    expected = sorted(Member.objects.filter(agency=agency, last_name__startswith="Name")
                      .values_list("last_name", flat=True))
    assert len(expected) > 150
    assert seen == expected
    back = re.search(r"before=(\d+)\">Previous", body)
    assert back
    previous = session.get(url, {"category": "sworn", "before": back.group(1)})
    last_page = re.findall(r"Name\d{6}", body)
    shown = re.findall(r"Name\d{6}", previous.content.decode())
    assert shown == seen[seen.index(shown[0]):seen.index(shown[0]) + len(shown)]
    assert seen.index(shown[-1]) + 1 == seen.index(last_page[0])  # the page just before


@pytest.mark.django_db
def test_a_cursor_from_another_agency_shows_nothing_of_it(
    agency: Any, other_agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    _add_members(other_agency, 60)
    theirs = Member.objects.filter(agency=other_agency).order_by("pk").first()
    assert theirs is not None
    body = signed_in(cast["administrator"]).get(
        reverse("agencies:member_list"), {"after": str(theirs.pk)}).content.decode()
    assert "Name0000" not in body  # an unknown anchor starts from the first page of our own


@pytest.mark.django_db
def test_client_list_and_search_cost_the_same_queries_at_1000_and_10000_clients(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    session = signed_in(cast["aro"])
    url = reverse("recovery:client_list")
    session.get(url)
    counts = []
    for size in (SMALL, CLIENTS_LARGE):
        _add_clients(agency, size)
        first, body = _queries(session, url)
        following, _ = _queries(session, url, _next(body))
        search, found = _queries(session, url, {"q": "client000999"})
        assert "Client000999" in found
        counts.append((first, following, search))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_account_list_costs_the_same_queries_at_1000_and_5000_accounts(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    session = signed_in(cast["administrator"])
    url = reverse("accounts:user_list")
    session.get(url)
    counts = []
    for size in (SMALL, 5_000):
        have = User.objects.filter(agency=agency).count()
        User.objects.bulk_create(
            (User(username=f"bulk{i:06}", agency=agency, password="!")  # noqa: S106
             for i in range(have, size)),
            batch_size=2_000,
        )
        first, body = _queries(session, url)
        following, _ = _queries(session, url, _next(body))
        counts.append((first, following))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_directory_and_client_search_use_trigram_indexes_on_postgresql(agency: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's; SQLite scans the agency's rows")
    from django.db import transaction

    searches = {
        "agencies_member_last_trgm": Member.objects.filter(last_name__icontains="smi"),
        "agencies_member_first_trgm": Member.objects.filter(first_name__icontains="ana"),
        "agencies_member_number_upper": Member.objects.filter(employee_number__iexact="a12"),
        "recovery_client_name_trgm": Client.objects.filter(name_key__contains="rive"),
        "recovery_client_phone_trgm": Client.objects.filter(phone_digits__contains="5550"),
        # on call now and routing ask "who holds this role here" (was 150 ms a query at
        # 1,000 supporters: every user row rescanned the agency's role rows).
        "role_agency_role_user": users_with_role(agency, ["coordinator"]),
    }
    with transaction.atomic(), connection.cursor() as cursor:
        # On an almost empty table the planner rightly prefers a scan; forbid it so the plan
        # shows whether the SQL Django writes can use the index at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        for index, queryset in searches.items():
            assert index in queryset.explain(), index
