"""Peer recovery's entries on the home page: today's visits waiting for the ARO's safety
assessment, referrals waiting for an outcome."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from django.urls import reverse
from django.utils import timezone

from tandem.agencies.models import Role
from tandem.core.attention import Item, plural
from tandem.recovery import selectors, vocab
from tandem.recovery.models import Referral

if TYPE_CHECKING:
    from tandem.accounts.models import User


def _visits(user: User, now: datetime) -> list[Item]:
    start, end = selectors.day_bounds(timezone.localdate(now))
    waiting = [
        v
        for v in selectors.planned_between(user.home_agency, start, end)
        if not v.closed and v.needs_safety_assessment and not v.gate_open()
    ]
    if not waiting:
        return []
    text = (
        f"{plural(len(waiting), 'visit', 'visits')} today "
        f"{'needs' if len(waiting) == 1 else 'need'} your safety assessment"
    )
    return [Item(text, reverse("recovery:planned_list"), urgent=True)]


def _referrals(user: User, now: datetime) -> list[Item]:
    open_steps = [
        s
        for s, following in vocab.REFERRAL_NEXT.items()
        if following and s != vocab.ReferralStatus.PROPOSED
    ]
    count = Referral.objects.filter(agency=user.agency, status__in=open_steps).count()
    if not count:
        return []
    return [
        Item(
            f"{plural(count, 'referral', 'referrals')} waiting for an outcome",
            reverse("recovery:caseload"),
        )
    ]


def _evaluations(user: User) -> list[Item]:
    from tandem.recovery.models import PersonnelEvaluation

    count = PersonnelEvaluation.objects.filter(person=user, acknowledged_at__isnull=True).count()
    if not count:
        return []
    return [
        Item(
            f"{plural(count, 'evaluation', 'evaluations')} waiting for you to read and acknowledge",
            reverse("recovery:my_evaluations"),
        )
    ]


def items(user: User, now: datetime) -> list[Item]:
    found: list[Item] = []
    if user.has_role(Role.ARO, Role.PRS):
        found += _evaluations(user)
    if user.has_role(Role.ARO):
        found += _visits(user, now)
    if user.has_role(Role.ARO, Role.PRS, Role.CRT_SUPERVISOR):
        found += _referrals(user, now)
    return found
