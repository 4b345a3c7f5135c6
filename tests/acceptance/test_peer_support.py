"""Acceptance tests of peer support (issue 3), from the users' side.

Sections follow the issue's numbered points. Every test runs on SQLite and PostgreSQL; the
raw-database proof reads the bytes of a SQLite file (with its -wal) or a pg_dump.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django import forms as django_forms
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection, models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency, Member, MemberCategory, Unit
from tandem.audit.models import AuditEvent
from tandem.core.models import DataKey
from tandem.notifications.models import Delivery, PeerSupportDelivery
from tandem.readiness.gates import gate_update
from tandem.support import access as support_access
from tandem.support import forms as support_forms
from tandem.support import services, vocab
from tandem.support import throttle as services_throttle
from tandem.support.models import (
    Consultation,
    DutyToReportNotice,
    FollowUpReminder,
    GroupSession,
    IntakeLink,
    MutualAidRequest,
    RequestOffer,
    Rotation,
    SupporterProfile,
    SupportRequest,
    UsageRecord,
)
from tandem.support.oncall import Schedule
from tests.authz import check_no_session, check_row, make_world
from tests.authz_support import ROWS, build_world, requester_of
from tests.browser import browser_page
from tests.conftest import PASSWORD, make_user, sign_in

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC


# --- helpers -------------------------------------------------------------------------------


def set_policy(agency: Agency, section: str, **values: Any) -> None:
    policy = dict(agency.policy)
    policy[section] = {**policy[section], **values}
    agency.policy = policy
    agency.save(update_fields=["policy"])


def open_everything(agency: Agency) -> None:
    """A policy taking every channel and every group (the seeds differ; tests need all)."""
    set_policy(agency, "eligibility", families=True, retirees=True, other_agencies=True,
               channels=list(vocab.Channel.values))


def make_supporter(agency: Agency, username: str, *, phone: str = "", sworn: bool = True,
                   ready: bool = True, **profile: Any) -> User:
    user = make_user(agency, username, "supporter", sworn=sworn)
    user.phone = phone or f"+1 555 01{abs(hash(username)) % 100:02d}"
    user.save(update_fields=["phone"])
    gate_update(user=user, peer_support=ready, cji=False)
    item = services.profile_for(user)
    for name, value in profile.items():
        setattr(item, name, value)
    item.save()
    return user


def rotation(agency: Agency, coordinator: User, layer: str, people: list[User], *,
             starts_on: date = date(2026, 3, 1), hours: int = 24,
             handoff: time = time(7, 0)) -> Any:
    return services.rotation_save(
        acting_user=coordinator, agency=agency, rotation=None,
        participants=[services.profile_for(u) for u in people], name=f"{layer} rota",
        layer=layer, starts_on=starts_on, handoff_time=handoff, shift_hours=hours)


def ask(user: User, key: str = "", **values: Any) -> SupportRequest:
    values.setdefault("urgency", vocab.Urgency.NOW)
    values.setdefault("contact_method", vocab.ContactMethod.PHONE)
    requester = {**requester_of(user), "phone": values.pop("phone", "555-0199")}
    request, _ = services.request_create(
        acting_user=None, agency=user.agency, idempotency_key=key or f"k-{user.pk}-{key}",
        channel=values.pop("channel", vocab.Channel.SELF_REQUEST), requester=requester,
        **values)
    return request


def help_url(agency: Agency, **query: str) -> str:
    """The help page as "Get support" inside Tandem links to it (a help pass)."""
    url = reverse("support:intake", args=[support_access.help_pass_for(agency)])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def help_data(code: str = "", **values: Any) -> dict[str, Any]:
    """A filled help-page form: a member asking for themselves, to be phoned now."""
    return {"code": (code or "c").ljust(32, "x"), "requester_kind": "member",
            "contact_method": "phone", "phone": "+1 555 0177", "urgency": "now",
            "best_time": "any", **values}


def status_page(client: Client, code: str, **extra: str) -> str:
    return client.post(reverse("support:help_status"),
                       {"code": code.ljust(32, "x"), **extra}).content.decode()


def offered_to(request: SupportRequest) -> set[str]:
    return set(RequestOffer.objects.filter(request=request, active=True)
               .values_list("user__username", flat=True))


def publish() -> int:
    """Run the daily batch as it runs the next day: finished requests become usage records
    and lifecycle audit events, written in a shuffled order, and their rows are deleted."""
    return services.publish_finished_requests(timezone.now() + timedelta(days=1))


def deliveries(kind: str, user: User | None = None) -> list[PeerSupportDelivery]:
    """Queued peer-support messages of ``kind`` (to ``user``: read from the sealed
    recipient, as only the sender can)."""
    rows = PeerSupportDelivery.objects.select_related("data_key").filter(kind=kind)
    return [d for d in rows if user is None or d.recipient_data.get("user_id") == user.pk]


@pytest.fixture
def team(agency: Agency, cast: dict[str, User]) -> dict[str, User]:
    """Supporters in rotation: Pia (primary) and Ben (backup) on call around the clock."""
    for role in ("coordinator", "psychologist"):
        cast[role].phone = f"+1 555 02{len(role):02d}"
        cast[role].save(update_fields=["phone"])
    pia = make_supporter(agency, "pia", phone="+1 555 0111",
                         specialties=["post_shooting"], languages=["es"], gender="female")
    ben = make_supporter(agency, "ben", phone="+1 555 0122", sworn=False, gender="male")
    with time_machine.travel(T0 - timedelta(days=2), tick=False):
        rotation(agency, cast["coordinator"], vocab.Layer.PRIMARY, [pia], hours=24 * 7)
        rotation(agency, cast["coordinator"], vocab.Layer.BACKUP, [ben], hours=24 * 7)
    return {"pia": pia, "ben": ben}


CLOCK_START = T0  # where the shared ``clock`` fixture stops time


# ========================================================================================
# 1. Roster and directory (PS-1)
# ========================================================================================


def test_directory_lists_only_designated_compliant_supporters_for_every_member(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    make_supporter(agency, "lapsed", ready=False, phone="+1 555 0999")
    page = sign_in(Client(), cast["nobody"]).get(reverse("support:directory"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Pia Tester" in text
    assert "+1 555 0111" in text
    assert "Lapsed" not in text
    assert "0999" not in text
    gate_update(user=team["pia"], peer_support=False, cji=False)
    assert "Pia Tester" not in sign_in(Client(), cast["member"]).get(
        reverse("support:directory")).content.decode()


def test_directory_filters_by_specialty_language_and_affiliation(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), cast["member"])
    url = reverse("support:directory")
    assert "Ben Tester" not in client.get(url, {"specialty": "post_shooting"}).content.decode()
    assert "Pia Tester" in client.get(url, {"specialty": "post_shooting"}).content.decode()
    assert "Pia Tester" in client.get(url, {"language": "es"}).content.decode()
    civilians = client.get(url, {"affiliation": "civilian"}).content.decode()
    assert "Ben Tester" in civilians
    assert "Pia Tester" not in civilians


def test_roster_poster_per_unit_prints_and_downloads_as_pdf(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    district = Unit.objects.create(agency=agency, code="D1", name="District One")
    profile = services.profile_for(team["pia"])
    profile.unit = district
    profile.save()
    client = sign_in(Client(), cast["member"])
    page = client.get(reverse("support:poster"), {"unit": district.pk}).content.decode()
    assert "posted in District One" in page
    assert "Pia Tester" in page
    assert "Ben Tester" in page  # 18.107 B.1.a: the whole team is posted in every unit
    pdf = client.get(reverse("support:poster_pdf"), {"unit": district.pk})
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get(reverse("support:poster"), {"unit": 999999}).status_code == 404


def test_supporter_edits_their_roster_entry_with_optimistic_locking(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), team["pia"])
    profile = services.profile_for(team["pia"])
    data = {"phone": "+1 555 0333", "affiliation": "sworn", "gender": "female",
            "specialties": ["grief"], "languages": ["en"], "introduction": "Ten years on patrol.",
            "version": profile.version}
    assert client.post(reverse("support:profile_edit"), data).status_code == 302
    stale = client.post(reverse("support:profile_edit"), {**data, "phone": "+1 555 0444"})
    assert stale.status_code == 400
    assert "changed in another window" in stale.content.decode()
    profile.refresh_from_db()
    assert profile.phone == "+1 555 0333"
    assert profile.specialties == ["grief"]


def test_supporter_adds_an_optional_photo_checked_by_its_bytes(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.authz_support import PNG

    client = sign_in(Client(), team["pia"])
    profile = services.profile_for(team["pia"])
    base = {"phone": "+1 555 0111", "affiliation": "sworn", "gender": "female",
            "version": profile.version}
    fake = client.post(reverse("support:profile_edit"), {
        **base, "photo": SimpleUploadedFile("me.png", b"<script>", "image/png")})
    assert fake.status_code == 400
    assert b"must be a PNG or JPEG" in fake.content
    client.post(reverse("support:profile_edit"),
                {**base, "photo": SimpleUploadedFile("me.png", PNG, "image/png")})
    profile.refresh_from_db()
    url = reverse("support:photo", args=[profile.pk])
    shown = sign_in(Client(), cast["member"]).get(url)
    assert shown.status_code == 200
    assert shown["Content-Type"] == "image/png"
    assert url in sign_in(Client(), cast["member"]).get(
        reverse("support:directory")).content.decode()
    gate_update(user=team["pia"], peer_support=False, cji=False)
    assert sign_in(Client(), cast["member"]).get(url).status_code == 404
    client.post(reverse("support:profile_edit"),
                {**base, "version": profile.version, "remove_photo": "on"})
    profile.refresh_from_db()
    assert not profile.photo


# ========================================================================================
# 2. 24-hour availability (PS-2)
# ========================================================================================


def test_rotation_hands_off_at_the_set_time_in_order(
    agency: Agency, cast: dict[str, User]
) -> None:
    a, b, c = (make_supporter(agency, n) for n in ("amy", "bob", "cyd"))
    rotation(agency, cast["coordinator"], vocab.Layer.PRIMARY, [a, b, c], hours=12,
             handoff=time(7, 0))
    schedule = Schedule(agency)
    tz = schedule.tz
    first = datetime(2026, 3, 1, 7, 0, tzinfo=tz)
    who = [schedule.covering("primary", first + timedelta(hours=h)).user.username
           for h in (0, 11, 12, 24, 36)]
    assert who == ["amy", "amy", "bob", "cyd", "amy"]
    assert schedule.covering("primary", first - timedelta(minutes=1)) is None


def test_override_wins_and_an_unavailable_supporter_is_skipped(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    cover = make_supporter(agency, "cover")
    services.override_create(
        acting_user=cast["coordinator"], agency=agency, layer="primary",
        supporter=services.profile_for(cover), starts_at=T0 - timedelta(hours=1),
        ends_at=T0 + timedelta(hours=2), reason="swap")
    assert Schedule(agency).covering("primary", T0).user == cover
    services.availability_set(acting_user=cover, profile=services.profile_for(cover),
                              until=T0 + timedelta(hours=1))
    assert Schedule(agency).covering("primary", T0) is None
    assert Schedule(agency).covering("primary", T0 + timedelta(hours=1)).user == cover


def test_dispatcher_sees_who_is_on_call_now_with_phone_numbers(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    page = sign_in(Client(), cast["dispatcher"]).get(reverse("support:on_call_now"))
    text = page.content.decode()
    assert page.status_code == 200
    assert text.index("Pia Tester") < text.index("Ben Tester") < text.index("Psychologist")
    assert "+1 555 0111" in text
    assert "+1 555 0122" in text
    assert cast["psychologist"].phone in text  # the psychologist is the last line


def test_on_call_now_and_routing_cost_the_same_queries_however_large_the_roster(
    agency: Agency, cast: dict[str, User], clock: Any
) -> None:
    from django.test.utils import CaptureQueriesContext

    def measure(size: int) -> tuple[int, int]:
        people = [make_supporter(agency, f"s{size}x{i}") for i in range(size)]
        for item in Rotation.objects.filter(agency=agency):
            item.delete()
        rotation(agency, cast["coordinator"], vocab.Layer.PRIMARY, people, hours=1)
        rotation(agency, cast["coordinator"], vocab.Layer.BACKUP, people[::-1], hours=1)
        client = sign_in(Client(), cast["dispatcher"])
        with CaptureQueriesContext(connection) as page:
            assert client.get(reverse("support:on_call_now")).status_code == 200
        asker = make_user(agency, f"asker{size}", "member")
        with CaptureQueriesContext(connection) as routing:
            ask(asker)
        return len(page), len(routing)

    assert measure(3) == measure(40)


def test_coverage_gaps_in_the_next_14_days_are_shown_and_warned_to_the_coordinator(
    agency: Agency, cast: dict[str, User], clock: Any
) -> None:
    amy = make_supporter(agency, "amy")
    rotation(agency, cast["coordinator"], vocab.Layer.PRIMARY, [amy], hours=24 * 7)
    services.availability_set(acting_user=amy, profile=services.profile_for(amy),
                              until=T0 + timedelta(days=2))
    gaps = Schedule(agency, full=True).gaps(T0)
    assert Schedule(agency).gaps(T0) == gaps  # both ways of loading agree
    primary = [g for g in gaps if g.layer == "primary"]
    assert primary
    assert primary[0].start == T0
    assert primary[0].end >= T0 + timedelta(days=2)
    assert any(g.layer == "backup" for g in gaps)  # no backup rotation at all
    page = sign_in(Client(), cast["coordinator"]).get(reverse("support:coverage"))
    assert "Backup" in page.content.decode()
    assert services.coverage_warn_daily(T0) == 1
    assert deliveries("psp.coverage_gap", cast["coordinator"])


def test_coordinator_builds_rotations_and_covers_through_the_schedule_pages(
    agency: Agency, cast: dict[str, User], clock: Any
) -> None:
    amy, bob = make_supporter(agency, "amy"), make_supporter(agency, "bob")
    client = sign_in(Client(), cast["coordinator"])
    data = {"name": "Nights", "layer": "primary", "starts_on": "2026-03-01",
            "handoff_time": "07:00", "shift_hours": 24,
            "participant_1": services.profile_for(bob).pk,
            "participant_2": services.profile_for(amy).pk}
    assert client.post(reverse("support:rotation_new"), data).status_code == 302
    rota = Rotation.objects.get(agency=agency)
    assert [m.supporter.user.username for m in rota.members.all()] == ["bob", "amy"]
    twice = client.post(reverse("support:rotation_new"),
                        {**data, "participant_2": services.profile_for(bob).pk})
    assert twice.status_code == 400
    assert b"only once" in twice.content
    stale = client.post(reverse("support:rotation_edit", args=[rota.pk]),
                        {**data, "version": 99})
    assert b"changed this rotation meanwhile" in stale.content
    bad = client.post(reverse("support:override_new"), {
        "layer": "primary", "supporter": services.profile_for(amy).pk, "reason": "swap",
        "starts_at": "2026-03-02T10:00", "ends_at": "2026-03-02T09:00"})
    assert bad.status_code == 400
    assert b"must end after it starts" in bad.content
    client.post(reverse("support:override_new"), {
        "layer": "primary", "supporter": services.profile_for(amy).pk, "reason": "swap",
        "starts_at": "2026-03-02T06:00", "ends_at": "2026-03-02T18:00"})
    page = client.get(reverse("support:schedule")).content.decode()
    assert "Nights" in page
    assert "Swap" in page
    assert Schedule(agency).covering("primary", T0).user == amy


def test_coordinator_makes_an_intake_link_shown_once(
    agency: Agency, cast: dict[str, User]
) -> None:
    client = sign_in(Client(), cast["coordinator"])
    assert b"no intake link yet" in client.get(reverse("support:intake_admin")).content
    made = client.post(reverse("support:intake_admin")).content.decode()
    url = re.search(r"(/support/intake/[^<\s]+/)", made).group(1)
    assert Client().get(url).status_code == 200
    assert url not in client.get(reverse("support:intake_admin")).content.decode()
    assert IntakeLink.objects.get().digest not in made


def test_demo_data_is_idempotent_and_puts_someone_on_call(
    agency: Agency, cast: dict[str, User]
) -> None:
    from tandem.support.demo import populate

    gate_update(user=cast["supporter"], peer_support=True, cji=False)
    populate(agency=agency, users=cast)
    populate(agency=agency, users=cast)
    assert Rotation.objects.filter(agency=agency).count() == 2
    assert Schedule(agency).covering("primary", timezone.now()).user == cast["supporter"]
    assert UsageRecord.objects.filter(agency=agency).count() == 430
    assert SupporterProfile.objects.filter(user=cast["supporter"]).count() == 1


def test_each_supporter_has_a_revocable_secret_calendar_feed(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), team["pia"])
    client.post(reverse("support:feed_manage"), {"action": "issue"})
    url = client.get(reverse("support:workspace")).context["feed_url"]
    path = url.split("testserver", 1)[1]
    feed = Client().get(path)
    assert feed.status_code == 200
    assert feed["Content-Type"].startswith("text/calendar")
    assert b"On call" in feed.content
    assert b"primary" in feed.content
    client.post(reverse("support:feed_manage"), {"action": "revoke"})
    assert Client().get(path).status_code == 404


def test_availability_switch_keeps_a_supporter_out_of_routing(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    client = sign_in(Client(), team["pia"])
    client.post(reverse("support:availability"),
                {"action": "unavailable", "until": "2026-03-05T08:00"})
    assert services.profile_for(team["pia"]).unavailable_until is not None
    request = ask(cast["member"])
    assert offered_to(request) == {"ben"}
    past = client.post(reverse("support:availability"),
                       {"action": "unavailable", "until": "2020-01-01T08:00"}, follow=True)
    assert "in the future" in past.content.decode()


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


def test_the_same_help_form_sent_twice_makes_one_request(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    url = help_url(agency)
    for _ in range(2):
        assert Client().post(url, help_data("twice")).status_code == 200
    assert SupportRequest.objects.count() == 1


def test_request_form_has_no_free_text_about_the_problem_and_no_administrative_type() -> None:
    for form in (support_forms.HelpForm, support_forms.HelpReferralForm):
        texts = {name for name, field in form.base_fields.items()
                 if type(field).__name__ == "CharField" and name != "code"}
        # Only who to reach and how: never a field about the problem.
        assert texts <= {"name", "phone", "employee_number", "agency_name", "referrer_name",
                         "referrer_phone"}, texts
        assert not [f for f in form.base_fields.values()
                    if isinstance(f.widget, django_forms.Textarea)]
    assert not any("admin" in v or "fitness" in v for v in vocab.Channel.values)
    assert {c.value for c in vocab.Urgency} == {"now", "today", "this_week"}
    assert {c.value for c in vocab.ContactMethod} == {"phone", "text", "email", "in_person"}


def test_bad_request_input_gets_clear_messages_and_writes_nothing(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    page = Client().post(help_url(agency), help_data("x1", contact_method="email",
                                                     phone="call me"))
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
    done = client.post(help_url(agency, **{"for": "colleague"}), help_data(
        "ref-1", name="Member Tester", phone="+1 555 0188", urgency="today",
        employee_number=colleague.employee_number, referrer_name="Supervisor Tester"))
    assert b"not told who referred them" in done.content
    request = SupportRequest.objects.get()
    assert request.channel == "proactive_referral"
    assert request.referrer_data == {"name": "Supervisor Tester", "phone": ""}
    assert not request.status_digest  # the referrer gets no status code
    queue = sign_in(Client(), cast["coordinator"]).get(reverse("support:queue")).content
    assert b"Supervisor Tester" in queue
    services.request_accept(acting_user=team["pia"], request=request)
    detail = sign_in(Client(), team["pia"]).get(
        reverse("support:request_detail", args=[request.pk])).content.decode()
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
    response = dispatcher.post(reverse("support:on_behalf_new"), {
        "idempotency_key": "d-1", "name": "Caller Name", "phone": "+1 555 0166",
        "contact_method": "phone", "urgency": "now", "best_time": "any",
        "channel": "dispatch"})
    assert response.status_code == 200
    assert "Receipt" in response.content.decode()
    coordinator = sign_in(Client(), cast["coordinator"])
    choices = coordinator.get(reverse("support:on_behalf_new")).context["form"].fields[
        "channel"].choices
    assert "supervisor_via_coordinator" in [c for c, _ in choices]
    coordinator.post(reverse("support:on_behalf_new"), {
        "idempotency_key": "c-1", "name": "Someone", "phone": "+1 555 0167",
        "contact_method": "phone", "urgency": "today", "best_time": "any",
        "channel": "supervisor_via_coordinator"})
    assert set(SupportRequest.objects.values_list("channel", flat=True)) == {
        "dispatch", "supervisor_via_coordinator"}


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
    return {"code": values.pop("key", "i-1").ljust(32, "x"), "requester_kind": "family",
            "name": "Family Person", "phone": "+1 555 0155", "contact_method": "phone",
            "urgency": "today", "best_time": "evening", **values}


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
        expires_at=timezone.now() - timedelta(minutes=1))
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


# ========================================================================================
# 4. Routing and escalation
# ========================================================================================


def test_chosen_supporter_is_asked_first(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = ask(cast["member"], chosen_supporter=services.profile_for(team["ben"]))
    assert offered_to(request) == {"ben"}
    assert deliveries("psp.request.assigned", team["ben"])


def test_preferences_offer_a_matching_supporter_first(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = ask(cast["member"], preferences={"language": "es"})
    assert offered_to(request) == {"pia"}
    detail = sign_in(Client(), team["pia"]).get(
        reverse("support:request_detail", args=[request.pk])).content.decode()
    assert "Spanish" in detail


def test_unacknowledged_request_escalates_through_the_chain_on_a_frozen_clock(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    request = ask(cast["member"])
    assert offered_to(request) == {"pia"}
    assert deliveries("psp.request.assigned", team["pia"])
    clock.shift(timedelta(minutes=14))
    assert services.escalate_due() == 0
    clock.shift(timedelta(minutes=1))
    services.escalate_due()
    assert offered_to(request) == {"ben"}
    clock.shift(timedelta(minutes=15))
    services.escalate_due()
    assert offered_to(request) == {"coordinator"}
    clock.shift(timedelta(minutes=30))
    services.escalate_due()
    assert offered_to(request) == {"psychologist"}
    clock.shift(timedelta(minutes=30))
    services.escalate_due()  # end of the chain: coordinator and psychologist again
    assert offered_to(request) == {"coordinator", "psychologist"}
    assert deliveries("psp.escalation", cast["psychologist"])
    clock.shift(timedelta(minutes=5))
    services.request_accept(acting_user=cast["psychologist"], request=request)
    request.refresh_from_db()
    assert request.status == "accepted"
    assert (request.accepted_at - request.created_at) == timedelta(minutes=95)


def test_two_supporters_accepting_at_once_get_one_winner_and_a_clear_message(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    request = ask(cast["member"])
    clock.shift(timedelta(minutes=20))
    services.escalate_due()
    request.refresh_from_db()  # now at the backup step: Pia is offered it there too
    RequestOffer.objects.create(request=request, user=team["pia"], step=request.step)
    pia, ben = sign_in(Client(), team["pia"]), sign_in(Client(), team["ben"])
    assert ben.post(reverse("support:request_accept", args=[request.pk])).status_code == 302
    late = pia.post(reverse("support:request_accept", args=[request.pk]), follow=True)
    assert late.status_code == 200  # the offer was withdrawn at once: a message, not a 404
    assert "Another supporter accepted this request a moment ago" in late.content.decode()
    with pytest.raises(ValidationError, match="Another supporter accepted"):
        services.request_accept(acting_user=team["pia"], request=request)
    request.refresh_from_db()
    assert request.accepted_by.user == team["ben"]


@pytest.mark.django_db(transaction=True)
def test_simultaneous_accepts_in_two_connections_have_exactly_one_winner(
    agency: Agency, cast: dict[str, User]
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks between connections are exercised on PostgreSQL")
    import threading

    from django.db import connections

    pia, ben = make_supporter(agency, "pia"), make_supporter(agency, "ben")
    request = ask(cast["member"])
    for user in (pia, ben):
        RequestOffer.objects.get_or_create(request=request, user=user, step=request.step,
                                           active=True)
    barrier = threading.Barrier(2)
    outcomes: dict[str, str] = {}

    def accept(user: User) -> None:
        try:
            barrier.wait()
            services.request_accept(acting_user=user, request=request)
            outcomes[user.username] = "won"
        except ValidationError as exc:
            outcomes[user.username] = exc.messages[0]
        finally:
            connections.close_all()

    threads = [threading.Thread(target=accept, args=(u,)) for u in (pia, ben)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes.values())[1] == "won"
    assert "Another supporter accepted" in sorted(outcomes.values())[0]
    ledger = SupportRequest.objects.get(pk=request.pk).ledger  # audited by the daily batch
    assert [e["action"] for e in ledger].count("psp.request.accepted") == 1


def test_accept_page_message_when_someone_was_quicker(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = ask(cast["member"], phone="+1 555 8282 828")
    assert offered_to(request) == {"pia"}
    RequestOffer.objects.create(request=request, user=team["ben"], step=request.step)
    client = sign_in(Client(), team["pia"])
    services.request_accept(acting_user=team["ben"], request=request)  # Ben is quicker
    late = client.post(reverse("support:request_accept", args=[request.pk]), follow=True)
    page = late.content.decode()
    assert late.status_code == 200
    assert "Another supporter accepted this request a moment ago" in page
    assert "8282" not in page
    assert SupportRequest.objects.get(pk=request.pk).accepted_by.user == team["ben"]
    # Someone who was never offered it still finds nothing.
    never = sign_in(Client(), cast["coordinator"])
    assert never.post(reverse("support:request_accept", args=[request.pk])).status_code == 404


# ========================================================================================
# 5. Conflicts and dual roles (PS-9)
# ========================================================================================


def test_supporters_in_the_chain_of_command_are_left_out_either_direction(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    member = cast["member"].member
    middle = Member.objects.create(agency=agency, employee_number="MID", first_name="Mid",
                                   last_name="Level", category=MemberCategory.SWORN)
    member.supervisor = middle
    member.save()
    middle.supervisor = team["pia"].member  # Pia supervises the member's supervisor
    middle.save()
    request = ask(cast["member"], key="up")
    assert offered_to(request) == {"ben"}
    detail = sign_in(Client(), team["ben"]).get(
        reverse("support:request_detail", args=[request.pk])).content.decode()
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
    client.post(help_url(agency), help_data(
        "chosen-boss", employee_number=member.employee_number,
        chosen_supporter=services.profile_for(team["ben"]).pk))
    request = SupportRequest.objects.get()
    assert offered_to(request) == {"pia"}
    status = status_page(client, "chosen-boss").split('id="limits-title"')[0]
    assert "excluded: conflict" in status
    assert "supervis" not in status.lower()
    assert not deliveries("psp.request.assigned", team["ben"])


def test_supporters_involved_in_the_same_incident_are_left_out(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    incident = services.incident_create(
        acting_user=cast["coordinator"], agency=agency, kind="shooting",
        occurred_on=timezone.localdate(), members_affected=3,
        involved_supporters=[services.profile_for(team["pia"])])
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


# ========================================================================================
# 6. Contact and close (PS-5, PS-6, P1)
# ========================================================================================


def _accepted(cast: dict[str, User], team: dict[str, User], **kw: Any) -> SupportRequest:
    request = ask(cast["member"], **kw)
    return services.request_accept(acting_user=team["pia"], request=request)


def test_first_contact_needs_the_limits_of_confidentiality_notice(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    request = _accepted(cast, team)
    client = sign_in(Client(), team["pia"])
    page = client.get(reverse("support:request_detail", args=[request.pk])).content.decode()
    assert "Threats to others" in page
    refused = client.post(reverse("support:request_contact", args=[request.pk]), follow=True)
    assert "limits of confidentiality" in refused.content.decode()
    clock.shift(timedelta(minutes=7))
    client.post(reverse("support:request_contact", args=[request.pk]), {"notice_given": "on"})
    request.refresh_from_db()
    assert request.onset_notice_given
    assert request.status == "in_contact"


def test_closing_writes_only_the_policy_fields_and_shreds_the_identity(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    request = _accepted(cast, team, topic="grief")
    clock.shift(timedelta(minutes=3))
    services.request_contact(acting_user=team["pia"], request=request, notice_given=True)
    client = sign_in(Client(), team["pia"])
    form = client.get(reverse("support:request_close", args=[request.pk])).context["form"]
    assert set(form.fields) == {"gender", "member_category", "duration_bucket", "services",
                                "follow_up_on"}  # the Colorado Springs usage form
    response = client.post(reverse("support:request_close", args=[request.pk]), {
        "gender": "male", "member_category": "sworn", "duration_bucket": "15_60",
        "services": ["listening", "referral"], "incident_type": "deadly_force",
        "follow_up_on": "2026-03-09"})
    assert response.status_code == 302
    assert SupportRequest.objects.get(pk=request.pk).is_shredded  # identity gone at once
    assert not UsageRecord.objects.exists()  # the record waits for the daily batch
    publish()
    record = UsageRecord.objects.get()
    assert record.outcome == "closed"
    assert record.supporter.user == team["pia"]
    assert record.incident_type == ""  # not collected by this preset, so not kept
    assert record.channel == ""  # nor is the activation channel
    assert record.services == ["listening", "referral"]
    assert (record.topic, record.urgency) == ("", "")  # not collected by this preset either
    assert record.seconds_to_contact == 180
    assert record.seconds_to_ack == 0
    assert not SupportRequest.objects.filter(pk=request.pk).exists()  # shredded, then gone
    assert DataKey.objects.get(pk=request.data_key_id).wrapped_key is None
    reminder = FollowUpReminder.objects.get()
    assert re.fullmatch(r"[A-Z2-9]{8}", reminder.code)
    assert client.get(reverse("support:request_detail", args=[request.pk])).status_code == 404


def test_another_preset_collects_other_fields(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    set_policy(agency, "usage_form", fields=["incident_type", "intervention_type",
                                             "activation_channel", "follow_up"])
    request = _accepted(cast, team)
    form = sign_in(Client(), team["pia"]).get(
        reverse("support:request_close", args=[request.pk])).context["form"]
    assert set(form.fields) == {"incident_type", "intervention_type", "follow_up",
                                "follow_up_on"}
    with pytest.raises(ValidationError, match="incident type"):
        services.request_close(acting_user=team["pia"], request=request, usage={})
    services.request_close(acting_user=team["pia"], request=request, usage={
        "incident_type": "traumatic_call", "intervention_type": "phone", "follow_up": True,
        "gender": "female"})
    publish()
    record = UsageRecord.objects.get()
    assert record.channel == "self_request"
    assert record.incident_type == "traumatic_call"
    assert record.follow_up is True
    assert record.gender == ""


def test_closing_needs_the_collected_fields_and_only_the_owner_can_close(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = _accepted(cast, team)
    client = sign_in(Client(), team["pia"])
    missing = client.post(reverse("support:request_close", args=[request.pk]), {})
    assert missing.status_code == 400
    assert b"This field is required" in missing.content
    with pytest.raises(ValidationError, match="Only the supporter who accepted"):
        services.request_close(acting_user=team["ben"], request=request, usage={})
    assert sign_in(Client(), team["ben"]).get(
        reverse("support:request_close", args=[request.pk])).status_code == 404
    assert UsageRecord.objects.count() == 0
    assert not SupportRequest.objects.get().is_shredded


def test_open_requests_past_the_limit_expire_and_count_as_closed_by_expiry(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    accepted = _accepted(cast, team)
    waiting = ask(cast["chief"], key="chief")
    clock.shift(timedelta(hours=71))
    assert services.expire_open_requests() == 0
    clock.shift(timedelta(hours=1))
    assert services.expire_open_requests() == 1  # unacknowledged after expiry_hours (72)
    assert not SupportRequest.objects.get(pk=waiting.pk).is_open
    assert DataKey.objects.get(pk=waiting.data_key_id).wrapped_key is None
    clock.shift(timedelta(days=27))
    assert services.expire_open_requests() == 1  # open 30 days (retention.open_request_days)
    publish()
    assert not SupportRequest.objects.exists()
    assert DataKey.objects.get(pk=accepted.data_key_id).wrapped_key is None
    outcomes = sorted(UsageRecord.objects.values_list("outcome", flat=True))
    assert outcomes == ["expired", "expired"]


def test_member_withdraws_their_request_and_its_identity_is_erased(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    client = Client()
    client.post(help_url(agency), help_data("leave"))
    request = SupportRequest.objects.get()
    assert "withdrawn and its details erased" in status_page(client, "leave", action="withdraw")
    assert DataKey.objects.get(pk=request.data_key_id).wrapped_key is None
    assert SupportRequest.objects.get(pk=request.pk).requester is None
    publish()
    assert not SupportRequest.objects.filter(pk=request.pk).exists()
    assert UsageRecord.objects.count() == 0


# ========================================================================================
# 7. Limits of confidentiality (PS-7)
# ========================================================================================


def test_emergency_duty_to_report_alerts_coordinator_and_psychologist_until_acknowledged(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    client = sign_in(Client(), team["pia"])
    client.post(reverse("support:duty_new"), {
        "category": "threats_to_others", "emergency": "on", "subject_name": "Duty Subject",
        "subject_phone": "+1 555 0144"})
    notice = DutyToReportNotice.objects.get()
    for role in ("coordinator", "psychologist"):
        channels = {d.channel for d in deliveries("psp.duty_to_report", cast[role])}
        assert channels == {"sms", "email"}
    clock.shift(timedelta(minutes=10))
    services.escalate_due()
    assert len(deliveries("psp.duty_to_report", cast["coordinator"])) == 4
    psychologist = sign_in(Client(), cast["psychologist"])
    page = psychologist.get(reverse("support:duty_detail", args=[notice.pk])).content
    assert b"Duty Subject" in page
    psychologist.post(reverse("support:duty_acknowledge", args=[notice.pk]),
                      {"action": "acknowledge"})
    clock.shift(timedelta(minutes=30))
    services.escalate_due()
    assert len(deliveries("psp.duty_to_report", cast["coordinator"])) == 4
    for role in ("supporter", "chief", "administrator", "supervisor"):
        assert sign_in(Client(), cast[role]).get(
            reverse("support:duty_detail", args=[notice.pk])).status_code == 404
    psychologist.post(reverse("support:duty_acknowledge", args=[notice.pk]),
                      {"action": "resolve"})
    notice = DutyToReportNotice.objects.get()
    assert notice.is_shredded
    assert notice.subject is None


def test_non_emergency_notice_needs_a_self_disclosure_date(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), team["pia"])
    missing = client.post(reverse("support:duty_new"), {
        "category": "criminal_conduct", "subject_name": "Someone"})
    assert missing.status_code == 400
    assert b"self-disclose" in missing.content
    due = (timezone.localdate() + timedelta(days=7)).isoformat()
    client.post(reverse("support:duty_new"), {
        "category": "criminal_conduct", "subject_name": "Someone", "self_disclosure_due": due})
    notice = DutyToReportNotice.objects.get()
    assert not notice.emergency
    assert notice.self_disclosure_due.isoformat() == due
    assert not deliveries("psp.duty_to_report")


def test_supervisor_duties_are_offered_only_to_supporters_who_supervise(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    plain = dict(services.exception_choices(agency, team["pia"]))
    assert "harassment" not in plain
    team["pia"].role_assignments.create(agency=agency, role="supervisor")
    team["pia"].forget_roles()
    assert "harassment" in dict(services.exception_choices(agency, team["pia"]))


def test_anonymous_consultation_and_breach_reports_reach_the_right_roles(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), team["pia"])
    client.post(reverse("support:consult_new"), {"category": "criminal_conduct"})
    assert deliveries("psp.consultation", cast["coordinator"])
    item = Consultation.objects.get()
    assert {f.name for f in Consultation._meta.get_fields()} >= {"category"}
    assert not any(isinstance(f, models.TextField) for f in Consultation._meta.fields)
    coordinator = sign_in(Client(), cast["coordinator"])
    coordinator.post(reverse("support:consult_list"),
                     {"consultation": item.pk, "answer": "not_reportable"})
    assert Consultation.objects.get().answer == "not_reportable"
    client.post(reverse("support:breach_new"), {"kind": "overheard",
                                                "occurred_on": timezone.localdate().isoformat()})
    assert deliveries("psp.breach", cast["coordinator"])
    assert deliveries("psp.breach", cast["psychologist"])
    future = client.post(reverse("support:breach_new"), {
        "kind": "overheard", "occurred_on": (timezone.localdate() + timedelta(days=3)).isoformat()})
    assert future.status_code == 400
    assert b"cannot be in the future" in future.content


# ========================================================================================
# 8. Critical incidents
# ========================================================================================


def test_incidents_deployments_group_sessions_and_mutual_aid_hold_counts_only(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), cast["coordinator"])
    response = client.post(reverse("support:incident_list"), {
        "kind": "shooting", "occurred_on": timezone.localdate().isoformat(), "members_affected": 6})
    incident_url = response["Location"]
    refused = client.post(incident_url, {"action": "deploy",
                                         "supporter": services.profile_for(team["ben"]).pk})
    assert refused.status_code == 400
    assert b"post-shooting" in refused.content
    client.post(incident_url, {"action": "deploy",
                               "supporter": services.profile_for(team["pia"]).pk})
    assert deliveries("psp.request.assigned", team["pia"])
    workspace = sign_in(Client(), team["pia"]).get(reverse("support:workspace")).content
    assert b"Officer-involved shooting" in workspace
    client.post(incident_url, {"action": "session", "kind": "wellness_debrief",
                               "held_on": timezone.localdate().isoformat(), "attendees": 9})
    assert GroupSession.objects.get().attendees == 9
    client.post(reverse("support:mutual_aid"), {
        "direction": "outgoing", "partner_agency": "Neighbor County Sheriff",
        "incident_kind": "line_of_duty_death", "requested_on": timezone.localdate().isoformat(),
        "supporters_requested": 3, "supporters_provided": 0, "status": "open"})
    assert MutualAidRequest.objects.get().supporters_requested == 3
    text_fields = [f.name for m in ("CriticalIncident", "Deployment", "GroupSession")
                   for f in apps.get_model("support", m)._meta.fields
                   if isinstance(f, models.CharField | models.TextField)
                   and not f.choices]
    assert text_fields == []


# ========================================================================================
# 9. No way to ask "did X use peer support?" (PS-5, PS-8)
# ========================================================================================


def test_no_page_searches_peer_support_by_member(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    request = _accepted(cast, team)
    member = cast["member"]
    for role in ("chief", "administrator", "coordinator", "auditor"):
        client = sign_in(Client(), cast[role])
        for row in ROWS:
            if row.method != "get" or row.path is not None:
                continue
            plain = client.get(reverse(row.url_name))
            probe = client.get(reverse(row.url_name),
                               {"q": member.last_name, "member": member.member_id,
                                "user": member.pk, "employee_number": "E-member"})
            assert probe.status_code == plain.status_code
            if plain.status_code == 200 and row.url_name != "support:on_behalf_new":
                assert b"555-0199" not in probe.content
    assert request.pk  # the request exists; no page above led to it


def test_closed_requests_show_no_identity_to_anyone(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = _accepted(cast, team)
    services.request_close(acting_user=team["pia"], request=request,
                           usage={"gender": "male", "member_category": "sworn",
                                  "duration_bucket": "under_15"})
    for user in [*cast.values(), team["pia"]]:
        assert sign_in(Client(), user).get(
            reverse("support:request_detail", args=[request.pk])).status_code == 404
    queue = sign_in(Client(), cast["coordinator"]).get(reverse("support:queue")).content
    assert request.reference.encode() not in queue


def test_audit_rows_name_request_ids_never_the_requester_or_referrer(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    before = AuditEvent.objects.count()
    member, referrer = cast["member"], cast["supervisor"]
    request = _accepted(cast, team)
    services.request_close(acting_user=team["pia"], request=request,
                           usage={"gender": "male", "member_category": "sworn",
                                  "duration_bucket": "under_15"})
    sign_in(Client(), referrer).post(help_url(referrer.agency, **{"for": "colleague"}),
                                     help_data("aud-ref", name="Member Tester",
                                               phone="+1 555 0188", referrer_name="Sup"))
    sign_in(Client(), member).post(help_url(member.agency), help_data("again"))
    withdrawn = SupportRequest.objects.get(status_digest__gt="")
    status_page(sign_in(Client(), member), "again", action="withdraw")
    publish()
    events = list(AuditEvent.objects.order_by("id")[before:])
    # Published: the closed and the withdrawn request (rows now gone); the open referral's
    # events wait until it ends.
    request_ids = {str(request.pk), str(withdrawn.pk)}
    assert {e.object_id for e in events if e.action.startswith("psp.request")} == request_ids
    for event in events:
        blob = json.dumps(event.canonical())
        assert "Member Tester" not in blob
        assert "555-0199" not in blob
        assert "0188" not in blob
        assert event.actor_id not in (member.pk, referrer.pk), event.action


def test_finished_peer_support_messages_forget_whom_they_went_to(
    db: Any, cast: dict[str, User]
) -> None:
    """Kept, delivery rows would show which helpers each request was offered to, and so who
    was left out: the requester's chain of command."""
    from django.core.management import call_command

    from tandem.core.notifications import notify

    supporter = cast["supporter"]
    supporter.phone = "+1 555 0142"
    supporter.save(update_fields=["phone"])
    offered = notify(kind="psp.request.assigned", recipient_user=supporter)
    other = notify(kind="report.ready", recipient_user=cast["coordinator"])
    assert {d.recipient_data["user_id"] for d in offered} == {supporter.pk}  # sealed
    assert not Delivery.objects.filter(kind__startswith="psp.").exists()
    call_command("worker", "--once", verbosity=0)
    for delivery in offered:
        delivery = PeerSupportDelivery.objects.get(pk=delivery.pk)
        assert delivery.status == "sent"
        assert delivery.is_shredded
        assert (delivery.recipient, delivery.schedule) == (None, None)
    # No audit row at the second a helper was alerted: it would date the request.
    assert not AuditEvent.objects.filter(object_id__in=[str(d.pk) for d in offered])
    other[0].refresh_from_db()
    assert other[0].recipient_user_id == cast["coordinator"].pk  # other kinds keep theirs


