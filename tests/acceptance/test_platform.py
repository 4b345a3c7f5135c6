"""Acceptance tests of the Tandem platform (the foundation issue), from a user's side.

Sections follow the issue's numbered points. Every test runs on SQLite and on PostgreSQL
(`make test`); tests that read raw database bytes use the engine they run on.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
import os
import pickle
import re
import secrets
import shutil
import smtplib
import subprocess
import sys
import threading
from base64 import b32encode
from binascii import unhexlify
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import parse_qs

import pytest
import time_machine
from django.apps import apps
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core import mail, serializers
from django.core.exceptions import FieldError, ImproperlyConfigured, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.mail.backends.base import BaseEmailBackend
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, models, transaction
from django.db.utils import OperationalError
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import path, reverse
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from django_tasks_db.models import DBTaskResult
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from PIL import Image

from tandem.accounts import services
from tandem.accounts.models import RoleAssignment, RoleRequest, User
from tandem.accounts.passwords import BREACHED_MESSAGE, BreachedPasswordValidator
from tandem.agencies.models import Agency, Member, MemberCategory, Role, RosterUpload, Unit
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
from tandem.audit.checkpoints import audit_checkpoint
from tandem.audit.models import AuditCheckpoint, AuditEvent
from tandem.audit.services import audit_purge, audit_record
from tandem.audit.verify import ALTERED, verify_chain
from tandem.core import crypto, jobs, sms
from tandem.core.decorators import public
from tandem.core.fields import EncryptedJSONField, EncryptedTextField, EnvelopeKeyField
from tandem.core.logging import ScrubFilter, scrub_text
from tandem.core.models import DataKey, EnvelopeEncrypted, PeriodicRun, WorkerHeartbeat
from tandem.core.notifications import CATALOGUE, notify, site_url
from tandem.notifications.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    SealedDestination,
)
from tests.authz import (
    MATRIX,
    PLATFORM_ROWS,
    PUBLIC,
    PUBLIC_BY_DESIGN,
    World,
    all_url_names,
    check_no_session,
    check_row,
    make_world,
)
from tests.browser import browser_page
from tests.conftest import PASSWORD, make_user, sign_in
from tests.helpers import code_for

pytestmark = pytest.mark.django_db


# ========================================================================================
# 1. Project and set-up
# Project set-up (point 1): settings, the console command, production checks, headers.
# ========================================================================================

ROOT = Path(__file__).resolve().parents[2]


def run_tandem(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tandem.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )


def production_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("TANDEM_") and k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL"}
    }
    env.update(
        TANDEM_SECRET_KEY=secrets.token_urlsafe(60),
        TANDEM_ALLOWED_HOSTS="tandem.example.org",
        TANDEM_VAR_DIR=str(tmp_path),
        TANDEM_MASTER_KEYS="k1:" + "A" * 43 + "=",
        # Checkpoints also go where the database administrators cannot write.
        TANDEM_AUDIT_SYSLOG="127.0.0.1:514",
    )
    audit_key = tmp_path / "audit.key"  # the default TANDEM_AUDIT_KEY_FILE under the var dir
    if not audit_key.exists():
        audit_key.write_text(f"ak1:{base64.b64encode(os.urandom(32)).decode()}\n")
        audit_key.chmod(0o600)
    return env


def test_check_deploy_reports_nothing_with_production_variables(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    result = run_tandem("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_audit_checkpoints_stay_in_a_local_file(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["TANDEM_AUDIT_SYSLOG"]
    result = run_tandem("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode != 0
    assert "tandem.audit.W001" in result.stdout + result.stderr
    assert "TANDEM_AUDIT_SYSLOG" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["TANDEM_SECRET_KEY"]
    result = run_tandem("check", env=env)
    assert result.returncode != 0
    assert "TANDEM_SECRET_KEY" in result.stderr


def test_database_url_selects_postgresql_and_default_is_sqlite_under_var(tmp_path: Path) -> None:
    probe = (
        "from django.conf import settings; import django; django.setup();"
        "print(settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'])"
    )
    env = production_env(tmp_path)
    env["DJANGO_SETTINGS_MODULE"] = "tandem.settings"
    env.pop("DATABASE_URL", None)
    sqlite = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert "sqlite3" in sqlite.stdout
    assert str(tmp_path) in sqlite.stdout
    env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/tandem_example"
    pg = subprocess.run(  # noqa: S603
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert "postgresql" in pg.stdout
    assert "tandem_example" in pg.stdout


def test_signed_in_pages_are_never_cached_and_carry_a_content_security_policy(
    cast: dict[str, Any],
) -> None:
    response = sign_in(Client(), cast["member"]).get("/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_stylesheet_and_scripts_are_served_without_signing_in(db: Any) -> None:
    for asset in ("tandem/tandem.css", "tandem/htmx.min.js", "tandem/tandem.js"):
        response = Client().get(f"/static/{asset}")
        assert response.status_code == 200, asset


@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_SSL_REDIRECT=False)
def test_https_responses_carry_hsts(db: Any) -> None:
    response = Client().get("/health/", secure=True)
    assert "max-age=31536000" in response["Strict-Transport-Security"]


@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True)
def test_cookies_are_secure_and_http_only_in_production(cast: dict[str, Any]) -> None:
    client = sign_in(Client(), cast["member"])
    response = client.get("/", secure=True)
    assert response.status_code == 200
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


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
            for later in lines[index + 1:]:
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
                [*(part.partition("#")[2] for part in lines[index:end + 1]),
                 comments_above(index), header_comments])
            if table.startswith("[[") and not re.match(r"^-?\d", key.group(2)):
                said += " " + entry_cite
            if key.group(1) in ("title", "reference", "cite") and table in (
                    "[document]", "[[confidentiality.exceptions]]"):
                said += " " + key.group(2)  # the seed's own name, or the clause itself
            if not cited.search(said):
                missing.append(f"{index + 1}: {line.strip()}")
            index = end
        index += 1
    return missing


@pytest.mark.parametrize("name", sorted(SEED_CITATION))
def test_every_preset_setting_cites_its_seed_or_says_it_is_not_in_it(name: str) -> None:
    """Presets add no rule the seed does not state without saying so (issue 12, item 9)."""
    text = (Path(__file__).resolve().parents[2] / "tandem" / "agencies" / "preset_files"
            / f"{name}.toml").read_text()
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


@pytest.fixture
def roster(agency: Agency) -> dict[str, Member]:
    """Alpha's HR roster before an import: two units, three people."""
    d1 = Unit.objects.create(agency=agency, code="D1", name="District 1", kind="district")
    Unit.objects.create(agency=agency, code="D1-P", name="Patrol", parent=d1)
    chief = Member.objects.create(
        agency=agency,
        employee_number="100",
        first_name="Ana",
        last_name="Chief",
        category="sworn",
        unit=d1,
    )
    sgt = Member.objects.create(
        agency=agency,
        employee_number="200",
        first_name="Bo",
        last_name="Sergeant",
        category="sworn",
        unit=d1,
        supervisor=chief,
    )
    old = Member.objects.create(
        agency=agency,
        employee_number="300",
        first_name="Cy",
        last_name="Leaving",
        category="civilian",
    )
    return {"chief": chief, "sgt": sgt, "old": old}


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


# ========================================================================================
# 4. Sign-in (X-2)
# Sign-in (X-2) and account administration (X-3), from the user's side.
#
# Banner → password → TOTP (enrolment with QR code and backup codes at first sign-in),
# lockout on the 5th failure until an administrator releases it, idle and absolute session
# limits, deactivation that ends sessions at once, the inactive-accounts job, breached
# passwords refused with the reason, and administrator screens scoped to one agency.
# ========================================================================================

START = datetime(2026, 3, 2, 14, 0, 5, tzinfo=UTC)
LOGIN = reverse("accounts:login")
BANNER = reverse("accounts:banner")
MFA = reverse("accounts:mfa")
ENROL = reverse("accounts:mfa_enrol")
HOME = reverse("core:home")
SIGNIN_FAILED_TEXT = "Sign-in failed: the username or password is not correct"


# --- helpers -------------------------------------------------------------------------------


def password_step(client: Client, username: str, password: str = PASSWORD) -> Any:
    client.post(BANNER)
    return client.post(LOGIN, {"username": username, "password": password})


def full_sign_in(client: Client, user: User, password: str = PASSWORD) -> Any:
    password_step(client, user.username, password)
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    return client.post(MFA, {"code": code_for(device)})


def page_text(response: Any) -> str:
    return response.content.decode()


def actions_for(user: User) -> list[str]:
    """The account events about ``user`` (readiness writes its gate changes about them too)."""
    return list(
        AuditEvent.objects.filter(object_type="accounts.User", object_id=str(user.pk))
        .exclude(action__startswith="readiness.")
        .order_by("id")
        .values_list("action", flat=True)
    )


def sessions_of(user: User) -> list[str]:
    keys = []
    for session in Session.objects.all():
        if session.get_decoded().get("_auth_user_id") == str(user.pk):
            keys.append(session.session_key)
    return keys


