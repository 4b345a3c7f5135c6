"""Deconfliction, conflicting facts and double work, each settled in one click."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.recovery import services
from tandem.recovery.models import (
    Client,
    Contact,
    PlannedContact,
)
from tests.deconfliction.support import add, browser

# ========================================================================================
# 3. Conflicting facts and double work, each settled in one click
# ========================================================================================


def settle(user: Any, client: Client, topic: str, choice: str, day: Any = None) -> Any:
    data = {"topic": topic, "choice": choice}
    if day is not None:
        data["day"] = day.isoformat()
    response = browser(user).post(reverse("recovery:conflict_settle", args=[client.pk]), data)
    assert response.status_code == 302
    assert response.url == reverse("recovery:deconflict")
    return response


def deconflict_page(user: Any) -> str:
    return browser(user).get(reverse("recovery:deconflict")).content.decode()


def test_stages_recorded_differently_are_listed_and_settled_in_one_click(
    cast: dict[str, Any],
) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera")
    services.stage_record(acting_user=aro, client=client, stage="contemplation")
    services.stage_record(acting_user=prs, client=client, stage="action")
    page = deconflict_page(aro)
    assert "Settle on Contemplation" in page
    assert "Settle on Action" in page
    # The ARO keeps their own reading: the PRS's differing one is settled, not listed again.
    settle(aro, client, "stage", "contemplation")
    assert client.current_stage().stage == "contemplation"
    page = deconflict_page(aro)
    assert "Settle on" not in page
    assert "Nothing recorded differently" in page
    event = AuditEvent.objects.get(action="recovery.conflict_settle")
    assert event.detail["topic"] == "stage"
    # A new disagreement after the settlement is listed again.
    services.stage_record(acting_user=prs, client=client, stage="maintenance")
    assert "Settle on Maintenance" in deconflict_page(aro)


def test_a_phone_and_an_address_recorded_differently_are_listed_for_any_client(
    cast: dict[str, Any],
) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera", phone="540 555 0199", address="12 Oak Street")
    alone = add(aro, "Pat", "Lee", phone="540 555 0111")
    services.client_update(
        acting_user=aro, client=alone, data={"phone": "(540) 555-0111"}, version=alone.version
    )  # the same number written differently, by the same person: nothing to settle
    client = services.client_update(
        acting_user=prs,
        client=client,
        data={"phone": "540 555 0123", "address": "12 Oak St"},
        version=client.version,
    )
    page = deconflict_page(aro)
    assert "phone <strong>540 555 0123</strong>" in page
    assert "<strong>540 555 0199</strong>" in page
    assert "Settle on 12 Oak Street" in page
    assert "Pat Lee" not in page
    old_phone = next(f for f in client.facts.filter(field="phone") if f.value == "540 555 0199")
    settle(prs, client, "phone", str(old_phone.pk))
    client.refresh_from_db()
    assert client.phone == "540 555 0199"
    assert client.phone_digits == "5405550199"
    page = deconflict_page(aro)
    assert "Settle on 540" not in page
    assert "Settle on 12 Oak Street" in page  # the address is still to settle
    event = AuditEvent.objects.filter(action="recovery.conflict_settle").get()
    assert "0199" not in str(event.detail)  # the audit names the fact, never the value


def test_a_status_contradicted_by_a_contact_is_settled_in_one_click(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera", status="lost_contact")
    services.contact_create(
        acting_user=prs,
        client=client,
        data={
            "kind": "phone",
            "occurred_at": timezone.now(),
            "duration_minutes": 10,
            "prs_present": True,
            "location_type": "phone",
            "services": [],
            "outcome": "engaged",
        },
    )
    page = deconflict_page(aro)
    assert "status <strong>Lost contact</strong> (the record" in page
    settle(aro, client, "status", "active")
    client.refresh_from_db()
    assert client.status == "active"
    assert "Nothing recorded differently" in deconflict_page(aro)


def test_a_status_set_differently_by_the_aro_and_the_prs_is_listed(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera")
    client = services.client_update(
        acting_user=prs, client=client, data={"status": "lost_contact"}, version=client.version
    )
    page = deconflict_page(aro)
    assert "Settle on Lost contact" in page
    assert "Settle on Active" in page
    settle(aro, client, "status", "lost_contact")
    client.refresh_from_db()
    assert client.status == "lost_contact"
    assert "Nothing recorded differently" in deconflict_page(aro)


def test_visits_planned_twice_for_one_client_and_day_are_settled_in_one_click(
    cast: dict[str, Any],
) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera")
    noon = timezone.localtime().replace(hour=12, minute=0, second=0, microsecond=0)
    visits = [
        services.planned_create(
            acting_user=user,
            client=client,
            kind="office",
            starts_at=noon + timedelta(days=1, hours=hours),
            ends_at=noon + timedelta(days=1, hours=hours + 1),
            aro=aro,
            prs=prs,
            with_prs=True,
        )
        for user, hours in ((aro, 0), (prs, 3))
    ]
    page = browser(prs).get(reverse("recovery:deconflict")).content.decode()
    assert "Cancel this one" in page
    assert all(reverse("recovery:planned_cancel", args=[v.pk]) in page for v in visits)
    browser(prs).post(
        reverse("recovery:planned_cancel", args=[visits[1].pk]), {"next": "deconflict"}
    )
    page = browser(prs).get(reverse("recovery:deconflict")).content.decode()
    assert "No visit was planned twice" in page
    again = services.planned_create(
        acting_user=aro,
        client=client,
        kind="field",
        starts_at=noon + timedelta(days=1, hours=5),
        ends_at=noon + timedelta(days=1, hours=6),
        aro=aro,
        prs=prs,
        with_prs=True,
    )
    assert "Both visits are needed" in deconflict_page(prs)
    # Planning one more that day warns with the list's rule, even hours apart.
    response = browser(aro).post(
        reverse("recovery:planned_create"),
        {
            "client": client.pk,
            "kind": "office",
            "starts_at": timezone.localtime(noon + timedelta(days=1, hours=8)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "ends_at": timezone.localtime(noon + timedelta(days=1, hours=9)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "aro": aro.pk,
            "prs": prs.pk,
            "with_prs": "on",
            "idempotency_key": "plan-same-day",
        },
        follow=True,
    )
    assert "Another visit to this client is planned the same day" in response.content.decode()
    newest = PlannedContact.objects.filter(client=client).latest("pk")
    services.planned_cancel(acting_user=aro, planned=newest)
    settle(prs, client, "visits", "separate", timezone.localdate(again.starts_at))
    assert "No visit was planned twice" in deconflict_page(prs)


CONTACT_POST = {
    "kind": "phone",
    "duration_minutes": "10",
    "location_type": "phone",
    "outcome": "engaged",
}


def log_contact(user: Any, client: Client, at: Any, **extra: str) -> Any:
    data = {
        **CONTACT_POST,
        "occurred_at": timezone.localtime(at).strftime("%Y-%m-%dT%H:%M"),
        "idempotency_key": f"k-{user.pk}-{at.timestamp()}-{len(extra)}",
        **extra,
    }
    return browser(user).post(reverse("recovery:contact_create", args=[client.pk]), data)


def test_logging_a_contact_somebody_else_logged_that_day_warns_with_the_list_rule(
    cast: dict[str, Any],
) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera")
    now = timezone.localtime().replace(second=0, microsecond=0)
    midnight = now.replace(hour=0, minute=0)
    # Three moments of today, all past: the rule is the day, not the hours between.
    first, second, third = (midnight + (now - midnight) * share for share in (0.1, 0.2, 0.9))
    assert log_contact(prs, client, first).status_code == 302
    # The PRS's own second contact that day is no double work.
    assert log_contact(prs, client, second).status_code == 302
    assert "No encounter was logged twice" in deconflict_page(aro)
    # The ARO is warned while logging one the same day, however many hours later.
    form = browser(aro).get(reverse("recovery:contact_create", args=[client.pk]))
    assert "Already logged that day by somebody else" in form.content.decode()
    refused = log_contact(aro, client, third)
    assert refused.status_code == 400
    assert "Somebody else already logged a contact" in refused.content.decode()
    assert Contact.objects.filter(client=client).count() == 2
    # Recorded anyway, confirmed separate: the day is settled and not listed.
    confirmed = log_contact(aro, client, third, confirm_separate="1")
    assert confirmed.status_code == 302
    assert Contact.objects.filter(client=client).count() == 3
    assert "No encounter was logged twice" in deconflict_page(aro)


def test_an_encounter_logged_twice_is_listed_and_one_record_removed_in_one_click(
    cast: dict[str, Any],
) -> None:
    aro, prs = cast["aro"], cast["prs"]
    client = add(aro, "Jamie", "Rivera")
    at = timezone.now() - timedelta(minutes=30)
    twins = [
        services.contact_create(
            acting_user=user,
            client=client,
            data={
                "kind": "phone",
                "occurred_at": at,
                "duration_minutes": 10,
                "location_type": "phone",
                "services": [],
                "outcome": "engaged",
            },
        )
        for user in (aro, prs)
    ]
    page = deconflict_page(prs)
    assert "Same encounter: remove this record" in page
    settle(prs, client, "contacts", f"remove:{twins[1].pk}", timezone.localdate(at))
    assert list(Contact.objects.filter(client=client)) == [twins[0]]
    assert "No encounter was logged twice" in deconflict_page(prs)
    event = AuditEvent.objects.get(action="recovery.conflict_settle")
    assert event.detail["removed"] == twins[1].pk
    assert event.detail["kept"] == twins[0].pk
    # The last one of the day cannot be removed as a twin.
    response = browser(prs).post(
        reverse("recovery:conflict_settle", args=[client.pk]),
        {
            "topic": "contacts",
            "choice": f"remove:{twins[0].pk}",
            "day": timezone.localdate(at).isoformat(),
        },
    )
    assert response.status_code == 302
    assert Contact.objects.filter(pk=twins[0].pk).exists()
