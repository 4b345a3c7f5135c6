"""Agencies, policy presets, people and the HR roster import, from the user's side."""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from tandem.accounts.models import User
from tandem.agencies.models import Agency, Member, MemberCategory, RosterUpload, Unit
from tandem.agencies.presets import (
    USAGE_FIELDS,
    PolicyError,
    available_presets,
    load_preset,
    parse_policy_toml,
    policy_to_toml,
    validate_policy,
)
from tandem.agencies.roster import RosterError, roster_parse, roster_plan
from tandem.agencies.services import (
    member_create,
    roster_import_commit,
    roster_upload_stage,
    roster_uploads_purge,
    unit_create,
)
from tandem.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


# ========================================================================================
# 2–3. Agencies, policy presets, people and the HR roster import
# Agencies, policy presets, units, members and the HR roster import (issue 2, points 2–3).
# ========================================================================================


SignedIn = Callable[[User], Client]


MEMBER_LIST_QUERIES = 12


HEADER = (
    "employee_number,first_name,last_name,rank_title,category,unit_code,"
    "supervisor_employee_number,phone,email\n"
)


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return (header + "\n".join(rows) + "\n").encode()


def good_policy() -> dict[str, Any]:
    return load_preset("colorado-springs").model_dump(mode="json")


def policy_errors(data: dict[str, Any]) -> list[str]:
    with pytest.raises(PolicyError) as caught:
        validate_policy(data)
    return caught.value.errors


# --- Presets --------------------------------------------------------------------------------


def test_the_five_seed_presets_ship() -> None:
    assert available_presets() == [
        "colorado-springs",
        "columbus",
        "joplin",
        "west-virginia",
        "winchester",
    ]


@pytest.mark.parametrize(
    "name", ["colorado-springs", "columbus", "joplin", "west-virginia", "winchester"]
)
def test_every_preset_loads_cites_its_clauses_and_survives_the_editor(name: str) -> None:
    policy = load_preset(name)
    assert policy.citations, "a preset must cite the clauses it encodes"
    assert all(e.cite for e in policy.confidentiality.exceptions)
    assert set(policy.usage_form.fields) <= set(USAGE_FIELDS)
    assert policy.retention.audit_days >= 365
    assert parse_policy_toml(policy_to_toml(policy)) == policy


def test_presets_encode_what_their_seeds_say() -> None:
    cos, columbus, joplin = (load_preset(n) for n in ("colorado-springs", "columbus", "joplin"))
    winchester, wv = load_preset("winchester"), load_preset("west-virginia")
    # GO 702 .52/.54: quarterly training, at most one unexcused absence a year.
    assert cos.training.ongoing_cadence_months == 3
    assert cos.training.unexcused_absence_limit == 1
    assert {e.code for e in cos.confidentiality.exceptions if e.supervisor_duty} == {
        "harassment",
        "discrimination",
        "work_injury",
    }
    # 18.107: families are eligible; the psychologist is the last resort of PCS.
    assert columbus.eligibility.families
    assert columbus.escalation.steps[-1].target == "psychologist"
    # SOG 2-13 D.2: the usage form records only the type of incident/intervention.
    assert joplin.usage_form.fields == ["incident_type", "intervention_type"]
    assert joplin.eligibility.other_agencies
    # OO 2-78: ARO / PRS titles, CJIS and NDA; PNP: certification and overdose reversal.
    assert winchester.titles.prs == "Peer Recovery Specialist"
    assert winchester.recovery.prs_nda_required
    assert winchester.training.cjis_awareness_yearly
    assert "nondisclosure_agreement" in winchester.selection.steps
    assert wv.recovery.certification is not None
    assert wv.recovery.certification.experience_hours == 500
    assert "Overdose reversal" in wv.training.initial_topics
    # 18.107 E.10: the psychologist alone hears of a breach; E.11's post-shooting training
    # is a specialty of some members, not a topic every team member must cover.
    assert columbus.confidentiality.breach_notify == ["psychologist"]
    assert not any("shooting" in t.casefold() for t in columbus.training.initial_topics)


#: How each preset cites its seed: a clause of the document, or "not in the seed".
SEED_CITATION = {
    "colorado-springs": r"GO 702|General Order 702",
    "columbus": r"18\.107",
    "joplin": r"SOG 2-13",
    "west-virginia": r"PNP|Police and Peers",
    "winchester": r"OO 2-78|Operation Order 2-78",
}