@pytest.fixture(autouse=True)
def _quick_hashing(settings: Any) -> None:
    """Argon2 is slow on purpose; these tests hash hundreds of passwords, so they use a fast
    hasher. ``test_passwords_are_stored_with_argon2`` checks the configured one."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


CLOCK_START = START  # where the shared ``clock`` fixture stops time


@pytest.fixture
def newcomer(agency: Any) -> User:
    """An account made by an administrator that has never signed in (no second factor)."""
    user = make_user(agency, "newcomer", Role.SUPPORTER)
    TOTPDevice.objects.filter(user=user).delete()
    return user


# --- the full walk -------------------------------------------------------------------------


def test_first_sign_in_walks_banner_password_enrolment_backup_codes_to_home(
    newcomer: User, clock: Any
) -> None:
    client = Client()
    # Step 1: the use banner comes first; the password form is not shown before it.
    response = client.get(LOGIN)
    assert response.status_code == 302
    assert response["Location"] == BANNER
    banner = client.get(BANNER)
    assert "Authorized use only" in page_text(banner)
    assert "monitored, recorded and subject to audit" in page_text(banner)
    assert client.post(BANNER)["Location"] == LOGIN
    assert "Sign in" in page_text(client.get(LOGIN))
    key_before = client.cookies[settings.SESSION_COOKIE_NAME].value

    # Step 2: password. The session key changes at sign-in.
    response = client.post(LOGIN, {"username": "newcomer", "password": PASSWORD})
    assert response["Location"] == MFA
    key_after_password = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert key_after_password != key_before
    assert client.get(HOME).status_code == 302  # not yet: second factor missing

    # Step 3: no app yet → enrolment with a QR code and the key in text.
    assert client.get(MFA)["Location"] == ENROL
    enrol = client.get(ENROL)
    device = TOTPDevice.objects.get(user=newcomer, confirmed=False)
    secret = b32encode(device.bin_key).decode().rstrip("=")
    assert 'src="data:image/svg+xml' in page_text(enrol)
    assert secret[:4] + " " + secret[4:8] in page_text(enrol)
    assert device.config_url.startswith(f"otpauth://totp/{settings.OTP_TOTP_ISSUER}")
    assert f"issuer={settings.OTP_TOTP_ISSUER}" in device.config_url

    response = client.post(ENROL, {"code": code_for(device)})
    assert response["Location"] == reverse("accounts:backup_codes")
    key_after_mfa = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert key_after_mfa != key_after_password
    device.refresh_from_db()
    assert device.confirmed

    # Ten backup codes, shown once.
    codes_page = page_text(client.get(reverse("accounts:backup_codes")))
    stored = list(StaticToken.objects.filter(device__user=newcomer).values_list("token", flat=True))
    assert len(stored) == 10
    for token in stored:
        assert f"{token[:4]}-{token[4:]}" in codes_page
    again = page_text(client.get(reverse("accounts:backup_codes")))
    assert stored[0][:4] + "-" not in again
    assert "shown only once" in again

    home = client.get(HOME)
    assert home.status_code == 200
    assert home["Cache-Control"].startswith("no-store")
    newcomer.refresh_from_db()
    assert newcomer.last_login == START
    assert actions_for(newcomer)[-2:] == ["account.mfa_enrolled", "signin.succeeded"]


def test_returning_user_signs_in_with_app_code(cast: dict[str, User], clock: Any) -> None:
    client = Client()
    response = full_sign_in(client, cast["coordinator"])
    assert response["Location"] == HOME
    assert client.get(HOME).status_code == 200
    session = client.session
    # Kept to the five-minute bucket, so no session dates what the user did next.
    assert session["tandem_auth_at"] == START.timestamp() // 300 * 300
    assert session["tandem_banner_ok"] is True


def test_sign_in_returns_to_the_page_asked_for(cast: dict[str, User], clock: Any) -> None:
    client = Client()
    target = reverse("accounts:account")
    assert client.get(target)["Location"] == f"{LOGIN}?next={target}"
    client.get(f"{LOGIN}?next={target}")
    password_step(client, "coordinator")
    device = TOTPDevice.objects.get(user=cast["coordinator"])
    assert client.post(MFA, {"code": code_for(device)})["Location"] == target


def test_outside_next_url_is_ignored(cast: dict[str, User], clock: Any) -> None:
    client = Client()
    client.get(f"{LOGIN}?next=https://evil.example/")
    assert full_sign_in(client, cast["coordinator"])["Location"] == HOME


def test_password_is_not_accepted_before_the_banner_is_acknowledged(
    cast: dict[str, User],
) -> None:
    client = Client()
    response = client.post(LOGIN, {"username": "coordinator", "password": PASSWORD})
    assert response["Location"] == BANNER
    assert "_auth_user_id" not in client.session
    cast["coordinator"].refresh_from_db()
    assert cast["coordinator"].failed_attempts == 0


def test_banner_must_be_acknowledged_again_after_signing_out(
    cast: dict[str, User], clock: Any
) -> None:
    client = Client()
    full_sign_in(client, cast["member"])
    assert client.get(reverse("accounts:logout")).status_code == 405
    response = client.post(reverse("accounts:logout"))
    assert response["Location"] == LOGIN
    assert client.get(HOME).status_code == 302
    assert client.get(LOGIN)["Location"] == BANNER
    assert actions_for(cast["member"])[-1] == "signout"


# --- wrong, replayed, expired codes; backup codes ---------------------------------------------


def test_wrong_code_gets_a_clear_message_and_counts_as_a_failure(
    cast: dict[str, User], clock: Any
) -> None:
    client = Client()
    user = cast["supporter"]
    password_step(client, user.username)
    device = TOTPDevice.objects.get(user=user)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = client.post(MFA, {"code": wrong})
    assert response.status_code == 200
    assert "That code is not correct" in page_text(response)
    assert client.get(HOME).status_code == 302
    user.refresh_from_db()
    assert user.failed_attempts == 1


def test_replayed_code_is_rejected(cast: dict[str, User], clock: Any) -> None:
    user = cast["supporter"]
    device = TOTPDevice.objects.get(user=user)
    first = Client()
    password_step(first, user.username)
    code = code_for(device)
    assert first.post(MFA, {"code": code})["Location"] == HOME

    # Someone who saw the code uses it again within the same 30 seconds.
    clock.shift(5)
    second = Client()
    password_step(second, user.username)
    response = second.post(MFA, {"code": code})
    assert response.status_code == 200
    assert "already been used" in page_text(response)
    assert second.get(HOME).status_code == 302


def test_expired_code_is_rejected_with_its_own_message(cast: dict[str, User], clock: Any) -> None:
    user = cast["supporter"]
    device = TOTPDevice.objects.get(user=user)
    client = Client()
    password_step(client, user.username)
    response = client.post(MFA, {"code": code_for(device, offset_steps=-6)})
    assert "has expired" in page_text(response)
    assert client.get(HOME).status_code == 302


def test_quick_retries_are_slowed_down_and_not_counted(cast: dict[str, User], clock: Any) -> None:
    user = cast["supporter"]
    device = TOTPDevice.objects.get(user=user)
    client = Client()
    password_step(client, user.username)
    wrong = f"{(int(code_for(device)) + 3) % 1_000_000:06d}"
    client.post(MFA, {"code": wrong})
    response = client.post(MFA, {"code": code_for(device)})  # the same second
    assert "Wait a few seconds" in page_text(response)
    user.refresh_from_db()
    assert user.failed_attempts == 1
    clock.shift(2)
    assert client.post(MFA, {"code": code_for(device)})["Location"] == HOME


def test_wrong_code_at_enrolment_is_explained(newcomer: User, clock: Any) -> None:
    client = Client()
    password_step(client, newcomer.username)
    client.get(ENROL)
    device = TOTPDevice.objects.get(user=newcomer, confirmed=False)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = client.post(ENROL, {"code": wrong})
    assert "Check that the app shows the account you just added" in page_text(response)
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get(HOME).status_code == 302


def test_malformed_code_is_explained_and_not_counted(cast: dict[str, User], clock: Any) -> None:
    user = cast["supporter"]
    client = Client()
    password_step(client, user.username)
    response = client.post(MFA, {"code": "12ab"})
    assert "Enter the 6 digits" in page_text(response)
    user.refresh_from_db()
    assert user.failed_attempts == 0


def test_backup_code_signs_in_once_only(cast: dict[str, User], clock: Any) -> None:
    user = cast["chief"]
    codes = services.backup_codes_regenerate(acting_user=user)
    client = Client()
    password_step(client, user.username)
    spoken = f"{codes[0][:4]}-{codes[0][4:]}".upper()  # as read aloud from paper
    assert client.post(MFA, {"code": spoken})["Location"] == HOME
    assert client.get(HOME).status_code == 200
    assert StaticToken.objects.filter(device__user=user).count() == 9

    clock.shift(60)
    again = Client()
    password_step(again, user.username)
    response = again.post(MFA, {"code": codes[0]})
    assert "That code is not correct" in page_text(response)
    assert again.get(HOME).status_code == 302


def test_regenerating_backup_codes_cancels_the_old_ones(
    cast: dict[str, User], signed_in: Any
) -> None:
    user = cast["coordinator"]
    old = services.backup_codes_regenerate(acting_user=user)
    client = signed_in(user)
    response = client.post(reverse("accounts:backup_codes"), follow=True)
    assert "Your new backup codes" in page_text(response)
    tokens = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(tokens) == 10
    assert not tokens & set(old)


# --- lockout -------------------------------------------------------------------------------


def test_fifth_failed_password_locks_the_account(cast: dict[str, User]) -> None:
    user = cast["psychologist"]
    client = Client()
    client.post(BANNER)
    for attempt in range(1, 5):
        response = client.post(LOGIN, {"username": user.username, "password": "wrong " * 3})
        assert SIGNIN_FAILED_TEXT in page_text(response)
        user.refresh_from_db()
        assert (user.failed_attempts, user.locked_at) == (attempt, None)
    client.post(LOGIN, {"username": user.username, "password": "wrong " * 3})
    user.refresh_from_db()
    assert user.locked_at is not None
    assert "account.locked" in actions_for(user)


def test_locked_account_cannot_sign_in_even_with_right_password(cast: dict[str, User]) -> None:
    user = cast["psychologist"]
    User.objects.filter(pk=user.pk).update(locked_at=timezone.now(), failed_attempts=5)
    client = Client()
    response = password_step(client, user.username)
    assert response.status_code == 200
    assert SIGNIN_FAILED_TEXT in page_text(response)
    assert "_auth_user_id" not in client.session


def test_failure_message_does_not_reveal_whether_the_username_exists(
    cast: dict[str, User],
) -> None:
    def error_of(username: str, password: str) -> str:
        response = password_step(Client(), username, password)
        return str(response.context["form"].non_field_errors())

    locked = cast["auditor"]
    User.objects.filter(pk=locked.pk).update(locked_at=timezone.now())
    unknown = error_of("no-such-person", "whatever it is 1")
    assert unknown == error_of("coordinator", "not the password 1")
    assert unknown == error_of(locked.username, PASSWORD)
    # The unknown name is audited without the name or the password that was typed.
    event = AuditEvent.objects.filter(action="signin.failed", actor_id=None).last()
    assert event is not None
    assert event.detail == {"stage": "password", "reason": "unknown_account"}


def test_failed_passwords_and_codes_together_lock_on_the_fifth(
    cast: dict[str, User], clock: Any
) -> None:
    user = cast["dispatcher"]
    device = TOTPDevice.objects.get(user=user)
    client = Client()
    client.post(BANNER)
    for _ in range(3):
        client.post(LOGIN, {"username": user.username, "password": "wrong password 99"})
    client.post(LOGIN, {"username": user.username, "password": PASSWORD})
    wrong = f"{(int(code_for(device)) + 7) % 1_000_000:06d}"
    client.post(MFA, {"code": wrong})
    user.refresh_from_db()
    assert (user.failed_attempts, user.locked_at) == (4, None)
    clock.shift(2)  # past django-otp's one-second back-off
    response = client.post(MFA, {"code": wrong}, follow=True)
    user.refresh_from_db()
    assert user.locked_at is not None
    assert "now locked" in page_text(response)
    assert "_auth_user_id" not in client.session
    # Even the right code, from a fresh password step, gets nowhere.
    clock.shift(60)
    assert SIGNIN_FAILED_TEXT in page_text(password_step(Client(), user.username))


def test_successful_sign_in_resets_the_failure_count(cast: dict[str, User], clock: Any) -> None:
    user = cast["member"]
    client = Client()
    client.post(BANNER)
    for _ in range(4):
        client.post(LOGIN, {"username": user.username, "password": "wrong password 99"})
    full_sign_in(client, user)
    user.refresh_from_db()
    assert user.failed_attempts == 0


def test_administrator_releases_a_lock_and_the_user_signs_in(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["aro"]
    for _ in range(5):
        password_step(Client(), user.username, "wrong password 99")
    user.refresh_from_db()
    assert user.is_locked
    admin = signed_in(cast["administrator"])
    listing = page_text(admin.get(reverse("accounts:user_list") + "?status=locked"))
    assert user.username in listing
    assert admin.post(reverse("accounts:user_unlock", args=[user.pk])).status_code == 302
    user.refresh_from_db()
    assert (user.locked_at, user.failed_attempts) == (None, 0)
    event = AuditEvent.objects.filter(action="account.unlocked").last()
    assert event is not None
    assert event.actor_id == cast["administrator"].pk
    assert full_sign_in(Client(), user)["Location"] == HOME


def test_console_can_release_a_lock(cast: dict[str, User]) -> None:
    user = cast["administrator"]
    User.objects.filter(pk=user.pk).update(locked_at=timezone.now(), failed_attempts=5)
    call_command("accounts", "unlock", user.username)
    user.refresh_from_db()
    assert not user.is_locked


def test_locking_an_account_ends_access_of_its_open_sessions(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["supporter"]
    laptop = signed_in(user)
    assert laptop.get(HOME).status_code == 200
    attacker = Client()
    attacker.post(BANNER)
    for _ in range(5):
        attacker.post(LOGIN, {"username": user.username, "password": "wrong " * 3})
    user.refresh_from_db()
    assert user.is_locked
    response = laptop.get(HOME)
    assert response.status_code == 302
    laptop.get(response["Location"])
    assert "_auth_user_id" not in laptop.session
    assert laptop.get(HOME).status_code == 302


# --- sessions -------------------------------------------------------------------------------


def test_session_ends_after_30_minutes_idle(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    client = signed_in(cast["member"])
    assert client.get(HOME).status_code == 200
    clock.shift(timedelta(minutes=29))
    assert client.get(HOME).status_code == 200
    clock.shift(timedelta(minutes=30, seconds=1))
    response = client.get(HOME)
    assert response["Location"] == LOGIN
    assert client.get(HOME).status_code == 302
    notice = client.get(BANNER)
    assert "30 minutes without activity" in page_text(notice)


def test_session_ends_12_hours_after_sign_in_even_when_active(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    client = signed_in(cast["member"])
    for _ in range(36):  # a request every 20 minutes for 12 hours
        assert client.get(HOME).status_code == 200
        clock.shift(timedelta(minutes=20))
    clock.shift(timedelta(seconds=1))
    response = client.get(HOME)
    assert response["Location"] == LOGIN
    assert "12-hour limit" in page_text(client.get(BANNER))


def test_tampered_session_cookie_is_treated_as_signed_out(
    cast: dict[str, User], signed_in: Any
) -> None:
    client = signed_in(cast["coordinator"])
    name = settings.SESSION_COOKIE_NAME
    key = client.cookies[name].value
    client.cookies[name] = key[:-1] + ("a" if key[-1] != "a" else "b")
    response = client.get(HOME)
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    client.cookies[name] = "not-a-session-at-all"
    assert client.get(HOME).status_code == 302


def test_post_without_csrf_token_is_rejected_and_changes_nothing(cast: dict[str, User]) -> None:
    client = Client(enforce_csrf_checks=True)
    assert client.post(BANNER).status_code == 403
    page = client.get(BANNER)
    token = page.context["csrf_token"]
    assert client.post(BANNER, {"csrfmiddlewaretoken": str(token)}).status_code == 302
    before = AuditEvent.objects.count()
    response = client.post(LOGIN, {"username": "coordinator", "password": "wrong password 99"})
    assert response.status_code == 403
    assert AuditEvent.objects.count() == before
    cast["coordinator"].refresh_from_db()
    assert cast["coordinator"].failed_attempts == 0


def test_deactivation_ends_every_session_at_once(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["supporter"]
    phone = Client()
    full_sign_in(phone, user)  # a real sign-in, with its session-key rotations
    laptop = signed_in(user)
    assert phone.get(HOME).status_code == 200
    assert laptop.get(HOME).status_code == 200
    assert len(sessions_of(user)) == 2

    admin = signed_in(cast["administrator"])
    admin.post(reverse("accounts:user_deactivate", args=[user.pk]))
    user.refresh_from_db()
    assert not user.is_active
    assert user.deactivated_at == START
    assert sessions_of(user) == []
    assert phone.get(HOME).status_code == 302
    assert laptop.get(HOME).status_code == 302
    event = AuditEvent.objects.filter(action="account.deactivated").last()
    assert event is not None
    assert event.detail["sessions_ended"] == 2
    # …and the password no longer opens anything.
    assert SIGNIN_FAILED_TEXT in page_text(password_step(Client(), user.username))


def test_user_deactivate_service_ends_sessions(cast: dict[str, User], signed_in: Any) -> None:
    user = cast["prs"]
    client = signed_in(user)
    ended = services.user_deactivate(acting_user=cast["administrator"], user=user)
    assert ended == 1
    assert client.get(HOME).status_code == 302


def test_reactivated_account_can_sign_in_again(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["prs"]
    services.user_deactivate(acting_user=None, user=user)
    admin = signed_in(cast["administrator"])
    admin.post(reverse("accounts:user_reactivate", args=[user.pk]))
    user.refresh_from_db()
    assert user.is_active
    assert user.deactivated_at is None
    assert full_sign_in(Client(), user)["Location"] == HOME


# --- the inactive-accounts job -----------------------------------------------------------------


def test_job_disables_accounts_unused_for_90_days(cast: dict[str, User], agency: Any) -> None:
    now = timezone.now()
    stale = cast["supporter"]
    recent = cast["coordinator"]
    never = make_user(agency, "neverused")
    fresh = make_user(agency, "freshhire")
    back = cast["chief"]
    sign_in(Client(), stale)  # an open session, which the job must end
    User.objects.update(date_joined=now - timedelta(days=365))
    User.objects.filter(pk=stale.pk).update(last_login=now - timedelta(days=91))
    User.objects.filter(pk=recent.pk).update(last_login=now - timedelta(days=89))
    User.objects.filter(pk=never.pk).update(last_login=None, date_joined=now - timedelta(days=91))
    User.objects.filter(pk=fresh.pk).update(last_login=None, date_joined=now - timedelta(days=3))
    User.objects.filter(pk=back.pk).update(
        last_login=now - timedelta(days=200), reactivated_at=now - timedelta(days=1)
    )
    User.objects.exclude(pk__in=[stale.pk, recent.pk, never.pk, fresh.pk, back.pk]).update(
        last_login=now
    )

    assert services.disable_inactive_accounts(now=now) == 2
    states = dict(User.objects.values_list("username", "is_active"))
    assert states[stale.username] is False
    assert states[never.username] is False
    assert states[recent.username] is True
    assert states[fresh.username] is True
    assert states[back.username] is True
    assert sessions_of(stale) == []
    event = AuditEvent.objects.filter(action="account.deactivated", object_id=str(stale.pk)).get()
    assert event.actor_id is None
    assert "inactive" in event.detail["reason"]
    assert services.disable_inactive_accounts(now=now) == 0  # idempotent


def test_job_runs_from_the_console(cast: dict[str, User], capsys: Any) -> None:
    User.objects.update(last_login=timezone.now(), date_joined=timezone.now() - timedelta(days=365))
    User.objects.filter(pk=cast["auditor"].pk).update(
        last_login=timezone.now() - timedelta(days=120)
    )
    call_command("accounts", "disable-inactive", "--dry-run")
    assert "auditor" in capsys.readouterr().out
    assert User.objects.get(pk=cast["auditor"].pk).is_active
    call_command("accounts", "disable-inactive")
    assert "1 inactive account(s) disabled" in capsys.readouterr().out
    assert not User.objects.get(pk=cast["auditor"].pk).is_active


# --- passwords ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    ["backtheblue", "ThinBlueLine", "police123", "qwertyuiop", "1qaz2wsx3edc", "P@ssw0rd2024!",
     "Summer2024!", "iloveyou", "Sheriff#1"],
)
def test_breached_and_agency_themed_passwords_are_refused(password: str) -> None:
    with pytest.raises(Exception, match="exposed in data breaches"):
        BreachedPasswordValidator().validate(password)


@pytest.mark.parametrize(
    "password", [PASSWORD, "purple elephant dances at dawn", "Vq7!rT2m#kLp9z"]
)
def test_strong_passwords_pass_the_breach_check(password: str) -> None:
    BreachedPasswordValidator().validate(password)


def test_password_change_refuses_breached_password_with_the_reason(
    cast: dict[str, User], signed_in: Any
) -> None:
    user = cast["member"]
    client = signed_in(user)
    response = client.post(
        reverse("accounts:password_change"),
        {"current_password": PASSWORD, "password1": "Thinblueline1!",
         "password2": "Thinblueline1!"},
    )
    assert response.status_code == 200
    assert BREACHED_MESSAGE.split(",")[0] in page_text(response)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_passwords_are_stored_with_argon2(cast: dict[str, User], settings: Any) -> None:
    from tandem import settings as configured

    settings.PASSWORD_HASHERS = configured.PASSWORD_HASHERS
    user = cast["member"]
    user.set_password(PASSWORD)
    user.save(update_fields=["password"])
    assert user.password.startswith("argon2$argon2id$")
    assert user.check_password(PASSWORD)


def test_password_change_needs_the_current_password(
    cast: dict[str, User], signed_in: Any
) -> None:
    client = signed_in(cast["member"])
    response = client.post(
        reverse("accounts:password_change"),
        {"current_password": "not it at all 1", "password1": "lantern orchard quietly 8",
         "password2": "lantern orchard quietly 8"},
    )
    assert "Your current password is not correct" in page_text(response)


def test_password_change_keeps_this_session_and_records_when(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["member"]
    client = signed_in(user)
    other = signed_in(user)
    new = "lantern orchard quietly 8"
    response = client.post(
        reverse("accounts:password_change"),
        {"current_password": PASSWORD, "password1": new, "password2": new},
    )
    assert response["Location"] == reverse("accounts:account")
    user.refresh_from_db()
    assert user.check_password(new)
    assert user.password_changed_at == START
    assert client.get(HOME).status_code == 200
    assert other.get(HOME).status_code == 302  # the other browser is signed out
    assert "account.password_changed" in actions_for(user)


def test_too_short_password_is_refused_with_the_reason(
    cast: dict[str, User], signed_in: Any
) -> None:
    client = signed_in(cast["member"])
    response = client.post(
        reverse("accounts:password_change"),
        {"current_password": PASSWORD, "password1": "Zq9!", "password2": "Zq9!"},
    )
    assert "at least 8 characters" in page_text(response)


# --- administrator screens ------------------------------------------------------------------------


ADMIN_GET_URLS = ["accounts:user_list", "accounts:user_create"]
ADMIN_POST_URLS = [
    "accounts:user_unlock", "accounts:user_reset_mfa", "accounts:user_deactivate",
    "accounts:user_reactivate", "accounts:user_role_grant", "accounts:user_role_revoke",
    "accounts:user_password",
]


def test_account_screens_are_404_for_everyone_but_administrators(
    cast: dict[str, User], signed_in: Any
) -> None:
    target = cast["nobody"]
    for role, user in cast.items():
        if role == Role.ADMINISTRATOR:
            continue
        client = signed_in(user)
        for name in ADMIN_GET_URLS:
            assert client.get(reverse(name)).status_code == 404, (role, name)
        assert client.get(reverse("accounts:user_detail", args=[target.pk])).status_code == 404
        for name in ADMIN_POST_URLS:
            response = client.post(reverse(name, args=[target.pk]), {"role": "chief"})
            assert response.status_code == 404, (role, name)
    target.refresh_from_db()
    assert target.is_active
    assert target.role_set() == frozenset()


def test_administrator_of_another_agency_gets_404_for_our_accounts(
    cast: dict[str, User], stranger: User, signed_in: Any
) -> None:
    client = signed_in(stranger)  # administrator — of Bravo
    target = cast["coordinator"]
    assert client.get(reverse("accounts:user_detail", args=[target.pk])).status_code == 404
    for name in ADMIN_POST_URLS:
        response = client.post(reverse(name, args=[target.pk]), {"role": "chief"})
        assert response.status_code == 404, name
    listing = page_text(client.get(reverse("accounts:user_list")))
    assert "coordinator" not in listing
    assert "stranger" in listing
    target.refresh_from_db()
    assert target.is_active
    assert target.role_set() == frozenset({"coordinator"})


def test_account_list_shows_status_and_a_fixed_number_of_queries(
    cast: dict[str, User], agency: Any, signed_in: Any
) -> None:
    admin = signed_in(cast["administrator"])
    User.objects.filter(pk=cast["aro"].pk).update(locked_at=timezone.now())
    TOTPDevice.objects.filter(user=cast["prs"]).delete()
    response = admin.get(reverse("accounts:user_list"))
    rows = {acc.username: roles for acc, roles in response.context["rows"]}
    assert rows["coordinator"] == [agency.title_for("coordinator")]
    text = page_text(response)
    for badge in ("Locked", "MFA not set up", "MFA enrolled", "Never"):
        assert badge in text

    with CaptureQueriesContext(connection) as few:
        admin.get(reverse("accounts:user_list"))
    for n in range(15):
        make_user(agency, f"extra{n}", Role.MEMBER)
    with CaptureQueriesContext(connection) as many:
        admin.get(reverse("accounts:user_list"))
    assert len(many) == len(few)


def test_administrator_creates_an_account_linked_to_a_member(
    cast: dict[str, User], agency: Any, signed_in: Any, clock: Any
) -> None:
    member = Member.objects.create(agency=agency, employee_number="7001", first_name="Dana",
                                   last_name="Reyes", category="sworn")
    admin = signed_in(cast["administrator"])
    form = admin.get(reverse("accounts:user_create"))
    assert "Dana" in page_text(form)
    response = admin.post(reverse("accounts:user_create"), {
        "username": "dreyes", "first_name": "Dana", "last_name": "Reyes",
        "member": member.pk, "roles": ["supporter", "member"],
        "password1": "granite harbor window 42", "password2": "granite harbor window 42",
    })
    account = User.objects.get(username="dreyes")
    assert response["Location"] == reverse("accounts:user_detail", args=[account.pk])
    assert account.agency == agency
    assert account.member == member
    # "member" is granted at once; "supporter" is a program role, so it waits for a second
    # person (the chief or a supporter) to approve it.
    assert account.role_set() == frozenset({"member"})
    assert account.password_changed_at == START
    event = AuditEvent.objects.get(action="account.created")
    assert event.detail["roles"] == ["member"]
    assert event.detail["proposed_roles"] == ["supporter"]
    proposal = RoleRequest.objects.get(user=account)
    services.role_grant_approve(acting_user=cast["chief"], role_request=proposal)
    account.forget_roles()
    assert account.role_set() == frozenset({"supporter", "member"})
    grants = {g.role: g.granted_by_id for g in RoleAssignment.objects.filter(user=account)}
    assert grants == {"member": cast["administrator"].pk, "supporter": cast["chief"].pk}
    assert "granite" not in json.dumps(list(AuditEvent.objects.values()), default=str)
    # The new person's first sign-in leads to enrolment.
    newcomer = Client()
    password_step(newcomer, "dreyes", "granite harbor window 42")
    assert newcomer.get(MFA)["Location"] == ENROL


def test_create_account_refuses_breached_password_and_other_agencies_member(
    cast: dict[str, User], other_agency: Any, signed_in: Any
) -> None:
    outsider = Member.objects.create(agency=other_agency, employee_number="9", first_name="O",
                                     last_name="Utsider", category="sworn")
    admin = signed_in(cast["administrator"])
    response = admin.post(reverse("accounts:user_create"), {
        "username": "weak", "member": outsider.pk,
        "password1": "backtheblue2024", "password2": "backtheblue2024",
    })
    assert response.status_code == 200
    text = page_text(response)
    assert "exposed in data breaches" in text
    assert "Select a valid choice" in text
    assert not User.objects.filter(username="weak").exists()


def test_administrator_grants_and_revokes_roles_with_audit(
    cast: dict[str, User], signed_in: Any
) -> None:
    admin_user = cast["administrator"]
    admin = signed_in(admin_user)
    target = cast["nobody"]
    admin.post(reverse("accounts:user_role_grant", args=[target.pk]), {"role": "supporter"})
    assert not RoleAssignment.objects.filter(user=target).exists()  # proposed, not granted
    chief = signed_in(cast["chief"])
    chief.post(reverse("accounts:role_request_approve",
                       args=[RoleRequest.objects.get(user=target).pk]))
    assignment = RoleAssignment.objects.get(user=target)
    assert (assignment.role, assignment.granted_by_id) == ("supporter", cast["chief"].pk)
    detail = page_text(admin.get(reverse("accounts:user_detail", args=[target.pk])))
    assert target.agency.title_for("supporter") in detail
    admin.post(reverse("accounts:user_role_revoke", args=[target.pk]), {"role": "supporter"})
    assert not RoleAssignment.objects.filter(user=target).exists()
    assert actions_for(target)[-2:] == ["role.granted", "role.revoked"]
    response = admin.post(reverse("accounts:user_role_grant", args=[target.pk]),
                          {"role": "emperor"}, follow=True)
    assert "Choose a role from the list" in page_text(response)


def test_administrator_cannot_remove_own_administrator_role_or_deactivate_self(
    cast: dict[str, User], signed_in: Any
) -> None:
    me = cast["administrator"]
    admin = signed_in(me)
    response = admin.post(reverse("accounts:user_role_revoke", args=[me.pk]),
                          {"role": "administrator"}, follow=True)
    assert "cannot remove your own administrator role" in page_text(response)
    response = admin.post(reverse("accounts:user_deactivate", args=[me.pk]), follow=True)
    assert "cannot deactivate your own account" in page_text(response)
    me.refresh_from_db()
    assert me.is_active
    assert me.has_role("administrator")


def test_reset_mfa_makes_the_user_enrol_again_and_ends_sessions(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["crt_supervisor"]
    services.backup_codes_regenerate(acting_user=user)
    session = signed_in(user)
    admin = signed_in(cast["administrator"])
    admin.post(reverse("accounts:user_reset_mfa", args=[user.pk]))
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert not StaticDevice.objects.filter(user=user).exists()
    assert session.get(HOME).status_code == 302
    client = Client()
    password_step(client, user.username)
    assert client.get(MFA)["Location"] == ENROL
    assert "account.credentials_reset" in actions_for(user)


def test_administrator_sets_a_new_password_with_validation(
    cast: dict[str, User], signed_in: Any, clock: Any
) -> None:
    user = cast["supervisor"]
    admin = signed_in(cast["administrator"])
    url = reverse("accounts:user_password", args=[user.pk])
    refused = admin.post(url, {"password1": "police2025", "password2": "police2025"})
    assert refused.status_code == 400
    assert "exposed in data breaches" in page_text(refused)
    admin.post(url, {"password1": "meadow copper violin 3", "password2": "meadow copper violin 3"})
    assert full_sign_in(Client(), user, "meadow copper violin 3")["Location"] == HOME


def test_audit_never_contains_passwords_or_codes(cast: dict[str, User], clock: Any) -> None:
    user = cast["coordinator"]
    password_step(Client(), user.username, "my secret guess 77")
    full_sign_in(Client(), user)
    dump = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert "my secret guess" not in dump
    assert PASSWORD not in dump
    assert "signin.succeeded" in dump
    assert "signin.failed" in dump


# ========================================================================================
# 5. Roles and access (X-3): the authorization matrix
# Deny by default (X-3): every URL × every role, and no page without a verified session.
# ========================================================================================

@pytest.fixture
def world(agency: Any, cast: dict[str, Any]) -> World:
    return make_world(agency, cast, [])


def test_every_url_is_in_the_matrix() -> None:
    covered = {row.url_name for row in MATRIX} | PUBLIC
    missing = [name for name, _ in all_url_names() if name not in covered]
    assert not missing, f"URLs with no authorization row: {missing}"


@pytest.mark.parametrize("row", PLATFORM_ROWS, ids=lambda r: r.url_name)
def test_only_the_allowed_roles_get_each_page(
    row: Any, world: World, stranger: Any
) -> None:
    check_row(row, world, stranger)


@pytest.mark.parametrize("row", PLATFORM_ROWS, ids=lambda r: r.url_name)
def test_no_page_without_a_verified_session(row: Any, world: World) -> None:
    check_no_session(row, world)


def test_public_urls_are_only_sign_in_steps_and_health() -> None:
    for name in PUBLIC:
        signin_or_health = name.startswith(("accounts:", "core:health", "core:live"))
        assert signin_or_health or name in PUBLIC_BY_DESIGN, name


# ========================================================================================
# 6. Audit trail (X-4, P3)
# Audit trail (issue 2, point 6; X-4, P3): append-only in the database, hash-chained,
# verifiable, purged only after the retention period, readable by auditors only.
#
# Tampering is done the way a malicious database administrator would: switch the triggers
# off (PostgreSQL: ``ALTER TABLE … DISABLE TRIGGER USER``; SQLite: drop and recreate them),
# change rows with raw SQL, switch them back on — and ``tandem audit verify`` must notice.
# ========================================================================================


TABLES = ("audit_auditevent", "audit_auditcheckpoint")


# --- helpers ------------------------------------------------------------------------------


def record(n: int, *, action: str = "member.create", **kwargs: Any) -> list[AuditEvent]:
    return [
        audit_record(
            action=action,
            object_type="agencies.Member",
            object_id=i,
            detail={"n": i, "ratio": 0.25, "big": 1e20},
            **kwargs,
        )
        for i in range(n)
    ]


def raw(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@contextmanager
def triggers_off() -> Iterator[None]:
    """What a DBA with the owner's rights can do."""
    if connection.vendor == "postgresql":
        for table in TABLES:
            raw(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        yield
        for table in TABLES:
            raw(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'")
        saved = [row for row in cursor.fetchall() if row[0].startswith("tandem_audit_")]
        for name, _sql in saved:
            cursor.execute(f"DROP TRIGGER {name}")
        yield
        for _name, sql in saved:
            cursor.execute(sql)


def verify_fails(batch_size: int = 2000) -> str:
    with pytest.raises(CommandError) as failure:
        call_command("audit", "verify", "--batch-size", str(batch_size), stdout=StringIO())
    assert failure.value.returncode == 1
    return str(failure.value)


def verify_passes() -> str:
    out = StringIO()
    call_command("audit", "verify", stdout=out)
    return out.getvalue()


def refused(sql: str, params: list[Any] | None = None) -> bool:
    try:
        with transaction.atomic():
            raw(sql, params)
    except DatabaseError:
        return True
    return False


# --- the database refuses changes ---------------------------------------------------------


def test_database_refuses_to_update_an_audit_event() -> None:
    event = record(1)[0]
    assert refused("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["x.y", event.id])
    assert refused("UPDATE audit_auditevent SET purpose = %s", ["cover-up"])
    assert AuditEvent.objects.get(pk=event.pk).action == "member.create"


def test_database_refuses_to_delete_a_recent_audit_event() -> None:
    events = record(2)
    assert refused("DELETE FROM audit_auditevent WHERE id = %s", [events[0].id])
    assert refused("DELETE FROM audit_auditevent")
    assert AuditEvent.objects.count() == 2


def test_orm_cannot_delete_or_change_audit_events_either() -> None:
    event = record(1)[0]
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(DatabaseError), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(outcome="denied")
    assert verify_chain().ok


def test_database_allows_deleting_only_events_older_than_365_days() -> None:
    with time_machine.travel(timezone.now() - timedelta(days=366), tick=False):
        old = record(1)[0]
    recent = record(1)[0]
    assert refused("DELETE FROM audit_auditevent WHERE id = %s", [recent.id])
    assert not refused("DELETE FROM audit_auditevent WHERE id = %s", [old.id])
    # Deleting by hand, without the purge's checkpoint, still shows in the chain.
    assert "Deployment chain broken at event #2: previous-hash mismatch" in verify_fails()


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_postgresql_refuses_truncate_of_the_audit_tables() -> None:
    record(1)
    assert refused("TRUNCATE audit_auditevent")
    assert refused("TRUNCATE audit_auditcheckpoint")
    assert AuditEvent.objects.count() == 1


def test_database_refuses_to_change_or_delete_a_purge_checkpoint() -> None:
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=False):
        record(2)
    audit_purge()
    checkpoint = AuditCheckpoint.objects.get()
    assert refused(
        "UPDATE audit_auditcheckpoint SET through_id = 99 WHERE id = %s", [checkpoint.pk]
    )
    assert refused("DELETE FROM audit_auditcheckpoint WHERE id = %s", [checkpoint.pk])


# --- verification -------------------------------------------------------------------------


def test_intact_chain_verifies_with_a_summary() -> None:
    events = record(5)
    out = verify_passes()
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert "Deployment chain intact: 5 events, first #1, last #5" in out


def test_empty_trail_verifies() -> None:
    assert "no events yet" in verify_passes()


def test_verify_reads_in_batches_and_still_finds_the_break() -> None:
    record(9)
    assert verify_chain(batch_size=2).ok
    with triggers_off():
        raw("UPDATE audit_auditevent SET object_id = %s WHERE seq = 7", ["999"])
    assert verify_fails(batch_size=2) == f"Deployment chain broken at event #7: {ALTERED}"


def test_altered_row_is_named_by_verify() -> None:
    record(5)
    with triggers_off():
        raw("UPDATE audit_auditevent SET action = %s WHERE seq = 3", ["member.edit"])
    assert verify_fails() == f"Deployment chain broken at event #3: {ALTERED}"


def test_altered_outcome_or_time_is_caught_too() -> None:
    record(4)
    with triggers_off():
        raw("UPDATE audit_auditevent SET outcome = %s WHERE seq = 2", ["success"])  # unchanged
        raw("UPDATE audit_auditevent SET outcome = %s WHERE seq = 4", ["denied"])
    assert verify_fails() == f"Deployment chain broken at event #4: {ALTERED}"


def test_removed_middle_row_is_named_by_the_next_row() -> None:
    record(5)
    with triggers_off():
        raw("DELETE FROM audit_auditevent WHERE seq = 3")
    assert verify_fails() == (
        "Deployment chain broken at event #4: previous-hash mismatch "
        "(event removed or inserted out of order)"
    )


def test_removed_first_row_is_caught() -> None:
    record(3)
    with triggers_off():
        raw("DELETE FROM audit_auditevent WHERE seq = 1")
    assert verify_fails().startswith("Deployment chain broken at event #2: previous-hash mismatch")


def test_swapped_rows_are_caught() -> None:
    record(5)
    with triggers_off():
        raw("UPDATE audit_auditevent SET seq = -2 WHERE seq = 2")
        raw("UPDATE audit_auditevent SET seq = 2 WHERE seq = 4")
        raw("UPDATE audit_auditevent SET seq = 4 WHERE seq = -2")
    assert verify_fails() == (
        "Deployment chain broken at event #2: previous-hash mismatch "
        "(event removed or inserted out of order)"
    )


def test_row_inserted_with_a_forged_seq_is_caught() -> None:
    events = record(4)
    forged = AuditEvent(
        chain=0,
        seq=10,
        key_id=events[-1].key_id,
        action="member.create",
        occurred_at=timezone.now(),
        prev_hash=events[-1].hash,
        detail={},
    )
    forged.hash = forged.compute_hash(forged.prev_hash)  # even with the audit key itself
    forged.save(force_insert=True)
    assert verify_fails() == (
        "Deployment chain broken at event #10: events #5 to #9 are missing (removed or forged)"
    )


def test_row_inserted_into_a_gap_is_caught() -> None:
    events = record(5)
    with triggers_off():
        raw("DELETE FROM audit_auditevent WHERE seq = 3")
        forged = AuditEvent(
            chain=0,
            seq=3,
            key_id=events[2].key_id,
            action="member.create",
            occurred_at=events[2].occurred_at,
            prev_hash=events[1].hash,
            detail={"n": 2},
        )
        forged.hash = forged.compute_hash(forged.prev_hash)
        forged.save(force_insert=True)
    assert verify_fails().startswith("Deployment chain broken at event #4: previous-hash mismatch")


def test_forged_checkpoint_cannot_hide_removed_rows() -> None:
    events = record(5)
    with triggers_off():
        raw("DELETE FROM audit_auditevent WHERE seq <= 2")
    AuditCheckpoint.objects.create(
        chain=0,
        through_seq=2,
        through_id=events[1].id,
        through_hash=events[1].hash,
        deleted_count=2,
        cutoff=timezone.now(),
        created_at=timezone.now(),
    )
    assert "no audit.purge event in the chain confirms the purge checkpoint at #2" in verify_fails()


def test_verify_warns_when_the_protection_is_missing() -> None:
    record(2)
    with triggers_off():
        with pytest.raises(CommandError) as failure:
            call_command("audit", "verify", stdout=StringIO())
        assert failure.value.returncode == 2
        assert "protection of the audit tables is missing" in str(failure.value)
    verify_passes()


# --- the same-transaction guarantee --------------------------------------------------------


def test_event_recorded_in_a_rolled_back_transaction_leaves_nothing() -> None:
    record(2)

    class Abort(Exception):
        pass

    def change_then_fail() -> None:
        with transaction.atomic():
            audit_record(action="member.update", object_type="agencies.Member", object_id=1)
            raise Abort

    with pytest.raises(Abort):
        change_then_fail()
    assert not AuditEvent.objects.filter(action="member.update").exists()
    after = audit_record(action="member.update")
    assert after.seq == 3
    assert verify_chain().ok


# --- retention purge ----------------------------------------------------------------------


def test_purge_removes_only_events_older_than_a_year_and_the_chain_still_verifies() -> None:
    now = timezone.now()
    with time_machine.travel(now - timedelta(days=500), tick=False):
        record(3)
    with time_machine.travel(now - timedelta(days=366), tick=False):
        record(2)
    with time_machine.travel(now - timedelta(days=200), tick=False):
        kept = record(2)
    record(1)
    out = StringIO()
    call_command("audit", "purge", stdout=out)
    assert "Deleted 5 events" in out.getvalue()
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == [6, 7, 8, 9]
    assert AuditEvent.objects.filter(pk=kept[0].pk).exists()
    checkpoint = AuditCheckpoint.objects.get()
    assert (checkpoint.through_seq, checkpoint.deleted_count) == (5, 5)
    purge = AuditEvent.objects.get(action="audit.purge")
    assert purge.detail["through_seq"] == 5
    audit_checkpoint()  # the worker's periodic checkpoint (the trail holds old events)
    assert "Deployment chain intact: 5 events, first #6, last #10" in verify_passes()
    # A second purge has nothing to do, and new events keep extending the chain.
    call_command("audit", "purge", stdout=StringIO())
    assert AuditCheckpoint.objects.count() == 1
    record(1)
    assert verify_chain().ok


def test_purge_of_every_event_keeps_the_chain_going_from_the_checkpoint() -> None:
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=False):
        record(3)
    result = audit_purge()
    assert (result.deleted, result.through_seq) == (3, 3)
    purge = AuditEvent.objects.get()
    assert (purge.seq, purge.action) == (4, "audit.purge")
    assert verify_chain().ok


def test_purge_keeps_events_within_the_agencys_longer_retention(agency: Agency) -> None:
    assert agency.policy["retention"]["audit_days"] > 400
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=False):
        record(2)
    result = audit_purge()
    assert (result.deleted, result.retention_days) == (0, agency.policy["retention"]["audit_days"])
    assert AuditEvent.objects.count() == 2


