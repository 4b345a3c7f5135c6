"""The fixed cast (CONVENTIONS: alice owns, bob is on the team, charlie sees nothing).

``cast`` is one account per role in the agency "Alpha PD"; ``stranger`` holds every role in
another agency, "Bravo PD", and must never see Alpha's data. Accounts are made through the
real services; ``signed_in`` gives a test client that has passed the banner, the password
and the second factor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.middleware import SESSION_AUTH_AT, SESSION_BANNER_OK, SESSION_LAST_SEEN
from tandem.accounts.models import RoleAssignment, User
from tandem.agencies.models import Agency, Member, MemberCategory, Role, Unit
from tandem.agencies.presets import load_preset
from tandem.audit.keys import ensure_demo_audit_key
from tandem.core.crypto import ensure_demo_master_key
from tandem.support.vocab import Layer

PASSWORD = "correct horse battery staple 42"


def pytest_configure(config: Any) -> None:
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture
def clock(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Time stands still at the test module's ``CLOCK_START`` until the test moves it
    (``clock.shift(timedelta(...))``, ``clock.move_to(...)``)."""
    start = getattr(request.module, "CLOCK_START", None)
    if start is None:
        pytest.fail(f"{request.module.__name__} uses the clock fixture without CLOCK_START")
    with time_machine.travel(start, tick=False) as traveller:
        yield traveller


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings: Any) -> None:
    """Argon2 is slow on purpose; tests that check hashing ask for it explicitly."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _own_audit_checkpoints(settings: Any, tmp_path: Path) -> None:
    """Each test's database starts empty, so each test has its own audit checkpoint file."""
    settings.TANDEM_AUDIT_CHECKPOINT_FILE = str(tmp_path / "audit-checkpoints.jsonl")


def make_agency(slug: str, name: str, preset: str = "colorado-springs") -> Agency:
    policy = load_preset(preset)
    return Agency.objects.create(
        slug=slug, name=name, preset=preset, policy=policy.model_dump(mode="json")
    )


def make_user(agency: Agency, username: str, *roles: str, sworn: bool = True) -> User:
    unit, _ = Unit.objects.get_or_create(
        agency=agency, code="HQ", defaults={"name": "Headquarters"}
    )
    member = Member.objects.create(
        agency=agency,
        employee_number=f"E-{username}",
        first_name=username.capitalize(),
        last_name="Tester",
        category=MemberCategory.SWORN if sworn else MemberCategory.CIVILIAN,
        unit=unit,
        email=f"{username}@example.test",
    )
    user = User.objects.create_user(
        username=username,
        password=PASSWORD,
        agency=agency,
        member=member,
        first_name=member.first_name,
        last_name=member.last_name,
        email=member.email,
    )
    for role in roles:
        RoleAssignment.objects.create(user=user, agency=agency, role=role)
    TOTPDevice.objects.create(user=user, name="default", confirmed=True)
    return user


@pytest.fixture(autouse=True)
def _fresh_help_page_throttle() -> None:
    """The help page's flood counts live in process memory: each test starts with none."""
    from tandem.support import throttle

    throttle.forget_all()


@pytest.fixture(scope="session", autouse=True)
def _scratch_var_dir(tmp_path_factory: Any) -> Any:
    """Tests never write to the working copy's var/: uploads, the master key file and the
    epoch keys live in a scratch folder for the session (each test's own ``settings``
    changes still apply)."""
    from django.test import override_settings

    scratch = tmp_path_factory.mktemp("var")
    with override_settings(
        MEDIA_ROOT=scratch / "media",
        TANDEM_MASTER_KEY_FILE=str(scratch / "master.keys"),
        TANDEM_EPOCH_KEY_DIR=str(scratch / "epoch-keys"),
        TANDEM_AUDIT_KEY_FILE=str(scratch / "audit.key"),
    ):
        # Encrypted fields need a master key, the audit trail its key: demo key files (0600).
        ensure_demo_master_key()
        ensure_demo_audit_key()
        yield scratch


@pytest.fixture
def agency(db: Any) -> Agency:
    return make_agency("alpha", "Alpha Police Department")


@pytest.fixture
def other_agency(db: Any) -> Agency:
    return make_agency("bravo", "Bravo Police Department", preset="columbus")


@pytest.fixture
def cast(agency: Agency) -> dict[str, User]:
    """One account per role, plus ``nobody`` (an account with no role at all)."""
    people = {
        role.value: make_user(
            agency,
            role.value.replace("_", ""),
            role.value,
            sworn=role not in (Role.PRS, Role.DISPATCHER),
        )
        for role in Role
    }
    people["nobody"] = make_user(agency, "nobody")
    return people


@pytest.fixture
def stranger(other_agency: Agency) -> User:
    """Holds every role — in another agency."""
    return make_user(other_agency, "stranger", *[r.value for r in Role])


@pytest.fixture
def team(agency: Agency, cast: dict[str, User]) -> dict[str, User]:
    """Peer supporters in rotation: Pia (primary) and Ben (backup) on call around the clock
    (peer support's tests, and the API, calendar and confidentiality tests that use them)."""
    from tests.peer_support.support import T0, make_supporter, rotation

    for role in ("coordinator", "psychologist"):
        cast[role].phone = f"+1 555 02{len(role):02d}"
        cast[role].save(update_fields=["phone"])
    pia = make_supporter(
        agency,
        "pia",
        phone="+1 555 0111",
        specialties=["post_shooting"],
        languages=["es"],
        gender="female",
    )
    ben = make_supporter(agency, "ben", phone="+1 555 0122", sworn=False, gender="male")
    with time_machine.travel(T0 - timedelta(days=2), tick=False):
        rotation(agency, cast["coordinator"], Layer.PRIMARY, [pia], hours=24 * 7)
        rotation(agency, cast["coordinator"], Layer.BACKUP, [ben], hours=24 * 7)
    return {"pia": pia, "ben": ben}


def sign_in(client: Client, user: User) -> Client:
    """Put ``client`` in the state of a user who passed banner, password and TOTP."""
    client.force_login(user)
    session = client.session
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    assert device is not None
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    now = timezone.now().timestamp()
    session[SESSION_AUTH_AT] = now
    session[SESSION_LAST_SEEN] = now
    session[SESSION_BANNER_OK] = True
    session.save()
    return client


@pytest.fixture
def signed_in() -> Callable[[User], Client]:
    def _make(user: User) -> Client:
        return sign_in(Client(), user)

    return _make
