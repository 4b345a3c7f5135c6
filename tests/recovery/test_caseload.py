"""Peer recovery, caseload, navigation and the demo, from the users' side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tandem.recovery.models import (
    Client,
)
from tests.recovery.support import browser, new_client, plan

# ========================================================================================
# 10. Caseload, navigation, demo
# ========================================================================================


def test_the_caseload_lists_my_clients_and_todays_visits(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"], aro=cast["aro"], prs=cast["prs"])
    new_client(cast["aro"], first_name="Other", last_name="Person", phone="")
    plan(cast, client, timezone.now() + timedelta(minutes=30))
    page = browser(cast["prs"]).get(reverse("recovery:caseload")).content.decode()
    assert "Jamie Rivera" in page
    assert "Other Person" not in page
    assert "Safety assessment needed" in page


def test_the_menu_shows_recovery_only_to_the_program_and_statements_to_the_chief(
    cast: dict[str, Any],
) -> None:
    from tandem.core.navigation import navigation_for

    labels = {
        role: [i["label"] for i in navigation_for(cast[role], "/")]
        for role in ("aro", "prs", "chief", "supervisor")
    }
    assert "Clients" in labels["aro"]
    assert "Caseload" in labels["prs"]
    assert "Clients" not in labels["chief"]
    assert "Public statements" in labels["chief"]
    assert "Clients" not in labels["supervisor"]


def test_the_demo_is_idempotent_and_keeps_cji_to_the_aro(agency: Any, cast: dict[str, Any]) -> None:
    from tandem.recovery.demo import populate
    from tandem.recovery.models import CJIEntry

    populate(agency=agency, users=cast)
    populate(agency=agency, users=cast)
    assert Client.objects.filter(agency=agency).count() == 12
    assert CJIEntry.objects.count() == 1
    client = CJIEntry.objects.get().client
    assert browser(cast["aro"]).get(reverse("recovery:cji", args=[client.pk])).status_code == 200
    assert browser(cast["prs"]).get(reverse("recovery:cji", args=[client.pk])).status_code == 404