def test_purge_dry_run_deletes_nothing() -> None:
    with time_machine.travel(timezone.now() - timedelta(days=400), tick=False):
        record(2)
    out = StringIO()
    call_command("audit", "purge", "--dry-run", stdout=out)
    assert "2 events from before" in out.getvalue()
    assert AuditEvent.objects.count() == 2


def test_purge_with_a_clock_running_ahead_is_refused_by_the_database() -> None:
    record(2)
    ahead = time_machine.travel(timezone.now() + timedelta(days=800), tick=False)
    with ahead, pytest.raises(CommandError, match="refused the purge"):
        call_command("audit", "purge", stdout=StringIO())
    assert AuditEvent.objects.count() == 2
    assert not AuditCheckpoint.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_test_database_reset_still_works_with_audit_events() -> None:
    """Transactional tests (live server, browser) end with ``flush``; it must not trip."""
    record(2)
    assert AuditEvent.objects.count() == 2


# --- the auditor's screen -----------------------------------------------------------------


@pytest.fixture
def trail(cast: dict[str, User], stranger: User) -> dict[str, AuditEvent]:
    coordinator = cast["coordinator"]
    with time_machine.travel(timezone.now() - timedelta(days=10), tick=False):
        older = audit_record(
            action="member.import",
            actor=cast["administrator"],
            object_type="agencies.Agency",
            object_id=coordinator.agency_id,
        )
    return {
        "older": older,
        "view": audit_record(
            action="member.create", actor=coordinator, object_type="agencies.Member", object_id=7
        ),
        "denied": audit_record(
            action="policy.update",
            actor=coordinator,
            outcome="denied",
            object_type="agencies.Agency",
            object_id=1,
        ),
        "bravo": audit_record(
            action="member.create", actor=stranger, object_type="agencies.Member", object_id=7
        ),
    }


