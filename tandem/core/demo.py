"""The demo agencies (X-13): one per policy preset, one account per role, plausible people.

Only in demo mode (TANDEM_DEMO=1). Credentials are written to ``var/demo-credentials.json``
as ``{agency slug: {name, preset, accounts: {role: {username, password, totp_secret}}}}``;
the sign-in page lists them (demo mode only) with each account's current code, and
``tandem demo --code USERNAME`` prints the code too. The first agency keeps the plain
usernames (``coordinator``); the others are prefixed (``columbus-coordinator``).
"""

from __future__ import annotations

import base64
import json
import os
import random
import secrets
from binascii import unhexlify
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import RoleAssignment, User
from tandem.accounts.services import user_create, user_set_password
from tandem.agencies.models import Agency, Member, MemberCategory, Role, Unit
from tandem.agencies.services import agency_create
from tandem.core.synthetic import (
    DEMO_UNITS,
    FIRST_NAMES,
    LAST_NAMES,
    create_members,
    create_units,
)

DEMO_SLUG = "demo"
DEMO_NAME = "Colorado Springs Police Department (demo)"
DEMO_PRESET = "colorado-springs"
# Apps that add demo data, in order (readiness first: the others read its gates).
DEMO_APPS = ("readiness", "support", "recovery", "reports")


@dataclass(frozen=True)
class DemoAgency:
    """One demo agency per shipped preset (issue 12, item 2). The first keeps the
    unprefixed usernames (``coordinator``, ``supporter`` …) it always had."""

    slug: str
    name: str
    short_name: str
    preset: str
    prefix: str
    apps: tuple[str, ...]
    members: int
    seed: int
    time_zone: str = "America/New_York"


PSP_APPS = ("readiness", "support", "reports")
PRP_APPS = ("readiness", "recovery", "reports")
DEMO_AGENCIES: tuple[DemoAgency, ...] = (
    DemoAgency(
        DEMO_SLUG, DEMO_NAME, "CSPD (demo)", DEMO_PRESET, "", DEMO_APPS, 360, 2026, "America/Denver"
    ),
    DemoAgency(
        "columbus",
        "Columbus Division of Police (demo)",
        "CPD (demo)",
        "columbus",
        "columbus-",
        PSP_APPS,
        150,
        18107,
    ),
    DemoAgency(
        "joplin",
        "Joplin Police Department (demo)",
        "JPD (demo)",
        "joplin",
        "joplin-",
        PSP_APPS,
        100,
        213,
        "America/Chicago",
    ),
    DemoAgency(
        "winchester",
        "Winchester Police Department (demo)",
        "WPD (demo)",
        "winchester",
        "winchester-",
        PRP_APPS,
        100,
        278,
    ),
    DemoAgency(
        "west-virginia",
        "West Virginia Police and Peers (demo)",
        "PNP (demo)",
        "west-virginia",
        "wv-",
        PRP_APPS,
        100,
        2024,
    ),
)

# role: (first, last, rank or title, category, unit code)
DEMO_PEOPLE: dict[str, tuple[str, str, str, str, str]] = {
    Role.COORDINATOR: ("Dana", "Whitfield", "Sergeant", MemberCategory.SWORN, "WEL"),
    Role.SUPPORTER: ("Marcus", "Reyes", "Officer", MemberCategory.SWORN, "PAT-N-A"),
    Role.PSYCHOLOGIST: (
        "Helen",
        "Okafor",
        "Police Psychologist (contract)",
        MemberCategory.CIVILIAN,
        "WEL",
    ),
    Role.CHIEF: ("Robert", "Castillo", "Chief of Police", MemberCategory.SWORN, "CHF"),
    Role.DISPATCHER: ("Priya", "Nair", "Dispatcher", MemberCategory.CIVILIAN, "COM"),
    Role.SUPERVISOR: ("Tom", "Brennan", "Lieutenant", MemberCategory.SWORN, "PAT-C"),
    Role.MEMBER: ("Alex", "Morgan", "Officer", MemberCategory.SWORN, "PAT-S-B"),
    Role.ARO: ("Jordan", "Ellis", "Addiction Response Officer", MemberCategory.SWORN, "CRT"),
    Role.PRS: ("Sam", "Delgado", "Peer Recovery Specialist", MemberCategory.CIVILIAN, "CRT"),
    Role.CRT_SUPERVISOR: ("Karen", "Liu", "Sergeant", MemberCategory.SWORN, "CRT"),
    Role.AUDITOR: ("Ruth", "Abernathy", "Internal Auditor", MemberCategory.CIVILIAN, "CHF"),
    Role.ADMINISTRATOR: ("Chris", "Patel", "Systems Administrator", MemberCategory.CIVILIAN, "REC"),
}


def credentials_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-credentials.json"


def username_for(role: str, prefix: str = "") -> str:
    return prefix + role.replace("_", "-")


def base32_secret(device: TOTPDevice) -> str:
    return base64.b32encode(unhexlify(device.key)).decode().rstrip("=")


def current_code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def _demo_password() -> str:
    return f"demo-{secrets.token_urlsafe(9)}"


def _people_for(spec: DemoAgency) -> dict[str, tuple[str, str, str, str, str]]:
    """The first agency's people as always; the others get their own names."""
    if not spec.prefix:
        return DEMO_PEOPLE
    rng = random.Random(spec.seed)  # noqa: S311 - synthetic names, not security
    firsts, lasts = list(FIRST_NAMES), list(LAST_NAMES)
    return {
        role: (rng.choice(firsts), rng.choice(lasts), *rest[2:])
        for role, rest in DEMO_PEOPLE.items()
    }


