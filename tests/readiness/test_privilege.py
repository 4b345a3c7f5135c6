"""Readiness, the privilege eligibility statement, from the user's side."""

from __future__ import annotations

from typing import Any

import pytest
import time_machine
from django.urls import reverse

from tandem.accounts.models import User
from tandem.audit.models import AuditEvent
from tandem.readiness import services
from tandem.readiness.models import (
    Designation,
)
from tests.readiness.support import at, make_ready

# ========================================================================================
# 9. Privilege eligibility statement
# ========================================================================================


@pytest.mark.django_db
def test_eligibility_statement_for_a_past_date(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter = cast["supporter"]
    with time_machine.travel(at(2026, 1, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9))
    with time_machine.travel(at(2026, 7, 1), tick=False):
        designation = Designation.objects.get(user=supporter)
        services.designation_remove(
            acting_user=cast["chief"], designation=designation, reason="resigned"
        )
        client = signed_in(cast["coordinator"])
        url = reverse("readiness:statement", args=[supporter.pk])
        before = client.get(url, {"on": "2026-01-01"})
        assert b'<dd id="eligible"><strong>No' in before.content
        during = client.get(url, {"on": "2026-02-01"})
        assert b'<dd id="eligible"><strong>Yes' in during.content
        assert b"since Mon, Jan 5, 2026" in during.content
        after = client.get(url, {"on": "2026-07-01"})
        assert b'<dd id="eligible"><strong>No' in after.content
        pdf = client.get(
            reverse("readiness:statement_pdf", args=[supporter.pk]), {"on": "2026-02-01"}
        )
        assert pdf["Content-Type"] == "application/pdf"
        assert pdf.content.startswith(b"%PDF")
        future = client.get(url, {"on": "2026-08-01"})
        assert future.status_code == 400
    assert AuditEvent.objects.filter(action="readiness.statement_viewed").count() == 4