def listing(client: Any, **params: Any) -> str:
    response = client.get(reverse("audit:event_list"), params)
    assert response.status_code == 200
    return response.content.decode()


def rows(html: str) -> int:
    return html.count('href="/audit/events/')


@pytest.mark.parametrize("role", [r.value for r in Role if r != Role.AUDITOR] + ["nobody"])
def test_everyone_but_the_auditor_gets_not_found(
    role: str, cast: dict[str, User], trail: dict[str, AuditEvent], signed_in: Callable[..., Any]
) -> None:
    client = signed_in(cast[role])
    assert client.get(reverse("audit:event_list")).status_code == 404
    assert client.get(reverse("audit:event_detail", args=[trail["view"].seq])).status_code == 404
    assert client.post(reverse("audit:verify")).status_code == 404
    denied = AuditEvent.objects.filter(action__startswith="audit.", actor_id=cast[role].pk)
    assert set(denied.values_list("outcome", flat=True)) == {"denied"}


def test_auditor_sees_own_agency_events_newest_first_and_viewing_is_audited(
    cast: dict[str, User], trail: dict[str, AuditEvent], signed_in: Callable[..., Any]
) -> None:
    html = listing(signed_in(cast["auditor"]))
    assert html.index("policy.update") < html.index("member.import")
    assert rows(html) == 3  # Alpha's three events, not Bravo's
    assert AuditEvent.objects.filter(action="audit.view", actor_id=cast["auditor"].pk).exists()


