"""Reads for recovery screens: search, likely duplicates, caseload, timeline, calendar.

None of these touches the CJI compartment: a PRS reaches every one of them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from tandem.recovery import vocab
from tandem.recovery.models import Client, Consent, Contact, PlannedContact, Referral
from tandem.recovery.services import (
    client_record,
    digits_of,
    match_model,
    normalise_name,
    registry,
)


def client_search(agency: Any, text: str = "", status: str = "") -> QuerySet[Client]:
    clients = registry(agency).select_related("aro", "prs")
    if status:
        clients = clients.filter(status=status)
    text = text.strip()
    if not text:
        return clients
    query = Q()
    for word in normalise_name(text).split():
        query &= Q(name_key__contains=word)
    digits = digits_of(text)
    if len(digits) >= 4:
        query |= Q(phone_digits__contains=digits)
    with contextlib.suppress(ValueError):
        query |= Q(date_of_birth=date.fromisoformat(text))
    return clients.filter(query)


@dataclass
class Duplicate:
    client: Client
    score: int  # the match probability, in per cent
    reasons: list[str]  # what speaks for the same person, in plain words


def reasons_of(explanation: list[dict[str, Any]]) -> list[str]:
    return [f"{f['label']}: {f['level']}" for f in explanation if f["weight"] > 0]


def likely_duplicates(
    agency: Any,
    *,
    first_name: str,
    last_name: str,
    date_of_birth: date | None = None,
    phone: str = "",
    aliases: str = "",
    exclude_pk: int | None = None,
    limit: int = 5,
) -> list[Duplicate]:
    """Clients that may be the same person as the one being typed in (PR-2), scored by the
    agency's trained linkage model — the same one the registry-wide scan uses.

    The database narrows the registry to clients sharing the date of birth, the phone
    number, or the first three letters of the last name (or of the first name); the model
    scores each of them and those at or above the agency's review threshold are shown."""
    from tandem.recovery import linkage

    name = normalise_name(f"{first_name} {last_name}")
    if not name:
        return []
    digits = digits_of(phone)
    block = Q()
    for part in (normalise_name(last_name)[:3], normalise_name(first_name)[:3]):
        if len(part) >= 2:
            block |= Q(name_key__contains=part)
    if date_of_birth:
        block |= Q(date_of_birth=date_of_birth)
    if len(digits) >= 7:
        block |= Q(phone_digits=digits)
    candidates = registry(agency).filter(block).select_related("data_key")
    if exclude_pk:
        candidates = candidates.exclude(pk=exclude_pk)
    by_pk = {c.pk: c for c in candidates[:500]}
    typed = linkage.record_of(
        uid=0,
        first_name=first_name,
        last_name=last_name,
        aliases=aliases,
        date_of_birth=date_of_birth,
        phone=phone,
    )
    threshold = agency.policy_model().recovery.review_threshold
    pairs = linkage.score(
        [typed],
        [client_record(c) for c in by_pk.values()],
        match_model(agency),
        threshold=threshold,
        every_pair=True,
    )
    found = [
        Duplicate(
            client=by_pk[p.right],
            score=round(p.probability * 100),
            reasons=reasons_of(p.explanation()),
        )
        for p in pairs
    ]
    return found[:limit]


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = timezone.make_aware(datetime.combine(day, datetime.min.time()))
    return start, start + timedelta(days=1)


def planned_between(
    agency: Any, start: datetime, end: datetime, user: Any = None
) -> list[PlannedContact]:
    visits = (
        PlannedContact.objects.filter(agency=agency, starts_at__lt=end, ends_at__gt=start)
        .exclude(status=vocab.PlanStatus.CANCELLED)
        .select_related("client", "aro", "prs")
    )
    if user is not None:
        visits = visits.filter(Q(aro=user) | Q(prs=user))
    listed = list(visits.order_by("starts_at", "pk"))
    # Overlap warning (000 C.3): two live visits to the same client at the same time.
    by_client: dict[int, list[PlannedContact]] = {}
    for visit in listed:
        by_client.setdefault(visit.client_id, []).append(visit)
    for visit in listed:
        visit.overlapping = [  # type: ignore[attr-defined]
            other
            for other in by_client[visit.client_id]
            if other.pk != visit.pk
            and other.starts_at < visit.ends_at
            and other.ends_at > visit.starts_at
        ]
    return listed


