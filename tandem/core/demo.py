"""The demo agency (X-13): one account per role, plausible people, known credentials.

Only in demo mode (TANDEM_DEMO=1). Credentials are written to ``var/demo-credentials.json``
as ``{role: {username, password, totp_secret}}`` so people and browser tests can sign in;
``tandem demo --code ROLE`` prints the current six-digit code for an account.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from binascii import unhexlify
from importlib import import_module
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import RoleAssignment, User
from tandem.accounts.services import user_create, user_set_password
from tandem.agencies.models import Agency, Member, MemberCategory, Role, Unit
from tandem.agencies.services import agency_create
from tandem.core.synthetic import DEMO_UNITS, create_members, create_units

DEMO_SLUG = "demo"
DEMO_NAME = "Demo City Police Department"
DEMO_PRESET = "colorado-springs"
# Apps that add demo data, in order (readiness first: the others read its gates).
DEMO_APPS = ("readiness", "support", "recovery", "reports")

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


def username_for(role: str) -> str:
    return role.replace("_", "-")


def base32_secret(device: TOTPDevice) -> str:
    return base64.b32encode(unhexlify(device.key)).decode().rstrip("=")


def current_code(device: TOTPDevice) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def _demo_password() -> str:
    return f"demo-{secrets.token_urlsafe(9)}"


def _member_for(agency: Agency, role: str, units: dict[str, Unit], number: int) -> Member:
    first, last, title, category, unit_code = DEMO_PEOPLE[role]
    member, _ = Member.objects.update_or_create(
        agency=agency,
        employee_number=f"D{number:04d}",
        defaults={
            "first_name": first,
            "last_name": last,
            "rank_title": title,
            "category": category,
            "unit": units[unit_code],
            "phone": f"(555) 0100-{number:04d}",
            "email": f"{first}.{last}@demo-pd.test".lower(),
            "active": True,
        },
    )
    return member


@transaction.atomic
def load_demo() -> dict[str, dict[str, str]]:
    """Create (or refresh) the demo agency and return the credentials per role."""
    agency = Agency.objects.filter(slug=DEMO_SLUG).first()
    if agency is None:
        agency = agency_create(
            slug=DEMO_SLUG, name=DEMO_NAME, short_name="Demo City PD", preset=DEMO_PRESET
        )
    units = create_units(agency, DEMO_UNITS)
    if Member.objects.filter(agency=agency).count() < 100:
        create_members(agency, 360, seed=2026, start=1000)
    credentials: dict[str, dict[str, str]] = {}
    for number, role in enumerate(DEMO_PEOPLE, start=1):
        member = _member_for(agency, role, units, number)
        username = username_for(role)
        password = _demo_password()
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
            User.objects.filter(pk=user.pk).update(
                is_active=True, locked_at=None, failed_attempts=0
            )
            RoleAssignment.objects.get_or_create(user=user, agency=agency, role=role)
        TOTPDevice.objects.filter(user=user).delete()
        device = TOTPDevice.objects.create(user=user, name="Demo authenticator", confirmed=True)
        credentials[role] = {
            "username": username,
            "password": password,
            "totp_secret": base32_secret(device),
        }
    # The coordinator's supervisor chain, so conflict checks have something to find.
    supervisor = Member.objects.get(agency=agency, employee_number="D0006")
    Member.objects.filter(agency=agency, employee_number__in=["D0002", "D0007"]).update(
        supervisor=supervisor
    )
    users = {role: User.objects.get(username=username_for(role)) for role in DEMO_PEOPLE}
    for app in DEMO_APPS:
        # Each program fills in its own demo data: tandem/<app>/demo.py, populate().
        import_module(f"tandem.{app}.demo").populate(agency=agency, users=users)
    return credentials


def write_credentials(credentials: dict[str, Any]) -> Path:
    path = credentials_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(credentials, handle, indent=2)
    return path
