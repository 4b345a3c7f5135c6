"""Reads for recovery screens: search, likely duplicates, caseload, timeline, calendar.

None of these touches the CJI compartment: a PRS reaches every one of them.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import connections
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import RawSQL
from django.utils import timezone

from tandem.core.fts import MIN_CHARS, fts_phrase
from tandem.recovery import vocab
from tandem.recovery.models import (
    Client,
    Consent,
    Contact,
    Disclosure,
    Goal,
    NaloxoneKit,
    OutreachEvent,
    OverdoseResponse,
    PersonnelEvaluation,
    PlannedContact,
    Referral,
    Resource,
    SafetyAssessment,
    StageAssessment,
    StatementRequest,
)
from tandem.recovery.services import (
    client_record,
    digits_of,
    match_model,
    normalise_name,
    registry,
    visits_same_day,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency


def client_search(agency: Agency, text: str = "", status: str = "") -> QuerySet[Client]:
    clients = registry(agency).select_related("aro", "prs")
    if status:
        clients = clients.filter(status=status)
    text = text.strip()
    if not text:
        return clients
    words = normalise_name(text).split()
    digits = digits_of(text)
    query = Q()
    if _fts_ready(clients, words):
        # The FTS5 trigram index (migration 0005) finds the same substrings as the
        # ``contains`` lookups below, without scanning the registry.
        match = " AND ".join(f"name_key : {fts_phrase(word)}" for word in words)
        if len(digits) >= 4:
            match = f"({match}) OR phone_digits : {fts_phrase(digits)}"
        query = Q(
            pk__in=RawSQL(
                "SELECT rowid FROM recovery_client_fts WHERE recovery_client_fts MATCH %s", [match]
            )
        )
    else:
        for word in words:
            query &= Q(name_key__contains=word)
        if len(digits) >= 4:
            query |= Q(phone_digits__contains=digits)
    with contextlib.suppress(ValueError):
        query |= Q(date_of_birth=date.fromisoformat(text))
    return clients.filter(query)


def _fts_ready(clients: QuerySet[Client], words: list[str]) -> bool:
    """Whether the SQLite FTS5 index can answer this search (every word of three characters
    or more, on SQLite); PostgreSQL's trigram indexes serve ``contains`` directly."""
    return (
        bool(words)
        and all(len(w) >= MIN_CHARS for w in words)
        and connections[clients.db].vendor == "sqlite"
    )


@dataclass
class Duplicate:
    client: Client
    score: int  # the match probability, in per cent
    reasons: list[str]  # what speaks for the same person, in plain words


def reasons_of(explanation: list[dict[str, Any]]) -> list[str]:
    return [f"{f['label']}: {f['level']}" for f in explanation if f["weight"] > 0]


def likely_duplicates(
    agency: Agency,
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
    agency: Agency, start: datetime, end: datetime, user: User | None = None
) -> list[PlannedContact]:
    visits = (
        PlannedContact.objects.filter(agency=agency, starts_at__lt=end, ends_at__gt=start)
        .exclude(status=vocab.PlanStatus.CANCELLED)
        .select_related("client", "aro", "prs")
        # The latest assessment decides (PlannedContact.gate_open), read in the same query.
        .annotate(
            latest_all_clear=Subquery(
                SafetyAssessment.objects.filter(planned=OuterRef("pk"))
                .order_by("-assessed_at", "-pk")
                .values("all_clear")[:1]
            )
        )
    )
    if user is not None:
        visits = visits.filter(Q(aro=user) | Q(prs=user))
    listed: list[PlannedContact] = []
    for row in visits.order_by("starts_at", "pk"):
        # The PRS may not go in until the ARO records a complete assessment (000 C.1).
        row.awaiting_assessment = (  # type: ignore[attr-defined]
            not row.closed and row.needs_safety_assessment and not row.latest_all_clear
        )
        listed.append(row)
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


def follow_ups_due(
    agency: Agency, user: User | None = None, on: date | None = None
) -> QuerySet[Referral]:
    day = on or timezone.localdate()
    open_statuses = [s for s, nxt in vocab.REFERRAL_NEXT.items() if nxt]
    referrals = Referral.objects.filter(
        agency=agency, status__in=open_statuses, follow_up_on__lte=day
    ).select_related("client", "resource")
    if user is not None:
        referrals = referrals.filter(Q(client__aro=user) | Q(client__prs=user))
    return referrals.order_by("follow_up_on", "pk")