# ========================================================================================
# Raw-database proof and schema guard
# ========================================================================================

MARKERS = {
    "self": ("Zyxqa Selfmarker", "+1 555 7301 441", "selfmarker.q7@example.test"),
    "family": ("Wvuqb Familymarker", "+1 555 7302 552", "familymarker.q8@example.test"),
    "referral": ("Tsrqc Referralmarker", "+1 555 7303 663", "referralmarker.q9@example.test"),
    "referrer": ("Ponqd Referrermarker", "+1 555 7304 774", "referrermarker.qa@example.test"),
    "expired": ("Mlkqe Expirymarker", "+1 555 7305 885", "expirymarker.qb@example.test"),
    # Driven through the pages (the self-request's name is the account's, not a marker).
    "web_self": ("", "+1 555 7306 996", "webselfmarker.qc@example.test"),
    "web_withdrawn": ("", "+1 555 7307 117", "webwithdrawnmarker.qd@example.test"),
    "web_referral": ("Jihqf Webreferralmarker", "+1 555 7308 228",
                     "webreferralmarker.qe@example.test"),
    "web_intake": ("Gfeqg Webintakemarker", "+1 555 7309 339", "webintakemarker.qf@example.test"),
    "web_behalf": ("Dcbqh Webbehalfmarker", "+1 555 7310 440", "webbehalfmarker.qg@example.test"),
    "web_duty": ("Azyqi Webdutymarker", "+1 555 7311 551", ""),
}