def test_auditor_of_another_agency_sees_none_of_alphas_events(
    trail: dict[str, AuditEvent], stranger: User, signed_in: Callable[..., Any]
) -> None:
    client = signed_in(stranger)
    html = listing(client)
    assert rows(html) == 1
    assert f"/audit/events/{trail['bravo'].seq}/" in html
    # Events are numbered per agency: Bravo's numbers only ever open Bravo's own events.
    for key in ("older", "view", "denied"):
        response = client.get(reverse("audit:event_detail", args=[trail[key].seq]))
        assert trail[key].hash not in response.content.decode()
    for missing in (trail["denied"].seq + 10, 999):
        assert client.get(reverse("audit:event_detail", args=[missing])).status_code == 404
    denied = AuditEvent.objects.filter(actor_id=stranger.pk, action="audit.view", outcome="denied")
    assert denied.count() == 2
    assert set(denied.values_list("agency_id", flat=True)) == {stranger.agency_id}


def test_auditor_filters_the_trail(
    cast: dict[str, User], trail: dict[str, AuditEvent], signed_in: Callable[..., Any]
) -> None:
    client = signed_in(cast["auditor"])
    assert rows(listing(client, action="policy.")) == 1
    assert rows(listing(client, outcome="denied")) == 1
    assert rows(listing(client, actor="administrator")) == 1
    assert rows(listing(client, object_type="agencies.Member", object_id="7")) == 1
    today = timezone.now().date()
    assert rows(listing(client, action="member", date_to=str(today - timedelta(days=5)))) == 1
    assert rows(listing(client, action="member", date_from=str(today - timedelta(days=1)))) == 1
    html = listing(client, date_from=str(today), date_to=str(today - timedelta(days=1)))
    assert "The end date is before the start date." in html
    assert rows(html) == 0


