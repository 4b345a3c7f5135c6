"""Helpers shared by the peer-recovery tests."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from django.db import connection
from django.test import Client as Browser
from django.urls import reverse
from django.utils import timezone

from tandem.recovery import services
from tandem.recovery.models import (
    CJIEntry,
    Client,
    Contact,
    PlannedContact,
    SwornNote,
)
from tests.conftest import sign_in


def browser(user: Any) -> Browser:
    return sign_in(Browser(), user)


def local(moment: datetime) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%dT%H:%M")


def new_client(user: Any, **extra: Any) -> Client:
    data = {
        "first_name": "Jamie",
        "last_name": "Rivera",
        "date_of_birth": date(1990, 4, 5),
        "phone": "(540) 555-0199",
        "address": "12 Elm Street",
        "substances": ["opioids"],
        "notes": "Wants to try outpatient.",
    }
    data.update(extra)
    return services.client_create(acting_user=user, data=data)


def client_post(**extra: Any) -> dict[str, Any]:
    data = {
        "first_name": "Jamie",
        "last_name": "Rivera",
        "date_of_birth": "1990-04-05",
        "phone": "540-555-0199",
        "address": "12 Elm Street",
        "gender": "not_stated",
        "race": "not_stated",
        "ethnicity": "not_stated",
        "veteran": "unknown",
        "substances": ["opioids"],
        "status": "active",
        "notes": "",
        "idempotency_key": "k1",
    }
    data.update(extra)
    return data


def contact_post(**extra: Any) -> dict[str, Any]:
    data = {
        "kind": "phone",
        "occurred_at": local(timezone.now()),
        "duration_minutes": "20",
        "prs_present": "on",
        "location_type": "phone",
        "services": ["referral"],
        "outcome": "engaged",
        "notes": "Called back about detox.",
        "idempotency_key": "",
    }
    data.update(extra)
    return data


def raw_rows(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - fixed table names
        return repr(cursor.fetchall())


def resource(user: Any, name: str = "Valley Treatment", category: str = "treatment_detox") -> Any:
    return services.resource_save(
        acting_user=user, data={"name": name, "category": category, "active": True}
    )


def plan(
    cast: dict[str, Any], client: Client, start: datetime | None = None, **extra: Any
) -> PlannedContact:
    begin = start or timezone.now() - timedelta(minutes=5)
    return services.planned_create(
        acting_user=cast["aro"],
        client=client,
        kind=extra.get("kind", "field"),
        starts_at=begin,
        ends_at=begin + timedelta(hours=1),
        aro=cast["aro"],
        prs=cast["prs"],
        with_prs=extra.get("with_prs", True),
    )


def consent_post(recipient: Any, **extra: Any) -> dict[str, Any]:
    today = timezone.localdate()
    data = {
        "discloser": "Peer Recovery Program",
        "recipient": recipient.pk,
        "purpose": "court",
        "information": ["identity", "substance_use", "attendance"],
        "starts_on": today.isoformat(),
        "expires_on": (today + timedelta(days=90)).isoformat(),
        "expiry_event": "",
        "revocation_method": "In writing, at any time.",
        "signed_by": "client",
        "signer_name": "Jamie Rivera",
        "signed_on": today.isoformat(),
        "signature_confirmed": "on",
    }
    data.update(extra)
    return data


def share(session: Browser, client: Client, recipient: Any, **extra: Any) -> Any:
    data = {
        "recipient": recipient.pk,
        "purpose": "court",
        "information": ["substance_use"],
        "description": "Substance-use history for the docket",
        "idempotency_key": "",
    }
    data.update(extra)
    return session.post(reverse("recovery:disclosure_create", args=[client.pk]), data)


def phone_call(prs: Any, client: Client) -> Contact:
    """A five-minute phone contact the PRS logs with ``client`` now (engaged)."""
    return services.contact_create(
        acting_user=prs,
        client=client,
        data={
            "kind": "phone",
            "occurred_at": timezone.now(),
            "duration_minutes": 5,
            "prs_present": True,
            "location_type": "phone",
            "services": [],
            "outcome": "engaged",
        },
    )


MARKER = "CJI-MARKER-7f3a9c"


def plant_cji(
    cast: dict[str, Any], client: Client, marker: str = MARKER
) -> tuple[CJIEntry, SwornNote]:
    """A CJI entry and a sworn note on ``client`` by the ARO, each carrying ``marker``."""
    aro = cast["aro"]
    entry = services.cji_entry_create(
        acting_user=aro,
        client=client,
        source="chri",
        queried_on=timezone.localdate(),
        purpose=f"{marker}-purpose",
        summary=f"{marker}-summary",
    )
    note = services.sworn_note_create(acting_user=aro, client=client, text=f"{marker}-note")
    return entry, note


def assess(agency: Any, cast: dict[str, Any], planned: PlannedContact, clear: bool = True) -> Any:
    checklist = list(agency.policy_model().recovery.safety_checklist)
    return services.safety_assessment_record(
        acting_user=cast["aro"],
        planned=planned,
        confirmed=checklist if clear else [],
        reassessment=PlannedContact.objects.get(pk=planned.pk).status == "started",
    )
