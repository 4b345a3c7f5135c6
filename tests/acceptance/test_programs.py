"""The five departments' programs end to end (issue 12), from the users' side.

1. An agency starts from nothing: ``tandem agency create`` and the deployment operator's
   screen give it a first administrator with a one-time set-up link.
3. A policy change, a reset or a role change moves every readiness gate before the next
   page is served — checked for every shipped preset.
4–9. The steps each seed names, on the screens a person uses.

Every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from base64 import b32encode
from datetime import date, datetime, timedelta
from io import StringIO
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import RoleRequest, User
from tandem.accounts.services import account_invite
from tandem.accounts.setup import setup_path
from tandem.agencies.models import Agency, Role
from tandem.agencies.presets import (
    available_presets,
    load_preset,
    policy_to_toml,
    validate_policy,
)
from tandem.audit.models import AuditEvent
from tandem.readiness import services as readiness
from tandem.readiness.gates import is_peer_support_ready, peer_support_ready_users
from tandem.readiness.models import Course, Gate, TrainingSession
from tests.conftest import PASSWORD, make_agency, make_user, sign_in

TZ = ZoneInfo("America/New_York")
NEW_PASSWORD = "a long new passphrase 9 for setup"


def at(y: int, m: int, d: int, hour: int = 12) -> datetime:
    return datetime(y, m, d, hour, tzinfo=TZ)


def code_now(device: TOTPDevice) -> str:
    device.refresh_from_db()
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = timezone.now().timestamp()
    return f"{totp.token():0{device.digits}d}"


def text(response: Any) -> str:
    return str(response.content.decode())


def setup_and_first_sign_in(client: Client, user: User, link_path: str) -> Any:
    """Follow a set-up link, choose a password, sign in and enrol an authenticator."""
    page = client.get(link_path)
    assert page.status_code == 200
    assert user.username in text(page)
    done = client.post(link_path, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == reverse("accounts:login")
    client.post(reverse("accounts:banner"))
    step = client.post(reverse("accounts:login"),
                       {"username": user.username, "password": NEW_PASSWORD})
    assert step["Location"] == reverse("accounts:mfa")
    assert client.get(reverse("accounts:mfa"))["Location"] == reverse("accounts:mfa_enrol")
    enrol = client.get(reverse("accounts:mfa_enrol"))
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    secret = b32encode(device.bin_key).decode().rstrip("=")
    assert secret[:4] in text(enrol)
    finished = client.post(reverse("accounts:mfa_enrol"), {"code": code_now(device)})
    assert finished["Location"] == reverse("accounts:backup_codes")
    return finished


# ========================================================================================
# 1. An agency starts from nothing
# ========================================================================================


@pytest.mark.django_db
def test_agency_create_command_invites_a_first_administrator_who_can_then_manage_it() -> None:
    out = StringIO()
    call_command("agency", "create", "--preset", "joplin", "--slug", "joplin",
                 "--name", "Joplin Police Department", "--admin-email", "it@joplin.test",
                 stdout=out)
    agency = Agency.objects.get(slug="joplin")
    admin = User.objects.get(username="joplin-admin")
    assert admin.agency == agency
    assert admin.has_role(Role.ADMINISTRATOR)
    assert not admin.has_usable_password()
    printed = out.getvalue()
    link = next(line.strip() for line in printed.splitlines() if "/accounts/setup/" in line)
    link_path = link[link.index("/accounts/setup/"):]

    client = Client()
    setup_and_first_sign_in(client, admin, link_path)
    # Fully signed in: the administrator manages the agency's accounts and policy.
    assert client.get(reverse("accounts:user_list")).status_code == 200
    policy = client.get(reverse("agencies:policy"))
    assert policy.status_code == 200
    assert "SOG 2-13" in text(policy)
    actions = list(AuditEvent.objects.filter(object_id=str(admin.pk), object_type="accounts.User")
                   .values_list("action", flat=True))
    assert "account.invited" in actions
    assert "account.setup_completed" in actions
    # The link worked once: used again it is the one answer for "no such page".
    assert Client().get(link_path).status_code == 404


@pytest.mark.django_db
def test_a_set_up_link_cannot_be_forged_reused_or_used_after_it_expires() -> None:
    agency = make_agency("delta", "Delta PD")
    admin = account_invite(acting_user=None, agency_id=agency.pk, username="delta-admin",
                           roles=[Role.ADMINISTRATOR])
    good = setup_path(admin)
    uid = good.split("/")[3]
    assert Client().get(f"/accounts/setup/{uid}/1-forged0token/").status_code == 404
    assert Client().post(f"/accounts/setup/{uid}/1-forged0token/",
                         {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
                         ).status_code == 404
    admin.refresh_from_db()
    assert not admin.has_usable_password()
    with time_machine.travel(timezone.now() + timedelta(days=10)):
        assert Client().get(good).status_code == 404
    weak = Client().post(good, {"password1": "short", "password2": "short"})
    assert weak.status_code == 200  # the form says why; the link still works
    assert Client().post(good, {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD}
                         ).status_code == 302
    assert Client().get(good).status_code == 404


@pytest.mark.django_db
def test_agency_create_refuses_a_taken_slug_or_username_in_one_line_and_creates_nothing(
    agency: Agency,
) -> None:
    with pytest.raises(CommandError, match="already exists"):
        call_command("agency", "create", "--preset", "columbus", "--slug", "alpha",
                     "--name", "Again", stdout=StringIO())
    make_user(agency, "echo-admin")
    with pytest.raises(CommandError, match="already exists"):
        call_command("agency", "create", "--preset", "columbus", "--slug", "echo",
                     "--name", "Echo PD", stdout=StringIO())
    assert not Agency.objects.filter(slug="echo").exists()


@pytest.mark.django_db
def test_an_operator_made_by_command_lists_and_creates_agencies_on_a_screen(
    agency: Agency, cast: dict[str, User]
) -> None:
    out = StringIO()
    call_command("operator", "create", "ops", stdout=out)
    operator = User.objects.get(username="ops")
    assert operator.agency is None
    assert operator.is_staff
    link = out.getvalue()
    client = Client()
    setup_and_first_sign_in(client, operator, link[link.index("/accounts/setup/"):].split()[0])
    listing = client.get(reverse("operator:agency_list"))
    assert listing.status_code == 200
    assert "Alpha Police Department" in text(listing)
    assert "Agencies" in text(client.get(reverse("core:home")))
    # Nothing inside an agency: no roster, no accounts, no policy, no program page.
    for name in ("agencies:member_list", "accounts:user_list", "agencies:policy",
                 "support:directory", "recovery:client_list", "audit:event_list"):
        assert client.get(reverse(name)).status_code == 404, name

    bad = client.post(reverse("operator:agency_create"), {
        "name": "Foxtrot PD", "slug": "alpha", "preset": "winchester",
        "time_zone": "America/New_York", "admin_username": "fox-admin"})
    assert bad.status_code == 400
    assert "already exists" in text(bad)
    made = client.post(reverse("operator:agency_create"), {
        "name": "Winchester Police Department", "slug": "winchester", "preset": "winchester",
        "time_zone": "America/New_York", "admin_username": "win-admin",
        "admin_email": "admin@winchester.test"})
    assert made.status_code == 200
    page = text(made)
    assert "/accounts/setup/" in page
    admin = User.objects.get(username="win-admin")
    assert admin.agency is not None
    assert admin.agency.preset == "winchester"
    assert admin.has_role(Role.ADMINISTRATOR)
    # People inside an agency never reach the operator's screen, administrators included.
    for role in ("administrator", "chief", "auditor"):
        staff = sign_in(Client(), cast[role])
        assert staff.get(reverse("operator:agency_list")).status_code == 404
        assert staff.post(reverse("operator:agency_create"), {}).status_code == 404


@pytest.mark.django_db
def test_an_administrator_cannot_invite_into_another_agency_or_make_an_operator(
    cast: dict[str, User], other_agency: Agency
) -> None:
    from django.core.exceptions import PermissionDenied

    admin = cast["administrator"]
    with pytest.raises(PermissionDenied):
        account_invite(acting_user=admin, agency_id=other_agency.pk, username="sneaky",
                       roles=[Role.ADMINISTRATOR])
    with pytest.raises(PermissionDenied):
        account_invite(acting_user=admin, agency_id=None, username="sneaky", operator=True)
    assert not User.objects.filter(username="sneaky").exists()


def test_the_demo_command_says_in_one_line_that_it_needs_demo_mode(settings: Any) -> None:
    settings.DEMO_MODE = False
    with pytest.raises(CommandError, match="TANDEM_DEMO=1"):
        call_command("demo", stdout=StringIO())


# ========================================================================================
# 3. A policy change takes effect at once — for every preset
# ========================================================================================


def _held(agency: Agency, code: str, when: datetime) -> TrainingSession:
    readiness.catalogue_seed(agency=agency)
    course = Course.objects.get(agency=agency, code=code)
    session, _ = TrainingSession.objects.get_or_create(
        course=course, starts_at=when, defaults={
            "agency": agency, "ends_at": when + timedelta(hours=2), "place": "Academy",
            "instructor": "Dr. Lane", "capacity": 30})
    return session


def _sign(user: User, kind: str, coordinator: User) -> None:
    from tandem.readiness.models import AgreementDocument

    document = AgreementDocument.objects.filter(agency_id=user.agency_id, kind=kind).first()
    if document is None:
        document = readiness.agreement_publish(
            acting_user=coordinator, kind=kind, title=f"{kind} agreement",
            body="I keep what I learn in confidence within the limits of the policy.")
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    readiness.agreement_sign(acting_user=user, document=document,
                             typed_name=user.get_full_name(), password=PASSWORD,
                             code=code_now(device))


def _ready_supporter(agency: Agency, people: dict[str, User]) -> User:
    """A supporter who meets every rule of the agency's current preset."""
    supporter, coordinator = people["supporter"], people["coordinator"]
    when = at(2026, 3, 2, 9)
    readiness.attendance_mark(acting_user=coordinator, session=_held(agency, "psp-initial", when),
                              user=supporter, status="present")
    readiness.check_record(acting_user=coordinator, user=supporter, checked_on=date(2026, 3, 2),
                           result="cleared", renewal_due=date(2028, 3, 2))
    if agency.policy_model().training.cjis_awareness_yearly:
        readiness.attendance_mark(acting_user=coordinator,
                                  session=_held(agency, "cjis-awareness", when),
                                  user=supporter, status="present")
    _sign(supporter, "confidentiality", coordinator)
    readiness.designation_grant(acting_user=people["chief"], user=supporter, program="psp",
                                designated_on=date(2026, 3, 2))
    return supporter