def test_auditor_opens_one_event(
    cast: dict[str, User], trail: dict[str, AuditEvent], signed_in: Callable[..., Any]
) -> None:
    response = signed_in(cast["auditor"]).get(
        reverse("audit:event_detail", args=[trail["view"].seq])
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "member.create" in html
    assert trail["view"].hash in html
    assert AuditEvent.objects.filter(action="audit.view", object_id=str(trail["view"].seq)).exists()


def test_auditor_verifies_the_chain_from_the_screen(
    cast: dict[str, User], trail: dict[str, AuditEvent], signed_in: Callable[..., Any]
) -> None:
    client = signed_in(cast["auditor"])
    audit_checkpoint()  # the worker's periodic checkpoint (the trail holds old events)
    response = client.post(reverse("audit:verify"), HTTP_HX_REQUEST="true")
    assert "Agency alpha intact" in response.content.decode()
    assert "<html" not in response.content.decode()
    with triggers_off():
        raw("UPDATE audit_auditevent SET action = %s WHERE id = %s", ["x.y", trail["view"].pk])
    html = client.post(reverse("audit:verify")).content.decode()
    seq = trail["view"].seq
    assert f"Agency alpha broken at event #{seq}: content does not match its MAC" in html
    assert AuditEvent.objects.filter(action="audit.verify").count() == 2


def test_audit_list_is_keyset_paginated_with_a_fixed_query_count(
    cast: dict[str, User], signed_in: Callable[..., Any]
) -> None:
    client = signed_in(cast["auditor"])
    record(3, actor=cast["coordinator"])
    listing(client)  # the session is written once per five-minute bucket, not per page
    with CaptureQueriesContext(connection) as few:
        listing(client)
    record(70, actor=cast["coordinator"])
    with CaptureQueriesContext(connection) as many:
        html = listing(client)
    assert len(many) == len(few)
    assert rows(html) == 50
    assert "Older events" in html
    last_shown = min(int(p.split("/")[0]) for p in html.split('href="/audit/events/')[1:])
    older = listing(client, before=last_shown)
    alpha = AuditEvent.objects.filter(chain=cast["auditor"].agency_id, seq__lt=last_shown)
    assert rows(older) == min(50, alpha.count())
    assert "Newer events" in older


# ========================================================================================
# 7. Encryption (X-5, P1)
# Encryption at rest (issue 2, point 7; X-5, P1): envelope keys, encrypted fields, shredding,
# rotation, master-key configuration.
#
# The field is exercised through ``SealedNote``, a model that exists only in this test run
# (app label "cryptotest", not installed, its table made by the schema editor). Its data-key
# foreign key has no database constraint so that pytest-django can TRUNCATE ``core_datakey``
# between transactional tests on PostgreSQL; the encryption behaviour is the real one.
# ========================================================================================

SECRET = "Sgt. Quillon Zebedee-Marsh, 719-555-0199, confided about divorce"
PROJECT_ROOT = Path(__file__).resolve().parents[2]


class SealedNote(EnvelopeEncrypted):
    data_key_purpose = "test.note"
    data_key = EnvelopeKeyField(
        "core.DataKey", null=True, blank=True, editable=False, on_delete=models.PROTECT,
        related_name="+", db_constraint=False,
    )
    label = models.CharField(max_length=100)
    secret = EncryptedTextField(blank=True)
    extra = EncryptedJSONField(blank=True)

    class Meta:
        app_label = "cryptotest"


def key_entry(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


KEY_A, KEY_B = key_entry("test-a"), key_entry("test-b")


@pytest.fixture(scope="session")
def note_table(django_db_setup: Any, django_db_blocker: Any) -> None:
    with django_db_blocker.unblock():
        if SealedNote._meta.db_table not in connection.introspection.table_names():
            with connection.schema_editor() as editor:
                editor.create_model(SealedNote)


@pytest.fixture(autouse=True)
def master_key(settings: Any) -> None:
    settings.TANDEM_MASTER_KEYS = KEY_A


@pytest.fixture
def notes(note_table: None, db: Any) -> type[SealedNote]:
    return SealedNote


def raw_column(note: SealedNote, column: str) -> Any:
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {column} FROM cryptotest_sealednote WHERE id = %s",  # noqa: S608
            [note.pk],
        )
        return cursor.fetchone()[0]


def set_raw_column(note: SealedNote, column: str, value: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE cryptotest_sealednote SET {column} = %s WHERE id = %s",  # noqa: S608
            [value, note.pk],
        )


# --- The field: plaintext in Python, ciphertext in the database -------------------------


def test_encrypted_field_reads_plaintext_while_the_column_holds_only_ciphertext(notes: Any) -> None:
    note = notes.objects.create(label="n1", secret=SECRET, extra={"phone": "719-555-0199"})
    stored = raw_column(note, "secret")
    assert stored.startswith(f"v1:{note.data_key_id}:")
    assert SECRET not in stored
    assert "Quillon" not in stored
    assert "719-555-0199" not in raw_column(note, "extra")

    fresh = notes.objects.select_related("data_key").get(pk=note.pk)
    assert fresh.secret == SECRET
    assert fresh.extra == {"phone": "719-555-0199"}
    assert fresh.is_shredded is False


def test_each_record_gets_its_own_key_and_equal_values_encrypt_differently(notes: Any) -> None:
    one = notes.objects.create(label="a", secret=SECRET)
    two = notes.objects.create(label="b", secret=SECRET)
    assert one.data_key_id != two.data_key_id
    assert raw_column(one, "secret") != raw_column(two, "secret")
    assert DataKey.objects.get(pk=one.data_key_id).purpose == "test.note"
    # Saving again re-encrypts only what changed; a new value gets a fresh nonce.
    before = raw_column(one, "secret")
    one.label = "a2"
    one.save(update_fields=["label"])
    assert raw_column(one, "secret") == before
    one.secret = SECRET
    one.save()
    assert raw_column(one, "secret") != before
    assert notes.objects.get(pk=one.pk).secret == SECRET


def test_deferred_and_refreshed_encrypted_values_still_decrypt(notes: Any) -> None:
    note = notes.objects.create(label="d", secret=SECRET)
    deferred = notes.objects.only("label").get(pk=note.pk)
    assert deferred.secret == SECRET
    note.refresh_from_db()
    assert note.secret == SECRET
    dumped = json.loads(serializers.serialize("json", [note]))[0]["fields"]
    assert dumped["secret"].startswith("v1:")
    assert SECRET not in json.dumps(dumped)


def test_encrypted_field_outside_an_envelope_model_fails_the_system_check() -> None:
    class PlainNote(models.Model):
        secret = EncryptedTextField()

        class Meta:
            app_label = "cryptotest"

        def __str__(self) -> str:
            return "plain note"

    errors = PlainNote._meta.get_field("secret").check()
    assert [e.id for e in errors] == ["tandem.E001"]


def test_ciphertext_length_does_not_reveal_exact_length_of_short_values(notes: Any) -> None:
    short = notes.objects.create(label="s", secret="Al")
    longer = notes.objects.create(label="l", secret="Bartholomew")
    assert len(raw_column(short, "secret")) == len(raw_column(longer, "secret"))


def test_bulk_created_records_each_get_a_data_key(notes: Any) -> None:
    made = notes.objects.bulk_create(
        [notes(label=f"b{i}", secret=f"{SECRET} {i}") for i in range(3)]
    )
    assert len({n.data_key_id for n in made}) == 3
    assert [n.secret for n in notes.objects.filter(label__startswith="b").order_by("label")] == [
        f"{SECRET} {i}" for i in range(3)
    ]


def test_query_update_and_lookups_cannot_bypass_encryption(notes: Any) -> None:
    note = notes.objects.create(label="q", secret=SECRET)
    with pytest.raises(TypeError, match="encrypted"), transaction.atomic():
        notes.objects.filter(pk=note.pk).update(secret="plain text")
    with pytest.raises(FieldError), transaction.atomic():
        list(notes.objects.filter(secret=SECRET))
    assert notes.objects.filter(secret__isnull=False).count() == 1
    assert SECRET not in raw_column(note, "secret")


def test_tampered_ciphertext_fails_authentication_with_a_clear_error(notes: Any) -> None:
    note = notes.objects.create(label="t", secret=SECRET)
    token = raw_column(note, "secret")
    head, body = token.rsplit(":", 1)
    flipped = body[:5] + ("A" if body[5] != "A" else "B") + body[6:]
    set_raw_column(note, "secret", f"{head}:{flipped}")
    with pytest.raises(crypto.DecryptionFailed, match="failed authentication"):
        _ = notes.objects.get(pk=note.pk).secret


def test_tampered_wrapped_key_fails_authentication(notes: Any) -> None:
    note = notes.objects.create(label="w", secret=SECRET)
    wrapped = bytearray(DataKey.objects.get(pk=note.data_key_id).wrapped_key)
    wrapped[-1] ^= 1
    DataKey.objects.filter(pk=note.data_key_id).update(wrapped_key=bytes(wrapped))
    with pytest.raises(crypto.DecryptionFailed, match="altered"):
        _ = notes.objects.get(pk=note.pk).secret


def test_ciphertext_moved_to_another_record_or_field_is_rejected(notes: Any) -> None:
    one = notes.objects.create(label="one", secret=SECRET, extra="x")
    two = notes.objects.create(label="two", secret="other", extra="y")
    token = raw_column(one, "secret")
    set_raw_column(two, "secret", token)
    with pytest.raises(crypto.DecryptionFailed, match="different data key"):
        _ = notes.objects.get(pk=two.pk).secret
    # Even with the key id in the token rewritten, the ciphertext does not open.
    set_raw_column(two, "secret", token.replace(str(one.data_key_id), str(two.data_key_id)))
    with pytest.raises(crypto.DecryptionFailed, match="failed authentication"):
        _ = notes.objects.get(pk=two.pk).secret
    # Same record, another field: the field name is bound in.
    set_raw_column(one, "extra", token)
    with pytest.raises(crypto.DecryptionFailed, match="failed authentication"):
        _ = notes.objects.get(pk=one.pk).extra


def test_seal_and_unseal_round_trip_and_bind_the_context(db: Any) -> None:
    data_key = crypto.new_data_key(purpose="test.blob")
    reloaded = DataKey.objects.get(pk=data_key.pk)

    @hyp_settings(max_examples=60, deadline=None)
    @given(st.text())
    def round_trip(text: str) -> None:
        token = crypto.seal(data_key, text, aad="test.blob")
        assert crypto.unseal(reloaded, token, aad="test.blob") == text

    round_trip()
    token = crypto.seal(data_key, SECRET, aad="test.blob")
    with pytest.raises(crypto.DecryptionFailed):
        crypto.unseal(reloaded, token, aad="test.other")
    with pytest.raises(crypto.DecryptionFailed, match="Malformed"):
        crypto.unseal(reloaded, "not a token", aad="test.blob")


def test_unwrapped_keys_and_plaintext_never_reach_a_pickle(notes: Any) -> None:
    note = notes.objects.create(label="p", secret=SECRET)
    fresh = notes.objects.select_related("data_key").get(pk=note.pk)
    assert fresh.secret == SECRET
    plain_key = fresh.data_key.plain_key()
    dumped = pickle.dumps(fresh)
    assert plain_key not in dumped
    assert SECRET.encode() not in dumped


# --- Shredding ---------------------------------------------------------------------------


def test_shredded_record_can_never_be_read_again(notes: Any, cast: dict[str, Any]) -> None:
    note = notes.objects.create(label="s", secret=SECRET, extra={"a": 1})
    old_token = raw_column(note, "secret")
    note.shred(acting_user=cast["coordinator"], reason="retention period ended")

    fresh = notes.objects.get(pk=note.pk)
    assert fresh.is_shredded is True
    assert fresh.secret is None
    assert fresh.extra is None
    assert raw_column(note, "secret") is None
    key = DataKey.objects.get(pk=note.data_key_id)
    assert key.wrapped_key is None
    assert key.shredded_at is not None
    with pytest.raises(crypto.KeyShredded):
        crypto.unseal(key, old_token, aad="cryptotest.sealednote.secret")
    # Putting the old ciphertext back does not bring the data back either.
    set_raw_column(note, "secret", old_token)
    assert notes.objects.get(pk=note.pk).secret is None
    # A shredded record takes no new secrets.
    fresh.secret = "new"
    with pytest.raises(crypto.KeyShredded), transaction.atomic():
        fresh.save()

    event = AuditEvent.objects.get(action="crypto.shred")
    assert event.object_id == str(note.data_key_id)
    assert event.actor_id == cast["coordinator"].pk
    assert SECRET not in json.dumps(event.canonical())


def test_crypto_shred_service_works_on_a_bare_data_key(db: Any) -> None:
    data_key = crypto.new_data_key(purpose="test.blob")
    token = crypto.seal(data_key, SECRET, aad="blob")
    crypto.crypto_shred(data_key=data_key, reason="request withdrawn")
    with pytest.raises(crypto.KeyShredded):
        crypto.unseal(data_key, token, aad="blob")
    with pytest.raises(crypto.KeyShredded):
        crypto.unseal(DataKey.objects.get(pk=data_key.pk), token, aad="blob")
    assert AuditEvent.objects.filter(action="crypto.shred", object_id=str(data_key.pk)).exists()


SUBPROCESS_SCRIPT = r"""
import importlib, json, os, sys
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
django.setup()
from django.core.management import call_command
from django.db import connection
SealedNote = importlib.import_module(sys.argv[1]).SealedNote
if sys.argv[2] == "create":
    call_command("migrate", verbosity=0)
    with connection.schema_editor() as editor:
        editor.create_model(SealedNote)
    note = SealedNote.objects.create(label="visible-label-7731", secret=sys.argv[3])
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM cryptotest_sealednote WHERE id = %s", [note.pk])
        token = cursor.fetchone()[0]
    out = {"pk": note.pk, "wrapped": bytes(note.data_key.wrapped_key).hex(), "token": token}
else:
    note = SealedNote.objects.get(pk=int(sys.argv[3]))
    note.shred(reason="test")
    out = {"secret_after": note.secret}
with connection.cursor() as cursor:
    cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
connection.close()
print(json.dumps(out))
"""


def _run_tandem_script(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SUBPROCESS_SCRIPT, __name__, *args],
        cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _file_bytes(db_path: Path) -> bytes:
    data = db_path.read_bytes()
    for suffix in ("-wal", "-journal"):
        extra = Path(str(db_path) + suffix)
        if extra.exists():
            data += extra.read_bytes()
    return data


def _forms(raw: bytes) -> list[bytes]:
    return [raw, raw.hex().encode(), base64.b64encode(raw), base64.urlsafe_b64encode(raw)]


def test_sqlite_file_holds_no_plaintext_and_nothing_readable_after_shredding(
    tmp_path: Path,
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("reads the bytes of a SQLite database file")
    db_path = tmp_path / "tandem.sqlite3"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        TANDEM_SQLITE_PATH=str(db_path), TANDEM_VAR_DIR=str(tmp_path),
        TANDEM_INSECURE_HTTP="1", TANDEM_MASTER_KEYS=key_entry("file-test"),
    )
    made = _run_tandem_script(env, "create", SECRET)
    data = _file_bytes(db_path)
    assert b"visible-label-7731" in data  # the search does find what is stored in clear
    wrapped = bytes.fromhex(made["wrapped"])
    assert wrapped in data  # ... and finds the wrapped key while it exists
    assert made["token"].encode() in data
    assert SECRET.encode() not in data
    assert b"Quillon" not in data

    shredded = _run_tandem_script(env, "shred", str(made["pk"]))
    assert shredded["secret_after"] is None
    data = _file_bytes(db_path)
    assert SECRET.encode() not in data
    assert b"Quillon" not in data
    for form in _forms(wrapped):
        assert form not in data
    assert made["token"].encode() not in data


def _pg_dump() -> str:
    settings_dict = connection.settings_dict
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = settings_dict["PASSWORD"]
    command = [shutil.which("pg_dump") or "pg_dump", "--data-only", "--no-owner"]
    if settings_dict.get("HOST"):
        command += ["--host", settings_dict["HOST"]]
    if settings_dict.get("PORT"):
        command += ["--port", str(settings_dict["PORT"])]
    if settings_dict.get("USER"):
        command += ["--username", settings_dict["USER"]]
    command.append(settings_dict["NAME"])
    done = subprocess.run(  # noqa: S603
        command, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture
def committed_notes(note_table: None, transactional_db: Any) -> Iterator[type[SealedNote]]:
    yield SealedNote
    SealedNote.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_postgresql_dump_holds_no_plaintext_and_nothing_readable_after_shredding(
    committed_notes: Any,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("reads pg_dump output of the PostgreSQL test database")
    note = committed_notes.objects.create(label="visible-label-7731", secret=SECRET)
    wrapped = bytes(note.data_key.wrapped_key)
    dump = _pg_dump()
    assert "visible-label-7731" in dump
    assert wrapped.hex() in dump
    assert SECRET not in dump
    assert "Quillon" not in dump

    note.shred(reason="test")
    dump = _pg_dump()
    assert SECRET not in dump
    assert "Quillon" not in dump
    for form in _forms(wrapped):
        assert form.decode("latin-1") not in dump


# --- Rotation and status ------------------------------------------------------------------


def test_rotation_lets_an_old_master_key_be_removed_without_losing_data(
    notes: Any, settings: Any, capsys: Any
) -> None:
    made = [notes.objects.create(label=f"r{i}", secret=f"{SECRET} {i}") for i in range(5)]
    shredded = notes.objects.create(label="gone", secret="gone")
    shredded.shred(reason="test")
    assert {DataKey.objects.get(pk=n.data_key_id).master_key_id for n in made} == {"test-a"}

    settings.TANDEM_MASTER_KEYS = f"{KEY_B},{KEY_A}"
    call_command("keys", "rotate", "--batch-size", "2")
    assert "Re-wrapped 5 data key(s) under test-b (from test-a: 5) in 3 batch(es)" in (
        capsys.readouterr().out
    )
    rotations = AuditEvent.objects.filter(action="crypto.rotate").order_by("id")
    assert [e.detail["rewrapped"] for e in rotations] == [2, 2, 1]

    settings.TANDEM_MASTER_KEYS = KEY_B  # the old key is gone from the configuration
    for i, note in enumerate(made):
        assert notes.objects.get(pk=note.pk).secret == f"{SECRET} {i}"
    new = notes.objects.create(label="new", secret="fresh")
    assert DataKey.objects.get(pk=new.data_key_id).master_key_id == "test-b"

    call_command("keys", "status")
    out = capsys.readouterr().out
    assert "Current master key: test-b" in out
    assert "Data keys wrapped by test-b: 6" in out
    assert "Shredded data keys: 1" in out


def test_removing_a_master_key_before_rotation_is_reported_clearly(
    notes: Any, settings: Any, capsys: Any
) -> None:
    note = notes.objects.create(label="x", secret=SECRET)
    settings.TANDEM_MASTER_KEYS = KEY_B
    with pytest.raises(crypto.MasterKeyUnavailable, match="'test-a' is not configured"):
        _ = notes.objects.get(pk=note.pk).secret
    with pytest.raises(CommandError, match="test-a"):
        call_command("keys", "status")
    assert "Data keys wrapped by test-a: 1  NOT CONFIGURED" in capsys.readouterr().out
    with pytest.raises(CommandError, match="'test-a' is not configured"):
        call_command("keys", "rotate")
    assert DataKey.objects.get(pk=note.data_key_id).master_key_id == "test-a"


def test_keys_generate_prints_a_usable_entry(capsys: Any, settings: Any, db: Any) -> None:
    call_command("keys", "generate", "--id", "prod-2025")
    line = capsys.readouterr().out.strip()
    assert line.startswith("prod-2025:")
    settings.TANDEM_MASTER_KEYS = line
    data_key = crypto.new_data_key(purpose="test")
    assert crypto.unseal(data_key, crypto.seal(data_key, "ok", aad="x"), aad="x") == "ok"


# --- Master key configuration ---------------------------------------------------------------


def test_missing_master_key_is_a_clear_configuration_error(settings: Any, tmp_path: Path) -> None:
    settings.TANDEM_MASTER_KEYS = ""
    settings.TANDEM_MASTER_KEY_FILE = str(tmp_path / "absent.keys")
    with pytest.raises(ImproperlyConfigured, match="No master key configured"):
        crypto.master_keys()


def test_key_file_readable_by_others_is_refused(settings: Any, tmp_path: Path) -> None:
    path = tmp_path / "master.keys"
    path.write_text(KEY_A + "\n")
    path.chmod(0o644)
    settings.TANDEM_MASTER_KEYS = ""
    settings.TANDEM_MASTER_KEY_FILE = str(path)
    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        crypto.master_keys()
    path.chmod(0o600)
    assert crypto.master_keys().current.key_id == "test-a"


def test_demo_key_file_is_created_once_and_owner_only(settings: Any, tmp_path: Path) -> None:
    settings.TANDEM_MASTER_KEYS = ""
    settings.TANDEM_MASTER_KEY_FILE = str(tmp_path / "var" / "master.keys")
    path = crypto.ensure_demo_master_key()
    assert path is not None
    assert path.stat().st_mode & 0o777 == 0o600
    first = path.read_text()
    assert crypto.ensure_demo_master_key() == path
    assert path.read_text() == first
    assert len(crypto.master_keys().current.key) == 32


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("k1:" + base64.b64encode(b"short").decode(), "must be exactly 32 bytes"),
        ("k1:not base64!!", "not valid base64"),
        ("no-separator", "must look like 'id:base64key'"),
        (f"{KEY_A},{KEY_A}", "appears twice"),
    ],
)
def test_malformed_master_keys_are_refused_without_echoing_key_material(
    settings: Any, entries: str, message: str
) -> None:
    settings.TANDEM_MASTER_KEYS = entries
    with pytest.raises(ImproperlyConfigured, match=message) as caught:
        crypto.master_keys()
    assert KEY_A.split(":")[1] not in str(caught.value)


# ========================================================================================
# 8. Jobs and notifications (X-8); health and logs
# Jobs, notifications, health and logs (issue 2, points 1 and 8; X-8, P1).
#
# Queued jobs are run the way production runs them: ``tandem worker --once`` claims every
# ready job from the database and runs it; a second invocation stands for a restarted worker.
# Clocks are moved with time-machine to reach retry and periodic schedules.
# ========================================================================================

MARKERS = ("Zebulon", "Quillfeather", "marital", "719-555-0187", "Alpha Police")
OUTSIDE_EMAIL = "quillfeather.family@example.test"
OUTSIDE_PHONE = "(719) 555-0187"


def run_worker(*args: str) -> None:
    call_command("worker", "--once", *args, verbosity=0)


def all_database_text() -> str:
    """Every value of every row of every table, as text (what a stolen backup would show)."""
    chunks: list[str] = []
    for model in apps.get_models():
        table = model._meta.db_table
        if table not in connection.introspection.table_names():
            continue
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


@pytest.fixture(autouse=True)
def sms_outbox(settings: Any) -> Iterator[list[sms.SmsMessage]]:
    settings.TANDEM_SMS_BACKEND = "tandem.core.sms.LocmemSmsBackend"
    settings.SITE_URL = "https://tandem.example.test"
    sms.outbox.clear()
    yield sms.outbox
    sms.outbox.clear()


@pytest.fixture
def zebulon(agency: Agency) -> User:
    user = make_user(agency, "zebulon", "supporter")
    user.first_name, user.last_name, user.phone = "Zebulon", "Quillfeather", "719-555-0142"
    user.save(update_fields=["first_name", "last_name", "phone"])
    return user


# --- Queue ------------------------------------------------------------------------------


def test_queued_jobs_survive_a_worker_restart(zebulon: User, mailoutbox: list[Any]) -> None:
    for _ in range(3):
        notify(kind="report.ready", recipient_user=zebulon)
    assert DBTaskResult.objects.filter(status="READY").count() == 3
    assert mailoutbox == []

    run_worker("--max-tasks", "1", "--worker-id", "first")  # then this worker "dies"
    assert len(mailoutbox) == 1
    assert DBTaskResult.objects.filter(status="READY").count() == 2

    run_worker("--worker-id", "second")  # a new worker process after the restart
    assert len(mailoutbox) == 3
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.SENT}
    workers = {tuple(ids) for ids in DBTaskResult.objects.values_list("worker_ids", flat=True)}
    assert workers == {("first",), ("second",)}