def _uncited_settings(text: str, cites: str) -> list[str]:
    """Each setting of a preset file whose comments neither cite the seed nor say "not in
    the seed". A setting's comments are those on its own lines (a list's items included),
    the comment lines just above it, and the comment on or just above its table header. In
    a list of tables (``[[...]]``) an entry's ``cite`` value speaks for the entry's words,
    but never for a number (a timeout must say where it comes from itself)."""
    cited = re.compile(rf"{cites}|not in the seed")
    lines = text.splitlines()
    missing: list[str] = []
    header_comments, entry_cite, table = "", "", ""

    def comments_above(index: int) -> str:
        above = []
        while index > 0 and lines[index - 1].startswith("#"):
            index -= 1
            above.append(lines[index])
        return " ".join(above)

    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("["):
            table = line.split("#")[0].strip()
            header_comments = comments_above(index) + " " + line.partition("#")[2]
            entry = []
            for later in lines[index + 1 :]:
                if later.startswith("["):
                    break
                entry.append(later)
            entry_cite = " ".join(e for e in entry if e.startswith("cite ="))
        key = re.match(r"^([a-z_]+)\s*=\s*(.*)$", line)
        if key and table != "[[citations]]":
            end = index
            if key.group(2).split("#")[0].strip() == "[":
                while not lines[end].startswith("]"):
                    end += 1
            said = " ".join(
                [
                    *(part.partition("#")[2] for part in lines[index : end + 1]),
                    comments_above(index),
                    header_comments,
                ]
            )
            if table.startswith("[[") and not re.match(r"^-?\d", key.group(2)):
                said += " " + entry_cite
            if key.group(1) in ("title", "reference", "cite") and table in (
                "[document]",
                "[[confidentiality.exceptions]]",
            ):
                said += " " + key.group(2)  # the seed's own name, or the clause itself
            if not cited.search(said):
                missing.append(f"{index + 1}: {line.strip()}")
            index = end
        index += 1
    return missing


@pytest.mark.parametrize("name", sorted(SEED_CITATION))
def test_every_preset_setting_cites_its_seed_or_says_it_is_not_in_it(name: str) -> None:
    """Presets add no rule the seed does not state without saying so (issue 12, item 9)."""
    text = (
        Path(__file__).resolve().parents[2]
        / "tandem"
        / "agencies"
        / "preset_files"
        / f"{name}.toml"
    ).read_text()
    assert _uncited_settings(text, SEED_CITATION[name]) == []
    # The check itself: an uncommented setting, and a number in a cited entry, are caught.
    assert _uncited_settings("[requests]\nexpiry_hours = 72\n", "X") == ["2: expiry_hours = 72"]
    entry = '[[confidentiality.exceptions]]\ncode = "a"\ncite = "X 1"\n'
    assert _uncited_settings(entry, "X") == []
    steps = '[[escalation.steps]]\ntarget = "coordinator"  # X 2\ntimeout_minutes = 5\n'
    assert _uncited_settings(steps, "X") == ["3: timeout_minutes = 5"]


def test_policy_missing_a_key_is_refused_naming_it() -> None:
    data = good_policy()
    del data["training"]["initial_topics"]
    assert policy_errors(data) == ["training.initial_topics: missing required key"]


def test_policy_with_an_unknown_key_is_refused_naming_it() -> None:
    data = good_policy()
    data["training"]["foo"] = 1
    data["bar"] = True
    errors = policy_errors(data)
    assert "unknown key 'foo' in training" in errors
    assert "unknown key 'bar'" in errors


def test_policy_with_bad_values_names_each_bad_key() -> None:
    data = good_policy()
    data["escalation"]["steps"][2]["timeout_minutes"] = 0
    data["retention"]["audit_days"] = 30
    data["usage_form"]["fields"] = ["gender", "home_address"]
    data["small_cell_threshold"] = 1
    errors = policy_errors(data)
    assert "escalation.steps.2.timeout_minutes: must be greater than 0" in errors
    assert "retention.audit_days: must be greater than or equal to 365" in errors
    assert any(e.startswith("usage_form.fields.1: must be 'incident_type'") for e in errors)
    assert "small_cell_threshold: must be greater than or equal to 2" in errors


def test_policy_listing_the_same_value_twice_is_refused() -> None:
    data = good_policy()
    data["selection"]["steps"] = ["letter_of_request", "letter_of_request"]
    assert policy_errors(data) == ["selection.steps: step 'letter_of_request' is listed twice"]


def test_unknown_preset_names_the_available_ones() -> None:
    with pytest.raises(PolicyError, match="available: colorado-springs, columbus"):
        load_preset("gotham")