def _preset_people(preset: str) -> tuple[Agency, dict[str, User]]:
    agency = make_agency(f"p-{preset}", f"{preset} PD", preset=preset)
    policy = agency.policy_model()
    if set(policy.selection.steps) & set(readiness.APPLICATION_STEPS):
        # Direct designation is for people serving before Tandem; these presets select by
        # application, so their test supporter is designated through a lighter policy
        # first and the preset is restored below, through the real screen.
        lighter = policy.model_dump(mode="json")
        lighter["selection"]["steps"] = [s for s in lighter["selection"]["steps"]
                                         if s not in readiness.APPLICATION_STEPS]
        Agency.objects.filter(pk=agency.pk).update(policy=lighter)
        agency.refresh_from_db()
    people = {r: make_user(agency, f"{preset[:4]}{r}", r) for r in
              ("supporter", "coordinator", "chief", "administrator")}
    return agency, people


def _on_call_page_names(client: Client) -> str:
    return text(client.get(reverse("support:directory")))


@pytest.mark.django_db
@pytest.mark.parametrize("preset", available_presets())
def test_every_policy_change_moves_the_gates_before_the_next_request(preset: str) -> None:
    with time_machine.travel(at(2026, 3, 10), tick=False):
        agency, people = _preset_people(preset)
        supporter = _ready_supporter(agency, people)
        admin = sign_in(Client(), people["administrator"])
        # Restore the preset exactly (a reset through the policy screen): still ready.
        reset = admin.post(reverse("agencies:policy"),
                           {"action": "reset", "preset": preset, "confirm": "on"})
        assert reset.status_code == 302
        assert is_peer_support_ready(supporter), Gate.objects.get(user=supporter).reasons
        # A stricter rule saved on the policy screen: a topic the supporter never had.
        stricter = load_preset(preset).model_dump(mode="json")
        stricter["training"]["initial_topics"].append("A topic added today")
        saved = admin.post(reverse("agencies:policy"), {
            "action": "save", "policy_text": policy_to_toml(validate_policy(stricter))})
        assert saved.status_code == 302
        # Before any other request or job: the gate is shut and the roster has no one.
        gate = Gate.objects.get(user=supporter)
        assert not gate.peer_support
        assert any("A topic added today" in r for r in gate.reasons)
        assert supporter not in peer_support_ready_users(agency)
        event = AuditEvent.objects.filter(action="readiness.gate_changed").last()
        assert event is not None
        assert event.detail["cause"] == "policy"
        # The readiness page the coordinator reads agrees with the gate.
        coordinator = sign_in(Client(), people["coordinator"])
        team = text(coordinator.get(reverse("readiness:team")))
        assert "Not compliant" in team
        # Reset to the shipped preset: the gate opens again at once.
        admin.post(reverse("agencies:policy"),
                   {"action": "reset", "preset": preset, "confirm": "on"})
        assert is_peer_support_ready(supporter)
        assert supporter in peer_support_ready_users(agency)


