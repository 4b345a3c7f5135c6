"""Demo data for peer support (called by ``tandem demo`` through core.demo.DEMO_APPS).

Runs after the readiness demo, so the demo supporters' gates are open. Creates their roster
entries, a primary and a backup rotation so someone is on call now, a few closed usage
records (codes only), a critical incident with a wellness debrief, and one member's request
still waiting for a supporter, so the coordinator's and the supporter's home pages show what
needs them as they would on a working day. Safe to run again.
"""

from __future__ import annotations

import random
from datetime import time, timedelta
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from tandem.support import services, vocab
from tandem.support.models import (
    CriticalIncident,
    GroupSession,
    Rotation,
    SupporterProfile,
    UsageRecord,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency

INTRODUCTIONS = [
    "Patrol officer for twelve years; I have been where you are after a hard call.",
    "Dispatcher on nights. I know what stays with you after the line goes quiet.",
    "Detective, father of three, in recovery for eight years.",
]
SPECIALTIES = [
    ["post_shooting", "critical_incident"],
    ["dispatch", "family"],
    ["substance_use", "grief"],
]


@transaction.atomic
def populate(*, agency: Agency, users: dict[str, Any]) -> None:
    """Create this program's demo records for ``agency``; safe to run again."""
    from tandem.readiness.gates import peer_support_ready_users

    ready = list(peer_support_ready_users(agency).order_by("username"))
    profiles = [_profile(user, i) for i, user in enumerate(ready)]
    for role in ("coordinator", "psychologist"):
        if role in users:
            _profile(users[role], len(profiles))
    if profiles and not Rotation.objects.filter(agency=agency).exists():
        start = timezone.localdate() - timedelta(days=3)
        for layer, order in (
            (vocab.Layer.PRIMARY, profiles),
            (vocab.Layer.BACKUP, list(reversed(profiles))),
        ):
            services.rotation_save(
                acting_user=users.get("coordinator"),
                agency=agency,
                rotation=None,
                participants=order,
                name=f"Department-wide {layer}",
                layer=layer,
                starts_on=start,
                handoff_time=time(7, 0),
                shift_hours=24 * 7,
            )
    if profiles and not UsageRecord.objects.filter(agency=agency).exists():
        _usage(agency, profiles)
    if not CriticalIncident.objects.filter(agency=agency).exists():
        incident = services.incident_create(
            acting_user=users.get("coordinator"),
            agency=agency,
            kind=vocab.CriticalIncidentKind.SHOOTING,
            occurred_on=timezone.localdate() - timedelta(days=12),
            members_affected=7,
        )
        GroupSession.objects.create(
            incident=incident,
            kind=vocab.GroupSessionKind.WELLNESS_DEBRIEF,
            held_on=incident.occurred_on + timedelta(days=2),
            attendees=7,
        )
    if profiles and "member" in users:
        chosen = [p for p in profiles if p.user_id == getattr(users.get("supporter"), "pk", None)]
        _waiting_request(agency, users["member"], chosen[0] if chosen else None)


def _waiting_request(agency: Any, member: Any, chosen: SupporterProfile | None) -> None:
    """A member asked on the help page and nobody has answered yet: offered to the demo
    supporter (or down the on-call chain), so it waits on the coordinator's queue."""
    services.request_create(
        acting_user=None,
        agency=agency,
        idempotency_key="demo-waiting-request",
        channel=vocab.Channel.SELF_REQUEST,
        urgency=vocab.Urgency.TODAY,
        contact_method=vocab.ContactMethod.PHONE,
        best_time=vocab.BestTime.EVENING,
        requester={
            "kind": "member",
            "member_id": member.member_id,
            "name": member.get_full_name() or member.username,
            "phone": member.phone,
        },
        chosen_supporter=chosen,
    )


def _profile(user: User, index: int) -> SupporterProfile:
    profile = services.profile_for(user)
    if not profile.introduction:
        profile.introduction = INTRODUCTIONS[index % len(INTRODUCTIONS)]
        profile.specialties = SPECIALTIES[index % len(SPECIALTIES)]
        profile.languages = ["en", "es"] if index % 2 == 0 else ["en"]
        profile.phone = profile.phone or f"+1 555 555 010{index % 10}"
        profile.save()
    return profile


def _usage(agency: Agency, profiles: list[SupporterProfile]) -> None:
    """About 14 months of closed contacts (roughly one a day, as in a department of a few
    hundred), with uneven categories so the reports show both published and withheld
    cells. Only the fields the agency's usage form collects are filled, times are kept to
    the hour and response times to whole minutes, as real closing does."""
    rng = random.Random(702)  # noqa: S311 - demo data, not security
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    fields = set(services.usage_fields(agency))

    def pick(values: list[str], weights: list[int]) -> str:
        return rng.choices(values, weights=weights)[0]

    records = []
    for _ in range(430):
        closed = now - timedelta(hours=rng.randint(2, 24 * 425))
        started = closed - timedelta(hours=rng.choice([0, 0, 1, 2]))
        records.append(
            UsageRecord(
                agency=agency,
                supporter=rng.choice(profiles),
                started_at=started,
                closed_at=closed,
                outcome=vocab.Outcome.CLOSED,
                channel=pick([vocab.Channel.SELF_REQUEST, vocab.Channel.REFERRAL], [4, 1])
                if "activation_channel" in fields
                else "",
                urgency=rng.choice(vocab.Urgency.values) if "urgency" in fields else "",
                topic=rng.choice(vocab.Topic.values) if "topic" in fields else "",
                gender=pick(["male", "female", "non_binary", "not_said"], [12, 6, 1, 1])
                if "gender" in fields
                else "",
                member_category=pick(["sworn", "civilian"], [3, 1])
                if "member_category" in fields
                else "",
                duration_bucket=rng.choice(vocab.DurationBucket.values)
                if "duration_bucket" in fields
                else "",
                services=sorted(rng.sample(vocab.Service.values, 2))
                if "services" in fields
                else [],
                seconds_to_ack=60 * rng.randint(1, 15),
                seconds_to_contact=60 * rng.randint(10, 60),
            )
        )
    UsageRecord.objects.bulk_create(records)
