"""Peer support, critical incidents: acceptance tests from the user's side."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.support import services
from tandem.support.models import (
    GroupSession,
    MutualAidRequest,
)
from tests.conftest import sign_in
from tests.peer_support.support import deliveries

pytestmark = pytest.mark.django_db


# ========================================================================================
# 8. Critical incidents
# ========================================================================================


def test_incidents_deployments_group_sessions_and_mutual_aid_hold_counts_only(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), cast["coordinator"])
    response = client.post(
        reverse("support:incident_list"),
        {
            "kind": "shooting",
            "occurred_on": timezone.localdate().isoformat(),
            "members_affected": 6,
        },
    )
    incident_url = response["Location"]
    refused = client.post(
        incident_url, {"action": "deploy", "supporter": services.profile_for(team["ben"]).pk}
    )
    assert refused.status_code == 400
    assert b"post-shooting" in refused.content
    client.post(
        incident_url, {"action": "deploy", "supporter": services.profile_for(team["pia"]).pk}
    )
    assert deliveries("psp.request.assigned", team["pia"])
    workspace = sign_in(Client(), team["pia"]).get(reverse("support:workspace")).content
    assert b"Officer-involved shooting" in workspace
    client.post(
        incident_url,
        {
            "action": "session",
            "kind": "wellness_debrief",
            "held_on": timezone.localdate().isoformat(),
            "attendees": 9,
        },
    )
    assert GroupSession.objects.get().attendees == 9
    client.post(
        reverse("support:mutual_aid"),
        {
            "direction": "outgoing",
            "partner_agency": "Neighbor County Sheriff",
            "incident_kind": "line_of_duty_death",
            "requested_on": timezone.localdate().isoformat(),
            "supporters_requested": 3,
            "supporters_provided": 0,
            "status": "open",
        },
    )
    assert MutualAidRequest.objects.get().supporters_requested == 3
    text_fields = [
        f.name
        for m in ("CriticalIncident", "Deployment", "GroupSession")
        for f in apps.get_model("support", m)._meta.fields
        if isinstance(f, models.CharField | models.TextField) and not f.choices
    ]
    assert text_fields == []