@pytest.mark.django_db
def test_a_role_change_moves_the_gate_before_the_next_request() -> None:
    """OO 2-78 IV.D.4: a PRS reads nothing under CJIS rules before signing the NDA. Making
    a cleared officer's account a PRS closes the gate at once; taking it away reopens it."""
    with time_machine.travel(at(2026, 3, 10), tick=False):
        agency = make_agency("win", "Winchester PD", preset="winchester")
        officer = make_user(agency, "aro1", "aro")
        coordinator = make_user(agency, "coord1", "coordinator")
        readiness.check_record(acting_user=coordinator, user=officer,
                               checked_on=date(2026, 3, 2), result="cleared",
                               renewal_due=date(2028, 3, 2))
        readiness.attendance_mark(acting_user=coordinator,
                                  session=_held(agency, "cjis-awareness", at(2026, 3, 2, 9)),
                                  user=officer, status="present")
        assert Gate.objects.get(user=officer).cji
        client = sign_in(Client(), make_user(agency, "admin1", "administrator"))
        client.post(reverse("accounts:user_role_grant", args=[officer.pk]), {"role": "prs"})
        assert Gate.objects.get(user=officer).cji  # only proposed: a second person decides
        chief = make_user(agency, "chief1", "chief")
        proposal = RoleRequest.objects.get(user=officer, role="prs")
        sign_in(Client(), chief).post(reverse("accounts:role_request_approve",
                                              args=[proposal.pk]))
        gate = Gate.objects.get(user=officer)
        assert not gate.cji
        assert any("Non-disclosure agreement" in r for r in gate.reasons)
        client.post(reverse("accounts:user_role_revoke", args=[officer.pk]), {"role": "prs"})
        assert Gate.objects.get(user=officer).cji


# ========================================================================================
# 2. The demo: one agency per preset, tried from the sign-in page
# ========================================================================================


@pytest.fixture
def demo(db: Any, settings: Any, tmp_path: Any) -> Any:
    """Load one demo agency (as ``make demo`` does) and sign its people in for real."""
    from tandem.core.demo import load_demo, write_credentials

    settings.DEMO_MODE = True
    settings.VAR_DIR = tmp_path

    def load(slug: str) -> tuple[Agency, dict[str, User]]:
        entry = load_demo([slug])[slug]
        write_credentials({slug: entry})
        users = {role: User.objects.get(username=a["username"])
                 for role, a in entry["accounts"].items()}
        return Agency.objects.get(slug=slug), users

    return load


def sign_in_from_the_demo_listing(username: str) -> Client:
    """Read the account's password and current code off the demo sign-in page, as a
    newcomer does, and sign in through banner, password and code."""
    import re

    client = Client()
    client.post(reverse("accounts:banner"))
    page = text(client.get(reverse("accounts:login")))
    row = re.search(rf"<code>{re.escape(username)}</code></td><td><code>([^<]+)</code></td>"
                    r"<td><code>(\d{6})</code>", page)
    assert row, f"{username} is not listed on the demo sign-in page"
    password, code = row.groups()
    step = client.post(reverse("accounts:login"), {"username": username, "password": password})
    assert step["Location"] == reverse("accounts:mfa")
    done = client.post(reverse("accounts:mfa"), {"code": code})
    assert done.status_code == 302
    assert client.get(reverse("core:home")).status_code == 200
    return client


def test_the_sign_in_page_lists_demo_agencies_only_in_demo_mode(
    demo: Any, settings: Any
) -> None:
    demo("joplin")
    client = Client()
    client.post(reverse("accounts:banner"))
    page = text(client.get(reverse("accounts:login")))
    assert "Joplin Police Department (demo)" in page
    assert "joplin-coordinator" in page
    assert "Peer Support Coordinator" in page or "Coordinator" in page
    settings.DEMO_MODE = False
    page = text(client.get(reverse("accounts:login")))
    assert "joplin-coordinator" not in page
    assert "Demo agencies" not in page


# ========================================================================================
# 4. Columbus Procedure 18.107
# ========================================================================================


