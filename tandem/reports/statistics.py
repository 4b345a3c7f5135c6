"""What each report counts: aggregation in the database (GROUP BY through the ORM), turned
into ``disclosure.Table`` objects. Nothing here is shown to anyone before it has gone
through ``disclosure.protect`` (see ``services.report_build``). Peer-support usage is
counted through ``rollups``: months that can no longer change are read from their kept
counts, the rest from the records, and the tables are built from the combined counts.

Every table keeps a fixed shape — each code of the closed vocabulary is a row, zeros
included, and "Not recorded" is always present — so the existence of a row never tells
anything the count itself would not.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypedDict, Unpack

from django.apps import apps
from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone

from tandem.core.when import when
from tandem.reports.disclosure import Table

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

NOT_RECORDED = ("", "Not recorded")


class Heading(TypedDict):
    """What names a one-way table: its key, its title, what it counts, its rows' dimension."""

    name: str
    title: str
    measure: str
    dim: str


class PairHeading(TypedDict):
    """What names a two-way table: its key, its title, what it counts, the dimensions of its
    rows and its columns."""

    name: str
    title: str
    measure: str
    row_dim: str
    col_dim: str


def _table(
    heading: Heading,
    rows: Sequence[tuple[str, str]],
    counts: Sequence[Sequence[int]],
    *,
    additive: bool = True,
    total: int | None = None,
    total_label: str = "",
    quantity: bool = False,
) -> Table:
    return Table(
        name=heading["name"],
        title=heading["title"],
        measure=heading["measure"],
        row_dim=heading["dim"],
        rows=rows,
        counts=counts,
        additive=additive,
        total=total,
        total_label=total_label,
        quantity=quantity,
    )


@dataclass
class Period:
    start: date
    end: date  # inclusive

    @property
    def label(self) -> str:
        if self.start.month == 1 and self.end.month == 12 and self.start.year == self.end.year:
            return str(self.start.year)
        if (self.start.year, self.start.month) == (self.end.year, self.end.month):
            return when(self.start, "month")
        return f"{when(self.start, 'month')} – {when(self.end, 'month')}"

    def bounds(self) -> tuple[datetime, datetime]:
        tz = timezone.get_current_timezone()
        first = datetime.combine(self.start, time.min, tzinfo=tz)
        after = datetime.combine(self.end + timedelta(days=1), time.min, tzinfo=tz)
        return first, after


@dataclass
class Figure:
    """A derived figure (a rate, an average, hours) shown only when the counts it rests on
    are published and at least the threshold."""

    label: str
    value: str
    basis: list[str] = field(default_factory=list)  # keys of the counts it rests on
    minimum: int = 0  # the smallest basis count the figure needs, besides being published
    #: A sum that goes through the release log itself (hours): its key, its value as a
    #: whole number of ``1/per_unit`` units (tenths of an hour), and that scale.
    amount_key: str = ""
    amount: int = 0
    per_unit: int = 1


@dataclass
class Section:
    title: str
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def model(label: str) -> Any:
    """A model of another program, looked up by label so reports import no program."""
    return apps.get_model(label)


def _choices(vocab_class: Any) -> list[tuple[str, str]]:
    return [(str(code), str(label)) for code, label in vocab_class.choices]


class Scan:
    """Several one-way tables of one queryset counted in a single pass over its rows
    (conditional aggregation: ``COUNT(*) FILTER (WHERE …)`` per category), so a report
    reads its records once instead of once per table."""

    def __init__(self, qs: QuerySet[Any]) -> None:
        self.qs = qs.order_by()
        self.aggregates: dict[str, Any] = {"total": Count("pk")}
        self.builders: list[Callable[[dict[str, Any]], Table]] = []

    def _counts(self, name: str, conditions: Sequence[Q]) -> list[str]:
        keys = [f"{name}__{i}" for i in range(len(conditions))]
        for key, condition in zip(keys, conditions, strict=True):
            self.aggregates[key] = Count("pk", filter=condition)
        return keys

    def one_way(
        self,
        column: str,
        choices: Sequence[tuple[str, str]],
        *,
        conditions: Sequence[Q] | None = None,
        **heading: Unpack[Heading],
    ) -> None:
        """Records by the code in ``column`` (or by ``conditions``, one per choice), with
        "Not recorded" for the rest."""
        keys = self._counts(
            heading["name"], conditions or [Q(**{column: code}) for code, _ in choices]
        )

        def build(found: dict[str, Any]) -> Table:
            counts = [[int(found[k] or 0)] for k in keys]
            missing = int(found["total"] or 0) - sum(c[0] for c in counts)
            return _table(heading, [*choices, NOT_RECORDED], [*counts, [missing]])

        self.builders.append(build)

    def tables(self) -> list[Table]:
        found = self.qs.aggregate(**self.aggregates)
        return [build(found) for build in self.builders]


