"""Peer support, conflicts and dual roles (PS-9): acceptance tests from the user's side."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency, Member, MemberCategory
from tandem.audit.models import AuditEvent
from tandem.support import services
from tandem.support.models import (
    SupportRequest,
)
from tests.conftest import sign_in
from tests.peer_support.support import (
    ask,
    deliveries,
    help_data,
    help_url,
    offered_to,
    publish,
    status_page,
)

pytestmark = pytest.mark.django_db


# ========================================================================================
# 5. Conflicts and dual roles (PS-9)
# ========================================================================================


def test_supporters_in_the_chain_of_command_are_left_out_either_direction(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    member = cast["member"].member
    middle = Member.objects.create(
        agency=agency,
        employee_number="MID",
        first_name="Mid",
        last_name="Level",
        category=MemberCategory.SWORN,
    )
    member.supervisor = middle
    member.save()
    middle.supervisor = team["pia"].member  # Pia supervises the member's supervisor
    middle.save()
    request = ask(cast["member"], key="up")
    assert offered_to(request) == {"ben"}
    detail = (
        sign_in(Client(), team["ben"])
        .get(reverse("support:request_detail", args=[request.pk]))
        .content.decode()
    )
    assert "Pia" not in detail  # nobody is told who was left out, or why
    # the other direction: Ben's supervisor asks; Ben reports to them.
    boss = cast["chief"]
    team["ben"].member.supervisor = boss.member
    team["ben"].member.save()
    request2 = ask(boss, key="down")
    assert "ben" not in offered_to(request2)
    assert offered_to(request2) == {"pia"}


def test_a_chosen_supporter_in_the_chain_of_command_is_excluded_as_conflict_only(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    member = cast["member"].member
    member.supervisor = team["ben"].member
    member.save()
    client = Client()
    client.post(
        help_url(agency),
        help_data(
            "chosen-boss",
            employee_number=member.employee_number,
            chosen_supporter=services.profile_for(team["ben"]).pk,
        ),
    )
    request = SupportRequest.objects.get()
    assert offered_to(request) == {"pia"}
    status = status_page(client, "chosen-boss").split('id="limits-title"')[0]
    assert "The supporter you chose has a conflict and cannot take this request." in status
    assert "supervis" not in status.lower()
    assert not deliveries("psp.request.assigned", team["ben"])


def test_supporters_involved_in_the_same_incident_are_left_out(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    incident = services.incident_create(
        acting_user=cast["coordinator"],
        agency=agency,
        kind="shooting",
        occurred_on=timezone.localdate(),
        members_affected=3,
        involved_supporters=[services.profile_for(team["pia"])],
    )
    request = ask(cast["member"], incident=incident)
    assert offered_to(request) == {"ben"}


def test_the_requester_is_never_offered_their_own_request(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = ask(team["pia"])
    assert offered_to(request) == {"ben"}


def test_recusal_returns_the_request_to_routing_without_the_supporter(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = ask(cast["member"], status_digest=services.status_code_digest("r" * 32))
    client = sign_in(Client(), team["pia"])
    client.post(reverse("support:request_accept", args=[request.pk]))
    client.post(reverse("support:request_recuse", args=[request.pk]), {"reason": "dual_role"})
    request.refresh_from_db()
    assert request.status == "routing"
    assert request.accepted_by is None
    assert offered_to(request) == {"ben"}
    assert client.get(reverse("support:request_detail", args=[request.pk])).status_code == 404
    assert not AuditEvent.objects.filter(action="psp.request.recused").exists()  # batch only
    day = timezone.localdate().isoformat()
    services.request_withdraw(acting_user=None, request=request)
    publish()
    event = AuditEvent.objects.get(action="psp.request.recused")
    assert event.detail == {"reason": "dual_role", "on": day}
    assert event.actor_id == team["pia"].pk  # a supporter acted: kept
