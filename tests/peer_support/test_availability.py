"""Peer support, 24-hour availability (PS-2): acceptance tests from the user's side."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.readiness.gates import gate_update
from tandem.support import selectors, services, vocab
from tandem.support.models import (
    IntakeLink,
    Rotation,
    SupporterProfile,
    UsageRecord,
)
from tandem.support.oncall import Schedule
from tests.conftest import make_user, sign_in
from tests.peer_support.support import T0, ask, deliveries, make_supporter, offered_to, rotation

pytestmark = pytest.mark.django_db


CLOCK_START = T0  # where the shared ``clock`` fixture stops time


# ========================================================================================
# 2. 24-hour availability (PS-2)
# ========================================================================================


def test_rotation_hands_off_at_the_set_time_in_order(agency: Agency, cast: dict[str, User]) -> None:
    a, b, c = (make_supporter(agency, n) for n in ("amy", "bob", "cyd"))
    rotation(
        agency, cast["coordinator"], vocab.Layer.PRIMARY, [a, b, c], hours=12, handoff=time(7, 0)
    )
    schedule = Schedule(agency)
    tz = schedule.tz
    first = datetime(2026, 3, 1, 7, 0, tzinfo=tz)
    who = [
        schedule.covering("primary", first + timedelta(hours=h)).user.username
        for h in (0, 11, 12, 24, 36)
    ]
    assert who == ["amy", "amy", "bob", "cyd", "amy"]
    assert schedule.covering("primary", first - timedelta(minutes=1)) is None


def _primary_cover(
    agency: Agency, cast: dict[str, User], cover: User, starts_at: datetime, reason: str
) -> None:
    """The coordinator puts ``cover`` on the primary layer from ``starts_at`` until two
    hours after T0."""
    services.override_create(
        acting_user=cast["coordinator"],
        agency=agency,
        layer="primary",
        supporter=services.profile_for(cover),
        starts_at=starts_at,
        ends_at=T0 + timedelta(hours=2),
        reason=reason,
    )


def test_override_wins_and_an_unavailable_supporter_is_skipped(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    cover = make_supporter(agency, "cover")
    _primary_cover(agency, cast, cover, T0 - timedelta(hours=1), "swap")
    assert Schedule(agency).covering("primary", T0).user == cover
    services.availability_set(
        acting_user=cover, profile=services.profile_for(cover), until=T0 + timedelta(hours=1)
    )
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


def test_on_call_now_names_only_a_supporter_who_can_answer(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    """A lapsed gate, a closed account or "unavailable" leave the line without a name, as
    routing sees it; a cover from someone ready puts their name back; a layer with nobody
    on the rota says so."""

    def lines() -> list[tuple[str, list[str], str]]:
        return [(x.label, [n for n, _ in x.people], x.note) for x in selectors.on_call_now(agency)]

    def covering() -> list[str | None]:
        schedule = Schedule(agency, full=True)  # readiness asked of the database
        found = [schedule.covering(layer, timezone.now()) for layer in vocab.Layer.values]
        return [p.user.username if p else None for p in found]

    unreachable = "The scheduled supporter cannot be reached now."
    gate_update(user=team["pia"], peer_support=True, peer_support_until=T0, cji=False)
    clock.move_to(T0 + timedelta(minutes=1))
    team["ben"].is_active = False
    team["ben"].save(update_fields=["is_active"])
    assert lines()[:2] == [
        ("Primary on call", [], unreachable),
        ("Backup on call", [], unreachable),
    ]
    assert covering() == [None, None]
    cover = make_supporter(agency, "cover")
    _primary_cover(agency, cast, cover, T0, "cover")
    assert lines()[0] == ("Primary on call", [cover.get_full_name()], "")
    assert covering() == ["cover", None]
    services.availability_set(
        acting_user=cover, profile=services.profile_for(cover), until=T0 + timedelta(hours=1)
    )
    assert lines()[0] == ("Primary on call", [], unreachable)
    Rotation.objects.filter(agency=agency, layer=vocab.Layer.BACKUP).delete()
    assert lines()[1] == ("Backup on call", [], "Nobody is scheduled.")
    assert covering() == [None, None]


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
        with CaptureQueriesContext(connection) as answer:
            selectors.on_call_now(agency)
        # The rotations with their sizes, the overrides to come, each layer's participant
        # on shift with their gate, the coordinators and psychologists.
        assert len(answer) == 4
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
    services.availability_set(
        acting_user=amy, profile=services.profile_for(amy), until=T0 + timedelta(days=2)
    )
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
    data = {
        "name": "Nights",
        "layer": "primary",
        "starts_on": "2026-03-01",
        "handoff_time": "07:00",
        "shift_hours": 24,
        "participant_1": services.profile_for(bob).pk,
        "participant_2": services.profile_for(amy).pk,
    }
    assert client.post(reverse("support:rotation_new"), data).status_code == 302
    rota = Rotation.objects.get(agency=agency)
    assert [m.supporter.user.username for m in rota.members.all()] == ["bob", "amy"]
    twice = client.post(
        reverse("support:rotation_new"), {**data, "participant_2": services.profile_for(bob).pk}
    )
    assert twice.status_code == 400
    assert b"only once" in twice.content
    stale = client.post(reverse("support:rotation_edit", args=[rota.pk]), {**data, "version": 99})
    assert b"changed this rotation meanwhile" in stale.content
    bad = client.post(
        reverse("support:override_new"),
        {
            "layer": "primary",
            "supporter": services.profile_for(amy).pk,
            "reason": "swap",
            "starts_at": "2026-03-02T10:00",
            "ends_at": "2026-03-02T09:00",
        },
    )
    assert bad.status_code == 400
    assert b"must end after it starts" in bad.content
    client.post(
        reverse("support:override_new"),
        {
            "layer": "primary",
            "supporter": services.profile_for(amy).pk,
            "reason": "swap",
            "starts_at": "2026-03-02T06:00",
            "ends_at": "2026-03-02T18:00",
        },
    )
    page = client.get(reverse("support:schedule")).content.decode()
    assert "Nights" in page
    assert "Swap" in page
    assert Schedule(agency).covering("primary", T0).user == amy


def test_coordinator_makes_an_intake_link_shown_once(agency: Agency, cast: dict[str, User]) -> None:
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
    agency = team["pia"].agency  # an agency that stops running peer support: no feed
    agency.policy = {**agency.policy, "programs": ["peer_recovery"]}
    agency.save(update_fields=["policy"])
    assert Client().get(path).status_code == 404
    agency.policy = {**agency.policy, "programs": ["peer_support", "peer_recovery"]}
    agency.save(update_fields=["policy"])
    assert Client().get(path).status_code == 200
    client.post(reverse("support:feed_manage"), {"action": "revoke"})
    assert Client().get(path).status_code == 404


def test_availability_switch_keeps_a_supporter_out_of_routing(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    client = sign_in(Client(), team["pia"])
    client.post(
        reverse("support:availability"), {"action": "unavailable", "until": "2026-03-05T08:00"}
    )
    assert services.profile_for(team["pia"]).unavailable_until is not None
    request = ask(cast["member"])
    assert offered_to(request) == {"ben"}
    past = client.post(
        reverse("support:availability"),
        {"action": "unavailable", "until": "2020-01-01T08:00"},
        follow=True,
    )
    assert "in the future" in past.content.decode()