def one_way(
    qs: QuerySet[Any], column: str, choices: Sequence[tuple[str, str]], **heading: Unpack[Heading]
) -> Table:
    scan = Scan(qs)
    scan.one_way(column, choices, **heading)
    return scan.tables()[0]


def quantity_by(
    qs: QuerySet[Any],
    column: str,
    amount: str,
    choices: Sequence[tuple[str, str]],
    **heading: Unpack[Heading],
) -> Table:
    """A one-way table of the sum of ``amount`` (kits, people reached, members affected) by
    ``column``; values outside ``choices`` add up under "not recorded"."""
    totals = {
        r[column]: int(r["n"] or 0) for r in qs.order_by().values(column).annotate(n=Sum(amount))
    }
    known = {code for code, _ in choices}
    return _table(
        heading,
        [*choices, NOT_RECORDED],
        [[totals.get(code, 0)] for code, _ in choices]
        + [[sum(n for code, n in totals.items() if code not in known)]],
        quantity=True,
    )


def two_way(
    qs: QuerySet[Any],
    row: str,
    rows: Sequence[tuple[str, str]],
    col: str,
    cols: Sequence[tuple[str, str]],
    *,
    count: str = "pk",
    distinct: bool = False,
    always_recorded: bool = False,
    **heading: Unpack[PairHeading],
) -> Table:
    """``always_recorded``: the column is a yes/no the record always has (no "Not
    recorded" column)."""
    grouped = qs.order_by().values(row, col).annotate(n=Count(count, distinct=distinct))
    cells = ((str(i[row] or ""), str(i[col] or ""), int(i["n"])) for i in grouped)
    return _pair_table(cells, rows, cols, always_recorded=always_recorded, **heading)


def _pair_table(
    cells: Iterable[tuple[str, str, int]],
    rows: Sequence[tuple[str, str]],
    cols: Sequence[tuple[str, str]],
    *,
    always_recorded: bool = False,
    **heading: Unpack[PairHeading],
) -> Table:
    """A two-way table of ``(row code, column code, count)`` cells; a code outside the
    choices counts under "Not recorded" (no such column when ``always_recorded``)."""
    row_list = [*rows, NOT_RECORDED]
    col_list = list(cols) if always_recorded else [*cols, NOT_RECORDED]
    row_index = {code: i for i, (code, _) in enumerate(rows)}
    col_index = {code: j for j, (code, _) in enumerate(cols)}
    counts = [[0] * len(col_list) for _ in row_list]
    for row_code, col_code, n in cells:
        counts[row_index.get(row_code, len(rows))][col_index.get(col_code, len(cols))] += n
    return Table(rows=row_list, counts=counts, columns=col_list, **heading)


RESPONSE_BUCKETS: list[tuple[int | None, str]] = [
    (300, "Within 5 minutes"),
    (900, "5 to 15 minutes"),
    (3600, "15 to 60 minutes"),
    (14400, "1 to 4 hours"),
    (86400, "4 to 24 hours"),
    (None, "More than 24 hours"),
]


# --- Peer support (PS-6) -----------------------------------------------------------------