def my_clients(agency: Agency, user: User) -> QuerySet[Client]:
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
    link: tuple[str, int] | None = None  # (URL name, pk) of the entry's own page

    @property
    def url(self) -> str:
        """The entry's page, worked out only for the entries a page shows (a client with
        hundreds of contacts shows fifty at a time)."""
        from django.urls import reverse

        return reverse(self.link[0], args=[self.link[1]]) if self.link else ""


def _moment(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, datetime.min.time()))


#: What the timeline reads of a contact: no notes, nothing sealed.
TIMELINE_CONTACT_FIELDS = (
    "occurred_at",
    "kind",
    "outcome",
    "aro_present",
    "prs_present",
    "duration_minutes",
)


def client_timeline(client: Client, records: ClientRecords) -> list[TimelineItem]:
    """One timeline per client (PR-3): contacts, stages, goals, referrals, consents, visits,
    disclosures. Never CJI. Stages, goals, referrals and visits come from ``records``, which
    the page reads anyway."""
    items: list[TimelineItem] = []
    contacts = Contact.objects.filter(client=client).only(*TIMELINE_CONTACT_FIELDS)
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
                ("recovery:contact_edit", c.pk),
            )
        )
    for s in records.stage_history:
        by = s.assessed_by.get_full_name() if s.assessed_by else ""
        items.append(
            TimelineItem(
                s.assessed_at, "Stage of change", s.get_stage_display(), f"Assessed by {by}"
            )
        )
    for g in records.goals:
        items.append(TimelineItem(g.created_at, "Goal", g.get_status_display(), g.text or ""))
    for r in records.referrals:
        items.append(
            TimelineItem(
                _moment(r.proposed_on),
                "Referral",
                r.resource.name,
                r.get_status_display(),
                ("recovery:referral_detail", r.pk),
            )
        )
    for p in records.planned:
        items.append(
            TimelineItem(
                p.starts_at,
                "Planned visit",
                p.get_kind_display(),
                p.get_status_display(),
                ("recovery:planned_detail", p.pk),
            )
        )
    for d in client.disclosures.all():
        items.append(
            TimelineItem(
                d.disclosed_at,
                "Disclosure",
                d.recipient_name,
                d.get_purpose_display(),
                ("recovery:disclosure_detail", d.pk),
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


def client_glance(timeline: list[TimelineItem], records: ClientRecords) -> Glance:
    """The client page's summary, from what the page loads anyway."""
    now = timezone.now()
    soon = timezone.localdate() + timedelta(days=7)
    upcoming = [
        p
        for p in records.planned
        if p.ends_at >= now and p.status in (vocab.PlanStatus.PLANNED, vocab.PlanStatus.STARTED)
    ]
    return Glance(
        next_visit=min(upcoming, key=lambda p: (p.starts_at, p.pk), default=None),
        last_contact=next((i for i in timeline if i.kind == "Contact"), None),
        follow_ups=sorted(
            (
                r
                for r in records.referrals
                if r.status in OPEN_REFERRALS and r.follow_up_on and r.follow_up_on <= soon
            ),
            key=lambda r: r.follow_up_on or soon,
        ),
        consents_in_force=sum(c.state == "In force" for c in records.consents),
    )


@dataclass
class DoubleLogged:
    """Contacts with one client on one day recorded by two or more people."""

    client: Client
    day: date
    contacts: list[Contact]


def deconfliction(
    agency: Agency, days: int, now: datetime | None = None
) -> tuple[list[tuple[Client, list[Duplicate]]], list[DoubleLogged]]:
    """What the ARO and PRS should reconcile (PR-2, 000 IV.A.1.e): clients registered in the
    last ``days`` who may duplicate another client, and encounters logged twice (the same
    client and day, recorded by two people: ``services.contacts_same_day``)."""
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
    return clients, logged_twice(agency, since)


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


def open_candidates(agency: Agency) -> QuerySet[Any]:
    from tandem.recovery.models import MatchCandidate

    return MatchCandidate.objects.filter(
        agency=agency,
        status=vocab.CandidateStatus.OPEN,
        left__merged_into__isnull=True,
        right__merged_into__isnull=True,
    ).select_related("left", "right")


def latest_run(agency: Agency) -> Any:
    from tandem.recovery.models import MatchRun

    return MatchRun.objects.filter(agency=agency).first()


def merges_into(client: Client) -> QuerySet[Any]:
    """Merges into this record that can still be undone."""
    from tandem.recovery.models import ClientMerge

    return ClientMerge.objects.filter(survivor=client, undone_at__isnull=True).select_related(
        "absorbed"
    )


def _settled_since(agency: Agency, since: datetime) -> dict[tuple[int, str, date | None], datetime]:
    """(client, topic, day) -> the latest settlement: what was recorded before is settled."""
    from tandem.recovery.models import ConflictSettlement

    latest: dict[tuple[int, str, date | None], datetime] = {}
    for client_id, topic, day, at in ConflictSettlement.objects.filter(
        agency=agency, settled_at__gte=since
    ).values_list("client_id", "topic", "day", "settled_at"):
        key = (client_id, topic, day)
        latest[key] = max(at, latest.get(key, at))
    return latest


def logged_twice(agency: Agency, since: datetime) -> list[DoubleLogged]:
    """Contacts with the same client on the same day recorded by two people or more, unless
    somebody confirmed that day's contacts as separate encounters (the rule of the warning
    shown while a contact is logged: ``services.contacts_same_day``)."""
    settled = _settled_since(agency, since)
    by_day: dict[tuple[int, date], list[Contact]] = {}
    for contact in (
        Contact.objects.filter(
            agency=agency, occurred_at__gte=since, client__merged_into__isnull=True
        )
        .select_related("client", "recorded_by")
        .order_by("client_id", "occurred_at", "pk")[:5000]
    ):
        day = timezone.localdate(contact.occurred_at)
        by_day.setdefault((contact.client_id, day), []).append(contact)
    doubles = []
    for (client_id, day), contacts in by_day.items():
        if len({c.recorded_by_id for c in contacts}) < 2:
            continue
        if (client_id, vocab.ConflictTopic.CONTACTS, day) in settled:
            continue
        doubles.append(DoubleLogged(contacts[0].client, day, contacts))
    return doubles


@dataclass
class Side:
    """One of the values recorded, with who recorded it and how to settle on it."""

    text: str
    who: str
    when: datetime
    choice: str  # what the settle button posts


@dataclass
class Conflict:
    client: Client
    topic: str  # vocab.ConflictTopic
    sides: list[Side]
    note: str = ""

    @property
    def label(self) -> str:
        return str(vocab.ConflictTopic(self.topic).label)


@dataclass
class DoubleVisit:
    client: Client
    day: date
    visits: list[PlannedContact]


def _who(user: User | None) -> str:
    return user.get_full_name() if user is not None else "someone no longer here"


def _stage_conflicts(
    agency: Agency, since: datetime, settled: dict[Any, datetime]
) -> list[Conflict]:
    from tandem.recovery.models import StageAssessment

    stages: dict[int, list[Any]] = {}
    for stage in (
        StageAssessment.objects.filter(agency=agency, assessed_at__gte=since)
        .filter(client__merged_into__isnull=True)
        .select_related("client", "assessed_by")
        .order_by("client_id", "-assessed_at", "-pk")[:5000]
    ):
        after = settled.get((stage.client_id, vocab.ConflictTopic.STAGE, None))
        if after is None or stage.assessed_at >= after:
            stages.setdefault(stage.client_id, []).append(stage)
    found = []
    for assessments in stages.values():
        latest = assessments[0]
        other = next((s for s in assessments if s.assessed_by_id != latest.assessed_by_id), None)
        if other is not None and other.stage != latest.stage:
            found.append(
                Conflict(
                    latest.client,
                    vocab.ConflictTopic.STAGE,
                    [
                        Side(s.get_stage_display(), _who(s.assessed_by), s.assessed_at, s.stage)
                        for s in (latest, other)
                    ],
                )
            )
    return found


def _fact_conflicts(
    agency: Agency, since: datetime, settled: dict[Any, datetime]
) -> list[Conflict]:
    """A phone, address or status one person recorded and another recorded differently
    since: both values, the newer first (it is what the record says now)."""
    from tandem.recovery.models import ClientFact

    facts: dict[tuple[int, str], list[Any]] = {}
    for fact in (
        ClientFact.objects.filter(
            agency=agency, recorded_at__gte=since, client__merged_into__isnull=True
        )
        .select_related("client", "recorded_by", "data_key")
        .order_by("client_id", "field", "-recorded_at", "-pk")[:5000]
    ):
        after = settled.get((fact.client_id, fact.field, None))
        if after is None or fact.recorded_at >= after:
            facts.setdefault((fact.client_id, fact.field), []).append(fact)
    statuses = dict(vocab.ClientStatus.choices)
    found = []
    for (_, name), recorded in facts.items():
        latest = recorded[0]
        other = next((f for f in recorded if f.recorded_by_id != latest.recorded_by_id), None)
        if other is None or _same_value(name, other.value, latest.value):
            continue
        sides = []
        for fact in (latest, other):
            text = statuses.get(fact.value or "", fact.value) if name == "status" else fact.value
            choice = (fact.value or "") if name == "status" else str(fact.pk)
            sides.append(Side(text or "(none)", _who(fact.recorded_by), fact.recorded_at, choice))
        found.append(Conflict(latest.client, name, sides))
    return found


def _same_value(name: str, one: str | None, other: str | None) -> bool:
    if name == "phone":
        return digits_of(one or "") == digits_of(other or "")
    return normalise_name(one or "") == normalise_name(other or "")


def _status_by_contact(
    agency: Agency, since: datetime, settled: dict[Any, datetime], already: set[int]
) -> list[Conflict]:
    """The record says "lost contact" or "inactive", but somebody engaged the client since."""
    out_of_reach = (vocab.ClientStatus.LOST_CONTACT, vocab.ClientStatus.INACTIVE)
    found = []
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
        client = contact.client
        after = settled.get((client.pk, vocab.ConflictTopic.STATUS, None))
        if client.pk in already or contact.occurred_at <= client.updated_at:
            continue
        if after is not None and contact.occurred_at <= after:
            continue
        already.add(client.pk)
        found.append(
            Conflict(
                client,
                vocab.ConflictTopic.STATUS,
                [
                    Side(
                        client.get_status_display(), "the record", client.updated_at, client.status
                    ),
                    Side(
                        vocab.ClientStatus.ACTIVE.label,
                        f"{_who(contact.recorded_by)} engaged the client",
                        contact.occurred_at,
                        vocab.ClientStatus.ACTIVE,
                    ),
                ],
            )
        )
    return found


def fact_conflicts(
    agency: Agency, days: int, now: datetime | None = None
) -> tuple[list[Conflict], list[DoubleVisit]]:
    """What the ARO and the PRS recorded differently about the same client in the last
    ``days`` — any client, not only between two records of one person: stages of change,
    phone, address and status that disagree (and a status of "out of reach" contradicted by
    a contact since) — and visits both planned for the same client and day (PR-2).
    Whatever somebody settled from the Deconflict page is not listed again."""
    moment = now or timezone.now()
    since = moment - timedelta(days=days)
    settled = _settled_since(agency, since)
    conflicts = _stage_conflicts(agency, since, settled) + _fact_conflicts(agency, since, settled)
    already = {c.client.pk for c in conflicts if c.topic == vocab.ConflictTopic.STATUS}
    conflicts += _status_by_contact(agency, since, settled, already)
    conflicts.sort(key=lambda c: -max(s.when for s in c.sides).timestamp())
    by_day: dict[tuple[int, date], list[PlannedContact]] = {}
    for visit in (
        PlannedContact.objects.filter(
            agency=agency, starts_at__gte=since, client__merged_into__isnull=True
        )
        .exclude(status=vocab.PlanStatus.CANCELLED)
        .select_related("client", "created_by")
        .order_by("starts_at", "pk")[:5000]
    ):
        day = timezone.localdate(visit.starts_at)
        by_day.setdefault((visit.client_id, day), []).append(visit)
    # The rule of ``services.visits_same_day``: live visits, same client, same local day.
    doubles = [
        DoubleVisit(visits[0].client, day, visits)
        for (client_id, day), visits in by_day.items()
        if len(visits) > 1 and (client_id, vocab.ConflictTopic.VISITS, day) not in settled
    ]
    return conflicts, doubles


def import_context(batch: Any) -> dict[str, Any]:
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
        "dry": batch.dry_run or None,
        "busy": batch.job_state in (vocab.ImportJob.CHECKING, vocab.ImportJob.IMPORTING),
    }


# --- Reads for single screens ------------------------------------------------------------


@dataclass(frozen=True)
class ClientRecords:
    """What the client page lists besides its contacts and disclosures, each list read once
    for its own section, the glance and the timeline."""

    referrals: list[Referral]
    consents: list[Consent]
    goals: list[Goal]
    stage_history: list[StageAssessment]  # newest first
    planned: list[PlannedContact]

    #: Assessments the stage section lists (all of them are in the timeline).
    STAGES_SHOWN = 10

    @property
    def stages(self) -> list[StageAssessment]:
        return self.stage_history[: self.STAGES_SHOWN]

    @property
    def stage_count(self) -> int:
        return len(self.stage_history)

    @property
    def current_stage(self) -> StageAssessment | None:
        """The latest assessment, as ``Client.current_stage`` reads it."""
        return self.stage_history[0] if self.stage_history else None


def client_records(client: Client) -> ClientRecords:
    return ClientRecords(
        referrals=list(client.referrals.select_related("resource")),
        consents=list(client.consents.select_related("recipient", "data_key")),
        goals=list(client.goals.select_related("data_key")),
        stage_history=list(
            client.stages.select_related("assessed_by").order_by("-assessed_at", "-pk")
        ),
        planned=list(client.planned.all()),
    )


def consent_disclosures(consent: Consent) -> QuerySet[Disclosure]:
    return consent.disclosures.all()


def disclosure_ledger(client: Client) -> list[Disclosure]:
    """Every disclosure of the client's information, oldest first (the accounting)."""
    return list(
        Disclosure.objects.filter(client=client)
        .select_related("data_key", "disclosed_by")
        .order_by("disclosed_at", "pk")
    )


def evaluations_written(agency: Agency, year: int) -> dict[int, PersonnelEvaluation]:
    """The year's written evaluations by the evaluated person's id."""
    return {
        e.person_id: e
        for e in PersonnelEvaluation.objects.filter(agency=agency, year=year).select_related(
            "data_key", "evaluator"
        )
    }


def evaluations_of(agency: Agency, person: User) -> QuerySet[PersonnelEvaluation]:
    return PersonnelEvaluation.objects.filter(agency=agency, person=person).select_related(
        "data_key", "evaluator"
    )


def agency_user(agency: Agency, pk: int) -> User:
    """A person of ``agency`` by id, or ``Http404``."""
    from tandem.accounts.models import User
    from tandem.agencies.access import one_or_404

    return one_or_404(User.objects.all(), pk, agency=agency)


def overdoses(agency: Agency, *, oldest_first: bool = False) -> QuerySet[OverdoseResponse]:
    """The agency's overdose responses, newest first (the list) or oldest first (ODMAP)."""
    found = OverdoseResponse.objects.filter(agency=agency).select_related("data_key")
    return found.order_by("occurred_at", "pk") if oldest_first else found


def naloxone_kits(agency: Agency) -> QuerySet[NaloxoneKit]:
    return NaloxoneKit.objects.filter(agency=agency).select_related("given_by")


def naloxone_total(agency: Agency) -> int:
    return sum(k.quantity for k in NaloxoneKit.objects.filter(agency=agency).only("quantity"))


def outreach_events(agency: Agency) -> QuerySet[OutreachEvent]:
    return OutreachEvent.objects.filter(agency=agency)


def statements_for(agency: Agency, user: User) -> QuerySet[StatementRequest]:
    """Every statement request for the Chief and the supervisor; one's own for the rest."""
    statements = StatementRequest.objects.filter(agency=agency).select_related(
        "requested_by", "decided_by"
    )
    if not user.has_role("chief", "crt_supervisor"):
        statements = statements.filter(requested_by=user)
    return statements


def resources(agency: Agency, category: str = "") -> QuerySet[Resource]:
    """The directory, in one category when ``category`` is one."""
    found = Resource.objects.filter(agency=agency)
    if category in vocab.ResourceCategory.values:
        found = found.filter(category=category)
    return found


def visits_same_day_as(planned: PlannedContact) -> QuerySet[PlannedContact]:
    """Other live visits to the same client on the same day, with who planned them."""
    return visits_same_day(planned.client, planned.starts_at, exclude_pk=planned.pk).select_related(
        "created_by"
    )


def has_overlap(planned: PlannedContact) -> bool:
    return planned.overlaps().exists()


def planned_assessments(planned: PlannedContact) -> QuerySet[SafetyAssessment]:
    return planned.assessments.select_related("assessed_by")


def overlapping_visits(planned: PlannedContact) -> QuerySet[PlannedContact]:
    return planned.overlaps().select_related("aro", "prs")


def client_contacts(client: Client) -> QuerySet[Contact]:
    return Contact.objects.filter(client=client)


def referrals(agency: Agency) -> QuerySet[Referral]:
    return Referral.objects.filter(agency=agency)
