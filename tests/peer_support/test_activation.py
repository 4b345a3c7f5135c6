"""Peer support, activation channels (PS-3, PS-4): acceptance tests from the user's side."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django import forms as django_forms
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.agencies.services import agency_policy_update
from tandem.core.templatetags.tandem_ui import tel_href
from tandem.support import forms as support_forms
from tandem.support import services, vocab
from tandem.support import throttle as services_throttle
from tandem.support.models import (
    IntakeLink,
    SupportRequest,
)
from tests.conftest import sign_in
from tests.peer_support.support import (
    T0,
    ask,
    help_data,
    help_url,
    offered_to,
    open_everything,
    status_page,
)

pytestmark = pytest.mark.django_db


CLOCK_START = T0  # where the shared ``clock`` fixture stops time


# ========================================================================================
# 3. Activation channels (PS-3, PS-4)
# ========================================================================================


def test_member_asks_for_support_and_sees_the_status_of_their_own_request(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), cast["member"])
    roster = client.get(reverse("support:directory")).content.decode()
    url = re.search(r'href="(/support/intake/[^"?]+/)">Ask for support', roster).group(1)
    form = client.get(url).context["form"]
    data = help_data(form.initial["code"], topic="work_stress")
    done = client.post(url, data).content.decode()
    code = form.initial["code"]
    assert code in done
    again = client.post(url, data).content.decode()  # double submit: the same request
    assert code in again
    assert SupportRequest.objects.count() == 1
    assert "Looking for a supporter" in status_page(client, code)
    # Nobody reaches it without the code: not the member's account, not the chief's.
    blank = client.get(reverse("support:help_status")).content.decode()
    assert "Looking for a supporter" not in blank
    other = status_page(sign_in(Client(), cast["chief"]), "a-code-nobody-was-given")
    assert "There is no open request with this code" in other


def test_someone_who_asked_is_told_what_to_do_if_nobody_calls(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    """The thank-you page and the status page of a request nobody has accepted yet give a
    next step, with the number the policy prints on the posters once it has one."""
    url = help_url(agency)
    done = Client().post(url, help_data("no-answer")).content.decode()
    assert "If nobody has reached you, call the department's non-emergency number" in done
    assert "tel:" not in done.split("If nobody has reached you", 1)[1].split("</p>", 1)[0]
    policy = agency.policy_model().model_dump(mode="json")
    policy["contacts"]["communications_phone"] = "(555) 555-0100"
    agency_policy_update(acting_user=cast["administrator"], agency=agency, policy_data=policy)
    status = status_page(Client(), "no-answer")
    assert f'href="{tel_href("(555) 555-0100")}"' in status
    assert "(555) 555-0100" in status
    item = SupportRequest.objects.get()
    helper = User.objects.get(username=sorted(offered_to(item))[0])
    services.request_accept(acting_user=helper, request=item)
    assert "If nobody has reached you" not in status_page(Client(), "no-answer")


def test_the_same_help_form_sent_twice_makes_one_request(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    url = help_url(agency)
    for _ in range(2):
        assert Client().post(url, help_data("twice")).status_code == 200
    assert SupportRequest.objects.count() == 1


def test_request_form_has_no_free_text_about_the_problem_and_no_administrative_type() -> None:
    for form in (support_forms.HelpForm, support_forms.HelpReferralForm):
        texts = {
            name
            for name, field in form.base_fields.items()
            if type(field).__name__ == "CharField" and name != "code"
        }
        # Only who to reach and how: never a field about the problem.
        assert texts <= {
            "name",
            "phone",
            "employee_number",
            "agency_name",
            "referrer_name",
            "referrer_phone",
        }, texts
        assert not [
            f for f in form.base_fields.values() if isinstance(f.widget, django_forms.Textarea)
        ]
    assert not any("admin" in v or "fitness" in v for v in vocab.Channel.values)
    assert {c.value for c in vocab.Urgency} == {"now", "today", "this_week"}
    assert {c.value for c in vocab.ContactMethod} == {"phone", "text", "email", "in_person"}


def test_bad_request_input_gets_clear_messages_and_writes_nothing(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    page = Client().post(help_url(agency), help_data("x1", contact_method="email", phone="call me"))
    text = page.content.decode()
    assert page.status_code == 400
    assert "Give an e-mail address" in text
    assert "at least 7 digits" in text
    assert SupportRequest.objects.count() == 0


def test_proactive_referral_keeps_the_referrer_for_the_coordinator_only(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    colleague = cast["member"].member
    client = sign_in(Client(), cast["supervisor"])
    done = client.post(
        help_url(agency, **{"for": "colleague"}),
        help_data(
            "ref-1",
            name="Member Tester",
            phone="+1 555 0188",
            urgency="today",
            employee_number=colleague.employee_number,
            referrer_name="Supervisor Tester",
        ),
    )
    assert b"not told who referred them" in done.content
    request = SupportRequest.objects.get()
    assert request.channel == "proactive_referral"
    assert request.referrer_data == {"name": "Supervisor Tester", "phone": ""}
    assert not request.status_digest  # the referrer gets no status code
    queue = sign_in(Client(), cast["coordinator"]).get(reverse("support:queue")).content
    assert b"Supervisor Tester" in queue
    services.request_accept(acting_user=team["pia"], request=request)
    detail = (
        sign_in(Client(), team["pia"])
        .get(reverse("support:request_detail", args=[request.pk]))
        .content.decode()
    )
    assert "Member Tester" in detail
    assert "Supervisor Tester" not in detail
    assert "discreet" in detail


def test_dispatcher_and_coordinator_request_support_for_someone(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    open_everything(agency)
    dispatcher = sign_in(Client(), cast["dispatcher"])
    form = dispatcher.get(reverse("support:on_behalf_new")).context["form"]
    assert [c for c, _ in form.fields["channel"].choices] == ["dispatch"]
    response = dispatcher.post(
        reverse("support:on_behalf_new"),
        {
            "idempotency_key": "d-1",
            "name": "Caller Name",
            "phone": "+1 555 0166",
            "contact_method": "phone",
            "urgency": "now",
            "best_time": "any",
            "channel": "dispatch",
        },
    )
    assert response.status_code == 200
    assert "Receipt" in response.content.decode()
    coordinator = sign_in(Client(), cast["coordinator"])
    choices = (
        coordinator.get(reverse("support:on_behalf_new")).context["form"].fields["channel"].choices
    )
    assert "supervisor_via_coordinator" in [c for c, _ in choices]
    coordinator.post(
        reverse("support:on_behalf_new"),
        {
            "idempotency_key": "c-1",
            "name": "Someone",
            "phone": "+1 555 0167",
            "contact_method": "phone",
            "urgency": "today",
            "best_time": "any",
            "channel": "supervisor_via_coordinator",
        },
    )
    assert set(SupportRequest.objects.values_list("channel", flat=True)) == {
        "dispatch",
        "supervisor_via_coordinator",
    }


def test_a_channel_the_policy_does_not_take_is_refused(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    with pytest.raises(ValidationError, match="does not take"):
        ask(cast["member"], channel=vocab.Channel.DISPATCH)
    page = sign_in(Client(), cast["dispatcher"]).get(reverse("support:on_behalf_new"))
    assert "takes no requests through dispatch" in page.content.decode()


def _intake_token(agency: Agency, cast: dict[str, User]) -> str:
    return services.intake_link_rotate(acting_user=cast["coordinator"], agency=agency)


def _intake_data(**values: Any) -> dict[str, str]:
    return {
        "code": values.pop("key", "i-1").ljust(32, "x"),
        "requester_kind": "family",
        "name": "Family Person",
        "phone": "+1 555 0155",
        "contact_method": "phone",
        "urgency": "today",
        "best_time": "evening",
        **values,
    }


def test_family_member_asks_through_the_secret_intake_link_without_an_account(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    open_everything(agency)
    token = _intake_token(agency, cast)
    url = reverse("support:intake", args=[token])
    page = Client().get(url)
    assert page.status_code == 200
    assert "I am family of someone who works for Alpha" in page.content.decode()
    done = Client().post(url, _intake_data())
    assert done.status_code == 200
    assert b"Thank you" in done.content
    Client().post(url, _intake_data())  # the same form sent twice
    request = SupportRequest.objects.get()
    assert request.requester_data["kind"] == "family"
    assert offered_to(request) == {"pia"}
    other_agency = Client().post(url, _intake_data(key="i-2", requester_kind="other_agency"))
    assert other_agency.status_code == 400
    assert b"which agency" in other_agency.content


def test_intake_respects_the_policy_eligibility(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    token = _intake_token(agency, cast)  # Colorado Springs: members only
    url = reverse("support:intake", args=[token])
    page = Client().get(url).content.decode()
    assert "I work for Alpha Police Department" in page
    assert "I am family of" not in page
    assert "another agency" not in page
    refused = Client().post(url, _intake_data())
    assert refused.status_code == 400
    assert SupportRequest.objects.count() == 0


def test_expired_or_rotated_intake_links_stop_working(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    open_everything(agency)
    old = _intake_token(agency, cast)
    new = _intake_token(agency, cast)  # the coordinator rotates the link
    assert Client().get(reverse("support:intake", args=[old])).status_code == 410
    assert Client().get(reverse("support:intake", args=["made-up"])).status_code == 404
    IntakeLink.objects.filter(revoked_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(minutes=1)
    )
    expired = Client().post(reverse("support:intake", args=[new]), _intake_data())
    assert expired.status_code == 410
    assert b"no longer works" in expired.content
    assert SupportRequest.objects.count() == 0


def test_a_flood_of_intake_posts_is_stopped_per_client_and_per_link(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    open_everything(agency)
    url = reverse("support:intake", args=[_intake_token(agency, cast)])
    per_client = services_throttle.PER_CLIENT_PER_HOUR

    def send(ip: str, n: int) -> int:
        key = f"f-{ip.replace('.', '-')}-{n}"
        return Client(REMOTE_ADDR=ip).post(url, _intake_data(key=key)).status_code

    codes = [send("203.0.113.9", n) for n in range(per_client + 1)]
    assert codes == [200] * per_client + [429]
    assert send("203.0.113.10", 0) == 200  # another client still gets through
    for i in range(services_throttle.PER_AGENCY_PER_HOUR):
        send(f"198.51.100.{i % 250}", i)
    assert send("192.0.2.1", 0) == 429  # until the agency's own hourly limit is reached
    clock.shift(timedelta(hours=1))
    assert send("203.0.113.9", 99) == 200