def follow_ups_due(agency: Any, user: Any = None, on: date | None = None) -> QuerySet[Referral]:
    day = on or timezone.localdate()
    open_statuses = [s for s, nxt in vocab.REFERRAL_NEXT.items() if nxt]
    referrals = Referral.objects.filter(
        agency=agency, status__in=open_statuses, follow_up_on__lte=day
    ).select_related("client", "resource")
    if user is not None:
        referrals = referrals.filter(Q(client__aro=user) | Q(client__prs=user))
    return referrals.order_by("follow_up_on", "pk")


def my_clients(agency: Any, user: Any) -> QuerySet[Client]:
    return (
        registry(agency)
        .filter(Q(aro=user) | Q(prs=user))
        .exclude(status__in=[vocab.ClientStatus.DECEASED, vocab.ClientStatus.GRADUATED])
        .select_related("aro", "prs")
    )


@dataclass
class TimelineItem:
    at: datetime
    kind: str
    title: str
    detail: str
    url: str = ""


def _moment(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


def client_timeline(client: Client) -> list[TimelineItem]:
    """One timeline per client (PR-3): contacts, stages, goals, referrals, consents, visits,
    disclosures. Never CJI."""
    from django.urls import reverse

    items: list[TimelineItem] = []
    contacts = Contact.objects.filter(client=client).select_related("data_key", "recorded_by")
    for c in contacts:
        who = (
            " and ".join(
                x for x, present in (("ARO", c.aro_present), ("PRS", c.prs_present)) if present
            )
            or "—"
        )
        items.append(
            TimelineItem(
                c.occurred_at,
                "Contact",
                c.get_kind_display(),
                f"{c.get_outcome_display()} · {who} · {c.duration_minutes} min",
                reverse("recovery:contact_edit", args=[c.pk]),
            )
        )
    for s in client.stages.select_related("assessed_by"):
        by = s.assessed_by.get_full_name() if s.assessed_by else ""
        items.append(
            TimelineItem(
                s.assessed_at, "Stage of change", s.get_stage_display(), f"Assessed by {by}"
            )
        )
    for g in client.goals.select_related("data_key"):
        items.append(TimelineItem(g.created_at, "Goal", g.get_status_display(), g.text or ""))
    for r in client.referrals.select_related("resource"):
        items.append(
            TimelineItem(
                _moment(r.proposed_on),
                "Referral",
                r.resource.name,
                r.get_status_display(),
                reverse("recovery:referral_detail", args=[r.pk]),
            )
        )
    for p in client.planned.all():
        items.append(
            TimelineItem(
                p.starts_at,
                "Planned visit",
                p.get_kind_display(),
                p.get_status_display(),
                reverse("recovery:planned_detail", args=[p.pk]),
            )
        )
    for d in client.disclosures.all():
        items.append(
            TimelineItem(
                d.disclosed_at,
                "Disclosure",
                d.recipient_name,
                d.get_purpose_display(),
                reverse("recovery:disclosure_detail", args=[d.pk]),
            )
        )
    items.sort(key=lambda i: i.at, reverse=True)
    return items


@dataclass
class Glance:
    """What someone at the door needs first: the next visit, the last contact, follow-ups
    due within a week and whether anything may be shared."""

    next_visit: PlannedContact | None
    last_contact: TimelineItem | None
    follow_ups: list[Referral]
    consents_in_force: int


#: Referrals still waiting for an outcome (a follow-up date on them is a task).
OPEN_REFERRALS = {
    vocab.ReferralStatus.PROPOSED,
    vocab.ReferralStatus.SENT,
    vocab.ReferralStatus.ACCEPTED,
    vocab.ReferralStatus.ENGAGED,
}


def client_glance(
    client: Client,
    timeline: list[TimelineItem],
    referrals: list[Referral],
    consents: list[Consent],
) -> Glance:
    """The client page's summary, from what the page loads anyway plus one query."""
    now = timezone.now()
    soon = timezone.localdate() + timedelta(days=7)
    next_visit = (
        client.planned.filter(
            ends_at__gte=now, status__in=[vocab.PlanStatus.PLANNED, vocab.PlanStatus.STARTED]
        )
        .order_by("starts_at", "pk")
        .first()
    )
    return Glance(
        next_visit=next_visit,
        last_contact=next((i for i in timeline if i.kind == "Contact"), None),
        follow_ups=sorted(
            (
                r
                for r in referrals
                if r.status in OPEN_REFERRALS and r.follow_up_on and r.follow_up_on <= soon
            ),
            key=lambda r: r.follow_up_on or soon,
        ),
        consents_in_force=sum(c.state == "In force" for c in consents),
    )


@dataclass
class DoubleLogged:
    first: Contact
    second: Contact


def deconfliction(
    agency: Any, days: int, now: datetime | None = None
) -> tuple[list[tuple[Client, list[Duplicate]]], list[DoubleLogged]]:
    """What the ARO and PRS should reconcile (PR-2, 000 IV.A.1.e): clients registered in the
    last ``days`` who may duplicate another client, and encounters logged twice (the same
    client, within two hours, recorded by two people)."""
    from tandem.recovery import linkage

    since = (now or timezone.now()) - timedelta(days=days)
    everyone = {c.pk: c for c in registry(agency).select_related("data_key")}
    recent = [c for c in everyone.values() if c.created_at >= since]
    recent = sorted(recent, key=lambda c: c.created_at, reverse=True)[:200]
    pairs = linkage.score(
        [client_record(c) for c in recent],
        [client_record(c) for c in everyone.values()],
        match_model(agency),
        threshold=agency.policy_model().recovery.review_threshold,
    )
    matches: dict[int, list[Duplicate]] = {}
    for pair in pairs:
        if pair.left == pair.right:
            continue
        found = Duplicate(everyone[pair.right], round(pair.probability * 100), [])
        found.reasons = reasons_of(pair.explanation())
        matches.setdefault(pair.left, []).append(found)
    clients = [(c, matches[c.pk][:5]) for c in recent if c.pk in matches]
    contacts = list(
        Contact.objects.filter(agency=agency, occurred_at__gte=since)
        .select_related("client", "recorded_by")
        .order_by("client_id", "occurred_at")[:2000]
    )
    doubles = [
        DoubleLogged(a, b)
        for a, b in zip(contacts, contacts[1:], strict=False)
        if a.client_id == b.client_id
        and a.recorded_by_id != b.recorded_by_id
        and b.occurred_at - a.occurred_at <= timedelta(hours=2)
    ]
    return clients, doubles


# --- Deconfliction (issue 13) ---------------------------------------------------------------

FIELD_NAMES = {
    "first_name": "First name",
    "last_name": "Last name",
    "aliases": "Also known as",
    "date_of_birth": "Date of birth",
    "phone": "Phone",
    "address": "Address",
    "gender": "Gender",
    "race": "Race",
    "ethnicity": "Ethnicity",
    "veteran": "Veteran",
    "substances": "Substances",
    "notes": "Notes",
    "status": "Status",
    "aro": "ARO",
    "prs": "PRS",
}


@dataclass
class FieldSides:
    name: str
    label: str
    left: str
    right: str

    @property
    def differs(self) -> bool:
        return self.left != self.right


def _shown(client: Client, name: str) -> str:
    if name in ("aro", "prs"):
        person = getattr(client, name)
        return person.get_full_name() if person is not None else ""
    if name == "substances":
        return ", ".join(client.substance_labels())
    if name == "date_of_birth":
        return client.date_of_birth.isoformat() if client.date_of_birth else ""
    if name == "veteran":
        return {True: "Yes", False: "No", None: ""}[client.veteran]
    display = getattr(client, f"get_{name}_display", None)
    return str(display() if display else getattr(client, name) or "")


def merge_sides(left: Client, right: Client) -> list[FieldSides]:
    """Each mergeable field of the two records, side by side (no CJI: it is not a field)."""
    return [
        FieldSides(name, label, _shown(left, name), _shown(right, name))
        for name, label in FIELD_NAMES.items()
    ]


def related_counts(client: Client, *, cji: bool) -> dict[str, int]:
    """What would move with the record. CJI entries and sworn notes are counted only for
    someone who may read the compartment: a PRS never learns they exist."""
    from tandem.recovery.models import CJIEntry, SwornNote

    counts = {
        "contacts": client.contacts.count(),
        "planned visits": client.planned.count(),
        "stages of change": client.stages.count(),
        "goals": client.goals.count(),
        "referrals": client.referrals.count(),
        "consents": client.consents.count(),
        "disclosures": client.disclosures.count(),
    }
    if cji:
        counts["CJI entries"] = CJIEntry.objects.filter(client=client).count()
        counts["sworn notes"] = SwornNote.objects.filter(client=client).count()
    return {k: v for k, v in counts.items() if v}


def open_candidates(agency: Any) -> QuerySet[Any]:
    from tandem.recovery.models import MatchCandidate

    return MatchCandidate.objects.filter(
        agency=agency,
        status=vocab.CandidateStatus.OPEN,
        left__merged_into__isnull=True,
        right__merged_into__isnull=True,
    ).select_related("left", "right")


def latest_run(agency: Any) -> Any:
    from tandem.recovery.models import MatchRun

    return MatchRun.objects.filter(agency=agency).first()


def merges_into(client: Client) -> QuerySet[Any]:
    """Merges into this record that can still be undone."""
    from tandem.recovery.models import ClientMerge

    return ClientMerge.objects.filter(survivor=client, undone_at__isnull=True).select_related(
        "absorbed"
    )


@dataclass
class StageConflict:
    client: Client
    one: Any  # the latest StageAssessment
    other: Any  # the latest one by somebody else, which says something different


@dataclass
class StatusConflict:
    client: Client
    contact: Contact  # an engaged contact since the record said the client was out of reach


@dataclass
class DoubleVisit:
    client: Client
    day: date
    visits: list[PlannedContact]


def fact_conflicts(
    agency: Any, days: int, now: datetime | None = None
) -> tuple[list[StageConflict], list[StatusConflict], list[DoubleVisit]]:
    """What the ARO and the PRS recorded differently about the same client in the last
    ``days``: stages of change that disagree, a status saying "out of reach" while a contact
    was made since, and visits both planned for the same client and day (PR-2)."""
    from tandem.recovery.models import StageAssessment

    moment = now or timezone.now()
    since = moment - timedelta(days=days)
    stages: dict[int, list[Any]] = {}
    for stage in (
        StageAssessment.objects.filter(agency=agency, assessed_at__gte=since)
        .filter(client__merged_into__isnull=True)
        .select_related("client", "assessed_by")
        .order_by("client_id", "-assessed_at", "-pk")[:5000]
    ):
        stages.setdefault(stage.client_id, []).append(stage)
    stage_conflicts = []
    for found in stages.values():
        latest = found[0]
        other = next((s for s in found if s.assessed_by_id != latest.assessed_by_id), None)
        if other is not None and other.stage != latest.stage:
            stage_conflicts.append(StageConflict(latest.client, latest, other))
    out_of_reach = (vocab.ClientStatus.LOST_CONTACT, vocab.ClientStatus.INACTIVE)
    status_conflicts = []
    seen: set[int] = set()
    for contact in (
        Contact.objects.filter(
            agency=agency,
            occurred_at__gte=since,
            outcome=vocab.ContactOutcome.ENGAGED,
            client__status__in=out_of_reach,
            client__merged_into__isnull=True,
        )
        .select_related("client", "recorded_by")
        .order_by("-occurred_at")[:500]
    ):
        if contact.client_id not in seen and contact.occurred_at > contact.client.updated_at:
            seen.add(contact.client_id)
            status_conflicts.append(StatusConflict(contact.client, contact))
    by_day: dict[tuple[int, date], list[PlannedContact]] = {}
    for visit in (
        PlannedContact.objects.filter(agency=agency, starts_at__gte=since)
        .exclude(status=vocab.PlanStatus.CANCELLED)
        .select_related("client", "created_by")
        .order_by("starts_at", "pk")[:5000]
    ):
        day = timezone.localdate(visit.starts_at)
        by_day.setdefault((visit.client_id, day), []).append(visit)
    doubles = [
        DoubleVisit(visits[0].client, day, visits)
        for (_, day), visits in by_day.items()
        if len(visits) > 1
    ]
    return stage_conflicts, status_conflicts, doubles


def import_context(batch: Any, plan: Any) -> dict[str, Any]:
    """The mapping page: each field with the chosen column, a preview, the file's words of
    each closed list with the suggested value, and the dry run when there is one."""
    from tandem.recovery import imports

    words = imports.vocabulary_values(batch.kind, batch.header, batch.rows, batch.mapping)
    vocabularies = [
        {
            "name": name,
            "choices": imports.VOCABULARIES[name].choices,
            "words": [
                (i, w, batch.values.get(name, {}).get(w) or imports.suggest_value(name, w))
                for i, w in enumerate(found)
            ],
        }
        for name, found in words.items()
    ]
    return {
        "batch": batch,
        "fields": [
            (name, label, required, batch.mapping.get(name, ""))
            for name, label, required in imports.FIELDS[batch.kind]
        ],
        "preview": batch.rows[:5],
        "vocabularies": vocabularies,
        "plan": plan,
        "shown_rows": [r for r in plan.rows if r.outcome != "new"][:200] if plan else [],
    }