def peer_support_sections(agency: Agency, period: Period) -> list[Section]:
    from tandem.reports import rollups
    from tandem.support import vocab

    # Every usage count of the period: kept monthly rows for the months that can no longer
    # change, one pass (``COUNT(*) FILTER (WHERE …)``) over the records of the rest.
    counts = rollups.period_counts(agency, *period.bounds())
    collected = set(agency.policy_model().usage_form.fields)
    usage_tables: list[Table] = []
    if {"incident_type", "member_category"} <= collected:
        usage_tables.append(
            _counted_pairs(
                counts,
                _choices(vocab.IncidentType),
                _choices(vocab.MemberCategory),
                name="usage_incident_category",
                title="Contacts by type of incident and member category",
                measure="usage",
                row_dim="incident_type",
                col_dim="member_category",
            )
        )
    else:
        usage_tables += _usage_tables(
            counts,
            collected,
            ("incident_type", _choices(vocab.IncidentType), "Contacts by type of incident"),
            ("member_category", _choices(vocab.MemberCategory), "Contacts by member category"),
        )
    # The activation channel is kept only where the usage form collects it (closing writes
    # it blank otherwise): a table of blanks would read as "not recorded" for every contact.
    usage_tables += _usage_tables(
        counts,
        collected,
        ("activation_channel", _choices(vocab.Channel), "Contacts by activation channel"),
        ("intervention_type", _choices(vocab.InterventionType), "Contacts by type of intervention"),
        ("duration_bucket", _choices(vocab.DurationBucket), "Contacts by length"),
        ("gender", _choices(vocab.Gender), "Contacts by gender"),
        ("follow_up", [("yes", "Follow-up planned"), ("no", "No follow-up")], "Follow-up"),
    )
    answers: list[tuple[str, list[tuple[str, str]], str]] = [
        ("services", _choices(vocab.Service), "General services provided"),
        ("referral_types", _choices(vocab.ReferralType), "Referrals made"),
    ]
    for column, codes, title in answers:
        if column in collected:
            usage_tables.append(
                _table(
                    {
                        "name": f"usage_{column}",
                        "title": title,
                        "measure": f"usage_{column}",
                        "dim": column,
                    },
                    codes,
                    [[counts[rollups.multiple_key(column, code)]] for code, _ in codes],
                    additive=False,
                    total=counts[rollups.TOTAL],
                    total_label="Contacts (one may count in several rows)",
                )
            )
    buckets = [(f"b{i}", label) for i, (_, label) in enumerate(RESPONSE_BUCKETS)]
    times = [
        _counted_one_way(
            counts,
            column,
            buckets,
            keys=[rollups.bucket_key(column, i) for i in range(len(buckets))],
            name=name,
            title=title,
            measure="usage",
            dim=dim,
        )
        for column, name, title, dim in (
            (
                "seconds_to_ack",
                "usage_ack",
                "Time from request to acknowledgement",
                "time_to_acknowledgement",
            ),
            (
                "seconds_to_contact",
                "usage_contact",
                "Time from request to first contact",
                "time_to_first_contact",
            ),
        )
    ]
    topics = _counted_one_way(
        counts,
        "topic",
        _choices(vocab.Topic),
        name="needs_topics",
        title="Topics members raised",
        measure="usage",
        dim="topic",
    )
    sections = [
        Section(
            "Usage",
            usage_tables,
            notes=[
                "A contact counts in the month it was closed. Services and referrals are "
                "multiple answers: one contact may count in several rows."
            ],
        ),
        Section(
            "Response times",
            times,
            notes=[
                "Counted from the moment a request was made to its acknowledgement by a "
                "supporter, and to the first contact."
            ],
        ),
        _critical_incidents(agency, period),
        _supporter_hours(agency, period),
        _training_needs(agency, period, topics),
    ]
    return sections


def _usage_tables(
    counts: dict[str, int],
    collected: Collection[str],
    *specs: tuple[str, Sequence[tuple[str, str]], str],
) -> list[Table]:
    """One usage table per ``(field, choices, title)`` whose field the usage form collects,
    in the order given (the activation channel is counted under its record column,
    ``channel``)."""
    columns = {"activation_channel": "channel"}
    tables = []
    for collected_as, codes, title in specs:
        if collected_as in collected:
            column = columns.get(collected_as, collected_as)
            tables.append(
                _counted_one_way(
                    counts,
                    column,
                    codes,
                    name=f"usage_{column}",
                    title=title,
                    measure="usage",
                    dim=column,
                )
            )
    return tables


def _counted_one_way(
    counts: dict[str, int],
    column: str,
    choices: Sequence[tuple[str, str]],
    *,
    keys: Sequence[str] | None = None,
    **heading: Unpack[Heading],
) -> Table:
    """A one-way table of usage ``counts`` (see ``rollups``): records by the code in
    ``column`` (or under ``keys``, one per choice), "Not recorded" for the rest."""
    from tandem.reports import rollups

    keys = keys or [rollups.one_way_key(column, code) for code, _ in choices]
    cells = [[counts[key]] for key in keys]
    missing = counts[rollups.TOTAL] - sum(c[0] for c in cells)
    return _table(heading, [*choices, NOT_RECORDED], [*cells, [missing]])