def run_marker_flow() -> list[str]:
    """Make self, family and referral requests whose identities are unique markers; route,
    accept, close and expire them. Returns every marker string."""
    from tandem.accounts.models import RoleAssignment
    from tandem.agencies.models import Agency as AgencyModel
    from tandem.agencies.presets import load_preset
    from tests.conftest import make_user as new_user

    policy = load_preset("colorado-springs").model_dump(mode="json")
    agency = AgencyModel.objects.create(slug="marker", name="Marker PD",
                                        preset="colorado-springs", policy=policy)
    open_everything(agency)
    sup = make_supporter(agency, "msup", phone="+1 555 0100")
    backup = make_supporter(agency, "mbak", phone="+1 555 0101")
    coordinator = new_user(agency, "mcoord", "coordinator")
    RoleAssignment.objects.get_or_create(user=coordinator, agency=agency, role="coordinator")
    rotation(agency, coordinator, vocab.Layer.PRIMARY, [sup], starts_on=timezone.localdate()
             - timedelta(days=1))
    rotation(agency, coordinator, vocab.Layer.BACKUP, [backup], starts_on=timezone.localdate()
             - timedelta(days=1))
    name, phone, email = MARKERS["self"]
    asker = new_user(agency, "masker", "member")
    made = []
    self_request, _ = services.request_create(
        acting_user=asker, agency=agency, idempotency_key="m-self",
        channel="self_request", urgency="now", contact_method="email",
        requester={**requester_of(asker), "name": name, "phone": phone,
                   "email": email})
    made.append(self_request)
    name, phone, email = MARKERS["family"]
    family, _ = services.request_create(
        acting_user=None, agency=agency, idempotency_key="m-family", channel="self_request",
        urgency="today", contact_method="phone",
        requester={"kind": "family", "name": name, "phone": phone, "email": email})
    made.append(family)
    name, phone, email = MARKERS["referral"]
    rname, rphone, remail = MARKERS["referrer"]
    referral, _ = services.request_create(
        acting_user=coordinator, agency=agency, idempotency_key="m-ref",
        channel="proactive_referral", urgency="today", contact_method="text",
        requester={"kind": "member", "name": name, "phone": phone, "email": email},
        referrer={"user_id": coordinator.pk, "name": rname, "phone": rphone, "email": remail})
    made.append(referral)
    services.escalate_due(timezone.now() + timedelta(minutes=20))  # route onwards
    usage = {"gender": "female", "member_category": "family", "duration_bucket": "15_60",
             "services": ["listening"]}
    for request in made:
        request = SupportRequest.objects.get(pk=request.pk)
        helper = User.objects.get(pk=RequestOffer.objects.filter(
            request=request, active=True).values_list("user_id", flat=True).first())
        request = services.request_accept(acting_user=helper, request=request)
        services.request_contact(acting_user=helper, request=request, notice_given=True)
        services.request_close(acting_user=helper, request=request, usage=usage)
    _run_marker_pages(agency, coordinator, usage)
    name, phone, email = MARKERS["expired"]
    services.request_create(
        acting_user=None, agency=agency, idempotency_key="m-exp", channel="self_request",
        urgency="this_week", contact_method="email",
        requester={"kind": "retiree", "name": name, "phone": phone, "email": email})
    services.expire_open_requests(timezone.now() + timedelta(days=31))
    services.publish_finished_requests(timezone.now() + timedelta(days=32))
    assert UsageRecord.objects.filter(agency=agency).count() == 8
    assert not SupportRequest.objects.filter(agency=agency).exists()
    _assert_sessions_are_coarse([value for triple in MARKERS.values() for value in triple
                                 if value])
    return [value for triple in MARKERS.values() for value in triple if value]


