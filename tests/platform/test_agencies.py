"""Agencies from the user's side: settings screens for the administrator of the own agency
only, logos, the policy screen, units and members."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from PIL import Image

from tandem.accounts.models import User
from tandem.agencies.models import Agency, Member, MemberCategory, Unit
from tandem.agencies.presets import (
    load_preset,
    policy_to_toml,
)
from tandem.agencies.services import (
    member_create,
    unit_create,
)
from tandem.audit.models import AuditEvent
from tests.platform.support import SignedIn

pytestmark = pytest.mark.django_db


MEMBER_LIST_QUERIES = 12


# --- Access: administrators only, own agency only -------------------------------------------


ADMIN_PAGES = [
    "agencies:policy",
    "agencies:unit_list",
    "agencies:unit_create",
    "agencies:member_create",
    "agencies:roster_import",
]


@pytest.mark.parametrize("url_name", ADMIN_PAGES)
@pytest.mark.parametrize("who", ["nobody", "member", "coordinator", "chief", "auditor"])
def test_settings_screens_are_404_for_everyone_but_the_administrator(
    cast: dict[str, User], signed_in: SignedIn, url_name: str, who: str
) -> None:
    assert signed_in(cast[who]).get(reverse(url_name)).status_code == 404
    assert signed_in(cast["administrator"]).get(reverse(url_name)).status_code == 200


@pytest.mark.parametrize("who", ["nobody", "member", "supporter", "chief", "auditor"])
def test_member_directory_is_for_administrator_and_coordinator_only(
    cast: dict[str, User], signed_in: SignedIn, who: str
) -> None:
    url = reverse("agencies:member_list")
    assert signed_in(cast[who]).get(url).status_code == 404
    assert signed_in(cast["coordinator"]).get(url).status_code == 200
    assert signed_in(cast["administrator"]).get(url).status_code == 200


def test_objects_of_another_agency_are_not_found(
    cast: dict[str, User], stranger: User, signed_in: SignedIn
) -> None:
    alpha_member = cast["member"].member
    alpha_unit = Unit.objects.get(agency=cast["member"].agency, code="HQ")
    client = signed_in(stranger)  # holds every role, in Bravo
    assert client.get(reverse("agencies:member_edit", args=[alpha_member.pk])).status_code == 404
    assert client.get(reverse("agencies:unit_edit", args=[alpha_unit.pk])).status_code == 404
    response = client.post(
        reverse("agencies:member_edit", args=[alpha_member.pk]), {"first_name": "Changed"}
    )
    assert response.status_code == 404
    alpha_member.refresh_from_db()
    assert alpha_member.first_name != "Changed"
    listing = client.get(reverse("agencies:member_list"), {"active": ""}).content.decode()
    assert alpha_member.employee_number not in listing
    assert "E-stranger" in listing


def test_coordinator_reads_the_directory_but_cannot_edit(
    cast: dict[str, User], signed_in: SignedIn
) -> None:
    target = cast["member"].member
    client = signed_in(cast["coordinator"])
    assert client.get(reverse("agencies:member_edit", args=[target.pk])).status_code == 404


def test_logo_view_serves_only_the_own_agency_logo(
    cast: dict[str, User], stranger: User, signed_in: SignedIn, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    buffer = io.BytesIO()
    Image.new("RGB", (32, 16), "navy").save(buffer, format="PNG")
    png = buffer.getvalue()
    admin = signed_in(cast["administrator"])
    response = admin.post(
        reverse("agencies:policy"),
        {"action": "logo", "logo": SimpleUploadedFile("logo.png", png, "image/png")},
    )
    assert response.status_code == 302
    served = signed_in(cast["member"]).get(reverse("agencies:logo"))
    assert served.status_code == 200
    assert served["Content-Type"] == "image/png"
    stored = Agency.objects.get(slug="alpha").logo.read()
    assert b"".join(served.streaming_content) == stored  # re-encoded on upload
    assert Image.open(io.BytesIO(stored)).size == (32, 16)
    assert "sandbox" in served["Content-Security-Policy"]
    assert signed_in(stranger).get(reverse("agencies:logo")).status_code == 404
    assert AuditEvent.objects.filter(action="agency.logo").count() == 1


@pytest.mark.parametrize(
    ("filename", "content", "message"),
    [
        (
            "evil.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
            "may not contain &lt;script&gt;",
        ),
        (
            "evil.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
            "event handlers",
        ),
        ("big.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (600 * 1024), "the limit is 512 KB"),
        ("notes.txt", b"hello", "must be a PNG, JPEG or SVG"),
    ],
)
def test_unsafe_or_oversize_logos_are_refused(
    cast: dict[str, User],
    signed_in: SignedIn,
    settings: Any,
    tmp_path: Path,
    filename: str,
    content: bytes,
    message: str,
) -> None:
    settings.MEDIA_ROOT = tmp_path
    response = signed_in(cast["administrator"]).post(
        reverse("agencies:policy"),
        {"action": "logo", "logo": SimpleUploadedFile(filename, content)},
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Agency.objects.get(slug="alpha").logo


@pytest.mark.parametrize(
    "content",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><a><animate attributeName="href" '
        b'values="java&#9;script:alert(1)"/><text>x</text></a></svg>',
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:x="http://www.w3.org/1999/xlink">'
        b'<a x:href=" JaVa&#10;ScRiPt:alert(1)"><text>x</text></a></svg>',
    ],
)
def test_svg_logo_with_an_obfuscated_script_url_is_refused(
    cast: dict[str, User], signed_in: SignedIn, settings: Any, tmp_path: Path, content: bytes
) -> None:
    settings.MEDIA_ROOT = tmp_path
    response = signed_in(cast["administrator"]).post(
        reverse("agencies:policy"),
        {"action": "logo", "logo": SimpleUploadedFile("evil.svg", content)},
    )
    assert response.status_code == 400
    assert not Agency.objects.get(slug="alpha").logo


# --- Policy screen ----------------------------------------------------------------------------


def test_policy_screen_shows_the_policy_as_toml_and_a_summary(
    cast: dict[str, User], signed_in: SignedIn
) -> None:
    page = signed_in(cast["administrator"]).get(reverse("agencies:policy")).content.decode()
    assert "small_cell_threshold = 5" in page
    assert "[[confidentiality.exceptions]]" in page
    assert "Incidents of sexual and other harassment" in page
    assert "Wellness Unit Sergeant" in page


def test_policy_screen_saves_a_valid_change_and_audits_it(
    agency: Agency, cast: dict[str, User], signed_in: SignedIn
) -> None:
    text = policy_to_toml(agency.policy_model()).replace(
        "small_cell_threshold = 5", "small_cell_threshold = 7"
    )
    response = signed_in(cast["administrator"]).post(
        reverse("agencies:policy"), {"action": "save", "policy_text": text}
    )
    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.policy_model().small_cell_threshold == 7
    event = AuditEvent.objects.get(action="policy.update")
    assert event.actor_id == cast["administrator"].pk
    assert event.detail["sections"] == ["small_cell_threshold"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("[training]", "[training]\nfoo = 1"),
            "unknown key &#x27;foo&#x27; in training",
        ),
        (
            lambda t: t.replace("ongoing_cadence_months = 3\n", ""),
            "training.ongoing_cadence_months: missing required key",
        ),
        (
            lambda t: t.replace("timeout_minutes = 15", "timeout_minutes = -5", 1),
            "escalation.steps.0.timeout_minutes: must be greater than 0",
        ),
        (lambda t: t.replace("[training]", "[training"), "not valid TOML"),
    ],
)
def test_policy_screen_refuses_a_bad_policy_and_changes_nothing(
    agency: Agency,
    cast: dict[str, User],
    signed_in: SignedIn,
    edit: Callable[[str], str],
    message: str,
) -> None:
    before = copy.deepcopy(agency.policy)
    text = edit(policy_to_toml(agency.policy_model()))
    response = signed_in(cast["administrator"]).post(
        reverse("agencies:policy"), {"action": "save", "policy_text": text}
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    agency.refresh_from_db()
    assert agency.policy == before
    assert not AuditEvent.objects.filter(action__startswith="policy.").exists()


def test_policy_can_be_reset_from_a_preset(
    agency: Agency, cast: dict[str, User], signed_in: SignedIn
) -> None:
    client = signed_in(cast["administrator"])
    unconfirmed = client.post(reverse("agencies:policy"), {"action": "reset", "preset": "joplin"})
    assert unconfirmed.status_code == 400
    response = client.post(
        reverse("agencies:policy"), {"action": "reset", "preset": "joplin", "confirm": "on"}
    )
    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.preset == "joplin"
    assert agency.policy_model() == load_preset("joplin")
    assert AuditEvent.objects.filter(action="policy.reset", agency_id=agency.pk).exists()


# --- Units and members ------------------------------------------------------------------------


def test_units_nest_and_cannot_loop(
    agency: Agency, cast: dict[str, User], signed_in: SignedIn
) -> None:
    client = signed_in(cast["administrator"])
    client.post(
        reverse("agencies:unit_create"), {"code": "D1", "name": "District 1", "kind": "district"}
    )
    district = Unit.objects.get(agency=agency, code="D1")
    client.post(
        reverse("agencies:unit_create"),
        {"code": "D1-P", "name": "Patrol", "kind": "section", "parent": district.pk},
    )
    section = Unit.objects.get(agency=agency, code="D1-P")
    assert section.path == "District 1 › Patrol"
    page = client.get(reverse("agencies:unit_list")).content.decode()
    assert "District 1 › Patrol" in page
    # The district cannot be moved under its own section.
    response = client.post(
        reverse("agencies:unit_edit", args=[district.pk]),
        {"code": "D1", "name": "District 1", "kind": "district", "parent": section.pk},
    )
    assert response.status_code == 200
    district.refresh_from_db()
    assert district.parent is None
    assert AuditEvent.objects.filter(action="unit.create").count() == 2


def test_member_create_edit_and_deactivate_are_audited(
    agency: Agency, cast: dict[str, User], signed_in: SignedIn
) -> None:
    client = signed_in(cast["administrator"])
    boss = cast["supervisor"].member
    form = {
        "employee_number": "N-1",
        "first_name": "Nia",
        "last_name": "Ng",
        "category": "civilian",
        "supervisor_number": boss.employee_number,
        "email": "nia@example.test",
        "active": "on",
    }
    assert client.post(reverse("agencies:member_create"), form).status_code == 302
    member = Member.objects.get(agency=agency, employee_number="N-1")
    assert member.supervisor == boss
    client.post(
        reverse("agencies:member_edit", args=[member.pk]), {**form, "rank_title": "Analyst"}
    )
    client.post(
        reverse("agencies:member_edit", args=[member.pk]),
        {**form, "rank_title": "Analyst", "active": ""},
    )
    member.refresh_from_db()
    assert (member.rank_title, member.active) == ("Analyst", False)
    actions = list(
        AuditEvent.objects.filter(
            object_type="agencies.Member", object_id=str(member.pk)
        ).values_list("action", flat=True)
    )
    assert actions == ["member.create", "member.update", "member.deactivate"]


def test_member_cannot_become_their_own_supervisors_supervisor(
    agency: Agency, cast: dict[str, User], signed_in: SignedIn
) -> None:
    admin = cast["administrator"]
    boss = member_create(
        acting_user=admin,
        agency=agency,
        employee_number="B",
        first_name="B",
        last_name="Boss",
        category=MemberCategory.SWORN,
    )
    worker = member_create(
        acting_user=admin,
        agency=agency,
        employee_number="W",
        first_name="W",
        last_name="Worker",
        category=MemberCategory.SWORN,
        supervisor=boss,
    )
    response = signed_in(admin).post(
        reverse("agencies:member_edit", args=[boss.pk]),
        {
            "employee_number": "B",
            "first_name": "B",
            "last_name": "Boss",
            "category": "sworn",
            "supervisor_number": worker.employee_number,
            "active": "on",
        },
    )
    assert "chain of command loop" in response.content.decode()
    boss.refresh_from_db()
    assert boss.supervisor is None


def test_member_list_searches_and_filters(
    agency: Agency, cast: dict[str, User], signed_in: SignedIn
) -> None:
    admin = cast["administrator"]
    unit = unit_create(acting_user=admin, agency=agency, code="K9", name="Canine")
    member_create(
        acting_user=admin,
        agency=agency,
        employee_number="K-1",
        first_name="Rex",
        last_name="Handler",
        category=MemberCategory.SWORN,
        unit=unit,
    )
    member_create(
        acting_user=admin,
        agency=agency,
        employee_number="V-1",
        first_name="Val",
        last_name="Helper",
        category=MemberCategory.VOLUNTEER,
        active=False,
    )
    client = signed_in(admin)
    url = reverse("agencies:member_list")
    assert "Handler" in client.get(url, {"q": "handl"}).content.decode()
    by_unit = client.get(url, {"unit": unit.pk}).content.decode()
    assert "Handler" in by_unit
    assert "Tester" not in by_unit
    assert "Helper" not in client.get(url).content.decode()  # active only by default
    inactive = client.get(url, {"active": "no", "category": "volunteer"}).content.decode()
    assert "Helper" in inactive
    assert "Handler" not in inactive


def test_member_list_query_count_does_not_grow_with_rows(
    agency: Agency,
    cast: dict[str, User],
    signed_in: SignedIn,
    django_assert_max_num_queries: Any,
) -> None:
    client = signed_in(cast["administrator"])
    url = reverse("agencies:member_list")
    client.get(url)  # warm caches (content types, sessions)
    with CaptureQueriesContext(connection) as few:
        client.get(url, {"q": "", "category": "sworn"})
    unit = Unit.objects.get(agency=agency, code="HQ")
    boss = cast["supervisor"].member
    Member.objects.bulk_create(
        Member(
            agency=agency,
            employee_number=f"X{i}",
            first_name="F",
            last_name=f"L{i:03}",
            category=MemberCategory.SWORN,
            unit=unit,
            supervisor=boss,
        )
        for i in range(120)
    )
    first = client.get(url, {"q": "", "category": "sworn"}).content.decode()
    after = re.search(r'after=(\d+)">Next', first)
    assert after
    # Session, account, device, agency, roles, units, anchor, page, session save: no COUNT.
    with django_assert_max_num_queries(MEMBER_LIST_QUERIES):
        response = client.get(url, {"q": "", "category": "sworn", "after": after.group(1)})
    second = response.content.decode()
    assert "L050" in second
    assert "L049" not in second
    with CaptureQueriesContext(connection) as many:
        client.get(url, {"q": "", "category": "sworn"})
    assert len(many) == len(few)


def test_a_plain_svg_logo_is_accepted(
    agency: Agency, cast: dict[str, User], signed_in: SignedIn, settings: Any, tmp_path: Path
) -> None:
    settings.MEDIA_ROOT = tmp_path
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"><circle r="4"/></svg>'
    client = signed_in(cast["administrator"])
    response = client.post(
        reverse("agencies:policy"), {"action": "logo", "logo": SimpleUploadedFile("l.svg", svg)}
    )
    assert response.status_code == 302
    served = client.get(reverse("agencies:logo"))
    assert served["Content-Type"] == "image/svg+xml"


def test_only_an_empty_unit_can_be_removed(
    agency: Agency, cast: dict[str, User], signed_in: SignedIn
) -> None:
    client = signed_in(cast["administrator"])
    hq = Unit.objects.get(agency=agency, code="HQ")  # the cast works here
    empty = unit_create(acting_user=cast["administrator"], agency=agency, code="X", name="Spare")
    client.post(reverse("agencies:unit_edit", args=[hq.pk]), {"action": "delete"})
    assert Unit.objects.filter(pk=hq.pk).exists()
    client.post(reverse("agencies:unit_edit", args=[empty.pk]), {"action": "delete"})
    assert not Unit.objects.filter(pk=empty.pk).exists()
    assert AuditEvent.objects.filter(action="unit.delete", object_id=str(empty.pk)).exists()
