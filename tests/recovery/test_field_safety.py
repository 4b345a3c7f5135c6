"""Peer recovery, field safety: the assessment gate, reassessment, overlapping visits."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tandem.recovery.models import (
    Contact,
)
from tests.recovery.support import browser, contact_post, local, new_client, plan

# ========================================================================================
# 3. Field safety: the assessment gate, reassessment, overlapping visits
# ========================================================================================


def test_a_field_contact_with_the_prs_waits_for_the_aros_safety_assessment(
    agency: Any, cast: dict[str, Any]
) -> None:
    client = new_client(cast["aro"])
    planned = plan(cast, client)
    prs, aro = browser(cast["prs"]), browser(cast["aro"])
    url = reverse("recovery:contact_create", args=[client.pk])
    field = {"kind": "field", "location_type": "home", "aro_present": "on"}

    no_plan = prs.post(url, contact_post(**field))
    assert no_plan.status_code == 400
    assert "needs the planned visit" in no_plan.content.decode()
    not_assessed = prs.post(url, contact_post(planned=planned.pk, **field))
    assert not_assessed.status_code == 400
    # Starting is refused too, and the PRS cannot record the assessment.
    prs.post(reverse("recovery:planned_start", args=[planned.pk]))
    planned.refresh_from_db()
    assert planned.status == "planned"
    assert (
        prs.post(
            reverse("recovery:planned_assess", args=[planned.pk]), {"confirmed": []}
        ).status_code
        == 404
    )

    checklist = list(agency.policy_model().recovery.safety_checklist)
    aro.post(reverse("recovery:planned_assess", args=[planned.pk]), {"confirmed": checklist[:-1]})
    planned.refresh_from_db()
    assert planned.status == "planned"  # an incomplete checklist does not open the gate
    assert prs.post(url, contact_post(planned=planned.pk, **field)).status_code == 400

    aro.post(reverse("recovery:planned_assess", args=[planned.pk]), {"confirmed": checklist})
    planned.refresh_from_db()
    assert planned.status == "started"
    # During the contact the ARO reassesses.
    aro.post(reverse("recovery:planned_assess", args=[planned.pk]), {"confirmed": checklist})
    assert list(planned.assessments.values_list("reassessment", flat=True)) == [False, False, True]
    assert prs.post(url, contact_post(planned=planned.pk, **field)).status_code == 302
    planned.refresh_from_db()
    assert planned.status == "done"
    assert Contact.objects.get().planned == planned


def test_a_phone_contact_and_a_field_visit_without_the_prs_need_no_assessment(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    aro = browser(cast["aro"])
    solo = plan(cast, client, with_prs=False)
    aro.post(reverse("recovery:planned_start", args=[solo.pk]))
    solo.refresh_from_db()
    assert solo.status == "started"
    response = aro.post(
        reverse("recovery:contact_create", args=[client.pk]),
        contact_post(kind="field", prs_present="", aro_present="on", location_type="home"),
    )
    assert response.status_code == 302


def test_a_phone_call_left_at_the_home_location_is_told_to_pick_by_phone(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["prs"])
    prs = browser(cast["prs"])
    url = reverse("recovery:contact_create", args=[client.pk])
    response = prs.post(url, contact_post(kind="phone", location_type="home"))
    assert response.status_code == 400
    page = response.content.decode()
    assert "A phone contact is recorded “By phone” or at the “Program office”" in page
    assert not Contact.objects.exists()
    response = prs.post(url, contact_post(kind="field", location_type="home"))
    assert "needs the planned visit for which the ARO recorded" in response.content.decode()
    assert "is recorded “By phone”" not in response.content.decode()
    assert prs.post(url, contact_post(kind="phone")).status_code == 302


def test_a_visit_planned_from_a_clients_page_starts_with_the_clients_aro_and_prs(
    cast: dict[str, Any],
) -> None:
    import re

    client = new_client(cast["prs"], aro=cast["aro"], prs=cast["prs"])
    page = (
        browser(cast["prs"])
        .get(reverse("recovery:planned_create"), {"client": client.pk})
        .content.decode()
    )
    for role in ("aro", "prs"):
        chosen = re.search(rf'<select name="{role}".*?</select>', page, re.S)
        assert chosen is not None
        assert f'value="{cast[role].pk}" selected' in chosen.group(0), role


def test_a_contact_logged_from_a_planned_visit_starts_with_who_was_planned_there(
    cast: dict[str, Any],
) -> None:
    import re

    client = new_client(cast["aro"])
    visit = plan(cast, client)  # a field visit, the ARO with the PRS
    page = (
        browser(cast["prs"])
        .get(reverse("recovery:contact_create", args=[client.pk]), {"planned": visit.pk})
        .content.decode()
    )
    for name in ("aro_present", "prs_present"):
        box = re.search(rf'<input type="checkbox" name="{name}"[^>]*>', page)
        assert box is not None, name
        assert "checked" in box.group(0), name


def test_the_shared_calendar_warns_when_two_visits_to_a_client_overlap(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    start = timezone.now() + timedelta(hours=2)
    plan(cast, client, start)
    response = browser(cast["prs"]).post(
        reverse("recovery:planned_create"),
        {
            "client": client.pk,
            "kind": "follow_up",
            "starts_at": local(start + timedelta(minutes=30)),
            "ends_at": local(start + timedelta(hours=2)),
            "prs": cast["prs"].pk,
            "with_prs": "on",
        },
        follow=True,
    )
    assert "overlapping time" in response.content.decode()
    calendar = browser(cast["aro"]).get(reverse("recovery:planned_list")).content.decode()
    assert calendar.count("Overlaps 1 other visit") == 2
    backwards = browser(cast["aro"]).post(
        reverse("recovery:planned_create"),
        {
            "client": client.pk,
            "kind": "field",
            "starts_at": local(start),
            "ends_at": local(start - timedelta(hours=1)),
        },
    )
    assert "must end after it starts" in backwards.content.decode()


def test_the_visits_list_says_which_visits_still_need_the_safety_assessment(
    agency: Any, cast: dict[str, Any]
) -> None:
    badge = "Safety assessment needed before the PRS goes in"
    client = new_client(cast["aro"])
    planned = plan(cast, client, timezone.now() + timedelta(hours=1))
    plan(
        cast,
        new_client(cast["aro"], last_name="Phone"),
        timezone.now() + timedelta(hours=3),
        kind="phone",
    )
    page = browser(cast["prs"]).get(reverse("recovery:planned_list")).content.decode()
    assert page.count(badge) == 1
    checklist = list(agency.policy_model().recovery.safety_checklist)
    browser(cast["aro"]).post(
        reverse("recovery:planned_assess", args=[planned.pk]), {"confirmed": checklist}
    )
    page = browser(cast["prs"]).get(reverse("recovery:planned_list")).content.decode()
    assert badge not in page