def test_columbus_story_selection_then_training_posters_and_covers(demo: Any) -> None:
    agency, people = demo("columbus")
    # The policy page reads right for a zero limit (item 9).
    admin = sign_in_from_the_demo_listing("columbus-administrator")
    policy = text(admin.get(reverse("agencies:policy")))
    assert "no unexcused absence per calendar year" in policy
    assert "absencee" not in policy

    # Selection in the seed's order: a letter of request to the Coordinator (C.1.a) ...
    from tandem.readiness.models import Application, Vacancy

    vacancy = Vacancy.objects.get(agency=agency, closed_at__isnull=True, program="psp")
    applicant = people["member"]
    member = sign_in(Client(), applicant)
    sent = member.post(reverse("readiness:apply", args=[vacancy.pk]),
                       {"letter": "Twelve years in patrol; I want to help colleagues."})
    assert sent.status_code == 302
    application = Application.objects.get(applicant=applicant)
    # ... the Police Psychologist's interview (C.1.a.1) ...
    psychologist = sign_in_from_the_demo_listing("columbus-psychologist")
    psychologist.post(reverse("readiness:application_interview", args=[application.pk]),
                      {"outcome": "recommended", "interviewed_on": timezone.localdate(),
                       "version": application.version})
    application.refresh_from_db()
    assert application.interview_outcome == "recommended"
    # ... and the Chief approves the final selection before any training (C.1.a.1, D.1).
    chief = sign_in_from_the_demo_listing("columbus-chief")
    decided = chief.post(reverse("readiness:application_decide", args=[application.pk]),
                         {"decision": "approve", "version": application.version})
    assert decided.status_code == 302
    application.refresh_from_db()
    assert application.status == "approved"
    # Selected, but not serving until the in-service training is done.
    assert not is_peer_support_ready(applicant)
    assert any("initial training not complete" in r
               for r in Gate.objects.get(user=applicant).reasons)
    readiness.attendance_mark(
        acting_user=people["coordinator"], user=applicant, status="present",
        session=_held(agency, "psp-initial", timezone.now() - timedelta(hours=3)))
    readiness.check_record(acting_user=people["coordinator"], user=applicant,
                           checked_on=timezone.localdate(), result="cleared",
                           renewal_due=timezone.localdate() + timedelta(days=700))
    assert is_peer_support_ready(applicant), Gate.objects.get(user=applicant).reasons

    # Posters (B.1.a-b): every unit's poster lists the whole team, Communications and the
    # psychologist.
    from tandem.agencies.models import Unit
    from tandem.support.selectors import roster

    unit = Unit.objects.filter(agency=agency).order_by("code").last()
    poster = text(member.get(reverse("support:poster"), {"unit": unit.pk}))
    assert f"posted in {unit.name}" in poster
    team = list(roster(agency, {}))
    assert len(team) >= 2
    assert any(p.unit_id != unit.pk for p in team)
    for profile in team:  # the department-wide team, not only this unit's members
        assert profile.display_name in poster
    assert "Police Communications Section" in poster
    assert people["psychologist"].get_full_name() in poster
    pdf = member.get(reverse("support:poster_pdf"), {"unit": unit.pk})
    assert pdf.content.startswith(b"%PDF")

    # The cover form refuses one person as primary and backup at once (item 9).
    from tandem.support.oncall import Schedule

    now = timezone.now()
    primary = Schedule(agency).shift_at("primary", now)
    assert primary is not None
    coordinator = sign_in_from_the_demo_listing("columbus-coordinator")
    local = timezone.localtime(now + timedelta(hours=1))
    refused = coordinator.post(reverse("support:override_new"), {
        "layer": "backup", "supporter": primary.supporter.pk, "reason": "cover",
        "starts_at": local.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (local + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")})
    assert refused.status_code == 400
    assert "cannot be primary and backup at once" in text(refused)


def test_columbus_story_the_supporter_reads_who_asks_and_whose_follow_up_it_is(
    demo: Any,
) -> None:
    """18.107 A.1, B.1: "any Division employee or family member". The supporter reads that
    a family member asks — only on their own screens — and the follow-up they set says whose
    contact it is, sealed so that only they read it."""
    from django.db import connection

    from tandem.audit.models import AuditEvent as Event
    from tandem.core.models import DataKey
    from tandem.notifications.models import PeerSupportDelivery
    from tandem.support import access as support_access
    from tandem.support.models import FollowUpReminder, SupporterProfile, SupportRequest

    agency, people = demo("columbus")
    profile = SupporterProfile.objects.get(user=people["supporter"])
    help_page = reverse("support:intake", args=[support_access.help_pass_for(agency)])
    asked = Client().post(help_page, {
        "code": "family-asks".ljust(32, "x"), "requester_kind": "family",
        "name": "Robin Quill", "phone": "+1 614 555 0142", "contact_method": "phone",
        "urgency": "today", "best_time": "evening", "chosen_supporter": profile.pk})
    assert asked.status_code == 200, text(asked)
    request = SupportRequest.objects.get(agency=agency)
    supporter = sign_in_from_the_demo_listing("columbus-supporter")
    said = "A family member of a department member asks"
    workspace = text(supporter.get(reverse("support:workspace")))
    assert said in workspace
    assert "Member asks directly" not in workspace
    detail = text(supporter.get(reverse("support:request_detail", args=[request.pk])))
    assert said in detail
    supporter.post(reverse("support:request_accept", args=[request.pk]))
    accepted = text(supporter.get(reverse("support:request_detail", args=[request.pk])))
    assert said in accepted
    assert "Robin Quill" in accepted
    # Never in a message, never in the audit trail, never in the clear in the database.
    assert "family" not in str(list(Event.objects.filter(agency_id=agency.pk)
                                    .values_list("detail", flat=True)))
    for delivery in PeerSupportDelivery.objects.all():
        assert "family" not in str(delivery.recipient_data)
    coordinator = sign_in_from_the_demo_listing("columbus-coordinator")
    assert said not in text(coordinator.get(reverse("support:queue")))

    supporter.post(reverse("support:request_contact", args=[request.pk]),
                   {"notice_given": "on"})
    form = supporter.get(reverse("support:request_close", args=[request.pk])).context["form"]
    usage = {name: (field.choices[-1][0] if getattr(field, "choices", None) else "")
             for name, field in form.fields.items() if field.required}
    due = timezone.localdate() + timedelta(days=7)
    closed = supporter.post(reverse("support:request_close", args=[request.pk]),
                            {**usage, "follow_up_on": due.isoformat()})
    assert closed.status_code == 302, text(closed)
    assert SupportRequest.objects.get(pk=request.pk).is_shredded
    # The reminder says whose contact it is — on the supporter's own page only.
    workspace = text(supporter.get(reverse("support:workspace")))
    assert "Follow up with <strong>Robin Quill (+1 614 555 0142)</strong>" in workspace
    assert "Robin Quill" not in text(coordinator.get(reverse("support:workspace")))
    reminder = FollowUpReminder.objects.get(supporter=profile)
    assert reminder.data_key is not None
    assert reminder.data_key.purpose == "psp.reminder"
    with connection.cursor() as cursor:
        cursor.execute("SELECT about FROM support_followupreminder")
        (sealed,) = cursor.fetchone()
    assert "Robin" not in sealed
    assert sealed.startswith("v1:")
    # Done: the key is shredded and the words are gone for good.
    supporter.post(reverse("support:reminder_done", args=[reminder.pk]))
    reminder.refresh_from_db()
    assert reminder.done_at is not None
    assert DataKey.objects.get(pk=reminder.data_key_id).wrapped_key is None
    assert reminder.about is None
    assert "Robin Quill" not in text(supporter.get(reverse("support:workspace")))


# ========================================================================================
# 6. Colorado Springs GO 702
# ========================================================================================


def test_colorado_springs_story_breach_reports_and_the_six_month_rule(demo: Any) -> None:
    from tandem.notifications.models import PeerSupportDelivery
    from tandem.readiness.models import AgreementDocument
    from tandem.support.models import BreachReport

    agency, people = demo("demo")
    assert agency.preset == "colorado-springs"
    supporter = sign_in_from_the_demo_listing("supporter")
    # .46 where it binds: the supporter's own page and the confidentiality agreement.
    workspace = text(supporter.get(reverse("support:workspace")))
    assert "for 6 months after your last contact" in workspace
    agreement = AgreementDocument.objects.filter(agency=agency, kind="confidentiality").last()
    signed_page = text(supporter.get(reverse("readiness:agreement_sign", args=[agreement.pk])))
    assert "for 6 months after your last contact" in signed_page
    assert "GO 702" in signed_page

    # .38: a breach reaches the Wellness Unit Sergeant and the psychologist at once ...
    reported = supporter.post(reverse("support:breach_new"), {
        "kind": "overheard", "occurred_on": timezone.localdate().isoformat()})
    assert reported.status_code == 302
    report = BreachReport.objects.get(agency=agency)
    # Peer-support messages keep their recipient sealed until sent.
    told = {User.objects.get(pk=d.recipient_data["user_id"]).username
            for d in PeerSupportDelivery.objects.filter(kind="psp.breach")}
    assert {"coordinator", "psychologist"} <= told
    # ... on a screen of theirs, where each acknowledges it.
    for username in ("coordinator", "psychologist"):
        reader = sign_in_from_the_demo_listing(username)
        page = text(reader.get(reverse("support:breach_list")))
        assert "Conversation overheard" in page
        assert "1 report waiting for your acknowledgement" in page
        reader.post(reverse("support:breach_acknowledge", args=[report.pk]))
        page = text(reader.get(reverse("support:breach_list")))
        assert "You acknowledged it" in page
    assert report.acknowledgements.count() == 2
    assert AuditEvent.objects.filter(action="psp.breach.acknowledged").count() == 2
    # Nobody else reads breach reports (the supporter who reported included).
    assert supporter.get(reverse("support:breach_list")).status_code == 404
    chief = sign_in_from_the_demo_listing("chief")
    assert chief.post(reverse("support:breach_acknowledge", args=[report.pk])
                      ).status_code == 404


def _labels_about_the_person(page: str) -> list[str]:
    """Every label, legend, hint and lede of the form on a page, tags stripped."""
    import re

    main = page.split("<main", 1)[1]
    found = re.findall(r"<(?:label|legend|p|div)[^>]*(?:class=\"(?:lede|hint|helptext)\")?[^>]*>"
                       r"(.*?)</(?:label|legend|p|div)>", main, flags=re.S)
    return [re.sub(r"<[^>]+>", " ", f).strip() for f in found]


def _speaks_of_someone_else(page: str, *, allowed: tuple[str, ...] = ()) -> None:
    import re

    for words in _labels_about_the_person(page):
        if any(a in words for a in allowed):
            continue
        assert not re.search(r"\b(you|your|yours|yourself)\b", words, flags=re.I), words


def test_dispatch_sees_what_became_of_a_request_it_sent_and_never_who(demo: Any) -> None:
    """Dispatch (18.107 B.1.b: PCS contacts a team member) holds a receipt; GO 702's
    coordinator, asking for someone after a critical incident, holds one too. The forms
    speak of the caller or the person, never "you"."""
    from tandem.support import services as support
    from tandem.support.models import SupportRequest

    agency, people = demo("columbus")
    dispatcher = sign_in_from_the_demo_listing("columbus-dispatcher")
    on_call = text(dispatcher.get(reverse("support:on_call_now")))
    assert "What became of a request" in on_call
    form_page = dispatcher.get(reverse("support:on_behalf_new"))
    _speaks_of_someone_else(text(form_page))
    assert "How should the supporter reach the caller?" in text(form_page)
    key = form_page.context["form"].initial["idempotency_key"]
    call = {"idempotency_key": key, "name": "Casey Caller", "phone": "+1 614 555 0199",
            "contact_method": "phone", "urgency": "now", "best_time": "any",
            "channel": "dispatch"}
    sent = dispatcher.post(reverse("support:on_behalf_new"), call)
    assert sent.status_code == 200
    assert key in text(sent)
    assert "reach the caller" in text(sent)
    again = dispatcher.post(reverse("support:on_behalf_new"), call)  # a double click
    assert key in text(again)
    assert SupportRequest.objects.filter(agency=agency).count() == 1
    request = SupportRequest.objects.get(agency=agency)
    assert key not in (request.idempotency_key, request.receipt_digest)  # only digests kept

    def where(code: str = key) -> str:
        return text(dispatcher.post(reverse("support:receipt"), {"code": code}))

    assert "Looking for a supporter" in where()
    supporter_user = request.offers.filter(active=True).first().user
    support.request_accept(acting_user=supporter_user, request=request)
    page = where()
    assert "A supporter accepted it" in page
    assert supporter_user.get_full_name() not in page
    from tandem.support.models import SupporterProfile

    assert SupporterProfile.objects.get(user=supporter_user).display_name not in page
    request.refresh_from_db()
    support.request_close(acting_user=supporter_user, request=request,
                          usage={"member_category": "sworn", "incident_type": "work_stress",
                                 "intervention_type": "phone", "duration_bucket": "15_60",
                                 "gender": "male"})
    assert "Closed" in where()
    with time_machine.travel(timezone.now() + timedelta(days=1, hours=1)):
        support.publish_finished_requests()
    assert "No request has this receipt now" in where()
    assert "No request has this receipt now" in where("x" * 40)
    # A receipt is only for those who may ask for someone; others get the one answer.
    member = sign_in(Client(), people["member"])
    assert member.post(reverse("support:receipt"), {"code": key}).status_code == 404

    # Colorado Springs: no dispatch channel; the coordinator asks for the person.
    cs, cs_people = demo("demo")
    coordinator = sign_in_from_the_demo_listing("coordinator")
    page = text(coordinator.get(reverse("support:on_behalf_new")))
    _speaks_of_someone_else(page)
    assert "How should the supporter reach the person?" in page
    cs_dispatcher = sign_in_from_the_demo_listing("dispatcher")
    none = text(cs_dispatcher.get(reverse("support:on_behalf_new")))
    assert "Tell the caller so" in none
    # The help page's referral form speaks of the person referred; only the referrer's own
    # (optional) part says "you".
    from tandem.support import access as support_access

    referral = text(Client().get(
        reverse("support:intake", args=[support_access.help_pass_for(cs)]) + "?for=colleague"))
    assert "Refer a colleague" in referral
    _speaks_of_someone_else(referral, allowed=(
        "You (optional)", "Your name", "Your phone", "Asking for yourself", "Seen only by the "
        "coordinator", "Already asked", "Names and contact details", "No address"))


# ========================================================================================
# 5. Joplin SOG 2-13 (selection by letter of request; no interview step)
# ========================================================================================


def test_joplin_story_letter_vetting_training_then_the_chief_designates(demo: Any) -> None:
    from tandem.readiness.models import Application, Vacancy

    agency, people = demo("joplin")
    applicant = people["member"]
    vacancy = Vacancy.objects.get(agency=agency, closed_at__isnull=True, program="psp")
    member = sign_in_from_the_demo_listing("joplin-member")
    member.post(reverse("readiness:apply", args=[vacancy.pk]),
                {"letter": "A letter of request to the Coordinator (SOG 2-13 IV.A.1)."})
    application = Application.objects.get(applicant=applicant)
    chief = sign_in_from_the_demo_listing("joplin-chief")
    # Vetting and training come before the decision in SOG 2-13: refused until done.
    early = chief.post(reverse("readiness:application_decide", args=[application.pk]),
                       {"decision": "approve", "version": application.version})
    application.refresh_from_db()
    assert application.status != "approved", early.status_code
    readiness.check_record(acting_user=people["coordinator"], user=applicant,
                           checked_on=timezone.localdate(), result="cleared",
                           renewal_due=timezone.localdate() + timedelta(days=700))
    readiness.attendance_mark(
        acting_user=people["coordinator"], user=applicant, status="present",
        session=_held(agency, "psp-initial", timezone.now() - timedelta(hours=3)))
    chief.post(reverse("readiness:application_decide", args=[application.pk]),
               {"decision": "approve", "version": application.version})
    application.refresh_from_db()
    assert application.status == "approved"
    assert is_peer_support_ready(applicant), Gate.objects.get(user=applicant).reasons
    # IV.B.2: a supervisor finds how to reach the Coordinator, and nothing about on-call.
    from tandem.support.oncall import Schedule

    supervisor = sign_in_from_the_demo_listing("joplin-supervisor")
    home = text(supervisor.get(reverse("core:home")))
    assert "Activate peer support" in home
    page = text(supervisor.get(reverse("support:coordinator_contact")))
    coordinator = people["coordinator"]
    assert coordinator.get_full_name() in page
    assert coordinator.member.phone in page
    assert f"activates the team through the {agency.title_for('coordinator')}" in page
    on_call = Schedule(agency).shift_at("primary", timezone.now())
    assert on_call is not None
    assert on_call.supporter.display_name not in page
    assert supervisor.get(reverse("support:on_call_now")).status_code == 404


# ========================================================================================
# 7. Winchester Operation Order 2-78
# ========================================================================================


def test_winchester_story_prs_page_and_the_annual_report(demo: Any) -> None:
    agency, people = demo("winchester")
    prs = sign_in_from_the_demo_listing("winchester-prs")
    own = text(prs.get(reverse("readiness:home")))
    assert "Criminal justice information: <strong>open" not in own
    assert "Criminal justice information: <strong>cleared" not in own
    assert "not for civilian staff" in own
    supervisor = sign_in_from_the_demo_listing("winchester-crt-supervisor")
    about_prs = text(supervisor.get(reverse("readiness:person", args=[people["prs"].pk])))
    assert "Criminal justice information: <strong>open" not in about_prs
    about_aro = text(supervisor.get(reverse("readiness:person", args=[people["aro"].pk])))
    assert "Criminal justice information: <strong>open" in about_aro
    # "Annual report" opens the last complete year in which the program had activity.
    from tandem.recovery.models import Contact

    year = timezone.localdate().year - 1
    assert Contact.objects.filter(agency=agency, occurred_at__year=year).exists()
    index = text(supervisor.get(reverse("reports:index")))
    assert f"Annual report {year}" in index
    report = supervisor.get(reverse("reports:recovery"), {"start": f"{year}-01",
                                                          "end": f"{year}-12"})
    assert report.status_code == 200
    # E.1–2: the personnel evaluation of the ARO and of the PRS, with each one's figures.
    evaluation = text(supervisor.get(reverse("recovery:personnel_evaluation"),
                                     {"year": timezone.localdate().year}))
    for person in (people["aro"], people["prs"]):
        assert person.get_full_name() in evaluation
    for words in ("Client contacts documented", "Safety assessments before field contacts",
                  "Co-responses with the PRS", "Community outreach events",
                  "Certification hours signed off"):
        assert words in evaluation, words
    from tandem.recovery.evaluation import personnel_evaluations

    figures = {e.role: {line.label: line.value for line in e.lines}
               for e in personnel_evaluations(agency, timezone.localdate().year)}
    assert int(figures["prs"]["Clients worked with"]) > 0
    assert int(figures["aro"]["Clients worked with"]) > 0
    assert prs.get(reverse("recovery:personnel_evaluation")).status_code == 404


def _pdf(data: bytes) -> Any:
    import io

    from pypdf import PdfReader

    assert data.startswith(b"%PDF")
    return PdfReader(io.BytesIO(data))


def test_winchester_story_the_prs_reads_and_acknowledges_written_feedback_with_a_pdf(
    demo: Any,
) -> None:
    """OO 2-78 E.2: evaluations "provide valuable feedback to the ARO and PRS": the
    evaluator writes it against the year's figures, the person reads and acknowledges it
    (with a response), both print it; every step is audited."""
    from tandem.recovery.models import PersonnelEvaluation

    agency, people = demo("winchester")
    year = timezone.localdate().year - 1
    prs = people["prs"]
    supervisor = sign_in_from_the_demo_listing("winchester-crt-supervisor")
    write = reverse("recovery:personnel_evaluation_write", args=[prs.pk])
    empty = supervisor.post(write, {"year": year, "feedback": "  "}, follow=True)
    assert "Write the feedback for this year." in text(empty)
    assert not PersonnelEvaluation.objects.exists()
    feedback = ("Strong engagement with clients after overdoses.\n\n"
                "Goal for next year: two more outreach events in schools.")
    supervisor.post(write, {"year": year, "feedback": feedback})
    evaluation = PersonnelEvaluation.objects.get(person=prs, year=year)
    assert evaluation.role == "prs"
    assert evaluation.evaluator == people["crt_supervisor"]
    assert any(label == "Clients worked with" for _, label, _ in evaluation.figures)
    # A year of history for both: the ARO's evaluation has figures too.
    from tandem.recovery.evaluation import personnel_evaluations

    for each in personnel_evaluations(agency, year):
        worked = next(line.value for line in each.lines if line.label == "Clients worked with")
        assert int(worked) > 0, each.role
    page = text(supervisor.get(reverse("recovery:personnel_evaluation"), {"year": year}))
    assert "Strong engagement with clients after overdoses." in page
    assert f"Waiting for {prs.get_full_name()} to acknowledge it" in page

    # The PRS is told on the home page, reads it and acknowledges it with a response.
    peer = sign_in_from_the_demo_listing("winchester-prs")
    assert "1 evaluation waiting for you to read and acknowledge" in text(
        peer.get(reverse("core:home")))
    mine = text(peer.get(reverse("recovery:my_evaluations")))
    assert "Goal for next year: two more outreach events in schools." in mine
    assert "Clients worked with" in mine
    peer.post(reverse("recovery:personnel_evaluation_acknowledge", args=[evaluation.pk]),
              {"response": "Agreed; I will plan the school events with the ARO."})
    evaluation.refresh_from_db()
    assert evaluation.acknowledged_at is not None
    assert "You acknowledged it on" in text(peer.get(reverse("recovery:my_evaluations")))
    # Acknowledged: the evaluator can no longer rewrite it.
    late = supervisor.post(write, {"year": year, "feedback": "Changed afterwards",
                                   "version": evaluation.version}, follow=True)
    assert "acknowledged; it no longer changes" in text(late)
    evaluation.refresh_from_db()
    assert "Changed afterwards" not in str(evaluation.feedback)

    # The PDF: tagged, on the agency's paper, for the person and the evaluator only.
    for reader in (peer, supervisor):
        pdf = reader.get(reverse("recovery:personnel_evaluation_pdf", args=[evaluation.pk]))
        assert pdf.status_code == 200
        document = _pdf(pdf.content)
        catalog = document.trailer["/Root"]
        assert "/StructTreeRoot" in catalog
        box = document.pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (612, 792)  # Letter
        words = " ".join(page.extract_text() for page in document.pages)
        assert "Strong engagement with clients after overdoses." in words
        assert "Agreed; I will plan the school events" in words
    aro = sign_in_from_the_demo_listing("winchester-aro")
    assert aro.get(reverse("recovery:personnel_evaluation_pdf", args=[evaluation.pk])
                   ).status_code == 404
    assert aro.post(reverse("recovery:personnel_evaluation_acknowledge",
                            args=[evaluation.pk])).status_code == 404
    actions = list(AuditEvent.objects.filter(object_type="recovery.PersonnelEvaluation",
                                             object_id=str(evaluation.pk))
                   .values_list("action", flat=True))
    assert actions.count("recovery.evaluation_write") == 1
    assert actions.count("recovery.evaluation_acknowledge") == 1
    assert actions.count("recovery.evaluation_export") == 2


# ========================================================================================
# 8. West Virginia Police and Peers
# ========================================================================================


def test_west_virginia_story_supervisor_sees_credential_beside_the_hours(demo: Any) -> None:
    agency, people = demo("west-virginia")
    supervisor = sign_in_from_the_demo_listing("wv-crt-supervisor")
    page = text(supervisor.get(reverse("readiness:person", args=[people["prs"].pk])))
    for words in ("of 500", "of 25", "of 6", "Education", "High-school diploma",
                  "IC&amp;RC", "Passed"):
        assert words in page, words


def test_west_virginia_story_an_embedded_peer_records_a_patrol_call_with_the_officers_check(
    demo: Any,
) -> None:
    from tandem.agencies.models import Member
    from tandem.recovery.models import Client as RecoveryClient
    from tandem.recovery.models import Contact, PatrolCall
    agency, people = demo("west-virginia")
    checklist = list(agency.policy_model().recovery.safety_checklist)
    assert "Officer secured the scene before the PRSS engages" in checklist
    client = RecoveryClient.objects.filter(agency=agency).first()
    officer = Member.objects.filter(agency=agency, category="sworn").exclude(
        pk=people["prs"].member_id).first()
    peer = sign_in_from_the_demo_listing("wv-prs")
    form = text(peer.get(reverse("recovery:patrol_call", args=[client.pk])))
    for call_type in ("Domestic", "Behavioural-health crisis", "Overdose"):
        assert call_type in form
    before = Contact.objects.filter(client=client).count()
    posted = {"call_type": "domestic", "officer": officer.pk, "duration_minutes": 25,
              "outcome": "engaged", "confirmed": checklist[:-1]}
    refused = peer.post(reverse("recovery:patrol_call", args=[client.pk]), posted)
    assert refused.status_code == 400
    assert "may not join the call until the officer confirms" in text(refused)
    assert Contact.objects.filter(client=client).count() == before
    posted["confirmed"] = checklist
    saved = peer.post(reverse("recovery:patrol_call", args=[client.pk]), posted)
    assert saved.status_code == 302
    call = PatrolCall.objects.get(contact__client=client)
    assert call.call_type == "domestic"
    assert call.officer == officer
    assert all(call.safety_checklist[item] for item in checklist)
    assert abs((timezone.now() - call.safety_checked_at).total_seconds()) < 60
    assert call.contact.kind == "patrol_assist"
    assert call.contact.prs_present
    # A field contact with the peer and neither a plan nor an on-scene check is still
    # refused on the ordinary contact form.
    plain = peer.post(reverse("recovery:contact_create", args=[client.pk]), {
        "kind": "field", "occurred_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"),
        "duration_minutes": 10, "prs_present": "on", "location_type": "street",
        "outcome": "engaged"})
    assert plain.status_code == 400


def test_west_virginia_story_the_grant_report_for_funders(demo: Any) -> None:
    from tandem.recovery.models import Client as RecoveryClient

    agency, people = demo("west-virginia")
    supervisor = sign_in_from_the_demo_listing("wv-crt-supervisor")
    index = text(supervisor.get(reverse("reports:index")))
    assert "Grant report (peer recovery)" in index
    today = timezone.localdate()
    end = (today.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    start = (today.replace(day=1) - timedelta(days=365)).strftime("%Y-%m")
    query = {"start": start, "end": end}
    page = text(supervisor.get(reverse("reports:grant"), query))
    for words in ("Callouts with patrol, by type of call", "Domestic", "Overdose",
                  "Clients and contacts", "Referrals by category and outcome",
                  "Naloxone kits given", "Follow-up at the SUPRT windows",
                  "Baseline (intake)", "About 180 days after intake", "Discharge",
                  "Follow-up rate (target 80%)"):
        assert words in page, words
    # Small counts are withheld like in every statistic.
    assert RecoveryClient.objects.filter(agency=agency).count() < 20
    assert "&lt;" in page or "withheld" in page.lower() or "suppressed" in page.lower()
    csv = supervisor.get(reverse("reports:grant_csv"), query)
    assert csv.status_code == 200
    assert b"Follow-up at the SUPRT windows" in csv.content
    xlsx = supervisor.get(reverse("reports:grant_xlsx"), query)
    assert xlsx.content[:2] == b"PK"
    pdf = supervisor.get(reverse("reports:grant_pdf"), query)
    assert pdf.content.startswith(b"%PDF")
    # Only the CRT supervisor and the Chief: not the peer, not the coordinator.
    peer = sign_in_from_the_demo_listing("wv-prs")
    assert peer.get(reverse("reports:grant"), query).status_code == 404


# ========================================================================================
# 9. Smaller things seen on the way
# ========================================================================================


def test_chart_labels_start_inside_the_picture_and_are_not_cut() -> None:
    import re

    from tandem.reports.charts import bar_chart

    label = "Through dispatch / communications"
    svg = str(bar_chart("Requests by channel", [(label, 12), ("Member asks directly", 40)]))
    texts = re.findall(r'<text x="([\d.]+)"[^>]*text-anchor="start"[^>]*>([^<]+)</text>', svg)
    assert any(t == label for _, t in texts)
    assert all(float(x) >= 0 for x, _ in texts)
    width = float(re.search(r'viewBox="0 0 ([\d.]+) ', svg).group(1))
    # 13-pixel text is at most ~7.5 px a character: the longest label fits the width.
    assert max(len(t) for _, t in texts) * 7.5 <= width


def test_absence_rule_words_read_right_for_zero_one_and_many() -> None:
    from tandem.readiness.compliance import absence_limit_words, every_months_words

    assert absence_limit_words(0) == "no unexcused absence"
    assert absence_limit_words(1) == "at most one unexcused absence"
    assert absence_limit_words(3) == "at most 3 unexcused absences"
    assert every_months_words(1) == "every month"
    assert every_months_words(3) == "every 3 months"


@pytest.mark.django_db
def test_the_policy_page_reads_right_for_one_of_anything() -> None:
    agency = make_agency("onesy", "Onesy PD", preset="joplin")
    policy = agency.policy_model().model_dump(mode="json")
    policy["requests"]["expiry_hours"] = 1
    policy["escalation"]["steps"][0]["timeout_minutes"] = 1
    policy["document"]["review_months"] = 1
    Agency.objects.filter(pk=agency.pk).update(policy=validate_policy(policy).model_dump(
        mode="json"))
    page = text(sign_in(Client(), make_user(agency, "onesy-admin", "administrator"))
                .get(reverse("agencies:policy")))
    assert "expires after 1 hour." in page
    assert "1 minute to acknowledge" in page
    assert "reviewed every month." in page
    for wrong in ("1 hours", "1 minutes", "every 1 months"):
        assert wrong not in page


# ========================================================================================
# Browser stories: one per department, where a person clicks (Chromium, live server)
# ========================================================================================


def _browser_sign_in(page: Any, base: str, username: str) -> None:
    """Sign in as a newcomer does: the password read off the demo listing on the sign-in
    page, then the authenticator's current code."""
    page.goto(f"{base}/")
    page.get_by_role("button", name="I understand and agree").click()
    cells = page.locator("section.demo-accounts td code").all_inner_texts()
    password = cells[cells.index(username) + 1]
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    page.locator("input[name=code]").fill(code_now(device))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _sign_out(page: Any) -> None:
    page.context.clear_cookies()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_columbus_a_family_member_asks_and_the_supporter_reads_who_and_follows_up(
    live_server: Any, demo: Any,
) -> None:
    from tandem.support.models import SupporterProfile
    from tests.browser import browser_page

    agency, people = demo("columbus")
    base = live_server.url
    from tandem.support import access as support_access

    help_page = reverse("support:intake", args=[support_access.help_pass_for(agency)])
    profile = SupporterProfile.objects.get(user=people["supporter"])
    with browser_page(viewport={"width": 390, "height": 844}) as page:  # a phone
        page.goto(f"{base}{help_page}")
        page.get_by_label(f"I am family of someone who works for {agency.name}").check()
        page.get_by_label("What should the supporter call you? (optional)").fill("Robin Quill")
        page.get_by_label("Phone").fill("+1 614 555 0142")
        page.locator("select[name=chosen_supporter]").select_option(str(profile.pk))
        page.get_by_role("button", name="Send my request").click()
        page.get_by_role("heading", name="Your status code").wait_for()

        _browser_sign_in(page, base, "columbus-supporter")
        page.goto(f"{base}{reverse('support:workspace')}")
        page.get_by_text("A family member of a department member asks").first.wait_for()
        assert page.get_by_text("Member asks directly").count() == 0
        page.get_by_role("button", name="Accept request").first.click()
        page.get_by_text("Where it comes from:").wait_for()
        assert page.get_by_text("Robin Quill").count() == 1
        page.get_by_role("button", name="Record first contact").click()
        page.get_by_role("link", name="Close the request").click()
        for select in page.locator("form select[required]").all():
            select.select_option(index=1)
        due = timezone.localdate() + timedelta(days=7)
        page.get_by_label("Remind me on").fill(due.isoformat())
        page.get_by_role("button", name="Close").last.click()
        page.get_by_role("heading", name="Follow-up reminders").wait_for()
        page.get_by_text("Follow up with Robin Quill (+1 614 555 0142)").wait_for()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_colorado_springs_a_breach_is_reported_and_acknowledged_on_screen(
    live_server: Any, demo: Any,
) -> None:
    from tandem.support.models import BreachReport
    from tests.browser import browser_page

    agency, _ = demo("demo")
    base = live_server.url
    with browser_page() as page:
        _browser_sign_in(page, base, "supporter")
        page.goto(f"{base}{reverse('support:workspace')}")
        page.get_by_text("for 6 months after your last contact").wait_for()  # GO 702 .46
        page.get_by_role("link", name="Report a breach").click()
        page.get_by_label("What happened").select_option("overheard")
        page.get_by_label("When").fill(timezone.localdate().isoformat())
        page.get_by_role("button", name="Report").click()
        page.get_by_text("Reported to the Wellness Unit and the psychologist.").wait_for()
        _sign_out(page)

        _browser_sign_in(page, base, "coordinator")
        page.get_by_role("link", name="Breach reports").first.click()
        page.get_by_text("1 report waiting for your acknowledgement").wait_for()
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_text("You acknowledged it").wait_for()
    assert BreachReport.objects.get(agency=agency).acknowledgements.count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_joplin_a_supervisor_finds_how_to_reach_the_coordinator(
    live_server: Any, demo: Any,
) -> None:
    from tests.browser import browser_page

    agency, people = demo("joplin")
    base = live_server.url
    coordinator = people["coordinator"]
    with browser_page(viewport={"width": 390, "height": 844}) as page:
        _browser_sign_in(page, base, "joplin-supervisor")
        page.get_by_role("link", name="Activate peer support").first.click()
        page.get_by_text(coordinator.get_full_name()).first.wait_for()
        assert page.get_by_role("link", name=coordinator.member.phone).count() >= 1
        assert page.get_by_text("On call now").count() == 0


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_winchester_the_evaluator_writes_feedback_and_the_prs_acknowledges_it(
    live_server: Any, demo: Any,
) -> None:
    from tandem.recovery.models import PersonnelEvaluation
    from tandem.reports.services import annual_year
    from tests.browser import browser_page

    agency, people = demo("winchester")
    base = live_server.url
    prs = people["prs"]
    year = annual_year(agency, "recovery")
    with browser_page() as page:
        _browser_sign_in(page, base, "winchester-crt-supervisor")
        page.goto(f"{base}{reverse('reports:index')}")
        page.get_by_role("link", name=f"Annual report {year}").first.click()
        page.wait_for_url(f"**start={year}-01**")
        page.goto(f"{base}{reverse('recovery:personnel_evaluation')}?year={year}")
        page.get_by_label(f"Feedback to {prs.get_full_name()}").fill(
            "Reliable follow-up calls all year. Next year: lead one outreach event.")
        page.get_by_role("button", name=f"Save the evaluation of {prs.get_full_name()}"
                         ).click()
        page.get_by_text(f"Waiting for {prs.get_full_name()} to acknowledge it").wait_for()
        _sign_out(page)

        _browser_sign_in(page, base, "winchester-prs")
        page.get_by_role("link", name="1 evaluation waiting for you to read and "
                                      "acknowledge").click()
        page.get_by_text("Reliable follow-up calls all year.").wait_for()
        page.get_by_label("Your response (optional)").fill("Thank you; agreed.")
        page.get_by_role("button", name=f"I have read my {year} evaluation").click()
        page.get_by_text("You acknowledged it on").wait_for()
        assert page.get_by_text("Criminal justice information: open").count() == 0
    assert PersonnelEvaluation.objects.get(person=prs).response == "Thank you; agreed."


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_west_virginia_the_peer_records_a_patrol_call_with_the_officers_check(
    live_server: Any, demo: Any,
) -> None:
    from tandem.agencies.models import Member
    from tandem.recovery.models import Client as RecoveryClient
    from tandem.recovery.models import PatrolCall
    from tests.browser import browser_page

    agency, people = demo("west-virginia")
    base = live_server.url
    client = RecoveryClient.objects.filter(agency=agency).first()
    officer = Member.objects.filter(agency=agency, category="sworn").exclude(
        pk=people["prs"].member_id).first()
    checklist = list(agency.policy_model().recovery.safety_checklist)
    with browser_page(viewport={"width": 390, "height": 844}) as page:
        _browser_sign_in(page, base, "wv-prs")
        page.goto(f"{base}{reverse('recovery:client_detail', args=[client.pk])}")
        page.get_by_role("link", name="Patrol call").click()
        page.get_by_label("Type of call").select_option("overdose")
        page.get_by_label("Officer on the call").select_option(str(officer.pk))
        for item in checklist:
            page.get_by_label(item, exact=True).check()
        page.get_by_label("Minutes").fill("20")
        page.get_by_label("Outcome").select_option("engaged")
        page.get_by_role("button", name="Record patrol call").click()
        page.get_by_text("The patrol call was recorded with the officer's safety check."
                         ).wait_for()
    call = PatrolCall.objects.get(contact__client=client)
    assert call.call_type == "overdose"
    assert all(call.safety_checklist[item] for item in checklist)
