"""Two people for program power; credential resets that reveal nothing (issue 10, 6–7).

Written from the side of an administrator who wants to read program content: giving a
program role to their own account, to a second account they made, or to a puppet "chief";
resetting a member's or a program holder's sign-in and signing in as them. None of it works
alone: a program role takes effect only when the chief or a current holder of the role
approves (never the proposer, never the grantee), and a reset leaves the account with no
program role and no peer-support state until the person themselves and a second person act.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts import services
from tandem.accounts.models import RoleRequest, RoleRequestStatus, User
from tandem.agencies.models import PROGRAM_ROLES, Agency, Role
from tandem.audit.models import AuditEvent
from tandem.notifications.models import Delivery
from tandem.support import services as support_services
from tandem.support import vocab
from tests.conftest import PASSWORD, make_agency, make_user, sign_in
from tests.helpers import code_for

TEMPORARY = "granite harbor window 42"
OWN_CHOICE = "meadow copper violin 3"
HOME = reverse("core:home")
CHANGE = reverse("accounts:password_change")
ENROL = reverse("accounts:mfa_enrol")
NON_PROGRAM = sorted(set(Role.values) - PROGRAM_ROLES)


# --- helpers -------------------------------------------------------------------------------


def text(response: Any) -> str:
    return response.content.decode()


def password_step(client: Client, username: str, password: str) -> Any:
    client.post(reverse("accounts:banner"))
    return client.post(reverse("accounts:login"), {"username": username, "password": password})


def proposals(user: User, role: str | None = None) -> Any:
    rows = RoleRequest.objects.filter(user=user)
    return rows.filter(role=role) if role else rows


def holds(user: User, role: str) -> bool:
    fresh = User.objects.get(pk=user.pk)
    return fresh.has_role(role)


def approve_url(role_request: RoleRequest) -> str:
    return reverse("accounts:role_request_approve", args=[role_request.pk])


def ask_for_support(user: User) -> Any:
    # What the help page seals for a member asking for themselves (never their account).
    requester = {
        "kind": "member",
        "member_id": user.member_id,
        "name": user.get_full_name(),
        "phone": "555-0199",
    }
    request, _ = support_services.request_create(
        acting_user=None,
        agency=user.agency,
        idempotency_key=f"k-{user.pk}",
        channel=vocab.Channel.SELF_REQUEST,
        urgency=vocab.Urgency.NOW,
        contact_method=vocab.ContactMethod.PHONE,
        requester=requester,
    )
    return request


def take_over_after_reset(username: str) -> Client:
    """What an administrator does with the credentials they set: sign in with the temporary
    password, enrol their own phone, choose a password. Returns the signed-in client."""
    client = Client()
    assert password_step(client, username, TEMPORARY)["Location"] == reverse("accounts:mfa")
    assert client.get(reverse("accounts:mfa"))["Location"] == ENROL
    client.get(ENROL)
    device = TOTPDevice.objects.get(user__username=username, confirmed=False)
    client.post(ENROL, {"code": code_for(device)})
    assert client.get(HOME)["Location"] == CHANGE
    changed = client.post(
        CHANGE, {"current_password": TEMPORARY, "password1": OWN_CHOICE, "password2": OWN_CHOICE}
    )
    assert changed.status_code == 302, text(changed)
    assert client.get(HOME).status_code == 200
    return client


@pytest.fixture
def puppet(agency: Agency) -> User:
    return make_user(agency, "puppet")


# --- An administrator alone gives no program role ------------------------------------------------


@pytest.mark.parametrize("role", sorted(PROGRAM_ROLES))
def test_an_administrator_alone_cannot_give_a_second_account_a_program_role(
    role: str, cast: dict[str, User], puppet: User, signed_in: Any
) -> None:
    admin = signed_in(cast["administrator"])
    response = admin.post(
        reverse("accounts:user_role_grant", args=[puppet.pk]), {"role": role}, follow=True
    )
    assert "takes effect when the chief or a current holder" in text(response)
    assert not holds(puppet, role)
    assert proposals(puppet, role).get().status == RoleRequestStatus.PENDING
    # The proposer cannot approve their own proposal either: it is not theirs to decide.
    assert admin.post(approve_url(proposals(puppet, role).get())).status_code == 404
    assert not holds(puppet, role)
    with pytest.raises(ValidationError, match="second person"):
        services.role_grant(acting_user=cast["administrator"], user=puppet, role=role)


def test_an_account_created_with_program_roles_gets_none_of_them_until_approved(
    cast: dict[str, User], signed_in: Any
) -> None:
    admin = signed_in(cast["administrator"])
    admin.post(
        reverse("accounts:user_create"),
        {
            "username": "second",
            "roles": sorted(PROGRAM_ROLES | {"member"}),
            "password1": TEMPORARY,
            "password2": TEMPORARY,
        },
    )
    second = User.objects.get(username="second")
    assert second.role_set() == frozenset({"member"})
    assert set(proposals(second).values_list("role", flat=True)) == PROGRAM_ROLES
    detail = text(admin.get(reverse("accounts:user_detail", args=[second.pk])))
    assert "Awaiting a second person" in detail
    assert second.agency.title_for("auditor") in detail
    # Signed in as that second account, the audit trail and the queue stay shut.
    TOTPDevice.objects.create(user=second, name="the administrator's phone", confirmed=True)
    client = sign_in(Client(), second)
    assert client.get(reverse("audit:event_list")).status_code == 404
    assert client.get(reverse("support:queue")).status_code == 404


def test_an_administrator_cannot_give_themselves_a_program_role(
    cast: dict[str, User], signed_in: Any
) -> None:
    me = cast["administrator"]
    admin = signed_in(me)
    for role in sorted(PROGRAM_ROLES):
        response = admin.post(
            reverse("accounts:user_role_grant", args=[me.pk]), {"role": role}, follow=True
        )
        assert "cannot give yourself a role" in text(response)
    assert holds(me, "administrator")
    assert not any(holds(me, role) for role in PROGRAM_ROLES)
    assert not proposals(me).exists()


def test_a_puppet_chief_proposed_by_an_administrator_cannot_approve_anything(
    cast: dict[str, User], puppet: User, signed_in: Any
) -> None:
    admin_user = cast["administrator"]
    services.role_grant_propose(acting_user=admin_user, user=puppet, role=Role.CHIEF)
    second = make_user(admin_user.agency, "second")
    auditor_wanted = services.role_grant_propose(
        acting_user=admin_user, user=second, role=Role.AUDITOR
    )
    assert not holds(puppet, Role.CHIEF)
    assert signed_in(puppet).post(approve_url(auditor_wanted)).status_code == 404
    with pytest.raises(PermissionDenied):
        services.role_grant_approve(acting_user=puppet, role_request=auditor_wanted)
    assert not holds(second, Role.AUDITOR)


def test_two_administrators_together_still_cannot_give_a_program_role(
    cast: dict[str, User], signed_in: Any
) -> None:
    first = cast["administrator"]
    second = make_user(first.agency, "second")
    # The administrator role itself opens no program content: one person grants it.
    services.role_grant(acting_user=first, user=second, role=Role.ADMINISTRATOR)
    assert holds(second, Role.ADMINISTRATOR)
    wanted = services.role_grant_propose(acting_user=second, user=first, role=Role.AUDITOR)
    assert signed_in(first).post(approve_url(wanted)).status_code == 404  # the grantee
    assert signed_in(second).post(approve_url(wanted)).status_code == 404  # the proposer
    assert not holds(first, Role.AUDITOR)


@pytest.mark.parametrize("role", NON_PROGRAM)
def test_roles_that_open_no_program_content_are_granted_by_one_administrator(
    role: str, cast: dict[str, User], puppet: User
) -> None:
    services.role_grant(acting_user=cast["administrator"], user=puppet, role=role)
    assert holds(puppet, role)
    assert not proposals(puppet).exists()


def test_removing_a_program_role_takes_one_person(cast: dict[str, User], signed_in: Any) -> None:
    coordinator = cast["coordinator"]
    signed_in(cast["administrator"]).post(
        reverse("accounts:user_role_revoke", args=[coordinator.pk]), {"role": "coordinator"}
    )
    assert not holds(coordinator, Role.COORDINATOR)


# --- Who approves ----------------------------------------------------------------------------


def test_only_the_chief_or_a_holder_of_the_role_approves(
    cast: dict[str, User], puppet: User, signed_in: Any
) -> None:
    wanted = services.role_grant_propose(
        acting_user=cast["administrator"], user=puppet, role=Role.AUDITOR
    )
    for role in sorted(set(cast) - {"chief", "auditor"}):
        assert signed_in(cast[role]).post(approve_url(wanted)).status_code == 404, role
    assert not holds(puppet, Role.AUDITOR)
    signed_in(cast["auditor"]).post(approve_url(wanted))
    assert holds(puppet, Role.AUDITOR)
    approved = AuditEvent.objects.get(action="role.approved")
    assert approved.actor_id == cast["auditor"].pk
    assert approved.detail["proposed_by"] == cast["administrator"].pk
    granted = AuditEvent.objects.get(action="role.granted", object_id=str(puppet.pk))
    assert granted.actor_id == cast["auditor"].pk


def test_the_chief_approves_any_program_role_but_not_one_for_themselves(
    cast: dict[str, User], agency: Agency, signed_in: Any
) -> None:
    chief = cast["chief"]
    for_chief = services.role_grant_propose(
        acting_user=cast["administrator"], user=chief, role=Role.COORDINATOR
    )
    assert signed_in(chief).post(approve_url(for_chief)).status_code == 404
    assert not holds(chief, Role.COORDINATOR)
    newcomer = make_user(agency, "newcomer")
    for_newcomer = services.role_grant_propose(
        acting_user=cast["administrator"], user=newcomer, role=Role.PSYCHOLOGIST
    )
    page = text(signed_in(chief).get(reverse("accounts:role_requests")))
    assert "newcomer" in page
    assert "Approve" in page
    signed_in(chief).post(approve_url(for_newcomer))
    assert holds(newcomer, Role.PSYCHOLOGIST)


def test_a_chief_who_is_also_administrator_cannot_approve_their_own_proposal(
    cast: dict[str, User], agency: Agency, puppet: User, signed_in: Any
) -> None:
    both = make_user(agency, "both", Role.CHIEF, Role.ADMINISTRATOR)
    wanted = services.role_grant_propose(acting_user=both, user=puppet, role=Role.SUPPORTER)
    assert signed_in(both).post(approve_url(wanted)).status_code == 404
    assert not holds(puppet, Role.SUPPORTER)
    signed_in(cast["chief"]).post(approve_url(wanted))
    assert holds(puppet, Role.SUPPORTER)


def test_a_declined_role_is_never_held_and_cannot_be_approved_afterwards(
    cast: dict[str, User], puppet: User, signed_in: Any
) -> None:
    wanted = services.role_grant_propose(
        acting_user=cast["administrator"], user=puppet, role=Role.COORDINATOR
    )
    chief = signed_in(cast["chief"])
    chief.post(reverse("accounts:role_request_decline", args=[wanted.pk]))
    wanted.refresh_from_db()
    assert wanted.status == RoleRequestStatus.DECLINED
    answer = signed_in(cast["coordinator"]).post(approve_url(wanted), follow=True)
    assert "already decided" in text(answer)
    assert not holds(puppet, Role.COORDINATOR)
    assert AuditEvent.objects.filter(action="role.declined").count() == 1


def test_another_agencys_chief_cannot_decide_our_role_requests(
    cast: dict[str, User], puppet: User, stranger: User, signed_in: Any
) -> None:
    wanted = services.role_grant_propose(
        acting_user=cast["administrator"], user=puppet, role=Role.AUDITOR
    )
    assert signed_in(stranger).post(approve_url(wanted)).status_code == 404
    with pytest.raises(PermissionDenied):
        services.role_grant_approve(acting_user=stranger, role_request=wanted)
    assert not holds(puppet, Role.AUDITOR)


# --- Holders are told, with nothing in the message ------------------------------------------------


def test_the_chief_and_the_holders_are_told_by_a_message_that_says_nothing(
    cast: dict[str, User], agency: Agency, puppet: User, mailoutbox: list[Any]
) -> None:
    second_auditor = make_user(agency, "otherauditor", Role.AUDITOR)
    services.role_grant_propose(acting_user=cast["administrator"], user=puppet, role=Role.AUDITOR)
    told = set(
        Delivery.objects.filter(kind="role.request").values_list(
            "recipient_user__username", flat=True
        )
    )
    assert told == {"chief", "auditor", "otherauditor"}
    assert second_auditor.username in told
    call_command("worker", "--once", verbosity=0)
    assert mailoutbox
    for message in mailoutbox:
        body = f"{message.subject} {message.body}".lower()
        assert "open tandem" in body
        for word in (
            "puppet",
            "auditor",
            agency.title_for("auditor").lower(),
            "role",
            "administrator",
        ):
            assert word not in body


# --- The operator, when nobody in the agency can decide ------------------------------------------


def test_an_operator_approves_from_the_console_only_when_nobody_in_the_agency_can(
    cast: dict[str, User], puppet: User, db: Any
) -> None:
    fresh = make_agency("charlie", "Charlie Police Department")
    admin = make_user(fresh, "charlieadmin", Role.ADMINISTRATOR)
    first_chief = make_user(fresh, "firstchief")
    wanted = services.role_grant_propose(acting_user=admin, user=first_chief, role=Role.CHIEF)
    listing = io.StringIO()
    call_command("roles", "list", "--agency", "charlie", stdout=listing)
    assert f"{wanted.pk}\tcharlie\tfirstchief\tchief" in listing.getvalue()
    call_command("roles", "approve", str(wanted.pk), "--operator", "ops-jane", stdout=io.StringIO())
    assert holds(first_chief, Role.CHIEF)
    event = AuditEvent.objects.get(action="role.approved", object_id=str(wanted.pk))
    assert event.actor_id is None
    assert event.detail["operator"] == "ops-jane"
    # Where the chief or a holder can decide, the console refuses.
    in_alpha = services.role_grant_propose(
        acting_user=cast["administrator"], user=puppet, role=Role.AUDITOR
    )
    with pytest.raises(CommandError, match="People in the agency can decide"):
        call_command("roles", "approve", str(in_alpha.pk), "--operator", "ops-jane")
    assert not holds(puppet, Role.AUDITOR)


# --- Credential reset ---------------------------------------------------------------------------


def test_a_reset_forces_a_new_password_and_authenticator_and_ends_every_session(
    cast: dict[str, User], signed_in: Any
) -> None:
    member = cast["member"]
    services.backup_codes_regenerate(acting_user=member)
    open_session = signed_in(member)
    assert open_session.get(HOME).status_code == 200
    signed_in(cast["administrator"]).post(
        reverse("accounts:user_password", args=[member.pk]),
        {"password1": TEMPORARY, "password2": TEMPORARY, "authenticator": "on"},
    )
    assert open_session.get(HOME).status_code == 302
    assert not TOTPDevice.objects.filter(user=member, confirmed=True).exists()
    assert not StaticDevice.objects.filter(user=member).exists()
    # The next sign-in: enrol a new app, then choose a password that is not the temporary one.
    client = Client()
    password_step(client, member.username, TEMPORARY)
    assert client.get(reverse("accounts:mfa"))["Location"] == ENROL
    client.get(ENROL)
    client.post(ENROL, {"code": code_for(TOTPDevice.objects.get(user=member))})
    for page in (HOME, reverse("accounts:account"), reverse("support:directory")):
        assert client.get(page)["Location"] == CHANGE, page
    same = client.post(
        CHANGE, {"current_password": TEMPORARY, "password1": TEMPORARY, "password2": TEMPORARY}
    )
    assert "not the temporary one" in text(same)
    client.post(
        CHANGE, {"current_password": TEMPORARY, "password1": OWN_CHOICE, "password2": OWN_CHOICE}
    )
    assert client.get(HOME).status_code == 200
    member.refresh_from_db()
    assert not member.password_reset_required


def test_a_password_only_reset_keeps_the_authenticator_but_still_forces_a_new_password(
    cast: dict[str, User], signed_in: Any
) -> None:
    member = cast["member"]
    signed_in(cast["administrator"]).post(
        reverse("accounts:user_password", args=[member.pk]),
        {"password1": TEMPORARY, "password2": TEMPORARY},
    )
    client = Client()
    password_step(client, member.username, TEMPORARY)
    device = TOTPDevice.objects.get(user=member, confirmed=True)
    client.post(reverse("accounts:mfa"), {"code": code_for(device)})
    assert client.get(HOME)["Location"] == CHANGE


def test_a_reset_tells_the_person_and_is_audited_without_the_password(
    cast: dict[str, User], signed_in: Any, mailoutbox: list[Any]
) -> None:
    member = cast["member"]
    signed_in(cast["administrator"]).post(reverse("accounts:user_reset_mfa", args=[member.pk]))
    told = Delivery.objects.filter(kind="account.signin_reset")
    assert set(told.values_list("recipient_user", flat=True)) == {member.pk}
    signed_in(cast["administrator"]).post(
        reverse("accounts:user_password", args=[member.pk]),
        {"password1": TEMPORARY, "password2": TEMPORARY},
    )
    call_command("worker", "--once", verbosity=0)
    bodies = [m.body for m in mailoutbox if m.to == [member.email]]
    assert len(bodies) == 2
    for body in bodies:
        assert "sign-in was reset" in body
        assert "contact your administrator" in body
        assert TEMPORARY not in body
    events = AuditEvent.objects.filter(action="account.credentials_reset", object_id=str(member.pk))
    assert events.count() == 2
    assert all(e.actor_id == cast["administrator"].pk for e in events)
    assert TEMPORARY not in json.dumps(list(AuditEvent.objects.values()), default=str)


def test_an_administrator_cannot_reset_their_own_sign_in(
    cast: dict[str, User], signed_in: Any
) -> None:
    me = cast["administrator"]
    with pytest.raises(ValidationError, match="another administrator"):
        services.user_credentials_reset(acting_user=me, user=me, password=TEMPORARY)
    assert (
        signed_in(me)
        .post(
            reverse("accounts:user_password", args=[me.pk]),
            {"password1": TEMPORARY, "password2": TEMPORARY},
        )
        .status_code
        == 400
    )
    me.refresh_from_db()
    assert not me.password_reset_required
    assert me.check_password(PASSWORD)


def test_signed_in_as_a_member_after_a_reset_the_administrator_sees_no_peer_support_state(
    cast: dict[str, User], signed_in: Any
) -> None:
    member = cast["member"]
    asked = ask_for_support(member)
    signed_in(cast["administrator"]).post(
        reverse("accounts:user_password", args=[member.pk]),
        {"password1": TEMPORARY, "password2": TEMPORARY, "authenticator": "on"},
    )
    client = take_over_after_reset(member.username)
    pages = [HOME, reverse("accounts:account"), reverse("support:directory")]
    for page in pages:
        body = text(client.get(page))
        assert asked.reference not in body, page
        assert "Withdraw and erase my details" not in body, page


@pytest.mark.parametrize("role", ["coordinator", "supporter", "auditor", "chief"])
def test_a_reset_suspends_program_roles_until_a_second_person_restores_them(
    role: str, cast: dict[str, User], agency: Agency, signed_in: Any
) -> None:
    holder = cast[role]
    make_user(agency, f"other{role}", role)  # someone else holds it and can decide
    signed_in(cast["administrator"]).post(
        reverse("accounts:user_password", args=[holder.pk]),
        {"password1": TEMPORARY, "password2": TEMPORARY, "authenticator": "on"},
    )
    assert not holds(holder, role)
    client = take_over_after_reset(holder.username)
    closed = {
        "coordinator": "support:queue",
        "auditor": "audit:event_list",
        "supporter": "support:workspace",
    }
    if role == "chief":
        # The taken-over chief account decides nothing any more.
        wanted = services.role_grant_propose(
            acting_user=cast["administrator"], user=cast["nobody"], role=Role.AUDITOR
        )
        assert client.post(approve_url(wanted)).status_code == 404
    else:
        assert client.get(reverse(closed[role])).status_code == 404
    restore = proposals(holder, role).get()
    assert restore.reason == "restore"
    assert AuditEvent.objects.filter(action="role.suspended", object_id=str(holder.pk)).count() == 1
    assert client.post(approve_url(restore)).status_code == 404  # not by the grantee
    signed_in(User.objects.get(username=f"other{role}")).post(approve_url(restore))
    assert holds(holder, role)


# --- Nor through the policy screen ------------------------------------------------------------


@pytest.mark.parametrize("setting", ["consult_role", "breach_notify"])
@pytest.mark.parametrize("role", ["administrator", "member", "dispatcher", "supervisor"])
def test_an_administrator_cannot_route_program_content_to_a_role_they_grant_alone(
    setting: str, role: str, cast: dict[str, User], agency: Agency
) -> None:
    from tandem.agencies.presets import PolicyError
    from tandem.agencies.services import agency_policy_update

    policy = dict(agency.policy)
    policy["confidentiality"] = {
        **policy["confidentiality"],
        setting: role if setting == "consult_role" else [role],
    }
    with pytest.raises(PolicyError, match="program role"):
        agency_policy_update(acting_user=cast["administrator"], agency=agency, policy_data=policy)
    agency.refresh_from_db()
    assert role not in json.dumps(agency.policy["confidentiality"][setting])


def test_a_reset_supporter_leaves_the_roster_at_once(cast: dict[str, User], signed_in: Any) -> None:
    from tandem.readiness.gates import gate_update, peer_support_ready_users

    supporter = cast["supporter"]
    gate_update(user=supporter, peer_support=True, cji=False)
    assert supporter in peer_support_ready_users(supporter.agency)
    signed_in(cast["administrator"]).post(
        reverse("accounts:user_password", args=[supporter.pk]),
        {"password1": TEMPORARY, "password2": TEMPORARY, "authenticator": "on"},
    )
    # The role is suspended until a second person restores it, and the gate follows now,
    # not at the nightly job: whoever holds the account is offered no request.
    assert supporter not in peer_support_ready_users(supporter.agency)
