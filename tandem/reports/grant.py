"""The grant report for a peer recovery program's funders (PR-12; West Virginia Police and
Peers is grant-funded): the outputs and outcomes peer-recovery grants ask for.

Callouts with patrol, people reached and contacts, referrals and linkage to treatment by
type, overdoses and naloxone, and follow-up completion at the windows SAMHSA's SUPRT
instruments use — baseline (intake), about 180 days after intake, and discharge — with the
follow-up rate against the usual 80% target. Every table passes through the same disclosure
control as every other statistic; the rate is shown only when the counts it rests on are.

How the windows are read (a Tandem reading; no seed states them): a client's baseline is
their registration, done when an engaged contact follows within 30 days; the ~180-day
follow-up is due for clients whose 180th day falls in the period, done when an engaged
contact falls between day 150 and day 240; a discharge (status graduated or inactive) is
done when the client's last contact in the period was engaged.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from django.db.models import Count, Max, OuterRef, Q, Subquery

from tandem.reports.disclosure import Table
from tandem.reports.statistics import (
    Figure,
    Period,
    Section,
    _choices,
    _clients_and_contacts,
    _overdoses,
    _people,
    _referrals,
    model,
    one_way,
)

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

FOLLOW_UP_TARGET = 80  # per cent: the usual target of SAMHSA-funded programs
BASELINE_DAYS = 30
SIX_MONTH = (150, 180, 240)  # window opens, due, window closes (days after intake)
WINDOWS = [
    ("baseline", "Baseline (intake)"),
    ("six_month", "About 180 days after intake"),
    ("discharge", "Discharge"),
]
DONE = [("yes", "Done"), ("no", "Not done")]
DISCHARGED = ("graduated", "inactive")
FOLLOW_UP_NOTE = (
    "Baseline: clients registered in the period, done when an engaged contact followed "
    "within 30 days. About 180 days: clients whose 180th day after intake falls in the "
    "period, done when an engaged contact fell between day 150 and day 240. Discharge: "
    "clients graduated or inactive whose last contact fell in the period, done when that "
    "contact was engaged. The rate counts every window together."
)


def grant_sections(agency: Agency, period: Period) -> list[Section]:
    return [
        _callouts(agency, period),
        _clients_and_contacts(agency, period),
        _referrals(agency, period),
        _overdoses(agency, period),
        _follow_up(agency, period),
    ]


def _callouts(agency: Agency, period: Period) -> Section:
    from tandem.recovery import vocab

    first, after = period.bounds()
    calls = model("recovery.Contact").objects.filter(
        agency=agency,
        occurred_at__gte=first,
        occurred_at__lt=after,
        kind__in=[vocab.ContactKind.CO_RESPONSE, vocab.ContactKind.PATROL_ASSIST],
    )
    table = one_way(
        calls,
        "patrol_call__call_type",
        _choices(vocab.PatrolCallType),
        name="callouts",
        title="Callouts with patrol, by type of call",
        measure="callouts",
        dim="call_type",
    )
    return Section(
        "Callouts",
        [table],
        notes=[
            "Co-responses and patrol calls a peer took part in; a co-response recorded without a "
            "call type counts as not recorded."
        ],
    )


def _engaged_between(client_ids: list[int], start_days: int, end_days: int) -> set[int]:
    """Clients with an engaged contact between ``start_days`` and ``end_days`` after their
    registration (one query)."""
    from django.db.models import DurationField, ExpressionWrapper, F

    gap = ExpressionWrapper(
        F("occurred_at") - F("client__created_at"), output_field=DurationField()
    )
    found = (
        model("recovery.Contact")
        .objects.filter(client_id__in=client_ids, outcome="engaged")
        .annotate(gap=gap)
        .filter(gap__gte=timedelta(days=start_days), gap__lte=timedelta(days=end_days))
    )
    return set(found.values_list("client_id", flat=True))


def _follow_up(agency: Agency, period: Period) -> Section:
    first, after = period.bounds()
    # Records merged into another are not clients of their own (issue 13).
    clients = model("recovery.Client").objects.filter(agency=agency, merged_into__isnull=True)
    baseline = list(
        clients.filter(created_at__gte=first, created_at__lt=after).values_list("pk", flat=True)
    )
    opens, due, closes = SIX_MONTH
    six = list(
        clients.filter(
            created_at__gte=first - timedelta(days=due), created_at__lt=after - timedelta(days=due)
        ).values_list("pk", flat=True)
    )
    last_outcome = (
        model("recovery.Contact")
        .objects.filter(client=OuterRef("pk"))
        .order_by("-occurred_at", "-pk")
        .values("outcome")[:1]
    )
    discharged = (
        clients.filter(status__in=DISCHARGED)
        .annotate(last=Max("contacts__occurred_at"))
        .filter(last__gte=first, last__lt=after)
        .annotate(last_outcome=Subquery(last_outcome))
    )
    found = discharged.order_by().aggregate(
        total=Count("pk"), done=Count("pk", filter=Q(last_outcome="engaged"))
    )
    discharge_total, discharge_done = int(found["total"] or 0), int(found["done"] or 0)
    baseline_done = len(_engaged_between(baseline, 0, BASELINE_DAYS))
    six_done = len(_engaged_between(six, opens, closes))
    counts = [
        [baseline_done, len(baseline) - baseline_done],
        [six_done, len(six) - six_done],
        [discharge_done, discharge_total - discharge_done],
    ]
    table = _people(
        Table(
            name="follow_up",
            title="Follow-up at the SUPRT windows",
            measure="follow_ups",
            row_dim="window",
            rows=WINDOWS,
            counts=counts,
            col_dim="done",
            columns=DONE,
        )
    )
    done = sum(row[0] for row in counts)
    total = sum(sum(row) for row in counts)
    if total:
        rate = 100 * done / total
        verdict = "meets" if rate >= FOLLOW_UP_TARGET else "below"
        value = f"{rate:.0f}% ({done} of {total}) — {verdict} the {FOLLOW_UP_TARGET}% target"
    else:
        value = "no follow-up due"
    basis = [f"follow_ups|window={code}|done={d}" for code, _ in WINDOWS for d, _ in DONE]
    return Section(
        "Follow-up",
        [table],
        [Figure(f"Follow-up rate (target {FOLLOW_UP_TARGET}%)", value, basis)],
        notes=[FOLLOW_UP_NOTE],
    )