def test_malformed_toml_is_a_policy_error() -> None:
    with pytest.raises(PolicyError, match="not valid TOML"):
        parse_policy_toml("[training\nfoo = ")


# --- tandem agency ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_agency_create_command_makes_an_agency_from_a_preset() -> None:
    out = StringIO()
    call_command(
        "agency",
        "create",
        "--preset",
        "joplin",
        "--slug",
        "joplin-pd",
        "--name",
        "Joplin Police Department",
        stdout=out,
    )
    agency = Agency.objects.get(slug="joplin-pd")
    assert agency.preset == "joplin"
    assert agency.policy_model() == load_preset("joplin")
    assert len(agency.intake_token) >= 32
    assert agency.title_for("supporter") == "Peer Support Advisor"
    assert AuditEvent.objects.filter(action="agency.create", agency_id=agency.pk).exists()
    listing = StringIO()
    call_command("agency", "list", stdout=listing)
    assert "joplin-pd" in listing.getvalue()


@pytest.mark.django_db
def test_agency_create_with_unknown_preset_lists_the_available_ones() -> None:
    with pytest.raises(CommandError, match="Available presets: colorado-springs, columbus"):
        call_command("agency", "create", "--preset", "gotham", "--slug", "g", "--name", "G")
    assert not Agency.objects.exists()


@pytest.mark.django_db
def test_agency_create_refuses_a_taken_slug(agency: Agency) -> None:
    with pytest.raises(CommandError, match="already exists"):
        call_command("agency", "create", "--preset", "joplin", "--slug", "alpha", "--name", "A")


def test_agency_presets_command_lists_presets() -> None:
    out = StringIO()
    call_command("agency", "presets", stdout=out)
    assert "colorado-springs\tGO 702" in out.getvalue()
    assert "winchester\tOperation Order 2-78" in out.getvalue()


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


# --- HR roster import -------------------------------------------------------------------------


def roster_file() -> bytes:
    return csv_bytes(
        "100,Ana,Chief,Chief,sworn,D1,,555-0100,ana@example.test",
        "200,Bo,Sergeant,Sergeant,sworn,D1-P,100,,",
        "400,Di,New,Officer,sworn,D1-P,200,,di@example.test",
    )


def upload(client: Client, data: bytes, name: str = "roster.csv") -> Any:
    return client.post(
        reverse("agencies:roster_import"),
        {"action": "upload", "file": SimpleUploadedFile(name, data, "text/csv")},
    )


def test_roster_dry_run_shows_added_changed_and_deactivated_without_writing(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User], signed_in: SignedIn
) -> None:
    before = Member.objects.filter(agency=agency).count()
    page = upload(signed_in(cast["administrator"]), roster_file()).content.decode()
    assert "Added (1)" in page
    assert "Di" in page
    assert "Changed (2)" in page
    assert "<strong>unit</strong>: “District 1” → “D1-P”" not in page
    assert "<strong>unit</strong>: “D1” → “D1-P”" in page
    assert "<strong>phone</strong>: “” → “555-0100”" in page
    assert "Deactivated (" in page
    assert "Leaving" in page
    assert Member.objects.filter(agency=agency).count() == before
    roster["old"].refresh_from_db()
    assert roster["old"].active


def test_roster_confirm_commits_everything_once(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User], signed_in: SignedIn
) -> None:
    client = signed_in(cast["administrator"])
    # Everyone active who is not in the file is deactivated: "Leaving" and the test cast.
    missing = (
        Member.objects.filter(agency=agency, active=True)
        .exclude(employee_number__in=["100", "200"])
        .count()
    )
    page = upload(client, roster_file())
    digest = page.context["plan"].digest
    response = client.post(
        reverse("agencies:roster_import"), {"action": "confirm", "digest": digest}
    )
    assert response.status_code == 302
    new = Member.objects.get(agency=agency, employee_number="400")
    assert new.supervisor == roster["sgt"]
    assert [m.employee_number for m in new.supervisor_chain()] == ["200", "100"]
    roster["sgt"].refresh_from_db()
    assert roster["sgt"].unit.code == "D1-P"
    roster["old"].refresh_from_db()
    assert not roster["old"].active
    event = AuditEvent.objects.get(action="member.import")
    assert event.detail | {"digest": ""} == {
        "rows": 3,
        "added": 1,
        "changed": 2,
        "deactivated": missing,
        "digest": "",
    }
    # A double submit changes nothing more and records nothing more.
    again = client.post(
        reverse("agencies:roster_import"), {"action": "confirm", "digest": digest}, follow=True
    )
    assert "no longer current" in again.content.decode()
    assert AuditEvent.objects.filter(action="member.import").count() == 1
    assert RosterUpload.objects.get().content in (b"", memoryview(b""))


