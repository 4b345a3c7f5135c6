"""Peer recovery, readiness and plan on one timeline, from the users' side."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from tandem.audit.models import AuditEvent
from tests.recovery.support import browser, new_client, raw_rows

# ========================================================================================
# 4. Readiness and plan, one timeline
# ========================================================================================


def test_stage_of_change_goals_and_the_timeline(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    prs = browser(cast["prs"])
    prs.post(reverse("recovery:stage_create", args=[client.pk]), {"stage": "contemplation"})
    browser(cast["aro"]).post(
        reverse("recovery:stage_create", args=[client.pk]), {"stage": "preparation"}
    )
    assert client.current_stage().stage == "preparation"
    assert client.current_stage().assessed_by == cast["aro"]
    prs.post(
        reverse("recovery:goal_create", args=[client.pk]), {"text": "Attend three meetings a week"}
    )
    goal = client.goals.get()
    prs.post(reverse("recovery:goal_status", args=[goal.pk]), {"status": "achieved"})
    goal.refresh_from_db()
    assert goal.status == "achieved"
    assert "Attend three" not in raw_rows("recovery_goal")
    prs.post(reverse("recovery:stage_create", args=[client.pk]), {"stage": "not-a-stage"})
    assert client.stages.count() == 2
    page = prs.get(reverse("recovery:client_detail", args=[client.pk])).content.decode()
    for text in ("Timeline", "Preparation", "Contemplation", "Attend three meetings"):
        assert text in page
    assert AuditEvent.objects.filter(
        action="recovery.client_view", object_id=str(client.pk)
    ).exists()