def _member_for(
    agency: Agency,
    person: tuple[str, str, str, str, str],
    units: dict[str, Unit],
    number: int,
    domain: str,
) -> Member:
    first, last, title, category, unit_code = person
    member, _ = Member.objects.update_or_create(
        agency=agency,
        employee_number=f"D{number:04d}",
        defaults={
            "first_name": first,
            "last_name": last,
            "rank_title": title,
            "category": category,
            "unit": units[unit_code],
            "phone": f"(555) 555-{100 + number % 100:04d}",  # ten digits, 555-01xx
            "email": f"{first}.{last}@{domain}".lower(),
            "active": True,
        },
    )
    return member


def _password_for(username: str, member: Member) -> str:
    """A random demo password that the password rules accept for this person (one in a few
    thousand random ones looks too much like the person's e-mail address)."""
    probe = User(
        username=username,
        first_name=member.first_name,
        last_name=member.last_name,
        email=member.email,
    )
    for _attempt in range(20):
        password = _demo_password()
        try:
            validate_password(password, user=probe)
        except ValidationError:
            continue
        return password
    raise ValidationError("No acceptable demo password could be drawn.")


def _account(agency: Agency, member: Member, username: str, role: str) -> dict[str, str]:
    password = _password_for(username, member)
    user = User.objects.filter(username=username).first()
    if user is None:
        user = user_create(
            acting_user=None,
            agency_id=agency.pk,
            username=username,
            password=password,
            first_name=member.first_name,
            last_name=member.last_name,
            email=member.email,
            phone=member.phone,
            member=member,
            roles=[role],
        )
    else:
        user_set_password(acting_user=None, user=user, password=password)
        User.objects.filter(pk=user.pk).update(is_active=True, locked_at=None, failed_attempts=0)
        RoleAssignment.objects.get_or_create(user=user, agency=agency, role=role)
    TOTPDevice.objects.filter(user=user).delete()
    device = TOTPDevice.objects.create(user=user, name="Demo authenticator", confirmed=True)
    return {"username": username, "password": password, "totp_secret": base32_secret(device)}


@transaction.atomic
def load_agency(spec: DemoAgency) -> dict[str, Any]:
    """Create (or refresh) one demo agency; return its entry for the credentials file."""
    agency = Agency.objects.filter(slug=spec.slug).first()
    if agency is None:
        agency = agency_create(
            slug=spec.slug,
            name=spec.name,
            short_name=spec.short_name,
            preset=spec.preset,
            time_zone=spec.time_zone,
        )
    elif agency.name != spec.name:
        Agency.objects.filter(pk=agency.pk).update(name=spec.name, short_name=spec.short_name)
        agency.refresh_from_db()
    units = create_units(agency, DEMO_UNITS)
    if Member.objects.filter(agency=agency).count() < spec.members // 2:
        create_members(agency, spec.members, seed=spec.seed, start=1000)
    domain = f"{spec.slug}-pd.test"
    accounts: dict[str, dict[str, str]] = {}
    for number, (role, person) in enumerate(_people_for(spec).items(), start=1):
        member = _member_for(agency, person, units, number, domain)
        if agency.uses_role(role):  # no ARO account where there is no peer recovery
            accounts[role] = _account(agency, member, username_for(role, spec.prefix), role)
    # The coordinator's supervisor chain, so conflict checks have something to find.
    supervisor = Member.objects.get(agency=agency, employee_number="D0006")
    Member.objects.filter(agency=agency, employee_number__in=["D0002", "D0007"]).update(
        supervisor=supervisor
    )
    users = {role: User.objects.get(username=entry["username"]) for role, entry in accounts.items()}
    for app in spec.apps:
        # Each program fills in its own demo data: tandem/<app>/demo.py, populate().
        import_module(f"tandem.{app}.demo").populate(agency=agency, users=users)
    return {"name": agency.name, "preset": agency.preset, "accounts": accounts}


def load_demo(slugs: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """Create (or refresh) the demo agencies; return ``{slug: {name, preset, accounts}}``,
    ``accounts`` being ``{role: {username, password, totp_secret}}``."""
    return {
        spec.slug: load_agency(spec)
        for spec in DEMO_AGENCIES
        if slugs is None or spec.slug in slugs
    }


def read_credentials() -> dict[str, Any]:
    try:
        data = json.loads(credentials_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def signin_listing() -> list[dict[str, Any]]:
    """For the sign-in page in demo mode only: each demo agency with its accounts, their
    passwords and the code their authenticator shows now (so nobody needs the command line).
    """
    if not settings.DEMO_MODE:
        return []
    credentials = read_credentials()
    listing = []
    for spec in DEMO_AGENCIES:
        entry = credentials.get(spec.slug)
        agency = Agency.objects.filter(slug=spec.slug).first()
        if not isinstance(entry, dict) or agency is None:
            continue
        names = [a["username"] for a in entry.get("accounts", {}).values()]
        devices = {
            d.user.username: d
            for d in TOTPDevice.objects.filter(
                user__username__in=names, confirmed=True
            ).select_related("user")
        }
        accounts = [
            {
                "title": agency.title_for(role),
                "username": a["username"],
                "password": a["password"],
                "code": current_code(devices[a["username"]]) if a["username"] in devices else "",
            }
            for role, a in entry.get("accounts", {}).items()
        ]
        listing.append({"name": agency.name, "preset": spec.preset, "accounts": accounts})
    return listing


def write_credentials(credentials: dict[str, Any]) -> Path:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials, handle, indent=2)
    return path