def test_confirm_cannot_be_replayed_at_the_service_either(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User]
) -> None:
    admin = cast["administrator"]
    _upload, plan = roster_upload_stage(acting_user=admin, agency=agency, data=roster_file())
    roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)
    with pytest.raises(RosterError, match="already been imported"):
        roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (
            ["500,Ed,Bad,,deputy,,,,"],
            "Row 2: category &#x27;deputy&#x27; is not one of sworn, civilian, volunteer.",
        ),
        (
            ["500,Ed,Ok,,sworn,,,,", "501,Fi,Ok,,sworn,ZZ,,,"],
            "Row 3: unit code &#x27;ZZ&#x27; is not a unit of this agency.",
        ),
        (
            ["500,Ed,Ok,,sworn,,999,,"],
            "Row 2: supervisor &#x27;999&#x27; is not in the file or on the roster.",
        ),
        (
            ["500,Ed,Ok,,sworn,,,,", "500,Ed,Again,,sworn,,,,"],
            "Row 3: employee number &#x27;500&#x27; already appears in row 2.",
        ),
        (
            ["500,Ed,Ok,,sworn,,501,,", "501,Fi,Ok,,sworn,,500,,"],
            "Row 2: supervisor chain loops: 500 → 501 → 500.",
        ),
        (["500,Ed,,,sworn,,,,"], "Row 2: last_name is empty."),
        (
            ["500,Ed,Ok,,sworn,,,,not-an-email"],
            "Row 2: email &#x27;not-an-email&#x27; is not a valid e-mail address.",
        ),
        (["500,Ed,Ok,sworn"], "Row 2: has 4 values but the header has 9."),
    ],
)
def test_bad_rows_are_reported_by_number_and_nothing_is_written(
    agency: Agency,
    roster: dict[str, Member],
    cast: dict[str, User],
    signed_in: SignedIn,
    rows: list[str],
    message: str,
) -> None:
    response = upload(signed_in(cast["administrator"]), csv_bytes(*rows))
    body = response.content.decode()
    assert response.status_code == 400
    assert message in body
    assert "Nothing was changed" in body
    assert not RosterUpload.objects.exists()
    assert Member.objects.filter(agency=agency, employee_number__startswith="5").count() == 0


def test_row_numbers_match_the_spreadsheet_rows() -> None:
    with pytest.raises(RosterError) as caught:
        roster_parse(csv_bytes("1,A,B,,sworn,,,,", "", "2,C,D,,deputy,,,,"))
    assert caught.value.errors == [
        "Row 4: category 'deputy' is not one of sworn, civilian, volunteer."
    ]


def test_header_is_matched_case_insensitively_and_in_any_order(
    agency: Agency, roster: dict[str, Member]
) -> None:
    data = csv_bytes("Ed,500,SWORN", header="First_Name,Employee_Number,CATEGORY,Last Name\n")
    with pytest.raises(RosterError, match="Row 2: has 3 values but the header has 4"):
        roster_plan(agency, data)
    plan = roster_plan(
        agency,
        csv_bytes("Ed,500,SWORN,Ok", header="First_Name,Employee_Number,CATEGORY,Last Name\n"),
    )
    assert [r.employee_number for r in plan.added] == ["500"]
    assert plan.added[0].category == "sworn"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (HEADER.encode() + b"1,A,B,,sworn,,,,\n" * 150_000, "the limit is 2 MB"),
        (
            HEADER.encode() + b"".join(b"%d,A,B,,sworn,,,,\n" % i for i in range(50_001)),
            "more than 50,000 rows",
        ),
        (
            "employee_number,first_name,last_name,category\n1,José,Núñez,sworn\n".encode("latin-1"),
            "not UTF-8",
        ),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not UTF-8"),
        (b"", "empty"),
        (b"name,age\nx,1\n", "unknown column(s)"),
        (HEADER.encode() + b'1,"A,B,,sworn,,,,\n', "not valid CSV"),
    ],
)
def test_oversize_or_malformed_files_get_a_clear_message(
    agency: Agency,
    roster: dict[str, Member],
    cast: dict[str, User],
    signed_in: SignedIn,
    data: bytes,
    message: str,
) -> None:
    before = list(Member.objects.filter(agency=agency).values_list("pk", "active", "unit_id"))
    response = upload(signed_in(cast["administrator"]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert (
        list(Member.objects.filter(agency=agency).values_list("pk", "active", "unit_id")) == before
    )


def test_import_is_all_or_nothing_even_when_the_roster_changes_after_review(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User]
) -> None:
    admin = cast["administrator"]
    _upload, plan = roster_upload_stage(acting_user=admin, agency=agency, data=roster_file())
    Unit.objects.filter(agency=agency, code="D1-P").delete()  # the file refers to it
    with pytest.raises(RosterError, match="unit code 'D1-P' is not a unit"):
        roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)
    assert not Member.objects.filter(agency=agency, employee_number="400").exists()
    roster["old"].refresh_from_db()
    assert roster["old"].active
    assert not AuditEvent.objects.filter(action="member.import").exists()


