"""Pages flat with data: every list page costs the same queries at 1,000 rows and at a much
larger count, pages by key (no exact COUNT over the table), and a cursor never leaves the
agency it came from."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tandem.accounts.models import User, users_with_role
from tandem.agencies.models import Member, MemberCategory
from tandem.recovery.models import Client
from tandem.support.models import SupporterProfile
from tandem.support.synthetic import create_supporters

SMALL, LARGE = 1_000, 50_000
SUPPORTERS_LARGE = 5_000  # five times the product's largest team
# Session, account, OTP device, agency, roles, units, anchor row, page, and the session
# bookkeeping; no COUNT(*) over the members.
MEMBER_PAGE_QUERIES = 11


def _add_members(agency: Any, upto: int) -> None:
    have = Member.objects.filter(agency=agency).count()
    Member.objects.bulk_create(
        (
            Member(
                agency=agency,
                employee_number=f"S{i:06}",
                first_name=f"First{i % 97}",
                last_name=f"Name{i:06}",
                category=MemberCategory.SWORN,
            )
            for i in range(have, upto)
        ),
        batch_size=5_000,
    )


def _add_clients(agency: Any, upto: int, aro: User | None = None) -> None:
    have = Client.objects.filter(agency=agency).count()
    Client.objects.bulk_create(
        (
            Client(
                agency=agency,
                first_name=f"Given{i % 89}",
                last_name=f"Client{i:06}",
                name_key=f"given{i % 89} client{i:06}",
                aro=aro,
            )
            for i in range(have, upto)
        ),
        batch_size=5_000,
    )


def _add_supporters(agency: Any, upto: int) -> None:
    have = SupporterProfile.objects.filter(agency=agency).count()
    _add_members(agency, Member.objects.filter(agency=agency).count() + upto - have)
    create_supporters(agency, upto - have)


def _queries(session: Any, url: str, params: dict[str, str] | None = None) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as captured:
        response = session.get(url, params or {})
    assert response.status_code == 200
    sql = " ".join(q["sql"].upper() for q in captured.captured_queries)
    assert "COUNT(" not in sql.replace('COUNT(*) AS "__COUNT" FROM "DJANGO_SESSION', "")
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
    expected = sorted(
        Member.objects.filter(agency=agency, last_name__startswith="Name").values_list(
            "last_name", flat=True
        )
    )
    assert len(expected) > 150
    assert seen == expected
    back = re.search(r"before=(\d+)\">Previous", body)
    assert back
    previous = session.get(url, {"category": "sworn", "before": back.group(1)})
    last_page = re.findall(r"Name\d{6}", body)
    shown = re.findall(r"Name\d{6}", previous.content.decode())
    assert shown == seen[seen.index(shown[0]) : seen.index(shown[0]) + len(shown)]
    assert seen.index(shown[-1]) + 1 == seen.index(last_page[0])  # the page just before


@pytest.mark.django_db
def test_a_cursor_from_another_agency_shows_nothing_of_it(
    agency: Any, other_agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    _add_members(other_agency, 60)
    theirs = Member.objects.filter(agency=other_agency).order_by("pk").first()
    assert theirs is not None
    body = (
        signed_in(cast["administrator"])
        .get(reverse("agencies:member_list"), {"after": str(theirs.pk)})
        .content.decode()
    )
    assert "Name0000" not in body  # an unknown anchor starts from the first page of our own


@pytest.mark.django_db
def test_client_list_and_search_cost_the_same_queries_at_1000_and_50000_clients(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    session = signed_in(cast["aro"])
    url = reverse("recovery:client_list")
    session.get(url)
    counts = []
    for size in (SMALL, LARGE):
        _add_clients(agency, size)
        session.get(url)  # the session's once-a-minute bookkeeping, not the page's cost
        first, body = _queries(session, url)
        following, _ = _queries(session, url, _next(body))
        search, found = _queries(session, url, {"q": "client000999"})
        assert "Client000999" in found
        counts.append((first, following, search))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_caseload_costs_the_same_queries_at_1000_and_50000_clients_and_pages_by_key(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    aro = cast["aro"]
    session = signed_in(aro)
    url = reverse("recovery:caseload")
    session.get(url)
    counts = []
    for size in (SMALL, LARGE):
        _add_clients(agency, size, aro=aro)
        session.get(url)  # the session's once-a-minute bookkeeping, not the page's cost
        first, body = _queries(session, url)
        assert len(re.findall(r"Client\d{6}</a>", body)) == 50
        following, more = _queries(session, url, _next(body))
        assert "Client000050" in more
        assert "Client000049" not in more
        counts.append((first, following))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_roster_costs_the_same_queries_at_1000_and_5000_supporters_and_pages_by_key(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    session = signed_in(cast["member"])
    url = reverse("support:directory")
    session.get(url)
    counts = []
    for size in (SMALL, SUPPORTERS_LARGE):
        _add_supporters(agency, size)
        session.get(url)  # the session's once-a-minute bookkeeping, not the page's cost
        first, body = _queries(session, url)
        assert body.count('<article class="card">') == 50
        following, more = _queries(session, url, _next(body))
        assert more.count('<article class="card">') == 50
        counts.append((first, following))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_coverage_scans_cost_the_same_queries_at_50_and_1200_supporters_on_call(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    """The home page's coverage warning and the coverage page read only who is on shift in
    the fortnight (SQLite refused the whole-rotation read past ~1,000 participants)."""
    from datetime import time, timedelta

    from django.utils import timezone

    from tandem.support.models import Rotation
    from tandem.support.services import rotation_save

    session = signed_in(cast["coordinator"])
    pages = [reverse("core:home"), reverse("support:coverage")]
    counts = []
    for size in (50, 1_200):
        _add_supporters(agency, size)
        Rotation.objects.filter(agency=agency).delete()
        people = list(SupporterProfile.objects.filter(agency=agency).order_by("pk"))
        for layer, order in (("primary", people), ("backup", people[::-1])):
            rotation_save(
                acting_user=None,
                agency=agency,
                rotation=None,
                participants=order,
                name=layer,
                layer=layer,
                handoff_time=time(7, 0),
                shift_hours=12,
                starts_on=timezone.localdate() - timedelta(days=1),
            )
        for url in pages:
            session.get(url)
        measured = []
        for url in pages:
            with CaptureQueriesContext(connection) as captured:
                assert session.get(url).status_code == 200
            measured.append(len(captured))
        counts.append(measured)
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_roster_pages_walk_every_supporter_once_in_name_order(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    _add_supporters(agency, 120)
    session = signed_in(cast["member"])
    url = reverse("support:directory")
    seen: list[str] = []
    params: dict[str, str] = {}
    while True:
        body = session.get(url, params).content.decode()
        seen += re.findall(r"<h2>(First\d+ Name\d{6})</h2>", body)
        found = re.search(r"after=(\d+)\">Next", body)
        if not found:
            break
        params = {"after": found.group(1)}
    expected = [
        str(p)
        for p in SupporterProfile.objects.filter(agency=agency)
        .select_related("user")
        .order_by("user__last_name", "user__first_name", "pk")
        if p.user.last_name.startswith("Name")
    ]
    assert len(expected) == 120
    assert seen == expected


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
            (
                User(username=f"bulk{i:06}", agency=agency, password="!")  # noqa: S106
                for i in range(have, size)
            ),
            batch_size=2_000,
        )
        first, body = _queries(session, url)
        following, _ = _queries(session, url, _next(body))
        counts.append((first, following))
    assert counts[0] == counts[1]


@pytest.mark.django_db
def test_directory_search_reads_its_index_and_finds_what_icontains_finds(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    _add_members(agency, 300)
    renamed = Member.objects.get(agency=agency, last_name="Name000123")
    renamed.last_name = "Okonkwo-Smythe"
    renamed.save()
    Member.objects.filter(agency=agency, last_name="Name000124").delete()
    session = signed_in(cast["administrator"])
    url = reverse("agencies:member_list")

    def shown(text: str) -> set[str]:
        body = session.get(url, {"q": text, "active": ""}).content.decode()
        return set(re.findall(r"(Name\d{6}|Okonkwo-Smythe), ", body))

    # The middle of a name, any case; the old name is gone from the index, the new one in.
    assert shown("kwo-sMY") == {"Okonkwo-Smythe"}
    assert shown("Name000123") == set()
    assert shown("name000124") == set()
    assert shown("ame00012") == {f"Name00012{i}" for i in range(10) if i not in (3, 4)}
    assert shown("irst96") == {"Name000096", "Name000193", "Name000290"}  # first names too
    assert shown('"; DROP') == set()  # quotes are text, not query syntax
    assert shown("S000200") == {"Name000200"}  # the exact employee number
    assert shown("s0002") == set()  # part of a number is not a name
    # Two characters are below what the trigram indexes look up: the plain scan answers.
    assert shown("96") == {"Name000096", "Name000196", "Name000296", "Name000193", "Name000290"}
    with CaptureQueriesContext(connection) as captured:
        session.get(url, {"q": "Smythe"})
    sql = [q["sql"] for q in captured.captured_queries]
    if connection.vendor == "sqlite":
        assert any("agencies_member_fts" in q for q in sql)
    else:
        # The matches are found first, on their own (an init plan whose conditions the
        # trigram indexes serve: the test below), then read by key and sorted: the order
        # index never walks the agency testing every name against the search.
        page = next(q for q in sql if "= ANY(ARRAY(SELECT" in q)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"EXPLAIN {page}")
            plan = " ".join(row[0] for row in cursor.fetchall())
        assert "InitPlan" in plan
        assert "= ANY ($0)" in plan
        assert "member_directory_order" not in plan


@pytest.mark.django_db
def test_client_search_on_sqlite_reads_the_fts5_index_and_finds_what_contains_finds(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the FTS5 index is SQLite's; PostgreSQL has trigram GIN indexes")
    _add_clients(agency, 200)
    Client.objects.filter(agency=agency, last_name="Client000150").update(
        name_key="given61 okonkwo smythe", phone_digits="7195550142"
    )
    Client.objects.filter(agency=agency, last_name="Client000151").delete()
    session = signed_in(cast["aro"])
    url = reverse("recovery:client_list")

    def shown(text: str) -> set[str]:
        body = session.get(url, {"q": text}).content.decode()
        return set(re.findall(r"Client\d{6}</a>", body))

    assert shown("KWO smy") == {"Client000150</a>"}  # every word, anywhere, any case
    assert shown("client000150") == set()  # the old name key left the index
    assert shown("client000151") == set()  # so did the deleted client
    assert shown("(719) 555-0142") == {"Client000150</a>"}  # the phone's digits
    # Given31…Given39 contain "given3"; Client000129 is Given40.
    assert shown("given3 client00012") == {f"Client00012{i}</a>" for i in range(9)}
    with CaptureQueriesContext(connection) as captured:
        session.get(url, {"q": "smythe"})
    assert any("recovery_client_fts" in q["sql"] for q in captured.captured_queries)


@pytest.mark.django_db
def test_directory_and_client_search_use_trigram_indexes_on_postgresql(agency: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("trigram indexes are PostgreSQL's; SQLite has the FTS5 index")

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
