"""Demo data for this program (called by ``tandem demo`` through core.demo.DEMO_APPS).

Synthetic people only. Everything is made through the real services; the only shortcut is
back-dating the clients' registration so that their contacts can show some history.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from tandem.recovery import services, vocab
from tandem.recovery.models import Client, Resource

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency

RESOURCES = [
    (
        "Shenandoah Detox Center",
        vocab.ResourceCategory.TREATMENT_DETOX,
        "Adults 18+; walk-in assessment 8 a.m.–4 p.m.",
    ),
    (
        "Valley Residential Recovery",
        vocab.ResourceCategory.TREATMENT_RESIDENTIAL,
        "28-day program; Medicaid accepted.",
    ),
    (
        "Northside Outpatient Clinic",
        vocab.ResourceCategory.TREATMENT_OUTPATIENT,
        "Evening groups; sliding-scale fees.",
    ),
    ("Bridge MOUD Clinic", vocab.ResourceCategory.TREATMENT_MOUD, "Buprenorphine same-day starts."),
    ("Oxford House Cedar", vocab.ResourceCategory.RECOVERY_HOUSING, "Men; 30 days sober."),
    ("County Drug Court", vocab.ResourceCategory.DRUG_COURT, "Referral through counsel."),
    ("Mental Health Court", vocab.ResourceCategory.MENTAL_HEALTH_COURT, ""),
    ("Department of Social Services", vocab.ResourceCategory.SOCIAL_SERVICES, ""),
    ("Fire and Rescue Community Paramedic", vocab.ResourceCategory.COMMUNITY_PARAMEDIC, ""),
    (
        "Quick Response Team",
        vocab.ResourceCategory.QUICK_RESPONSE_TEAM,
        "Visits within 72 hours of an overdose.",
    ),
    ("Family Assistance Office", vocab.ResourceCategory.FAMILY_ASSISTANCE, ""),
    ("Veterans Outreach Center", vocab.ResourceCategory.VETERANS, "Veterans of any era."),
]
CLIENTS = [
    ("Jordan", "Alder", "J-Bird", "1988-03-14", "540-555-0101", "opioids"),
    ("Riley", "Brennan", "", "1992-07-02", "540-555-0102", "stimulants"),
    ("Casey", "Calloway", "Case", "1979-11-23", "540-555-0103", "alcohol"),
    ("Morgan", "Delacroix", "", "1995-01-30", "540-555-0104", "opioids"),
    ("Taylor", "Eastwood", "T", "1984-05-17", "", "opioids"),
    ("Avery", "Fairbanks", "", "2000-09-09", "540-555-0106", "cannabis"),
    ("Quinn", "Garland", "", "1990-12-01", "540-555-0107", "benzodiazepines"),
    ("Drew", "Hollis", "Dee", "1975-06-21", "540-555-0108", "alcohol"),
    ("Skyler", "Ingram", "", "1998-02-11", "540-555-0109", "stimulants"),
    ("Reese", "Jennings", "", "1986-08-08", "540-555-0110", "opioids"),
    ("Parker", "Kendall", "", "1993-04-04", "540-555-0111", "opioids"),
    ("Rowan", "Lindqvist", "Ro", "1981-10-19", "540-555-0112", "alcohol"),
]
STAGES = list(vocab.Stage.values)


def populate(*, agency: Agency, users: dict[str, Any]) -> None:
    """Create this program's demo records for ``agency``; safe to run again."""
    aro, prs = users.get("aro"), users.get("prs")
    if aro is None or prs is None or Client.objects.filter(agency=agency).exists():
        return
    _open_cji_gate(aro)
    resources = [
        services.resource_save(
            acting_user=aro,
            data={
                "name": name,
                "category": category,
                "eligibility": eligibility,
                "active": True,
                "phone": f"540-555-02{n:02d}",
            },
        )
        for n, (name, category, eligibility) in enumerate(RESOURCES)
    ]
    now = timezone.now()
    clients = []
    for n, (first, last, alias, born, phone, substance) in enumerate(CLIENTS):
        client = services.client_create(
            acting_user=aro,
            data={
                "first_name": first,
                "last_name": last,
                "aliases": alias,
                "date_of_birth": datetime.fromisoformat(born).date(),
                "phone": phone,
                "address": f"{100 + n} Demo Street",
                "substances": [substance],
                "status": vocab.ClientStatus.ACTIVE if n < 9 else vocab.ClientStatus.LOST_CONTACT,
                "aro": aro,
                "prs": prs,
            },
        )
        # Registered over the past year or so, so the program has a year of history.
        Client.objects.filter(pk=client.pk).update(created_at=now - timedelta(days=420 - 10 * n))
        client.refresh_from_db()
        clients.append(client)
        _history(client, n, aro, prs, resources, now)
    services.client_flags_set(
        acting_user=aro, client=clients[0], flags=[vocab.SafetyFlag.DO_NOT_VISIT_ALONE]
    )
    _planned_today(clients, aro, prs)
    _consent_and_cji(clients[0], resources, aro, prs)
    _program_records(agency, aro, prs, now)


