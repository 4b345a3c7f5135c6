"""Peer recovery, referrals: the closed loop, from the users' side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tandem.recovery import services
from tandem.recovery.models import (
    Referral,
)
from tests.recovery.support import browser, new_client, raw_rows, resource

# ========================================================================================
# 5. Referrals: the closed loop
# ========================================================================================


def test_a_referral_moves_through_the_closed_loop_and_refuses_invalid_steps(
    cast: dict[str, Any],
) -> None:
    client = new_client(cast["aro"])
    center = resource(cast["aro"])
    prs = browser(cast["prs"])
    today = timezone.localdate().isoformat()
    prs.post(
        reverse("recovery:referral_create", args=[client.pk]),
        {"resource": center.pk, "follow_up_on": today},
    )
    referral = Referral.objects.get()
    step = reverse("recovery:referral_advance", args=[referral.pk])
    skipped = prs.post(step, {"status": "engaged", "on": today})
    assert skipped.status_code == 400  # proposed cannot jump to engaged
    for status in ("sent", "accepted", "engaged", "completed"):
        assert prs.post(step, {"status": status, "on": today}).status_code == 302, status
    referral.refresh_from_db()
    assert referral.status == "completed"
    assert referral.sent_on == referral.accepted_on == referral.completed_on
    assert [h["status"] for h in referral.history] == [
        "proposed",
        "sent",
        "accepted",
        "engaged",
        "completed",
    ]
    assert prs.post(step, {"status": "sent", "on": today}).status_code == 400  # closed
    page = prs.get(reverse("recovery:referral_detail", args=[referral.pk])).content.decode()
    assert '<th scope="row">Completed</th>' in page
    assert "This referral is closed." in page


def test_declining_needs_a_reason_and_dates_cannot_go_backwards(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    referral = services.referral_create(
        acting_user=cast["prs"], client=client, resource=resource(cast["aro"]), sent=True
    )
    step = reverse("recovery:referral_advance", args=[referral.pk])
    prs = browser(cast["prs"])
    no_reason = prs.post(step, {"status": "declined", "on": timezone.localdate().isoformat()})
    assert "Give the reason" in no_reason.content.decode()
    earlier = (timezone.localdate() - timedelta(days=3)).isoformat()
    backwards = prs.post(step, {"status": "accepted", "on": earlier})
    assert "cannot be before the previous step" in backwards.content.decode()
    prs.post(
        step, {"status": "declined", "on": timezone.localdate().isoformat(), "reason": "No beds"}
    )
    referral.refresh_from_db()
    assert referral.status == "declined"
    assert referral.reason == "No beds"
    assert "No beds" not in raw_rows("recovery_referral")


def test_a_referral_to_another_agencys_organisation_is_refused(
    cast: dict[str, Any], stranger: Any
) -> None:
    from django.core.exceptions import ValidationError

    client = new_client(cast["aro"])
    foreign = resource(stranger, "Bravo Detox")
    response = browser(cast["prs"]).post(
        reverse("recovery:referral_create", args=[client.pk]), {"resource": foreign.pk}
    )
    assert response.status_code == 400
    assert "your agency&#x27;s directory" in response.content.decode()
    with pytest.raises(ValidationError):
        services.referral_create(acting_user=cast["prs"], client=client, resource=foreign)
    assert not Referral.objects.exists()
    assert (
        browser(cast["prs"]).get(reverse("recovery:resource_edit", args=[foreign.pk])).status_code
        == 404
    )


def test_due_follow_ups_show_on_the_caseload_of_the_assigned_staff(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"], aro=cast["aro"], prs=cast["prs"])
    services.referral_create(
        acting_user=cast["prs"],
        client=client,
        resource=resource(cast["aro"], "Due Center"),
        follow_up_on=timezone.localdate() - timedelta(days=1),
    )
    page = browser(cast["prs"]).get(reverse("recovery:caseload")).content.decode()
    assert "Due Center" in page
    assert "Jamie Rivera" in page
    other = browser(cast["crt_supervisor"]).get(reverse("recovery:caseload")).content.decode()
    assert "Due Center" not in other