def test_job_rows_hold_only_the_delivery_id(db: Any) -> None:
    notify(kind="psp.escalation", email=OUTSIDE_EMAIL, phone=OUTSIDE_PHONE)
    jobs_args = list(DBTaskResult.objects.values_list("args_kwargs", flat=True))
    ids = sorted(Delivery.objects.values_list("pk", flat=True))
    assert sorted(a["args"][0] for a in jobs_args) == ids
    assert all(a == {"args": [a["args"][0]], "kwargs": {}} for a in jobs_args)


def test_worker_command_reports_how_many_jobs_it_ran(zebulon: User) -> None:
    notify(kind="account.security", recipient_user=zebulon)
    out = io.StringIO()
    call_command("worker", "--once", stdout=out)
    assert out.getvalue().strip() == "Ran 2 queued job(s)."  # e-mail and SMS


# --- Notifications: fixed wording only ---------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CATALOGUE))
def test_notification_text_is_fixed_wording_and_a_link(
    kind: str, zebulon: User, mailoutbox: list[Any], sms_outbox: list[sms.SmsMessage]
) -> None:
    notify(kind=kind, recipient_user=zebulon, agency=zebulon.agency)
    notify(kind=kind, email=OUTSIDE_EMAIL, phone=OUTSIDE_PHONE)
    run_worker()

    spec = CATALOGUE[kind]
    url = "https://tandem.example.test/"
    assert site_url() == url
    emails = [(m.subject, m.body) for m in mailoutbox]
    assert emails == [(spec.subject, spec.email_body(url))] * 2
    assert sorted(m.to[0] for m in mailoutbox) == sorted([OUTSIDE_EMAIL, "zebulon@example.test"])
    expected_sms = 2 if "sms" in spec.channels else 1  # the outside phone always gets one
    assert [m.body for m in sms_outbox] == [spec.sms_body(url)] * expected_sms
    for text in [*(s + b for s, b in emails), *(m.body for m in sms_outbox)]:
        assert url in text
        for marker in (*MARKERS, "zebulon", "quillfeather", "555"):
            assert marker not in text


def test_catalogue_wording_says_nothing_about_peer_support() -> None:
    for spec in CATALOGUE.values():
        text = " ".join([spec.subject, spec.sms_body("U"), spec.email_body("U")]).lower()
        for word in ("peer", "support", "psp", "duty", "report to", "counsel", "crisis"):
            assert word not in text
        assert len(spec.sms_body("https://tandem.example.test/")) <= 160


def test_free_text_cannot_be_passed_and_unknown_kinds_are_refused(zebulon: User) -> None:
    with pytest.raises(TypeError):
        notify(kind="report.ready", recipient_user=zebulon, body="Officer X disclosed ...")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        notify(kind="report.ready", recipient_user=zebulon, subject="Marital problems")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="Unknown notification kind"):
        notify(kind="Officer X disclosed marital problems", recipient_user=zebulon)
    with pytest.raises(ValueError, match="not both"):
        notify(kind="report.ready", recipient_user=zebulon, email=OUTSIDE_EMAIL)
    with pytest.raises(ValueError, match="phone"):
        notify(kind="report.ready", phone="call me")
    assert not Delivery.objects.exists()
    assert not DBTaskResult.objects.exists()


def test_outside_address_is_never_stored_in_plain_text_and_is_shredded_after_sending(
    db: Any, mailoutbox: list[Any], sms_outbox: list[sms.SmsMessage]
) -> None:
    deliveries = notify(kind="account.security", email=OUTSIDE_EMAIL, phone=OUTSIDE_PHONE)
    stored = all_database_text()
    for secret in (OUTSIDE_EMAIL, "quillfeather", "7195550187", "555-0187"):
        assert secret not in stored
    assert sorted(d.destination_hint for d in deliveries) == ["q•••@•••.test", "•••87"]
    key_ids = [d.destination.data_key_id for d in deliveries]

    run_worker()

    assert [m.to for m in mailoutbox] == [[OUTSIDE_EMAIL]]
    assert [m.to for m in sms_outbox] == ["+17195550187"]
    assert not SealedDestination.objects.exists()
    assert all(k.is_shredded for k in DataKey.objects.filter(pk__in=key_ids))
    assert set(Delivery.objects.values_list("destination", flat=True)) == {None}
    assert OUTSIDE_EMAIL not in all_database_text()


def test_rolled_back_change_sends_nothing(zebulon: User, mailoutbox: list[Any]) -> None:
    from django.db import transaction

    def change_that_fails() -> None:
        with transaction.atomic():
            notify(kind="psp.escalation", recipient_user=zebulon)
            raise RuntimeError("the change that caused the notification failed")

    with pytest.raises(RuntimeError):
        change_that_fails()
    run_worker()
    assert mailoutbox == []
    assert not Delivery.objects.exists()


def test_deactivated_account_gets_nothing_and_delivery_is_cancelled(
    zebulon: User, mailoutbox: list[Any], sms_outbox: list[sms.SmsMessage]
) -> None:
    notify(kind="account.security", recipient_user=zebulon)
    zebulon.is_active = False
    zebulon.save(update_fields=["is_active"])
    run_worker()
    assert mailoutbox == []
    assert sms_outbox == []
    assert set(Delivery.objects.values_list("status", flat=True)) == {DeliveryStatus.CANCELLED}


# --- Retries ----------------------------------------------------------------------------


class FlakySmsBackend(sms.SmsBackend):
    """Fails ``failures`` times, then delivers into the locmem outbox."""

    failures = 0

    def send(self, *, to: str, body: str) -> None:
        if FlakySmsBackend.failures > 0:
            FlakySmsBackend.failures -= 1
            raise sms.SmsError("SMS provider answered HTTP 503.")
        sms.LocmemSmsBackend().send(to=to, body=body)


class RefusingEmailBackend(BaseEmailBackend):
    """Like an SMTP server that refuses the recipient: the error text echoes the address."""

    def send_messages(self, email_messages: Any) -> int:
        recipients = {to: (550, b"mailbox unavailable") for m in email_messages for to in m.to}
        raise smtplib.SMTPRecipientsRefused(recipients)


def test_failed_sms_is_retried_after_backoff_then_delivered(
    settings: Any, zebulon: User, sms_outbox: list[sms.SmsMessage]
) -> None:
    settings.TANDEM_SMS_BACKEND = f"{__name__}.FlakySmsBackend"
    FlakySmsBackend.failures = 2
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        (delivery,) = notify(kind="account.security", recipient_user=zebulon, channels=["sms"])
        run_worker()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.RETRYING, 1)
        assert delivery.next_attempt_at == start + timedelta(minutes=1)

        run_worker()  # not due yet
        assert DeliveryAttempt.objects.count() == 1

        clock.shift(timedelta(minutes=1))
        run_worker()
        delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (DeliveryStatus.RETRYING, 2)
        assert delivery.next_attempt_at == timezone.now() + timedelta(minutes=5)

        clock.shift(timedelta(minutes=5))
        run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 3)
    attempts = list(delivery.attempt_log.values_list("succeeded", "error"))
    assert attempts == [
        (False, "SmsError: SMS provider answered HTTP 503."),
        (False, "SmsError: SMS provider answered HTTP 503."),
        (True, ""),
    ]
    assert [m.to for m in sms_outbox] == ["+17195550142"]


def test_delivery_fails_for_good_after_five_attempts_without_storing_the_address(
    db: Any, settings: Any, mailoutbox: list[Any], caplog: pytest.LogCaptureFixture
) -> None:
    settings.EMAIL_BACKEND = f"{__name__}.RefusingEmailBackend"
    with time_machine.travel(timezone.now(), tick=False) as clock:
        (delivery,) = notify(kind="report.ready", email=OUTSIDE_EMAIL)
        run_worker()
        for minutes in (1, 5, 15, 60):
            clock.shift(timedelta(minutes=minutes))
            run_worker()
        clock.shift(timedelta(hours=2))
        with caplog.at_level(logging.WARNING, logger="tandem.notifications"):
            run_worker()
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.FAILED, 5)
    assert list(delivery.attempt_log.values_list("error", flat=True)) == [
        "SMTPRecipientsRefused"
    ] * 5
    assert DeliveryAttempt.objects.count() == 5  # no sixth try
    assert not SealedDestination.objects.exists()
    assert AuditEvent.objects.filter(
        action="notification.failed", object_id=str(delivery.pk)
    ).exists()
    assert OUTSIDE_EMAIL not in all_database_text()
    failed = [r for r in caplog.records if r.getMessage() == "notification delivery failed"]
    assert len(failed) == 1
    assert failed[0].delivery_id == delivery.pk


def test_delivery_interrupted_mid_send_is_resumed_by_housekeeping(
    zebulon: User, mailoutbox: list[Any]
) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        (delivery,) = notify(kind="report.ready", recipient_user=zebulon)
        # The worker claimed it and was killed before recording anything.
        Delivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.SENDING, updated_at=timezone.now()
        )
        DBTaskResult.objects.update(status="RUNNING")
        clock.shift(timedelta(minutes=20))
        from tandem.notifications.services import deliveries_resume_stalled

        assert deliveries_resume_stalled() == 1
        clock.shift(timedelta(minutes=1))
        run_worker()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert list(delivery.attempt_log.values_list("error", flat=True)) == ["Interrupted", ""]
    assert len(mailoutbox) == 1


# --- SMS over HTTP ----------------------------------------------------------------------


class _Provider(BaseHTTPRequestHandler):
    answer = 201
    seen: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers["Content-Length"])
        form = parse_qs(self.rfile.read(length).decode())
        _Provider.seen.append({"form": form, "auth": self.headers.get("Authorization")})
        self.send_response(_Provider.answer)
        self.end_headers()
        self.wfile.write(b'{"message": "rejected +17195550187"}')

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def provider() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), _Provider)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Provider.seen = []
    _Provider.answer = 201
    yield f"http://127.0.0.1:{server.server_port}/Messages.json"
    server.shutdown()
    server.server_close()


def test_http_sms_backend_posts_a_twilio_style_form(settings: Any, provider: str) -> None:
    settings.TANDEM_SMS_FROM = "+17195550100"
    backend = sms.HttpSmsBackend(url=provider, token="AC123:secret-token")
    backend.send(to="+17195550187", body="You have a new item in Tandem.")
    (seen,) = _Provider.seen
    assert seen["form"] == {
        "To": ["+17195550187"],
        "From": ["+17195550100"],
        "Body": ["You have a new item in Tandem."],
    }
    assert seen["auth"] == "Basic QUMxMjM6c2VjcmV0LXRva2Vu"

    sms.HttpSmsBackend(url=provider, token="bearer-token").send(to="+17195550187", body="x")
    assert _Provider.seen[-1]["auth"] == "Bearer bearer-token"


def test_http_sms_backend_raises_on_refusal_without_naming_the_number(provider: str) -> None:
    _Provider.answer = 400
    with pytest.raises(sms.SmsError) as refused:
        sms.HttpSmsBackend(url=provider, token="t").send(to="+17195550187", body="x")
    assert str(refused.value) == "SMS provider answered HTTP 400."
    assert refused.value.__cause__ is None
    assert refused.value.__suppress_context__

    unreachable = provider.rsplit(":", 1)[0] + ":9/Messages.json"
    with pytest.raises(sms.SmsError, match="could not be reached"):
        sms.HttpSmsBackend(url=unreachable, token="t", timeout=2).send(to="+17195550187", body="x")


def test_http_sms_backend_requires_https_in_production(settings: Any) -> None:
    settings.INSECURE_HTTP = False
    settings.DEBUG = False
    with pytest.raises(sms.SmsError, match="https"):
        sms.HttpSmsBackend(url="http://sms.example.test/", token="t").send(to="+1", body="x")


def test_console_sms_backend_masks_the_number() -> None:
    out = io.StringIO()
    sms.ConsoleSmsBackend(stream=out).send(to="+17195550187", body="You have a new item.")
    assert out.getvalue() == "SMS to •••87: You have a new item.\n"


# --- Periodic jobs ----------------------------------------------------------------------

periodic_calls: list[str] = []


def count_periodic() -> None:
    periodic_calls.append("ran")


def broken_periodic() -> None:
    raise RuntimeError("housekeeping broke")


@pytest.fixture
def schedule(monkeypatch: pytest.MonkeyPatch) -> list[tuple[timedelta, str]]:
    periodic_calls.clear()
    table: list[tuple[timedelta, str]] = [(timedelta(hours=1), f"{__name__}.count_periodic")]
    monkeypatch.setattr(jobs, "PERIODIC", table)
    return table


@pytest.mark.django_db
def test_periodic_job_runs_once_per_interval_even_with_two_workers(
    schedule: list[tuple[timedelta, str]],
) -> None:
    with time_machine.travel(timezone.now(), tick=False) as clock:
        run_worker("--worker-id", "a")
        run_worker("--worker-id", "b")
        assert periodic_calls == ["ran"]

        clock.shift(timedelta(minutes=59))
        run_worker("--worker-id", "a")
        run_worker("--worker-id", "b")
        assert periodic_calls == ["ran"]

        clock.shift(timedelta(minutes=1))
        run_worker("--worker-id", "b")
        run_worker("--worker-id", "a")
        assert periodic_calls == ["ran", "ran"]
    run = PeriodicRun.objects.get(name=f"{__name__}.count_periodic")
    assert run.last_error == ""
    assert run.last_finished_at is not None