def _open_cji_gate(aro: User) -> None:
    """The readiness demo sets clearances; open the ARO's gate only when it set none."""
    from tandem.readiness.gates import gate_for, gate_update

    if gate_for(aro) is None:
        gate_update(user=aro, peer_support=False, cji=True, cause="demo")


def _history(
    client: Client, n: int, aro: User, prs: User, resources: list[Resource], now: datetime
) -> None:
    for k in range(1 + n % 4):
        services.contact_create(
            acting_user=prs if k % 2 else aro,
            client=client,
            data={
                "kind": [
                    vocab.ContactKind.FOLLOW_UP,
                    vocab.ContactKind.PHONE,
                    vocab.ContactKind.CO_RESPONSE,
                    vocab.ContactKind.OFFICE,
                ][k],
                "occurred_at": now - timedelta(days=60 - 12 * k, hours=n),
                "duration_minutes": 15 + 10 * k,
                # Street contacts are the officer's; the PRS takes the calls and office
                # visits (a PRS in the field needs a planned visit and the ARO's safety
                # assessment, which back-dated history cannot have).
                "aro_present": k % 2 == 0,
                "prs_present": k % 2 == 1,
                "location_type": vocab.LocationType.STREET
                if k % 2 == 0
                else vocab.LocationType.PHONE,
                "services": [vocab.ContactService.HARM_REDUCTION] if k == 0 else [],
                "outcome": vocab.ContactOutcome.ENGAGED
                if (n + k) % 3
                else vocab.ContactOutcome.DECLINED,
                "arrest_diverted": k == 2,
                "notes": "Talked about options for treatment.",
            },
        )
    # Monthly check-in calls by the PRS since registration (a year of history).
    for month in range(2, min(15 - n % 3, (419 - 10 * n) // 30 + 1)):
        services.contact_create(
            acting_user=prs,
            client=client,
            data={
                "kind": vocab.ContactKind.PHONE,
                "occurred_at": now - timedelta(days=30 * month, hours=n),
                "duration_minutes": 10 + 5 * (month % 3),
                "aro_present": False,
                "prs_present": True,
                "location_type": vocab.LocationType.PHONE,
                "services": [],
                "outcome": vocab.ContactOutcome.ENGAGED
                if (n + month) % 4
                else vocab.ContactOutcome.NOT_FOUND,
                "arrest_diverted": False,
                "notes": "",
            },
        )
    # Quarterly street check-ins by the ARO across the year, so the ARO's annual evaluation
    # (OO 2-78 E.1–2) has a full year of figures as the PRS's does.
    for quarter in range(1, 5):
        days = 90 * quarter + 7
        if days >= 419 - 10 * n:
            break
        services.contact_create(
            acting_user=aro,
            client=client,
            data={
                "kind": vocab.ContactKind.FOLLOW_UP,
                "occurred_at": now - timedelta(days=days, hours=n),
                "duration_minutes": 15,
                "aro_present": True,
                "prs_present": False,
                "location_type": vocab.LocationType.STREET,
                "services": [],
                "outcome": vocab.ContactOutcome.ENGAGED
                if (n + quarter) % 3
                else vocab.ContactOutcome.NOT_FOUND,
                "arrest_diverted": False,
                "notes": "",
            },
        )
    for step in range(1 + n % 3):
        services.stage_record(
            acting_user=prs,
            client=client,
            stage=STAGES[min(step + n % 2, 4)],
            assessed_at=now - timedelta(days=50 - 20 * step),
        )
    services.goal_create(acting_user=prs, client=client, text="Get a state ID card")
    referral = services.referral_create(
        acting_user=prs,
        client=client,
        resource=resources[n % 4],
        follow_up_on=timezone.localdate() + timedelta(days=n % 5 - 1),
        sent=n % 2 == 0,
    )
    if n % 4 == 0:
        services.referral_advance(
            acting_user=prs,
            referral=referral,
            status=vocab.ReferralStatus.ACCEPTED,
            follow_up_on=timezone.localdate() + timedelta(days=2),
        )


def _planned_today(clients: list[Client], aro: User, prs: User) -> None:
    day = timezone.localdate()
    for n, hour in enumerate((10, 14)):
        start = timezone.make_aware(datetime.combine(day, time(hour)))
        services.planned_create(
            acting_user=aro,
            client=clients[n],
            kind=vocab.ContactKind.FIELD,
            starts_at=start,
            ends_at=start + timedelta(hours=1),
            aro=aro,
            prs=prs,
            with_prs=True,
        )


def _consent_and_cji(client: Client, resources: list[Resource], aro: User, prs: User) -> None:
    today = timezone.localdate()
    court = next(r for r in resources if r.category == vocab.ResourceCategory.DRUG_COURT)
    services.consent_create(
        acting_user=prs,
        client=client,
        data={
            "discloser": "Peer Recovery Program",
            "recipient": court,
            "purpose": "court",
            "information": ["identity", "attendance", "substance_use"],
            "starts_on": today,
            "expires_on": today + timedelta(days=180),
            "expiry_event": "",
            "revocation_method": "In writing or in person at the program office, at any time.",
            "signed_by": "client",
            "signer_name": client.full_name,
            "signed_on": today,
        },
    )
    services.disclosure_create(
        acting_user=prs,
        client=client,
        recipient=court,
        purpose="court",
        information=["attendance"],
        description="Attendance at peer meetings, last 30 days.",
    )
    from tandem.recovery.access import can_read_cji

    if can_read_cji(aro):
        services.cji_entry_create(
            acting_user=aro,
            client=client,
            source=vocab.CJISource.NCIC,
            queried_on=today,
            purpose="Officer safety before a visit",
            summary="No active warrants (synthetic demo entry).",
        )


def _program_records(agency: Agency, aro: User, prs: User, now: datetime) -> None:
    for n in range(6):
        services.overdose_create(
            acting_user=aro,
            data={
                "occurred_at": now - timedelta(days=5 * n + 1),
                "location": f"{200 + n} Main St",
                "fatal": n == 4,
                "naloxone_given": n != 4,
                "naloxone_doses": 0 if n == 4 else 2,
                "suspected_drug": vocab.SuspectedDrug.FENTANYL,
            },
        )
        services.naloxone_kit_create(
            acting_user=prs,
            given_on=timezone.localdate(now) - timedelta(days=7 * n),
            quantity=1 + n % 3,
            recipient_type=vocab.KitRecipient.FAMILY,
        )
    services.outreach_create(
        acting_user=prs,
        data={
            "held_on": timezone.localdate(now) - timedelta(days=10),
            "title": "High school assembly",
            "audience": vocab.OutreachAudience.SCHOOL,
            "attendance": 240,
            "topics": [vocab.OutreachTopic.NALOXONE, vocab.OutreachTopic.YOUTH],
        },
    )
    services.statement_request_create(
        acting_user=prs,
        venue="Community radio interview",
        planned_on=timezone.localdate(now) + timedelta(days=7),
        summary="How families can get naloxone and reach the program.",
    )