def _counted_pairs(
    counts: dict[str, int],
    rows: Sequence[tuple[str, str]],
    cols: Sequence[tuple[str, str]],
    **heading: Unpack[PairHeading],
) -> Table:
    """The two-way table of the usage ``counts`` by ``rollups.PAIR``; values outside the
    choices count under "Not recorded", as in ``two_way``."""
    from tandem.reports import rollups

    pairs = ((rollups.pair_values(key), int(n)) for key, n in counts.items())
    cells = ((pair[0], pair[1], n) for pair, n in pairs if pair is not None)
    return _pair_table(cells, rows, cols, **heading)


def _critical_incidents(agency: Agency, period: Period) -> Section:
    from tandem.support import vocab

    incident_model = model("support.CriticalIncident")
    deployment_model = model("support.Deployment")
    kinds = _choices(vocab.CriticalIncidentKind)
    incidents = incident_model.objects.filter(
        agency=agency, occurred_on__gte=period.start, occurred_on__lte=period.end
    )
    first, after = period.bounds()
    deployments = deployment_model.objects.filter(
        incident__agency=agency, deployed_at__gte=first, deployed_at__lt=after
    )
    affected_table = quantity_by(
        incidents,
        "kind",
        "members_affected",
        kinds,
        name="ci_members",
        title="Members affected by critical incidents",
        measure="ci_members",
        dim="incident_kind",
    )
    return Section(
        "Critical incidents",
        [
            one_way(
                incidents,
                "kind",
                kinds,
                name="ci_incidents",
                title="Critical incidents",
                measure="ci_incidents",
                dim="incident_kind",
            ),
            one_way(
                deployments,
                "incident__kind",
                kinds,
                name="ci_deployments",
                title="Supporter deployments to critical incidents",
                measure="ci_deployments",
                dim="incident_kind",
            ),
            affected_table,
        ],
    )


def _supporter_hours(agency: Agency, period: Period) -> Section:
    """Supporters who logged hours and their hours, by activity. The rows are the
    activity codes of the agency's policy plus one for any other code, whoever logged
    what: a row that appeared only when someone logged that activity would tell so even
    with its count withheld."""
    entry_model = model("readiness.TimeEntry")
    section = Section("Supporter hours")
    entries = entry_model.objects.filter(
        agency=agency, worked_on__gte=period.start, worked_on__lte=period.end
    )
    policy_codes = [str(agency.policy_model().training.hours_activity_code)]
    rows = [(code, code.replace("_", " ").capitalize()) for code in policy_codes]
    rows.append(("other", "Other activity"))
    conditions = [Q(activity_code=code) for code in policy_codes]
    conditions.append(~Q(activity_code__in=policy_codes))
    found = entries.order_by().aggregate(
        total=Count("user", distinct=True),
        **{f"people{i}": Count("user", filter=c, distinct=True) for i, c in enumerate(conditions)},
        **{f"hours{i}": Sum("hours", filter=c) for i, c in enumerate(conditions)},
    )
    table = _one_column(
        found,
        "people",
        rows,
        name="hours_people",
        title="Supporters who logged hours, by activity",
        measure="hours_people",
        row_dim="activity",
        total_label="Supporters who logged hours",
        people=True,
    )
    section.tables.append(table)
    for i, (code, label) in enumerate(rows):
        hours = Decimal(found[f"hours{i}"] or 0).quantize(Decimal("0.1"))
        section.figures.append(
            Figure(
                f"Hours — {label}",
                f"{hours}",
                [table_key(table, code)],
                minimum=1,
                amount_key=f"hours_tenths|activity={code}",
                amount=int(hours * 10),
                per_unit=10,
            )
        )
    section.notes.append(
        "Hours are shown only for activities where at least the threshold of supporters "
        "logged time, and only when, set against the reports made before, they do not "
        "tell the hours of a shorter stretch of months, so no one supporter's hours can "
        "be read off."
    )
    return section


def _one_column(
    found: dict[str, Any], prefix: str, rows: Sequence[tuple[str, str]], **table: Any
) -> Table:
    """A one-column table whose row ``i`` counts ``found[f"{prefix}{i}"]``, out of
    ``found["total"]``; its rows overlap, so it does not add up."""
    return Table(
        rows=list(rows),
        counts=[[int(found[f"{prefix}{i}"] or 0)] for i in range(len(rows))],
        additive=False,
        total=int(found["total"] or 0),
        **table,
    )