def _run_marker_pages(agency: Agency, coordinator: User, usage: dict[str, Any]) -> None:
    """The same proof through the pages: ask, withdraw, refer, intake, on behalf, recuse,
    accept, first contact, close, and a duty-to-report notice acknowledged and resolved."""
    from tests.conftest import make_user as new_user

    clients: dict[int, Client] = {}

    def client_of(user: User) -> Client:
        if user.pk not in clients:
            clients[user.pk] = sign_in(Client(), user)
            # Signed in, they open the roster first (where "Ask for support" is).
            assert clients[user.pk].get(reverse("support:directory")).status_code == 200
        return clients[user.pk]

    def reach(key: str, marker: str, **extra: Any) -> dict[str, Any]:
        name, phone, email = MARKERS[marker]
        data = {"idempotency_key": key, "code": key.ljust(32, "x"),
                "requester_kind": "member", "contact_method": "phone", "phone": phone,
                "email": email, "urgency": "today", "best_time": "any", **extra}
        if name:
            data["name"] = name
        return data

    def offered_helper(request_pk: Any) -> User:
        return User.objects.get(pk=RequestOffer.objects.filter(
            request_id=request_pk, active=True).values_list("user_id", flat=True).first())

    def accept_and_close(request_pk: Any) -> None:
        helper = client_of(offered_helper(request_pk))
        assert helper.post(reverse("support:request_accept", args=[request_pk])).status_code == 302
        helper.post(reverse("support:request_contact", args=[request_pk]), {"notice_given": "on"})
        closed = helper.post(reverse("support:request_close", args=[request_pk]), usage)
        assert closed.status_code == 302, closed.content[-2000:]

    seen: set[Any] = set(SupportRequest.objects.values_list("pk", flat=True))

    def newest() -> Any:
        """The request made last (keys are random: the one not seen before)."""
        (made,) = set(SupportRequest.objects.values_list("pk", flat=True)) - seen
        seen.add(made)
        return made

    asker = new_user(agency, "mwebself", "member")
    assert client_of(asker).post(help_url(agency),
                                 reach("w-self", "web_self")).status_code == 200
    accept_and_close(newest())

    leaver = new_user(agency, "mwebleave", "member")
    client_of(leaver).post(help_url(agency), reach("w-leave", "web_withdrawn"))
    status_page(client_of(leaver), "w-leave", action="withdraw")
    newest()  # the withdrawn request: shredded, its row waits for the daily batch

    referrer = new_user(agency, "mwebref", "member")
    assert client_of(referrer).post(help_url(agency, **{"for": "colleague"}),
                                    reach("w-ref", "web_referral")).status_code == 200
    referral = newest()
    first = client_of(offered_helper(referral))
    first.post(reverse("support:request_recuse", args=[referral]),
               {"reason": vocab.RecusalReason.DUAL_ROLE})
    accept_and_close(referral)

    token = services.intake_link_rotate(acting_user=coordinator, agency=agency)
    done = Client().post(reverse("support:intake", args=[token]),
                         reach("w-intake", "web_intake", requester_kind="family"))
    assert done.status_code == 200, done.content[-2000:]
    newest()  # the intake request (left open until it expires)

    behalf = client_of(coordinator).post(reverse("support:on_behalf_new"), reach(
        "w-behalf", "web_behalf", channel="supervisor_via_coordinator"))
    assert behalf.status_code == 200, behalf.content[-2000:]
    accept_and_close(newest())

    name, phone, _ = MARKERS["web_duty"]
    filer = client_of(User.objects.get(username="msup"))
    filer.post(reverse("support:duty_new"), {"category": "threats_to_others",
                                             "emergency": "on", "subject_name": name,
                                             "subject_phone": phone})
    notice = DutyToReportNotice.objects.get(agency=agency)
    for action in ("acknowledge", "resolve"):
        client_of(coordinator).post(reverse("support:duty_acknowledge", args=[notice.pk]),
                                    {"action": action})
    assert DutyToReportNotice.objects.get(pk=notice.pk).is_shredded


