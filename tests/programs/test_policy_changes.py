"""Programs: a policy change takes effect at once, for every preset."""

from __future__ import annotations

from datetime import date

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import RoleRequest, User
from tandem.agencies.models import Agency
from tandem.agencies.presets import (
    available_presets,
    load_preset,
    policy_to_toml,
    validate_policy,
)
from tandem.audit.models import AuditEvent
from tandem.readiness import services as readiness
from tandem.readiness.gates import is_peer_support_ready, peer_support_ready_users
from tandem.readiness.models import Gate
from tests.conftest import PASSWORD, make_agency, make_user, sign_in
from tests.helpers import code_for
from tests.programs.support import text
from tests.readiness.support import at, held_session

# ========================================================================================
# 3. A policy change takes effect at once — for every preset
# ========================================================================================


def _sign(user: User, kind: str, coordinator: User) -> None:
    from tandem.readiness.models import AgreementDocument

    document = AgreementDocument.objects.filter(agency_id=user.agency_id, kind=kind).first()
    if document is None:
        document = readiness.agreement_publish(
            acting_user=coordinator,
            kind=kind,
            title=f"{kind} agreement",
            body="I keep what I learn in confidence within the limits of the policy.",
        )
    device = TOTPDevice.objects.get(user=user, confirmed=True)
    readiness.agreement_sign(
        acting_user=user,
        document=document,
        typed_name=user.get_full_name(),
        password=PASSWORD,
        code=code_for(device),
    )


def _ready_supporter(agency: Agency, people: dict[str, User]) -> User:
    """A supporter who meets every rule of the agency's current preset."""
    supporter, coordinator = people["supporter"], people["coordinator"]
    when = at(2026, 3, 2, 9)
    readiness.attendance_mark(
        acting_user=coordinator,
        session=held_session(agency, "psp-initial", when),
        user=supporter,
        status="present",
    )
    readiness.check_record(
        acting_user=coordinator,
        user=supporter,
        checked_on=date(2026, 3, 2),
        result="cleared",
        renewal_due=date(2028, 3, 2),
    )
    if agency.policy_model().training.cjis_awareness_yearly:
        readiness.attendance_mark(
            acting_user=coordinator,
            session=held_session(agency, "cjis-awareness", when),
            user=supporter,
            status="present",
        )
    _sign(supporter, "confidentiality", coordinator)
    readiness.designation_grant(
        acting_user=people["chief"], user=supporter, program="psp", designated_on=date(2026, 3, 2)
    )
    return supporter


def _preset_people(preset: str) -> tuple[Agency, dict[str, User]]:
    agency = make_agency(f"p-{preset}", f"{preset} PD", preset=preset)
    policy = agency.policy_model()
    if set(policy.selection.steps) & set(readiness.APPLICATION_STEPS):
        # Direct designation is for people serving before Tandem; these presets select by
        # application, so their test supporter is designated through a lighter policy
        # first and the preset is restored below, through the real screen.
        lighter = policy.model_dump(mode="json")
        lighter["selection"]["steps"] = [
            s for s in lighter["selection"]["steps"] if s not in readiness.APPLICATION_STEPS
        ]
        Agency.objects.filter(pk=agency.pk).update(policy=lighter)
        agency.refresh_from_db()
    people = {
        r: make_user(agency, f"{preset[:4]}{r}", r)
        for r in ("supporter", "coordinator", "chief", "administrator")
    }
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
        reset = admin.post(
            reverse("agencies:policy"), {"action": "reset", "preset": preset, "confirm": "on"}
        )
        assert reset.status_code == 302
        assert is_peer_support_ready(supporter), Gate.objects.get(user=supporter).reasons
        # A stricter rule saved on the policy screen: a topic the supporter never had.
        stricter = load_preset(preset).model_dump(mode="json")
        stricter["training"]["initial_topics"].append("A topic added today")
        saved = admin.post(
            reverse("agencies:policy"),
            {"action": "save", "policy_text": policy_to_toml(validate_policy(stricter))},
        )
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
        admin.post(
            reverse("agencies:policy"), {"action": "reset", "preset": preset, "confirm": "on"}
        )
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
        readiness.check_record(
            acting_user=coordinator,
            user=officer,
            checked_on=date(2026, 3, 2),
            result="cleared",
            renewal_due=date(2028, 3, 2),
        )
        readiness.attendance_mark(
            acting_user=coordinator,
            session=held_session(agency, "cjis-awareness", at(2026, 3, 2, 9)),
            user=officer,
            status="present",
        )
        assert Gate.objects.get(user=officer).cji
        client = sign_in(Client(), make_user(agency, "admin1", "administrator"))
        client.post(reverse("accounts:user_role_grant", args=[officer.pk]), {"role": "prs"})
        assert Gate.objects.get(user=officer).cji  # only proposed: a second person decides
        chief = make_user(agency, "chief1", "chief")
        proposal = RoleRequest.objects.get(user=officer, role="prs")
        sign_in(Client(), chief).post(reverse("accounts:role_request_approve", args=[proposal.pk]))
        gate = Gate.objects.get(user=officer)
        assert not gate.cji
        assert any("Non-disclosure agreement" in r for r in gate.reasons)
        client.post(reverse("accounts:user_role_revoke", args=[officer.pk]), {"role": "prs"})
        assert Gate.objects.get(user=officer).cji