def table_key(table: Table, code: str) -> str:
    index = [c for c, _ in table.rows].index(code)
    return table.key(("cell", index, 0))


def _training_needs(agency: Agency, period: Period, seen: Table) -> Section:
    section = Section("Training needs", [seen])
    section.tables.append(_training_delivered(agency, period, seen.rows[:-1]))
    section.notes.append(
        "Set the topics members raised against the training sessions held on the same "
        "topics in the period: a topic often raised with few sessions is a training need."
    )
    return section


def _training_delivered(agency: Agency, period: Period, topics: Sequence[tuple[str, str]]) -> Table:
    """Peer-support training sessions held in the period whose course lists the topic
    (matched on the topic's words, e.g. "work stress", "grief", "substance use")."""
    session_model = model("readiness.TrainingSession")
    first, after = period.bounds()
    sessions = session_model.objects.filter(
        agency=agency,
        starts_at__gte=first,
        starts_at__lt=after,
        course__program__in=["psp", "all"],
    )
    matched = [(code, label) for code, label in topics if code != "other"]
    aggregates = {
        f"t{i}": Count("pk", filter=Q(course__topics__icontains=code.replace("_", " ")))
        for i, (code, _) in enumerate(matched)
    }
    found = sessions.order_by().aggregate(total=Count("pk"), **aggregates)
    return _one_column(
        found,
        "t",
        matched,
        name="needs_training",
        title="Training sessions held on these topics",
        measure="training_sessions",
        row_dim="topic",
        total_label="Sessions held",
    )


# --- Peer recovery evaluation (PR-10, PR-12) ---------------------------------------------


def recovery_sections(agency: Agency, period: Period) -> list[Section]:
    return [
        _clients_and_contacts(agency, period),
        _referrals(agency, period),
        _stages(agency, period),
        _overdoses(agency, period),
        _outreach(agency, period),
        _staff(agency, period),
    ]


def _contacts(agency: Agency, period: Period) -> QuerySet[Any]:
    first, after = period.bounds()
    contacts: QuerySet[Any] = model("recovery.Contact").objects.filter(
        agency=agency, occurred_at__gte=first, occurred_at__lt=after
    )
    return contacts


def _clients_and_contacts(agency: Agency, period: Period) -> Section:
    """Every table about contacts counts the same population (``measure="contacts"``):
    subsets such as arrests diverted or co-responses with a PRS are columns of a table whose
    rows are the contact types, never separate counts — a separate count of a subset would
    tell its complement (all contacts minus the subset) past the suppression."""
    from tandem.recovery import vocab

    contacts = _contacts(agency, period)
    # A record merged into another is not a second client (its contacts moved with it).
    served = model("recovery.Client").objects.filter(
        agency=agency, merged_into__isnull=True, pk__in=contacts.values("client")
    )
    linked = (
        model("recovery.Referral")
        .objects.filter(
            agency=agency,
            engaged_on__gte=period.start,
            engaged_on__lte=period.end,
            client__in=served,
        )
        .order_by()
        .aggregate(n=Count("client", distinct=True))["n"]
    )
    found = contacts.order_by().aggregate(
        people=Count("client", distinct=True),
        engaged=Count("client", filter=Q(outcome="engaged"), distinct=True),
        minutes=Sum("duration_minutes", filter=Q(kind="co_response", prs_present=True)),
    )
    kinds = _choices(vocab.ContactKind)
    outcomes = _choices(vocab.ContactOutcome)
    people = Table(
        name="funnel_people",
        title="Outreach funnel: people engaged and linked to care",
        measure="clients",
        row_dim="step",
        rows=[("engaged", "People engaged"), ("linked", "People linked to care")],
        counts=[[int(found["engaged"])], [int(linked or 0)]],
        additive=False,
        total=int(found["people"]),
        total_label="People served",
        people=True,
    )
    tables = [
        _people(
            one_way(
                served,
                "status",
                _choices(vocab.ClientStatus),
                name="clients_served",
                title="Clients served, by current status",
                measure="clients",
                dim="status",
            )
        ),
        two_way(
            contacts,
            "kind",
            kinds,
            "outcome",
            outcomes,
            name="contacts_kind_outcome",
            title="Contacts by type and outcome",
            measure="contacts",
            row_dim="kind",
            col_dim="outcome",
        ),
        one_way(
            contacts,
            "outcome",
            outcomes,
            name="funnel",
            title="Outreach funnel: contact attempts by how far they went",
            measure="contacts",
            dim="outcome",
        ),
        people,
        _kind_by_yes_no(
            contacts,
            kinds,
            "arrest_diverted",
            code="diverted",
            name="diverted",
            title="Arrests diverted, by type of contact",
        ),
        _kind_by_yes_no(
            contacts,
            kinds,
            "prs_present",
            code="prs",
            name="with_prs",
            title="Contacts with a peer recovery specialist present",
        ),
    ]
    hours = Decimal(int(found["minutes"] or 0)) / 60
    figures = [
        Figure(
            "Contact attempts that reached someone",
            str(sum(_outcome_counts(tables[2]))),
            ["contacts|outcome=engaged", "contacts|outcome=declined"],
        ),
        Figure(
            "Officer hours freed by co-response",
            f"{hours.quantize(Decimal('0.1'))}",
            ["contacts|kind=co_response|prs=yes"],
            minimum=1,
            amount_key="coresponse_tenths",
            amount=int(hours.quantize(Decimal("0.1")) * 10),
            per_unit=10,
        ),
    ]
    return Section(
        "Clients and contacts",
        tables,
        figures,
        notes=[
            "The outreach funnel: contact attempts, those that reached someone (engaged or "
            "declined), the people engaged, and the people linked to care (a referral they "
            "engaged with). Officer hours freed: the time of co-responses a peer recovery "
            "specialist took part in."
        ],
    )