def _assert_sessions_are_coarse(markers: list[str]) -> None:
    """No session row can date a request: times in 5-minute buckets, no identity inside."""
    from django.contrib.sessions.models import Session

    from tandem.accounts.middleware import SESSION_AUTH_AT, SESSION_LAST_SEEN

    rows = list(Session.objects.all())
    assert rows
    for row in rows:
        stored = row.get_decoded()
        assert float(stored[SESSION_LAST_SEEN]) % 300 == 0, stored
        assert float(stored[SESSION_AUTH_AT]) % 300 == 0, stored
        assert row.expire_date.timestamp() % 300 == 0
        blob = json.dumps(stored, default=str)
        assert not [m for m in markers if m in blob]


def _marker_forms(markers: list[str]) -> list[bytes]:
    found: list[bytes] = []
    for text in markers:
        for variant in (text, text.lower(), text.upper(), json.dumps(text)[1:-1]):
            found.append(variant.encode())
            found.append(variant.encode("utf-16-le"))
    return found


SQLITE_SCRIPT = r"""
import json, os, sys
sys.path.insert(0, os.getcwd())
import django
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
django.setup()
from django.core.management import call_command
from django.db import connection
call_command("migrate", verbosity=0)
from django.conf import settings
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
from tests.acceptance.test_peer_support import run_marker_flow
markers = run_marker_flow()
connection.close()
print(json.dumps(markers))
"""


