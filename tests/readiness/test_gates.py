"""Readiness gates: immediate, audited, and read by the other programs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit.models import AuditEvent
from tandem.readiness import compliance, services
from tandem.readiness.gates import (
    has_cji_access,
    is_peer_support_ready,
    peer_support_ready_users,
)
from tandem.readiness.models import (
    Gate,
)
from tests.readiness.support import at, attend, make_ready, sign

# ========================================================================================
# 4. Gates: immediate, audited, and read by the other programs
# ========================================================================================


@pytest.mark.django_db
def test_a_supporter_who_becomes_non_compliant_leaves_the_on_call_list_at_once(
    agency: Any, cast: dict[str, User]
) -> None:
    supporter, coordinator = cast["supporter"], cast["coordinator"]
    with time_machine.travel(at(2026, 2, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9))
        assert list(peer_support_ready_users(agency)) == [supporter]
        attend(agency, coordinator, supporter, "monthly-meeting", at(2026, 1, 20, 9), "unexcused")
        assert is_peer_support_ready(supporter)  # one is allowed
        before = AuditEvent.objects.filter(action="readiness.gate_changed").count()
        attend(agency, coordinator, supporter, "psp-ongoing", at(2026, 2, 3, 9), "unexcused")
        assert supporter not in peer_support_ready_users(agency)
        assert not is_peer_support_ready(supporter)
        event = AuditEvent.objects.filter(action="readiness.gate_changed").last()
        assert AuditEvent.objects.filter(action="readiness.gate_changed").count() == before + 1
        assert event is not None
        assert event.detail["was_peer_support"] is True
        assert event.detail["peer_support"] is False
        assert event.detail["cause"] == "attendance"
        gate = Gate.objects.get(user=supporter)
        assert any("unexcused absences" in r for r in gate.reasons)
    # A new year resets the count: the daily job reopens the gate.
    with time_machine.travel(at(2027, 1, 2), tick=False):
        attend(agency, coordinator, supporter, "psp-ongoing", at(2027, 1, 1, 9))
        services.recompute_everyone()
        assert is_peer_support_ready(supporter)


def test_daily_jobs_recompute_gates_and_send_reminders() -> None:
    from tandem.core.jobs import PERIODIC

    paths = {path: interval for interval, path in PERIODIC}
    assert paths["tandem.readiness.services.recompute_everyone"] == timedelta(days=1)
    assert paths["tandem.readiness.services.reminders_send"] == timedelta(days=1)


@pytest.mark.django_db
def test_the_gate_lapses_at_the_due_moment_even_before_the_daily_job(
    agency: Any, cast: dict[str, User]
) -> None:
    supporter = cast["supporter"]
    with time_machine.travel(at(2026, 1, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9))
        gate = Gate.objects.get(user=supporter)
        assert gate.peer_support
        assert timezone.localtime(gate.peer_support_until) == at(2026, 7, 1, 0)
        assert is_peer_support_ready(supporter, at(2026, 6, 30, 23))
        assert not is_peer_support_ready(supporter, at(2026, 7, 1, 0))
        assert supporter not in peer_support_ready_users(agency, at(2026, 7, 1, 1))


@pytest.mark.django_db
def test_designation_is_needed_for_the_roster_and_removal_closes_the_gate(
    agency: Any, cast: dict[str, User]
) -> None:
    supporter = cast["supporter"]
    with time_machine.travel(at(2026, 1, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9), designate=False)
        assert not is_peer_support_ready(supporter)
        assert (
            "Peer support: not officially designated by the Chief"
            in compliance.status_for(supporter).reasons
        )
        designation = services.designation_grant(
            acting_user=cast["chief"], user=supporter, program="psp"
        )
        assert is_peer_support_ready(supporter)
        services.designation_remove(
            acting_user=cast["coordinator"], designation=designation, reason="breach"
        )
        assert not is_peer_support_ready(supporter)
        designation.refresh_from_db()
        assert designation.removal_reason == "breach"
        assert designation.removed_by == cast["coordinator"]
        with pytest.raises(ValidationError, match="already removed"):
            services.designation_remove(
                acting_user=cast["chief"], designation=designation, reason="other"
            )


@pytest.mark.django_db
def test_cji_gate_needs_check_cjis_awareness_and_nda_and_access_needs_sworn(
    agency: Any, cast: dict[str, User]
) -> None:
    aro, prs, coordinator = cast["aro"], cast["prs"], cast["crt_supervisor"]
    with time_machine.travel(at(2026, 3, 1), tick=False):
        for person in (aro, prs):
            services.check_record(
                acting_user=coordinator,
                user=person,
                checked_on=date(2026, 2, 1),
                result="cleared",
                renewal_due=date(2027, 2, 1),
            )
        assert not has_cji_access(aro)  # no CJIS awareness yet
        for person in (aro, prs):
            attend(agency, coordinator, person, "cjis-awareness", at(2026, 2, 10, 9))
        assert has_cji_access(aro)
        assert not Gate.objects.get(user=prs).cji  # the PRS has not signed the NDA
        sign(prs, "nda")
        assert Gate.objects.get(user=prs).cji
        assert not has_cji_access(prs)  # a civilian never passes
        gate = Gate.objects.get(user=aro)
        assert timezone.localdate(gate.cji_until) == date(2027, 2, 2)
    with time_machine.travel(at(2027, 2, 1, 20), tick=False):
        assert has_cji_access(aro)  # good through its renewal date
    with time_machine.travel(at(2027, 2, 2, 8), tick=False):
        assert not has_cji_access(aro)  # the check lapsed at midnight