@pytest.mark.django_db
def test_worker_without_periodic_flag_leaves_housekeeping_alone(
    schedule: list[tuple[timedelta, str]],
) -> None:
    run_worker("--no-periodic")
    assert periodic_calls == []


@pytest.mark.django_db
def test_broken_periodic_jobs_are_logged_and_do_not_stop_the_others(
    schedule: list[tuple[timedelta, str]], caplog: pytest.LogCaptureFixture
) -> None:
    jobs.register_periodic(timedelta(days=1), "tandem.no_such_module.cleanup")
    jobs.register_periodic(timedelta(days=1), f"{__name__}.broken_periodic")
    jobs.register_periodic(timedelta(days=1), f"{__name__}.broken_periodic")  # idempotent
    assert len(schedule) == 3
    with time_machine.travel(timezone.now(), tick=False) as clock:
        with caplog.at_level(logging.INFO, logger="tandem.worker"):
            run_worker()
        assert periodic_calls == ["ran"]
        broken = PeriodicRun.objects.get(name=f"{__name__}.broken_periodic")
        assert broken.last_error == "RuntimeError"
        assert broken.next_run_at == timezone.now() + jobs.PERIODIC_RETRY_AFTER
        clock.shift(jobs.PERIODIC_RETRY_AFTER)
        run_worker()
    messages = [(r.getMessage(), getattr(r, "job", "")) for r in caplog.records]
    assert ("periodic job failed", f"{__name__}.broken_periodic") in messages
    assert ("periodic job cannot be imported", "tandem.no_such_module.cleanup") in messages
    assert not PeriodicRun.objects.filter(name="tandem.no_such_module.cleanup").exists()
    assert PeriodicRun.objects.get(name=f"{__name__}.broken_periodic").last_error == "RuntimeError"


def test_shipped_schedule_disables_inactive_accounts_daily() -> None:
    assert (timedelta(days=1), "tandem.accounts.services.disable_inactive_accounts") in (
        jobs.PERIODIC
    )
    for _, dotted in jobs.PERIODIC:
        assert jobs._resolve(dotted) is not None, dotted


@pytest.mark.django_db
def test_prune_removes_old_finished_jobs_only(zebulon: User) -> None:
    with time_machine.travel(timezone.now() - timedelta(days=40), tick=False):
        notify(kind="report.ready", recipient_user=zebulon)
        run_worker("--no-periodic")
    notify(kind="report.ready", recipient_user=zebulon)
    assert jobs.prune_finished_tasks() == 1
    assert DBTaskResult.objects.filter(status="READY").count() == 1


# --- Health -----------------------------------------------------------------------------


def test_health_is_ok_with_database_migrations_and_a_recent_worker(db: Any) -> None:
    run_worker()
    response = Client().get("/health/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["migrations"] == "ok"
    assert body["worker"] == "ok"
    assert 0 <= body["worker_heartbeat_age_seconds"] < 60
    assert set(body) == {
        "status", "database", "migrations", "worker", "worker_heartbeat_age_seconds"
    }
    assert "no-cache" in response["Cache-Control"]


def test_health_is_degraded_but_serving_when_the_worker_is_gone(db: Any) -> None:
    assert Client().get("/health/").json()["worker"] == "missing"
    WorkerHeartbeat.objects.create(
        worker_id="old", started_at=timezone.now(), seen_at=timezone.now() - timedelta(hours=1)
    )
    response = Client().get("/health/")
    assert response.status_code == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["worker"] == "stale"
    assert response.json()["worker_heartbeat_age_seconds"] >= 3600


def test_health_is_503_when_the_database_does_not_answer(db: Any) -> None:
    with mock.patch.object(connection, "cursor", side_effect=OperationalError("db is down")):
        response = Client().get("/health/")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}
    assert b"db is down" not in response.content


def test_health_is_503_when_migrations_are_pending(db: Any) -> None:
    run_worker()
    with mock.patch(
        "django.db.migrations.executor.MigrationExecutor.migration_plan",
        return_value=[("a migration", False)],
    ):
        response = Client().get("/health/")
    assert response.status_code == 503
    assert response.json()["migrations"] == "pending"
    assert b"a migration" not in response.content


# --- Logs -------------------------------------------------------------------------------

SECRETS = ("HUNTER2-PIN-7731", "QUERYSECRET", "COOKIESECRET", "HEADERSECRET")


@public
def crashing_view(request: HttpRequest) -> HttpResponse:
    pin = request.POST["pin"]
    return HttpResponse(str(int(pin)))  # ValueError whose message holds the posted value


@public
def quiet_view(request: HttpRequest, token: str) -> HttpResponse:
    return HttpResponse("ok")


urlpatterns = [path("crash/", crashing_view), path("quiet/<str:token>/", quiet_view)]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the configured console handler (JSON, scrubbed) writes, for every logger."""
    stream = io.StringIO()
    handlers = {
        h
        for name in ("", "django.request", "django.server", "tandem.access")
        for h in logging.getLogger(name).handlers
        if isinstance(h, logging.StreamHandler) and any(
            isinstance(f, ScrubFilter) for f in h.filters
        )
    }
    assert handlers, "the console handler with ScrubFilter is configured"
    previous = {h: h.setStream(stream) for h in handlers}
    yield stream
    for handler, old in previous.items():
        handler.setStream(old)


@pytest.mark.urls(__name__)
def test_crash_with_posted_secret_is_logged_and_mailed_without_any_request_data(
    db: Any, settings: Any, log_output: io.StringIO
) -> None:
    settings.ADMINS = [("Operators", "ops@example.test")]
    client = Client(raise_request_exception=False, HTTP_X_CUSTOM="HEADERSECRET")
    client.cookies["theme"] = "COOKIESECRET"
    response = client.post(
        "/crash/?token=QUERYSECRET", {"pin": "HUNTER2-PIN-7731", "name": "bob@example.test"}
    )
    assert response.status_code == 500

    lines = [json.loads(line) for line in log_output.getvalue().splitlines()]
    error = next(line for line in lines if line["logger"] == "django.request")
    assert error["message"] == "Internal Server Error: /crash/"
    assert error["request"] == "POST /crash/"
    assert "ValueError (message withheld)" in error["exc_info"]
    assert "crashing_view" in error["exc_info"]
    assert error["request_id"] == response["X-Request-Id"]
    access = next(line for line in lines if line["logger"] == "tandem.access")
    assert (access["method"], access["path"], access["status"]) == ("POST", "/crash/", 500)

    (report,) = mail.outbox
    assert report.to == ["ops@example.test"]
    assert "ValueError (message withheld)" in report.body
    everything = log_output.getvalue() + report.subject + report.body
    for secret in (*SECRETS, "bob@example.test", "invalid literal"):
        assert secret not in everything


def test_error_page_reporter_hides_every_value_a_browser_sent(rf: Any) -> None:
    from django.views.debug import ExceptionReporter

    request = rf.post(
        "/x/?token=QUERYSECRET", {"pin": "HUNTER2-PIN-7731"}, HTTP_X_CUSTOM="HEADERSECRET",
        HTTP_COOKIE="theme=COOKIESECRET",
    )
    try:
        secret_local = "HUNTER2-PIN-7731"  # noqa: F841 - a local the report must not show
        raise ValueError("boom")
    except ValueError as exc:
        text = ExceptionReporter(request, type(exc), exc, exc.__traceback__).get_traceback_text()
    for secret in ("HUNTER2-PIN-7731", "COOKIESECRET", "HEADERSECRET"):
        assert secret not in text


def test_calendar_link_tokens_are_masked_in_logged_paths() -> None:
    from tandem.core.logging import mask_path

    token = "GaJib7JlxcCSCAs9IzrRKEJIFla5HmKkhCPwMs-bfIA"
    assert mask_path(f"/support/calendar/{token}.ics") == "/support/calendar/[token].ics"
    assert mask_path(f"/support/intake/{token}/") == "/support/intake/[token]/"
    assert mask_path("/support/roster/print.pdf") == "/support/roster/print.pdf"


@pytest.mark.urls(__name__)
def test_one_access_log_line_per_request_without_query_string_or_tokens(
    db: Any, caplog: pytest.LogCaptureFixture, log_output: io.StringIO
) -> None:
    with caplog.at_level(logging.INFO, logger="tandem.access"):
        response = Client().get(
            "/quiet/Zq8Rk2Lm9Tx4Wv7Yp3Nb6Hc1/?email=bob@example.test&q=QUERYSECRET"
        )
    assert response.status_code == 200
    (record,) = [r for r in caplog.records if r.name == "tandem.access"]
    assert record.method == "GET"  # type: ignore[attr-defined]
    assert record.path == "/quiet/[token]/"  # type: ignore[attr-defined]
    assert record.status == 200  # type: ignore[attr-defined]
    assert record.duration_ms >= 0  # type: ignore[attr-defined]
    assert record.request_id == response["X-Request-Id"]  # type: ignore[attr-defined]
    (line,) = [json.loads(x) for x in log_output.getvalue().splitlines()]
    assert set(line) >= {"time", "level", "logger", "message", "request_id", "status", "path"}
    assert not {"user", "user_id", "ip", "remote_addr"} & set(line)
    for secret in ("QUERYSECRET", "bob@example.test", "Zq8Rk2Lm9Tx4Wv7Yp3Nb6Hc1", "email="):
        assert secret not in log_output.getvalue()


def test_log_messages_and_extras_are_scrubbed(log_output: io.StringIO) -> None:
    logger = logging.getLogger("tandem.test")
    logger.warning(
        "could not reach %s at %s via /x/?code=QUERYSECRET",
        "bob@example.test",
        "+1 719-555-0187",
        extra={"contact": "call 719.555.0187", "nested": {"email": "bob@example.test"}},
    )
    typed = "HUNTER2-PIN-7731"
    try:
        int(typed)
    except ValueError:
        logger.exception("parse failed")
    output = log_output.getvalue()
    for secret in ("bob@example.test", "555-0187", "555.0187", "QUERYSECRET", "HUNTER2"):
        assert secret not in output
    first = json.loads(output.splitlines()[0])
    assert first["message"] == "could not reach [email] at [phone] via /x/"
    assert first["contact"] == "call [phone]"
    assert first["nested"] == {"email": "[email]"}


@hyp_settings(max_examples=60, deadline=None)
@given(
    area=st.from_regex(r"[2-9]\d\d", fullmatch=True),
    line=st.from_regex(r"\d{4}", fullmatch=True),
    style=st.sampled_from(["({a}) 555-{l}", "{a}-555-{l}", "{a}.555.{l}", "+1 {a} 555 {l}",
                           "1{a}555{l}", "{a}555{l}"]),
    prefix=st.sampled_from(["", "call ", "tel:", "number="]),
)
def test_phone_numbers_in_any_common_format_are_masked(
    area: str, line: str, style: str, prefix: str
) -> None:
    number = style.format(a=area, l=line)
    scrubbed = scrub_text(f"{prefix}{number} please")
    assert line not in scrubbed
    assert scrubbed.endswith(" please")


def test_dates_times_and_durations_survive_scrubbing() -> None:
    text = "ran at 2025-03-01 12:30:05 in 1234.5 ms for job 42"
    assert scrub_text(text) == text


# ========================================================================================
# 9. In the browser
# A person signs in for the first time in Chromium: banner, password, authenticator, home.
# ========================================================================================



def current_code_for_secret(base32_secret: str) -> str:
    import base64

    padded = base32_secret + "=" * (-len(base32_secret) % 8)
    return f"{totp(base64.b32decode(padded)):06d}"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_first_sign_in_enrols_an_authenticator_and_reaches_the_home_page(
    live_server: Any, agency: Any
) -> None:
    user = make_user(agency, "newcomer", "member")
    TOTPDevice.objects.filter(user=user).delete()  # first sign-in: no authenticator yet

    with browser_page(viewport={"width": 390, "height": 844}) as page:  # a phone
        page.goto(f"{live_server.url}/")
        page.get_by_role("button", name="I understand and agree").click()
        page.get_by_label("Username").fill("newcomer")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Continue").click()

        page.get_by_role("heading", name="Set up your authenticator app").wait_for()
        secret = page.locator("#setup-key").inner_text().replace(" ", "")
        page.locator("input[name=code]").fill(current_code_for_secret(secret))
        page.get_by_role("button", name="Confirm and continue").click()

        page.get_by_role("heading", name="Backup codes", exact=True).wait_for()
        assert page.locator("ol.codes li").count() == 10
        page.get_by_role("link", name="I have saved my codes, continue").click()

        page.get_by_role("heading", name="Welcome, Newcomer").wait_for()
        assert "Alpha Police Department" in page.content()

    device = TOTPDevice.objects.get(user=user)
    assert device.confirmed
    assert unhexlify(device.key)  # the enrolled key is the one the page showed


def test_an_administrator_cannot_give_themselves_a_role(cast: dict[str, User]) -> None:
    from tandem.accounts.services import role_grant

    admin = cast["administrator"]
    with pytest.raises(ValidationError, match="cannot give yourself a role"):
        role_grant(acting_user=admin, user=admin, role="auditor")
    admin.forget_roles()
    assert not admin.has_role("auditor")


def test_deactivating_a_member_by_hand_also_ends_their_account(
    cast: dict[str, User],
) -> None:
    from tandem.agencies.services import member_deactivate

    leaver = cast["supporter"]
    member_deactivate(acting_user=cast["administrator"], member=leaver.member)
    leaver.refresh_from_db()
    assert not leaver.is_active