def test_import_failing_half_way_leaves_the_database_untouched(
    agency: Agency,
    roster: dict[str, Member],
    cast: dict[str, User],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tandem.agencies import services

    admin = cast["administrator"]
    _upload, plan = roster_upload_stage(acting_user=admin, agency=agency, data=roster_file())

    def broken_audit(**kwargs: Any) -> None:
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(services, "audit_record", broken_audit)
    with pytest.raises(RuntimeError):
        roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)
    assert not Member.objects.filter(agency=agency, employee_number="400").exists()
    roster["old"].refresh_from_db()
    assert roster["old"].active
    assert RosterUpload.objects.get().committed_at is None


def test_roster_command_dry_run_then_commit(
    agency: Agency, roster: dict[str, Member], tmp_path: Path
) -> None:
    path = tmp_path / "hr.csv"
    path.write_bytes(roster_file())
    out = StringIO()
    call_command("roster", "import", str(path), "--agency", "alpha", stdout=out)
    assert "Dry run" in out.getvalue()
    assert "1 added, 2 changed, 1 deactivated" in out.getvalue()
    assert not Member.objects.filter(employee_number="400").exists()
    out = StringIO()
    call_command("roster", "import", str(path), "--agency", "alpha", "--commit", stdout=out)
    assert "Imported: 1 added" in out.getvalue()
    assert Member.objects.get(agency=agency, employee_number="400").supervisor == roster["sgt"]


def test_roster_command_reports_errors_and_exits_non_zero(
    agency: Agency, roster: dict[str, Member], tmp_path: Path
) -> None:
    path = tmp_path / "hr.csv"
    path.write_bytes(csv_bytes("500,Ed,Bad,,deputy,,,,"))
    with pytest.raises(CommandError, match="Row 2: category 'deputy'"):
        call_command("roster", "import", str(path), "--agency", "alpha", "--commit")
    with pytest.raises(CommandError, match="No agency with the slug 'nope'"):
        call_command("roster", "import", str(path), "--agency", "nope")


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000) | st.text(max_size=3000).map(str.encode))
def test_any_uploaded_bytes_give_rows_or_a_clear_error_never_a_crash(data: bytes) -> None:
    errors: list[str] = []
    rows = []
    try:
        rows = roster_parse(HEADER.encode() + data)
    except RosterError as exc:
        errors = exc.errors
    assert bool(errors) != bool(rows)
    assert all(isinstance(e, str) and e for e in errors)
    assert all(r.row >= 2 for r in rows)


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


def test_staged_roster_files_expire_after_an_hour(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User]
) -> None:
    admin = cast["administrator"]
    with time_machine.travel("2026-03-01 09:00Z", tick=False):
        _upload, plan = roster_upload_stage(acting_user=admin, agency=agency, data=roster_file())
    with time_machine.travel("2026-03-01 10:01Z", tick=False):
        with pytest.raises(RosterError, match="expired"):
            roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)
        assert roster_uploads_purge() == 1
    assert not RosterUpload.objects.exists()


def test_people_who_leave_the_roster_lose_their_account_but_the_importer_keeps_theirs(
    agency: Agency, roster: dict[str, Member], cast: dict[str, User]
) -> None:
    admin = cast["administrator"]
    leaver = cast["member"]
    _upload, plan = roster_upload_stage(acting_user=admin, agency=agency, data=roster_file())
    roster_import_commit(acting_user=admin, agency=agency, digest=plan.digest)
    leaver.refresh_from_db()
    admin.refresh_from_db()
    assert not leaver.is_active
    assert admin.is_active
    assert AuditEvent.objects.filter(
        action="account.deactivated", object_id=str(leaver.pk), detail__reason="left the roster"
    ).exists()
