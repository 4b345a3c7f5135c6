"""Readiness, demo data: acceptance tests from the user's side."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from tandem.accounts.models import User
from tandem.readiness import compliance
from tandem.readiness.gates import (
    has_cji_access,
    is_peer_support_ready,
)
from tandem.readiness.models import (
    Designation,
    Gate,
    TrainingSession,
)

# ========================================================================================
# Demo data
# ========================================================================================


@pytest.mark.django_db
def test_demo_data_is_idempotent_and_opens_the_gates(agency: Any, cast: dict[str, User]) -> None:
    from tandem.readiness import demo

    demo.populate(agency=agency, users=cast)
    demo.populate(agency=agency, users=cast)
    assert is_peer_support_ready(cast["supporter"])
    assert has_cji_access(cast["aro"])
    assert Gate.objects.get(user=cast["prs"]).cji
    assert Designation.objects.filter(user=cast["supporter"]).count() == 1
    assert TrainingSession.objects.filter(starts_at__gt=timezone.now()).count() >= 2
    levels = {
        s.level
        for s in compliance.statuses_for(
            agency, [cast["supporter"], cast["aro"], cast["prs"]]
        ).values()
    }
    assert "not_compliant" not in levels
    summary = compliance.compliance_summary(agency)
    assert summary["due_soon"] >= 1