def _kind_by_yes_no(
    contacts: QuerySet[Any],
    kinds: Sequence[tuple[str, str]],
    flag: str,
    *,
    code: str,
    name: str,
    title: str,
) -> Table:
    """Contacts by type (rows) and whether the yes/no field ``flag`` is set (columns headed
    ``code``): a subset of contacts as columns of the whole, never a count of its own."""
    return two_way(
        contacts.annotate(**{code: _yes_no(flag)}),
        "kind",
        kinds,
        code,
        YES_NO,
        name=name,
        title=title,
        measure="contacts",
        row_dim="kind",
        col_dim=code,
        always_recorded=True,
    )


def _outcome_counts(table: Table) -> list[int]:
    codes = [code for code, _ in table.rows]
    return [table.counts[codes.index(code)][0] for code in ("engaged", "declined")]


def _referrals(agency: Agency, period: Period) -> Section:
    from tandem.recovery import vocab

    referrals = model("recovery.Referral").objects.filter(
        agency=agency, proposed_on__gte=period.start, proposed_on__lte=period.end
    )
    table = two_way(
        referrals,
        "resource__category",
        _choices(vocab.ResourceCategory),
        "status",
        _choices(vocab.ReferralStatus),
        name="referrals",
        title="Referrals by category and outcome",
        measure="referrals",
        row_dim="category",
        col_dim="status",
    )
    # The rate is worked out from the table's own cells and shown only when every one of
    # them is published: a separate count of treatment referrals could be set against the
    # table to recover a withheld row.
    rows = [code for code, _ in table.rows]
    cols = [code for code, _ in table.columns]
    treatment = sorted(str(c) for c in vocab.TREATMENT_CATEGORIES)
    made = sum(table.value(("row", rows.index(c))) for c in treatment)
    engaged = sum(
        table.counts[rows.index(c)][cols.index(s)]
        for c in treatment
        for s in ("engaged", "completed")
    )
    basis = [f"referrals|category={c}" for c in treatment] + [
        f"referrals|category={c}|status={s}" for c in treatment for s in ("engaged", "completed")
    ]
    share = f"{100 * engaged / made:.0f}% ({engaged} of {made})" if made else "no referrals"
    return Section(
        "Referrals",
        [table],
        [Figure("Treatment engagement rate", share, basis)],
        notes=[
            "Treatment engagement rate: referrals to treatment (withdrawal "
            "management, residential, outpatient, medication) that the client "
            "engaged with or completed."
        ],
    )


