"""Synthetic peer-support data at scale for ``tandem seed`` and the scale tests (X-13):
designated supporters in rotations and published usage records. Nothing here is real."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tandem.agencies.models import Agency, Member

if TYPE_CHECKING:
    from tandem.support.models import UsageRecord


def create_supporters(agency: Agency, count: int, *, seed: int = 702) -> list[int]:
    """Make ``count`` members designated, compliant peer supporters (an account, the
    supporter role, an open peer-support gate and a directory entry each), in bulk; returns
    the new profiles' ids in member order. Members already holding an account are skipped.
    Each gate carries its stored standing (compliant, next due within the year), as the
    daily recompute leaves it, so pages read the standing instead of evaluating rules."""
    from django.utils import timezone

    from tandem.accounts.models import RoleAssignment, User
    from tandem.agencies.models import Role
    from tandem.readiness import compliance
    from tandem.readiness.models import Gate
    from tandem.support import vocab as sv
    from tandem.support.models import SupporterProfile

    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    taken = User.objects.filter(agency=agency, member__isnull=False).values("member_id")
    members = list(
        Member.objects.filter(agency=agency).exclude(pk__in=taken).order_by("pk")[:count]
    )
    users = User.objects.bulk_create(
        [
            User(
                username=f"sup-{m.pk}",
                agency=agency,
                member=m,
                first_name=m.first_name,
                last_name=m.last_name,
                phone=m.phone,
            )
            for m in members
        ],
        batch_size=1000,
    )
    if not all(u.pk for u in users):  # engines that do not return ids from a bulk insert
        by_name = dict(
            User.objects.filter(username__in=[u.username for u in users]).values_list(
                "username", "pk"
            )
        )
        for u in users:
            u.pk = by_name[u.username]
    RoleAssignment.objects.bulk_create(
        [RoleAssignment(user=u, agency=agency, role=Role.SUPPORTER) for u in users],
        batch_size=1000,
    )
    today, due = timezone.localdate(), random.Random(seed + 1)  # noqa: S311
    Gate.objects.bulk_create(
        [
            Gate(
                user=u,
                agency=agency,
                peer_support=True,
                compliance=compliance.COMPLIANT,
                next_due_on=today + timedelta(days=due.randrange(30, 365)),
            )
            for u in users
        ],
        batch_size=1000,
    )
    profiles = SupporterProfile.objects.bulk_create(
        [
            SupporterProfile(
                agency=agency,
                user=u,
                phone=m.phone,
                unit_id=m.unit_id,
                affiliation=sv.Affiliation.SWORN if m.is_sworn else sv.Affiliation.CIVILIAN,
                specialties=rng.sample(sv.Specialty.values, 2),
                languages=rng.sample(sv.Language.values, 1),
            )
            for u, m in zip(users, members, strict=True)
        ],
        batch_size=1000,
    )
    return [p.pk for p in profiles]


def usage_record(
    agency: Agency, supporter_id: int | None, closed: datetime, rng: random.Random
) -> UsageRecord:
    """One published usage record closed at ``closed``, every field drawn by ``rng`` from its
    closed vocabulary (not saved: callers insert in bulk)."""
    from tandem.support import vocab as sv
    from tandem.support.models import UsageRecord

    return UsageRecord(
        agency=agency,
        supporter_id=supporter_id,
        started_at=closed - timedelta(hours=1),
        closed_at=closed,
        outcome="closed",
        channel=rng.choice(sv.Channel.values),
        urgency=rng.choice(sv.Urgency.values),
        topic=rng.choice(sv.Topic.values),
        incident_type=rng.choice(sv.IncidentType.values),
        intervention_type=rng.choice(sv.InterventionType.values),
        member_category=rng.choice(sv.MemberCategory.values),
        gender=rng.choice(sv.Gender.values),
        duration_bucket=rng.choice(sv.DurationBucket.values),
        services=rng.sample(sv.Service.values, 2),
        referral_types=[],
        seconds_to_ack=rng.randint(30, 7200),
        seconds_to_contact=rng.randint(300, 90000),
    )


def create_usage(agency: Agency, count: int, *, years: int = 10, seed: int = 702) -> int:
    """Add ``count`` published peer-support usage records over the last ``years`` years, in
    bulk (closed vocabularies only, like the real ones), in the order they closed: records
    are written when requests close, so a period's records lie together in the table as
    they do in a real database (drawn in random order they were scattered over every page,
    and a year's report read ten times the pages it reads in use)."""

    from django.utils import timezone

    from tandem.support.models import SupporterProfile, UsageRecord

    rng = random.Random(seed)  # noqa: S311 - synthetic data, not security
    profiles = list(SupporterProfile.objects.filter(agency=agency).values_list("pk", flat=True))
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    span_hours = years * 365 * 24
    batch = []
    closings = sorted(now - timedelta(hours=rng.randrange(span_hours)) for _ in range(count))
    for closed in closings:
        batch.append(usage_record(agency, rng.choice(profiles) if profiles else None, closed, rng))
        if len(batch) == 5000:
            UsageRecord.objects.bulk_create(batch)
            batch = []
    UsageRecord.objects.bulk_create(batch)
    return count


def create_rotations(agency: Agency, profile_ids: list[int]) -> None:
    """A primary rotation in roster order and a backup in reverse, started yesterday."""
    from datetime import time, timedelta

    from django.utils import timezone

    from tandem.support.models import SupporterProfile
    from tandem.support.services import rotation_save

    if not profile_ids:
        return
    by_pk = SupporterProfile.objects.in_bulk(profile_ids)
    order = [by_pk[pk] for pk in profile_ids]
    start = timezone.localdate() - timedelta(days=1)
    for layer, people in (("primary", order), ("backup", order[::-1])):
        rotation_save(
            acting_user=None,
            agency=agency,
            rotation=None,
            participants=people,
            name=layer.title(),
            layer=layer,
            starts_on=start,
            handoff_time=time(7, 0),
            shift_hours=12,
        )
