"""Peer recovery: reminders, retention, the deconfliction page, the visits feed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.readiness.gates import gate_update
from tandem.recovery import services
from tandem.recovery.models import (
    Client,
    Disclosure,
)
from tests.recovery.support import (
    browser,
    consent_post,
    new_client,
    plan,
    plant_cji,
    resource,
    share,
)

# ========================================================================================
# Reminders, retention, the deconfliction page and the visits calendar feed
# ========================================================================================


def test_the_daily_reminder_reaches_staff_with_work_due_and_carries_no_content(
    cast: dict[str, Any],
) -> None:
    from tandem.notifications.models import Delivery

    client = new_client(cast["aro"], aro=cast["aro"], prs=cast["prs"])
    services.referral_create(
        acting_user=cast["prs"],
        client=client,
        resource=resource(cast["aro"]),
        follow_up_on=timezone.localdate(),
    )
    assert services.follow_up_reminders_send() == 2
    deliveries = list(Delivery.objects.filter(kind="recovery.reminder"))
    assert {d.recipient_user_id for d in deliveries} == {cast["aro"].pk, cast["prs"].pk}
    assert "Rivera" not in repr([vars(d) for d in deliveries])


def test_the_retention_purge_shreds_and_removes_inactive_clients_only(
    agency: Any, cast: dict[str, Any]
) -> None:
    import time_machine

    from tandem.core.models import DataKey

    gate_update(user=cast["aro"], peer_support=False, cji=True)
    gone = new_client(cast["aro"], status="inactive")
    kept = new_client(cast["aro"], first_name="Still", last_name="Here", phone="")
    plant_cji(cast, gone)
    court = resource(cast["aro"], "County Drug Court", "drug_court")
    browser(cast["prs"]).post(
        reverse("recovery:consent_create", args=[gone.pk]),
        consent_post(court, idempotency_key="consent-once"),
    )
    share(browser(cast["prs"]), gone, court)
    keys = list(DataKey.objects.filter(purpose__startswith="prp.").values_list("pk", flat=True))
    days = agency.policy_model().retention.recovery_record_days
    assert services.records_purge() == 0  # nothing is old enough yet
    with time_machine.travel(timezone.now() + timedelta(days=days + 1)):
        assert services.records_purge() == 1
    assert not Client.objects.filter(pk=gone.pk).exists()
    assert Client.objects.filter(pk=kept.pk).exists()
    assert not Disclosure.objects.exists()
    shredded = DataKey.objects.filter(pk__in=keys, shredded_at__isnull=False).count()
    assert shredded >= 5  # client, CJI entry, note, consent, disclosure
    assert AuditEvent.objects.filter(action="recovery.client_purged").count() == 1
    with time_machine.travel(timezone.now() + timedelta(days=8)):
        assert services.submissions_purge() >= 1


def test_the_deconfliction_page_shows_twice_registered_clients_and_double_logged_visits(
    cast: dict[str, Any],
) -> None:
    first = new_client(cast["aro"])
    new_client(cast["prs"], first_name="Jaime", phone="")
    moment = timezone.now() - timedelta(hours=1)
    for user, minutes in ((cast["aro"], 0), (cast["prs"], 20)):
        services.contact_create(
            acting_user=user,
            client=first,
            data={
                "kind": "co_response",
                "occurred_at": moment + timedelta(minutes=minutes),
                "duration_minutes": 30,
                "aro_present": True,
                "prs_present": False,
                "location_type": "street",
                "services": [],
                "outcome": "engaged",
            },
        )
    page = browser(cast["prs"]).get(reverse("recovery:deconflict")).content.decode()
    assert "Jaime Rivera" in page
    assert "Date of birth: the same" in page
    assert page.count(reverse("recovery:contact_edit", args=[first.contacts.last().pk])) == 1
    assert "No encounter was logged twice" not in page


def test_the_visits_calendar_feed_is_secret_revocable_and_names_no_client(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"], aro=cast["aro"], prs=cast["prs"])
    plan(cast, client, timezone.now() + timedelta(hours=4))
    prs = browser(cast["prs"])
    page = prs.post(reverse("recovery:feed_issue"), follow=True).content.decode()
    url = page.split('<code class="secret">')[1].split("</code>")[0]
    path = url.split("testserver")[1]
    feed = Browser().get(path)
    assert feed.status_code == 200
    body = feed.content.decode()
    assert "Peer recovery visit" in body
    assert "Rivera" not in body
    # An agency that stops running peer recovery stops answering its feeds too.
    agency = cast["prs"].agency
    agency.policy["programs"] = ["peer_support"]
    agency.save(update_fields=["policy"])
    assert Browser().get(path).status_code == 404
    agency.policy["programs"] = ["peer_support", "peer_recovery"]
    agency.save(update_fields=["policy"])
    assert Browser().get(path).status_code == 200
    assert "Jamie" not in body
    prs.post(reverse("recovery:feed_issue"))  # a new link revokes the old one
    assert Browser().get(path).status_code == 404
    assert Browser().get(reverse("recovery:feed", args=["nonsense"])).status_code == 404
