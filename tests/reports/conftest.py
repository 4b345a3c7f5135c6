"""Fixtures of the reports tests: records made through the programs' own services."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
import time_machine

from tests.conftest import make_user
from tests.reports.support import MARKER_CLIENT, MARKER_SUPPORTER, _at, closed_usage


@pytest.fixture
def recovery_data(agency: Any, cast: dict[str, Any]) -> dict[str, Any]:
    """Clients, contacts, referrals, stages, overdoses and kits made through the recovery
    services in January–March 2026, with a marker name that must never reach a report."""
    from tandem.recovery import services as rs
    from tandem.recovery import vocab

    aro = cast["aro"]
    made: dict[str, Any] = {"clients": []}
    with time_machine.travel(datetime(2026, 1, 2, 9, tzinfo=UTC), tick=False):
        resource = rs.resource_save(
            acting_user=aro,
            data={"name": "Harbor Detox", "category": vocab.ResourceCategory.TREATMENT_DETOX},
        )
        for n in range(14):
            first, last = MARKER_CLIENT if n == 0 else (f"Client{n}", "Sample")
            made["clients"].append(
                rs.client_create(
                    acting_user=aro,
                    data={
                        "first_name": first,
                        "last_name": last,
                        "phone": f"555-010{n % 10}",
                        "status": vocab.ClientStatus.ACTIVE,
                    },
                )
            )
    checklist = list(agency.policy_model().recovery.safety_checklist)
    for month in (1, 2, 3):
        day = date(2026, month, 10)
        planned: dict[int, Any] = {}
        with time_machine.travel(_at(day, 7), tick=False):
            # A co-response with the PRS is a field contact: planned, and the ARO's safety
            # assessment recorded, before the PRS takes part (the recovery program's rule).
            for i, client in enumerate(made["clients"]):
                if i % 2:
                    planned[i] = rs.planned_create(
                        acting_user=aro,
                        client=client,
                        kind=vocab.ContactKind.CO_RESPONSE,
                        starts_at=_at(day, 9),
                        ends_at=_at(day, 10),
                        aro=aro,
                        prs=cast["prs"],
                        with_prs=True,
                    )
                    rs.safety_assessment_record(
                        acting_user=aro, planned=planned[i], confirmed=checklist
                    )
        with time_machine.travel(_at(day, 18), tick=False):
            for i, client in enumerate(made["clients"]):
                rs.contact_create(
                    acting_user=aro,
                    client=client,
                    data={
                        "kind": vocab.ContactKind.CO_RESPONSE if i % 2 else vocab.ContactKind.PHONE,
                        "occurred_at": _at(day, 9),
                        "duration_minutes": 30,
                        "aro_present": True,
                        "prs_present": bool(i % 2),
                        "planned": planned.get(i),
                        "location_type": (
                            vocab.LocationType.STREET if i % 2 else vocab.LocationType.PHONE
                        ),
                        "services": [vocab.ContactService.REFERRAL],
                        "outcome": (
                            vocab.ContactOutcome.ENGAGED
                            if i < 11
                            else vocab.ContactOutcome.DECLINED
                        ),
                        "arrest_diverted": i < 6,
                        "notes": f"Met {MARKER_CLIENT[0]} near the pier",
                    },
                )
                stage = vocab.Stage.CONTEMPLATION if month == 1 else vocab.Stage.ACTION
                rs.stage_record(
                    acting_user=aro, client=client, assessed_at=_at(day, 9), stage=stage
                )
    with time_machine.travel(_at(date(2026, 2, 12)), tick=False):
        for client in made["clients"][:7]:
            referral = rs.referral_create(
                acting_user=aro, client=client, resource=resource, sent=True
            )
            rs.referral_advance(
                acting_user=aro, referral=referral, status=vocab.ReferralStatus.ACCEPTED
            )
    return made


@pytest.fixture
def usage_data(agency: Any) -> dict[str, Any]:
    """Usage records as the support app stores them (closed codes only), January–April
    2026, by a supporter whose name must never reach a report."""
    from tandem.support import vocab
    from tandem.support.models import SupporterProfile

    # This agency's usage form records incident type and member category (PS-6: the
    # agency chooses the fields from the closed list).
    agency.policy["usage_form"]["fields"] = [
        "incident_type",
        "member_category",
        "duration_bucket",
        "services",
    ]
    agency.save(update_fields=["policy"])
    user = make_user(agency, MARKER_SUPPORTER, "supporter")
    profile = SupporterProfile.objects.create(
        agency=agency, user=user, affiliation=vocab.Affiliation.choices[0][0]
    )
    plan = [  # (month, incident type, category, how many)
        (1, "work_stress", "sworn", 12),
        (1, "personal", "sworn", 9),
        (1, "work_stress", "civilian", 6),
        (1, "substance_use", "civilian", 1),
        (2, "work_stress", "sworn", 10),
        (2, "personal", "civilian", 7),
        (3, "deadly_force", "sworn", 8),
        (3, "work_stress", "sworn", 11),
        (4, "work_stress", "sworn", 2),
    ]
    for month, incident, category, n in plan:
        for k in range(n):
            closed_usage(
                profile,
                month,
                k,
                topic="work_stress",
                incident_type=incident,
                member_category=category,
                duration_bucket="15_60",
                services=["listening"],
                seconds_to_ack=120 + 400 * (k % 3),
            )
    return {"profile": profile}