def _stages(agency: Agency, period: Period) -> Section:
    from django.db.models import OuterRef, Subquery

    from tandem.recovery import vocab

    stage_model = model("recovery.StageAssessment")
    first, after = period.bounds()
    in_period = stage_model.objects.filter(
        client=OuterRef("pk"), assessed_at__gte=first, assessed_at__lt=after
    )
    assessed = stage_model.objects.filter(
        agency=agency, assessed_at__gte=first, assessed_at__lt=after
    ).values("client")
    clients = (
        model("recovery.Client")
        .objects.filter(agency=agency, merged_into__isnull=True, pk__in=assessed)
        .annotate(
            first_stage=Subquery(in_period.order_by("assessed_at", "pk").values("stage")[:1]),
            last_stage=Subquery(in_period.order_by("-assessed_at", "-pk").values("stage")[:1]),
        )
    )
    stages = _choices(vocab.Stage)
    table = _people(
        two_way(
            clients,
            "first_stage",
            stages,
            "last_stage",
            stages,
            name="stages",
            title="Stage of change: first and last assessment in the period",
            measure="stages",
            row_dim="first_stage",
            col_dim="last_stage",
        )
    )
    return Section(
        "Stage-of-change progression",
        [table],
        notes=[
            "Each client counts once: rows are the first stage assessed in the period, columns "
            "the last."
        ],
    )


def _overdoses(agency: Agency, period: Period) -> Section:
    from tandem.recovery import vocab

    first, after = period.bounds()
    overdoses = (
        model("recovery.OverdoseResponse")
        .objects.filter(agency=agency, occurred_at__gte=first, occurred_at__lt=after)
        .annotate(
            fatal_code=_yes_no("fatal"),
            naloxone_code=_yes_no("naloxone_given"),
        )
    )
    table = two_way(
        overdoses,
        "fatal_code",
        [("no", "Survived"), ("yes", "Fatal")],
        "naloxone_code",
        YES_NO,
        name="overdoses",
        title="Overdose responses: outcome by naloxone given",
        measure="overdoses",
        row_dim="outcome",
        col_dim="naloxone",
    )
    kits = model("recovery.NaloxoneKit").objects.filter(
        agency=agency, given_on__gte=period.start, given_on__lte=period.end
    )
    recipients = _choices(vocab.KitRecipient)
    kit_table = quantity_by(
        kits,
        "recipient_type",
        "quantity",
        recipients,
        name="kits",
        title="Naloxone kits given, by recipient",
        measure="kits",
        dim="recipient",
    )
    return Section("Overdoses and naloxone", [table, kit_table])


def _outreach(agency: Agency, period: Period) -> Section:
    from tandem.recovery import vocab

    events = model("recovery.OutreachEvent").objects.filter(
        agency=agency, held_on__gte=period.start, held_on__lte=period.end
    )
    audiences = _choices(vocab.OutreachAudience)
    people = quantity_by(
        events,
        "audience",
        "attendance",
        audiences,
        name="outreach_people",
        title="People reached by community education",
        measure="outreach_people",
        dim="audience",
    )
    return Section(
        "Community education",
        [
            one_way(
                events,
                "audience",
                audiences,
                name="outreach_events",
                title="Community education events, by audience",
                measure="outreach_events",
                dim="audience",
            ),
            people,
        ],
    )


def _people(table: Table) -> Table:
    """Mark a table that counts distinct people: its counts for two periods do not add
    up (one client counts in January and in Jan–Mar alike)."""
    table.people = True
    return table


YES_NO = [("yes", "Yes"), ("no", "No")]


def _yes_no(column: str) -> Any:
    from django.db.models import Case, CharField, Value, When

    return Case(
        When(**{column: True}, then=Value("yes")), default=Value("no"), output_field=CharField()
    )


def _staff(agency: Agency, period: Period) -> Section:
    """Training compliance as it stood at the end of the period (its last moment), not
    on the day the report is opened: an annual evaluation describes the year, and two
    views on different days must not differ by one person's lapse."""
    from tandem.readiness import compliance

    at = period.bounds()[1] - timedelta(microseconds=1)
    summary = compliance.compliance_summary(agency, at)
    rows = [(level, label) for level, label in compliance.LEVEL_LABELS.items()]
    table = _people(
        Table(
            name="staff",
            title="Staff training compliance at the end of the period",
            measure="staff",
            row_dim="level",
            rows=rows,
            counts=[[int(summary.get(level, 0))] for level, _ in rows],
        )
    )
    return Section(
        "Staff training compliance",
        [table],
        notes=[
            "Everyone on a peer program team today, by the training rules of the agency's "
            f"policy, as their training stood on {period.end.day} {period.end:%B %Y}."
        ],
    )


SectionBuilder = Callable[[Any, Period], list[Section]]