def test_sqlite_file_and_wal_hold_no_requester_identity_after_close_and_expiry(
    tmp_path: Path,
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("reads the bytes of a SQLite database file")
    db_path = tmp_path / "psp.sqlite3"
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(TANDEM_SQLITE_PATH=str(db_path), TANDEM_VAR_DIR=str(tmp_path),
               TANDEM_INSECURE_HTTP="1", TANDEM_MASTER_KEYS="psp:" + "B" * 43 + "=")
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", SQLITE_SCRIPT], cwd=Path(__file__).resolve().parents[2],
        env=env, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    markers = json.loads(done.stdout.strip().splitlines()[-1])
    data = db_path.read_bytes()
    for suffix in ("-wal", "-journal"):
        extra = Path(str(db_path) + suffix)
        if extra.exists():
            data += extra.read_bytes()
    assert b"Marker PD" in data  # the search finds what is stored in clear
    for form in _marker_forms(markers):
        assert form not in data, form


@pytest.mark.django_db(transaction=True)
def test_postgresql_dump_holds_no_requester_identity_after_close_and_expiry(
    agency: Agency,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("reads pg_dump output of the PostgreSQL test database")
    from tests.helpers import pg_dump

    markers = run_marker_flow()
    dump = pg_dump()
    assert "Marker PD" in dump
    for form in _marker_forms(markers):
        assert form.decode("utf-8", "ignore") not in dump or not form.isascii()


def test_usage_record_schema_has_no_free_text_and_no_relation_to_a_member() -> None:
    model = apps.get_model("support", "UsageRecord")
    allowed_relations = {"agency": "agencies.agency", "supporter": "support.supporterprofile"}
    for field in model._meta.get_fields():
        if field.is_relation:
            assert field.name in allowed_relations, f"unexpected relation {field.name}"
            assert field.related_model._meta.label_lower == allowed_relations[field.name]
            continue
        if isinstance(field, models.TextField):
            pytest.fail(f"free-text field {field.name}")
        if isinstance(field, models.CharField):
            assert field.choices, f"{field.name} must be a closed vocabulary"
    # Nothing points at a usage record (no member → usage link from anywhere).
    assert not list(model._meta.related_objects)
    # The migration state agrees with the model (a migration cannot add a field unseen).
    from django.db.migrations.loader import MigrationLoader

    state = MigrationLoader(connection).project_state()
    migrated = state.models["support", "usagerecord"].fields
    assert set(migrated) == {f.name for f in model._meta.concrete_fields}
    request_model = apps.get_model("support", "SupportRequest")
    for field in request_model._meta.concrete_fields:
        if field.is_relation:
            assert field.related_model._meta.label_lower in {
                "agencies.agency", "support.supporterprofile", "support.criticalincident",
                "core.datakey"}, field.name
        elif isinstance(field, models.CharField | models.TextField):
            assert field.choices or field.name in {
                "reference", "idempotency_key", "status_digest", "receipt_digest"} or (
                field.get_internal_type() == "TextField"
                and field.name in request_model.encrypted_field_names()), field.name
    # A follow-up reminder: an opaque code in the clear; whose contact it is only sealed.
    reminder_model = apps.get_model("support", "FollowUpReminder")
    for field in reminder_model._meta.concrete_fields:
        if field.is_relation:
            assert field.related_model._meta.label_lower in {
                "support.supporterprofile", "core.datakey"}, field.name
        elif isinstance(field, models.CharField | models.TextField):
            assert field.name == "code" or (
                field.name in reminder_model.encrypted_field_names()), field.name


def test_job_queue_and_notification_rows_carry_no_identity(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    from django_tasks_db.models import DBTaskResult

    request = ask(cast["member"], phone="+1 555 4242 777")
    services.request_accept(acting_user=team["pia"], request=request)
    blob = json.dumps([list(DBTaskResult.objects.values_list("args_kwargs", flat=True)),
                       list(Delivery.objects.values()),
                       list(PeerSupportDelivery.objects.values())], default=str)
    assert PeerSupportDelivery.objects.exists()
    assert not DBTaskResult.objects.exists()  # peer-support messages queue no job row
    assert "4242" not in blob
    assert "Member Tester" not in blob
    assert "support" not in " ".join(PeerSupportDelivery.objects.values_list("kind", flat=True))


# ========================================================================================
# Security review: no timestamp, routing or identity trail back to the requester
# ========================================================================================


def _close_usage() -> dict[str, Any]:
    return {"gender": "male", "member_category": "sworn", "duration_bucket": "15_60"}


def test_sessions_keep_only_five_minute_times_so_they_cannot_date_a_request(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    from django.contrib.sessions.models import Session

    from tandem.accounts.middleware import SESSION_AUTH_AT, SESSION_LAST_SEEN

    client = sign_in(Client(), cast["member"])
    clock.shift(timedelta(minutes=7, seconds=13, microseconds=250_000))
    assert client.get(reverse("support:directory")).status_code == 200
    client.post(help_url(cast["member"].agency), help_data("coarse"))
    assert SupportRequest.objects.count() == 1
    rows = list(Session.objects.all())
    assert rows
    for row in rows:
        stored = row.get_decoded()
        assert float(stored[SESSION_LAST_SEEN]) % 300 == 0
        assert float(stored[SESSION_AUTH_AT]) % 300 == 0
        assert row.expire_date.timestamp() % 300 == 0
    written = {row.pk: (row.session_data, row.expire_date) for row in rows}
    clock.shift(timedelta(minutes=1))  # same five-minute bucket: the row is not rewritten
    assert client.get(reverse("support:directory")).status_code == 200
    assert {row.pk: (row.session_data, row.expire_date)
            for row in Session.objects.all()} == written


def test_closed_withdrawn_and_expired_requests_leave_no_row_and_no_offer(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    closed = _accepted(cast, team)
    services.request_close(acting_user=team["pia"], request=closed, usage=_close_usage())
    withdrawn = ask(cast["chief"], key="w", status_digest=services.status_code_digest("w" * 32))
    services.request_withdraw(acting_user=None, request=withdrawn)
    ask(cast["supervisor"], key="e")
    services.expire_open_requests(timezone.now() + timedelta(days=31))
    assert RequestOffer.objects.count() == 0  # offers go at once
    assert SupportRequest.objects.filter(status__in=vocab.OPEN_STATUSES).count() == 0
    services.publish_finished_requests(timezone.now() + timedelta(days=32))
    assert SupportRequest.objects.count() == 0
    assert DataKey.objects.filter(purpose="psp.request", wrapped_key__isnull=False).count() == 0


def test_usage_record_times_are_hours_and_whole_minutes(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    clock.shift(timedelta(minutes=13, seconds=27))
    request = ask(cast["member"])
    clock.shift(timedelta(seconds=95))
    request = services.request_accept(acting_user=team["pia"], request=request)
    clock.shift(timedelta(minutes=4, seconds=10))
    services.request_contact(acting_user=team["pia"], request=request, notice_given=True)
    clock.shift(timedelta(minutes=41, seconds=3))
    services.request_close(acting_user=team["pia"], request=request, usage=_close_usage())
    ask(cast["chief"], key="late")
    services.expire_open_requests(timezone.now() + timedelta(days=31, seconds=17))
    services.publish_finished_requests(timezone.now() + timedelta(days=32))
    for record in UsageRecord.objects.all():
        for moment in (record.started_at, record.closed_at):
            if moment is not None:
                assert (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)
        for seconds in (record.seconds_to_ack, record.seconds_to_contact):
            assert seconds is None or seconds % 60 == 0
    record = UsageRecord.objects.get(outcome="closed")
    assert (record.seconds_to_ack, record.seconds_to_contact) == (120, 360)


def test_request_audit_rows_carry_no_time_and_no_routing_detail(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    before = AuditEvent.objects.count()
    request = ask(team["pia"])  # the primary on call asks: routing must not show it
    request = services.request_accept(acting_user=team["ben"], request=request)
    services.request_contact(acting_user=team["ben"], request=request, notice_given=True)
    services.request_close(acting_user=team["ben"], request=request, usage=_close_usage())
    assert not [e for e in AuditEvent.objects.order_by("id")[before:]
                if e.action.startswith("psp.request")]  # nothing at the moment it happens
    publish()
    events = [e for e in AuditEvent.objects.order_by("id")[before:]
              if e.action.startswith("psp.request")]
    assert {e.action for e in events} >= {"psp.request.created", "psp.request.offered",
                                          "psp.request.accepted", "psp.request.closed"}
    moment = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\d{10}\.\d")
    for event in events:
        assert not {"target", "offered", "step", "usage_record"} & set(event.detail or {})
        assert not moment.search(json.dumps(event.detail or {})), event.detail


def test_helpers_offered_a_request_see_no_identity_until_one_accepts(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = ask(cast["member"], phone="+1 555 6161 616", topic="grief",
                  contact_method=vocab.ContactMethod.TEXT)
    name = requester_of(cast["member"])["name"]
    client = sign_in(Client(), team["pia"])
    url = reverse("support:request_detail", args=[request.pk])
    before = client.get(url).content.decode()
    assert "6161" not in before
    assert name not in before
    for shown in ("Grief", "Text", "Now"):
        assert shown in before
    client.post(reverse("support:request_accept", args=[request.pk]))
    after = client.get(url).content.decode()
    assert "6161" in after
    assert name in after
    assert sign_in(Client(), team["ben"]).get(url).status_code == 404


def test_topic_urgency_and_channel_are_kept_only_when_the_preset_collects_them(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    set_policy(agency, "usage_form", fields=["topic", "urgency", "activation_channel"])
    kept = _accepted(cast, team, topic="grief")
    services.request_close(acting_user=team["pia"], request=kept, usage={})
    set_policy(agency, "usage_form", fields=["duration_bucket"])
    dropped = ask(cast["chief"], key="dropped", topic="family")
    services.expire_open_requests(timezone.now() + timedelta(days=31))
    services.publish_finished_requests(timezone.now() + timedelta(days=32))
    both = {r.outcome: (r.topic, r.urgency, r.channel) for r in UsageRecord.objects.all()}
    assert both == {"closed": ("grief", "now", "self_request"), "expired": ("", "", "")}
    assert dropped.pk not in set(SupportRequest.objects.values_list("pk", flat=True))


def test_a_request_nobody_can_be_offered_is_counted_for_the_dispatcher(
    cast: dict[str, User], clock: Any
) -> None:
    request = ask(cast["member"])  # nobody on call: the coordinator is offered it first
    assert offered_to(request) == {cast["coordinator"].username}
    services.request_recuse(acting_user=cast["coordinator"], request=request,
                            reason=vocab.RecusalReason.values[0])
    assert offered_to(request) == {cast["psychologist"].username}
    services.request_recuse(acting_user=cast["psychologist"], request=request,
                            reason=vocab.RecusalReason.values[0])
    assert offered_to(request) == set()
    assert not RequestOffer.objects.filter(request=request, active=True, recused_reason="")
    page = sign_in(Client(), cast["dispatcher"]).get(reverse("support:on_call_now"))
    text = page.content.decode()
    assert "1 request is waiting with nobody to offer it to" in text
    services.escalate_due(timezone.now() + timedelta(hours=2))  # still nobody: still shown
    text = sign_in(Client(), cast["dispatcher"]).get(reverse("support:on_call_now")).content
    assert b"1 request is waiting with nobody to offer it to" in text


def test_a_referred_member_does_not_see_or_withdraw_the_referral(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    colleague = cast["member"]
    done = sign_in(Client(), cast["supervisor"]).post(
        help_url(agency, **{"for": "colleague"}),
        help_data("ref-own", name="Member Tester", phone="+1 555 0188",
                  employee_number=colleague.member.employee_number))
    assert b"status code" not in done.content  # a referral has no code to look it up by
    referral = SupportRequest.objects.get()
    assert not referral.status_digest
    client = sign_in(Client(), colleague)
    assert "no open request" in status_page(client, "ref-own", action="withdraw")
    assert SupportRequest.objects.get(pk=referral.pk).is_open
    with pytest.raises(ValidationError):
        services.request_withdraw(acting_user=None, request=referral)


# ========================================================================================
# Authorization matrix
# ========================================================================================


@pytest.mark.parametrize("row", ROWS, ids=[r.url_name for r in ROWS])
def test_every_peer_support_url_answers_only_its_roles(
    row: Any, agency: Agency, cast: dict[str, User], stranger: User
) -> None:
    check_row(row, make_world(agency, cast, [build_world]), stranger)


@pytest.mark.parametrize("row", ROWS, ids=[r.url_name for r in ROWS])
def test_no_peer_support_page_without_a_verified_session(
    row: Any, agency: Agency, cast: dict[str, User]
) -> None:
    check_no_session(row, make_world(agency, cast, [build_world]))


def test_objects_of_another_agency_are_not_found(
    agency: Agency, cast: dict[str, User], stranger: User, team: dict[str, User]
) -> None:
    request = ask(cast["member"])
    other = make_supporter(stranger.agency, "osup")
    RequestOffer.objects.create(request=request, user=other, step=0)
    assert sign_in(Client(), other).get(
        reverse("support:request_detail", args=[request.pk])).status_code == 404


# ========================================================================================
# A Chromium journey
# ========================================================================================


def _browser_sign_in(page: Any, base: str, user: User) -> None:
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    page.goto(f"{base}/")
    page.get_by_role("button", name="I understand and agree").click()
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Continue").click()
    device = TOTPDevice.objects.get(user=user)
    page.locator("input[name=code]").fill(f"{totp(device.bin_key):06d}")
    page.get_by_role("button", name=re.compile("Sign in|Continue|Verify")).click()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_member_asks_on_call_supporter_accepts_and_closes_in_chromium(
    live_server: Any, agency: Agency
) -> None:
    member = make_user(agency, "asker", "member")
    supporter = make_supporter(agency, "oncall", phone="+1 555 0190")
    dispatcher = make_user(agency, "disp", "dispatcher")
    coordinator = make_user(agency, "coord", "coordinator")
    rotation(agency, coordinator, vocab.Layer.PRIMARY, [supporter],
             starts_on=timezone.localdate() - timedelta(days=1))
    base = live_server.url

    with browser_page(viewport={"width": 390, "height": 844}) as page:
        _browser_sign_in(page, base, member)
        page.goto(f"{base}{reverse('support:directory')}")
        page.get_by_role("link", name="Ask for support", exact=True).click()
        page.get_by_label(re.compile("I work for")).check()
        page.get_by_label("How should the supporter reach you?").select_option("phone")
        page.get_by_label("Phone").fill("+1 555 0123")
        page.get_by_role("button", name="Send my request").click()
        page.get_by_role("button", name="See where it stands").click()
        page.get_by_text("Looking for a supporter").wait_for()
    assert deliveries("psp.request.assigned", supporter)

    with browser_page() as page:
        _browser_sign_in(page, base, supporter)
        page.goto(f"{base}{reverse('support:workspace')}")
        page.get_by_role("button", name=re.compile("Accept request")).click()
        page.get_by_label(re.compile("limits of confidentiality")).check()
        page.get_by_role("button", name="Record first contact").click()
        page.get_by_role("link", name="Close the request").click()
        page.get_by_label("Gender").select_option("female")
        page.get_by_label("Sworn / civilian / volunteer / family").select_option("sworn")
        page.get_by_label("Length of contact").select_option("15_60")
        page.get_by_label("Listening and support").check()
        page.get_by_role("button", name="Close and erase identity").click()
        page.get_by_text("erased for good").wait_for()
    publish()
    record = UsageRecord.objects.get()
    assert record.services == ["listening"]
    assert record.supporter.user == supporter
    assert not SupportRequest.objects.exists()  # shredded, then deleted

    with browser_page() as page:
        _browser_sign_in(page, base, dispatcher)
        page.goto(f"{base}{reverse('support:on_call_now')}")
        page.get_by_role("heading", name="On call now").wait_for()
        assert "+1 555 0190" in page.content()
