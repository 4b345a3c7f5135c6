"""Producing reports: build the tables, pass them through disclosure control against the
release log, log the release, and keep produced reports (P4, X-7, X-9).

``report_build`` is the only way figures leave the database: views, exports, the PDF, the
monthly delivery and the demo all call it, and every call records what was shown in the
release log (``Release``) and the audit trail (ids and categories only).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from tandem.agencies.models import PEER_RECOVERY, PEER_SUPPORT, Role
from tandem.audit.services import audit_record
from tandem.core.db_router import replica_reads
from tandem.reports import statistics
from tandem.reports.disclosure import (
    SUPPRESSED,
    SUPPRESSED_TEXT,
    DisclosureError,
    LoggedFigure,
    PublishedTable,
    Span,
    add_noise,
    check_threshold,
    exposes,
    period_span,
    protect,
)
from tandem.reports.grant import grant_sections
from tandem.reports.models import Audience, Release, ReportRun, RunKind
from tandem.reports.statistics import Period, Section

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency


@dataclass(frozen=True)
class ReportDef:
    slug: str
    title: str
    roles: tuple[str, ...]
    builder: statistics.SectionBuilder
    deliver_to: str  # the role that receives the monthly report
    description: str
    program: str  # the program it reports on: offered only where the agency runs it
    monthly: bool = True  # delivered every month (the grant report is made on demand)

    @property
    def url_name(self) -> str:
        return self.slug.replace("-", "_")

    def url(self) -> str:
        from django.urls import reverse

        return reverse(f"reports:{self.url_name}")

    def export_url(self, fmt: str) -> str:
        from django.urls import reverse

        return reverse(f"reports:{self.url_name}_{fmt}")


REPORTS: dict[str, ReportDef] = {
    "peer-support": ReportDef(
        "peer-support",
        "Peer support usage",
        # PS-6: reports to the coordinator; the psychologist plans training from them and
        # the Chief funds the program. All see the same suppressed figures.
        (Role.COORDINATOR, Role.PSYCHOLOGIST, Role.CHIEF),
        statistics.peer_support_sections,
        Role.COORDINATOR,
        "Contacts by incident, member category, channel, length and services; response "
        "times; critical incidents; supporter hours; training needs.",
        PEER_SUPPORT,
    ),
    "recovery": ReportDef(
        "recovery",
        "Peer recovery program evaluation",
        # PR-10/PR-12: the CRT supervisor runs the evaluation, the Chief signs grant
        # reports, and the ARO and PRS are the program's staff whose outputs it measures.
        (Role.CRT_SUPERVISOR, Role.CHIEF, Role.ARO, Role.PRS),
        statistics.recovery_sections,
        Role.CRT_SUPERVISOR,
        "Clients served, contacts, the outreach funnel, referrals, treatment engagement, "
        "stage of change, arrests diverted, overdoses and naloxone, staff training.",
        PEER_RECOVERY,
    ),
    "grant": ReportDef(
        "grant",
        "Grant report (peer recovery)",
        # PR-12: for the program's funders; the CRT supervisor prepares it and the Chief
        # signs it (PR-8: nothing leaves the department without the Chief).
        (Role.CRT_SUPERVISOR, Role.CHIEF),
        grant_sections,
        Role.CRT_SUPERVISOR,
        "For funders: callouts, people reached, contacts, referrals and linkage by type, "
        "naloxone, and follow-up at the SUPRT windows against the 80% target.",
        PEER_RECOVERY,
        monthly=False,
    ),
}
#: Figures for outside the department are the Chief's call (PR-8: no public statements
#: without the Chief's permission); they always carry differential-privacy noise.
PUBLISHERS = (Role.CHIEF,)
DEFAULT_EPSILON = 1.0
#: An agency's privacy budget over all its releases outside the department (setting
#: ``TANDEM_REPORTS_EPSILON_BUDGET``): ten releases at the default epsilon.
DEFAULT_EPSILON_BUDGET = 10.0


class ReportError(ValueError):
    """A report that cannot be produced as asked; the message is for the user."""


def annual_year(agency: Agency, slug: str, today: date | None = None) -> int:
    """The year the "Annual report" link opens: the last complete calendar year in which
    the program has any activity (issue 12, item 7), else simply last year."""
    from django.db.models import Max

    today = today or timezone.localdate()
    last_complete = today.year - 1
    cutoff = datetime(last_complete + 1, 1, 1, tzinfo=timezone.get_current_timezone())
    newest = None
    if slug == "peer-support":
        from tandem.support.models import UsageRecord

        newest = UsageRecord.objects.filter(agency=agency, closed_at__lt=cutoff).aggregate(
            newest=Max("closed_at")
        )["newest"]
    elif slug in ("recovery", "grant"):
        from tandem.recovery.models import Contact

        newest = Contact.objects.filter(agency=agency, occurred_at__lt=cutoff).aggregate(
            newest=Max("occurred_at")
        )["newest"]
    return timezone.localtime(newest).year if newest else last_complete


def reports_for(user: User) -> list[ReportDef]:
    """The reports ``user`` may read: their role reads it and their agency runs its program."""
    agency = user.agency
    return [
        r
        for r in REPORTS.values()
        if user.has_role(*r.roles) and agency is not None and agency.runs(r.program)
    ]


def monthly_reports(agency: Agency) -> list[ReportDef]:
    """The reports made every month for ``agency``: those of the programs it runs."""
    return [d for d in REPORTS.values() if d.monthly and agency.runs(d.program)]


def month_start(day: date) -> date:
    return day.replace(day=1)


def month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def check_period(period: Period, *, today: date | None = None) -> Period:
    """Whole months that have ended: a report never covers a month still going on, so
    figures do not change from one day to the next (which would invite differencing)."""
    today = today or timezone.localdate()
    if period.end < period.start:
        raise ReportError(
            "The period ends before it starts: choose the first month, then the last."
        )
    if period.start > today:
        raise ReportError("That period is in the future: there are no figures for it yet.")
    if period.end >= month_start(today):
        raise ReportError(
            "Figures for a month are available once it has ended: choose months up to "
            f"{(month_start(today) - timedelta(days=1)):%B %Y}."
        )
    if (period.end.year - period.start.year) * 12 + period.end.month - period.start.month >= 120:
        raise ReportError("A report covers at most ten years.")
    return Period(month_start(period.start), month_end(period.end))


def _digest(cells: dict[str, int]) -> str:
    return hashlib.sha256(json.dumps(cells, sort_keys=True).encode()).hexdigest()


def _serialise_table(published: PublishedTable) -> dict[str, Any]:
    table = published.table
    return {
        "name": table.name,
        "title": table.title,
        "note": table.note,
        "header": published.header(),
        "rows": published.export_rows(),
        "chart": [[label, value] for label, value in published.chart_series()],
        "withheld": published.any_suppressed,
    }


def epsilon_budget() -> float:
    """The privacy budget of each agency: all its noisy releases together, for good."""
    return float(getattr(settings, "TANDEM_REPORTS_EPSILON_BUDGET", DEFAULT_EPSILON_BUDGET))


def epsilon_spent(agency: Agency) -> float:
    spent = Release.objects.filter(agency=agency, audience=Audience.PUBLIC).aggregate(
        total=Sum("epsilon")
    )["total"]
    return float(spent or 0)


def _charge_budget(agency: Agency, epsilon: float) -> None:
    """Refuse a noisy release that would take the agency past its budget. The agency row
    is locked so that two releases at once cannot both fit in what is left."""
    if epsilon <= 0:
        return  # ``add_noise`` refuses it with its own message
    type(agency).objects.select_for_update().filter(pk=agency.pk).first()
    budget, spent = epsilon_budget(), epsilon_spent(agency)
    if spent + epsilon > budget + 1e-9:
        left = max(budget - spent, 0.0)
        raise ReportError(
            f"This would take the agency past its privacy budget: {spent:g} of {budget:g} "
            f"is spent and {left:g} is left, so at most {left:g} can be used now. Every "
            "release outside the department spends its epsilon for good; figures already "
            "published can be shown again at no cost."
        )


def release_history(agency: Agency, report: str) -> dict[str, list[LoggedFigure]]:
    """Every figure logged for ``report`` at ``agency``, by key, newest first: what anyone
    who kept the earlier reports can set against a new one."""
    history: dict[str, list[LoggedFigure]] = {}
    logged = (
        Release.objects.filter(agency=agency, report=report)
        .order_by("-created_at", "-pk")
        .values_list("period_start", "period_end", "cells")
    )
    for start, end, cells in logged:
        first, after = period_span(start, end)
        for key, value in (cells or {}).items():
            history.setdefault(key, []).append((first, after, int(value)))
    return history


def _figure_value(
    figure: statistics.Figure,
    cells: dict[str, int],
    threshold: int,
    history: dict[str, list[LoggedFigure]],
    span: Span,
) -> str:
    for key in figure.basis:
        value = cells.get(key)
        if value is None or (value < figure.minimum) or (0 < value < threshold):
            return SUPPRESSED
    if figure.amount_key:
        # A sum such as hours goes through the log like a count: a figure that pins the
        # hours of a stretch of months never shown on its own (March's hours, from
        # February's and Feb–Mar's) to within the threshold (in hours) is withheld,
        # however many hours that is.
        if exposes(
            history.get(figure.amount_key, []),
            span,
            figure.amount,
            threshold * figure.per_unit,
            amounts=True,
        ):
            return SUPPRESSED
        cells[figure.amount_key] = figure.amount
    return figure.value


@transaction.atomic
def report_build(
    *,
    agency: Agency,
    report: str,
    period: Period,
    acting_user: User | None = None,
    audience: str = Audience.DEPARTMENT,
    epsilon: float | None = None,
) -> tuple[dict[str, Any], Release | None]:
    """The report as it may be shown: every table through disclosure control, checked
    against (and added to) the release log. Returns (content, release)."""
    definition = REPORTS.get(report)
    if definition is None:
        raise ReportError("There is no such report.")
    try:
        threshold = check_threshold(int(agency.policy_model().small_cell_threshold))
    except DisclosureError as error:
        raise ReportError(str(error)) from error
    public = audience == Audience.PUBLIC
    if public:
        published_before = (
            ReportRun.objects.filter(
                agency=agency,
                report=report,
                kind=RunKind.PUBLIC,
                period_start=period.start,
                period_end=period.end,
            )
            .select_related("release")
            .first()
        )
        if published_before is not None:
            audit_record(
                action="report.viewed",
                actor=acting_user,
                agency_id=agency.pk,
                object_type="reports.ReportRun",
                object_id=published_before.pk,
                detail={"report": report, "audience": audience},
            )
            return dict(published_before.content), published_before.release
    with replica_reads(inside_transaction=True):  # counting only; the log stays primary
        sections: list[Section] = definition.builder(agency, period)
    tables = [t for s in sections for t in s.tables]
    if public:
        _charge_budget(agency, float(epsilon or 0))
        for section in sections:
            left_out = [t.title for t in section.tables if t.quantity]
            section.tables = [t for t in section.tables if not t.quantity]
            if left_out:
                section.notes.append(
                    f"{'; '.join(left_out)}: not published outside the department. These "
                    "figures add up quantities with no limit on one record's share, so "
                    "noise cannot hide a single record."
                )
        tables = [t for s in sections for t in s.tables]
        try:
            noisy = iter(add_noise(tables, epsilon=float(epsilon or 0)))
        except DisclosureError as error:
            raise ReportError(str(error)) from error
        for section in sections:
            section.tables = [next(noisy) for _ in section.tables]
        tables = [t for s in sections for t in s.tables]
    content: dict[str, Any] = {
        "report": report,
        "title": definition.title,
        "agency": agency.name,
        "period": {
            "start": period.start.isoformat(),
            "end": period.end.isoformat(),
            "label": period.label,
        },
        "threshold": threshold,
        "audience": audience,
        "epsilon": epsilon if public else None,
        "legend": SUPPRESSED_TEXT.format(t=threshold),
        "sections": [],
        "empty": all(t.value(("total",)) == 0 for t in tables),
    }
    if content["empty"]:
        audit_record(
            action="report.viewed",
            actor=acting_user,
            agency_id=agency.pk,
            object_type="reports.Report",
            object_id=report,
            detail={
                "start": content["period"]["start"],
                "end": content["period"]["end"],
                "empty": True,
            },
        )
        return content, None
    span = period_span(period.start, period.end)
    history = release_history(agency, report)
    published = iter(protect(tables, threshold=threshold, history=history, span=span))
    cells: dict[str, int] = {}
    shown_by_section = []
    for section in sections:
        shown = [next(published) for _ in section.tables]
        for item in shown:
            cells.update(item.published_cells())
        shown_by_section.append(shown)
    for section, shown in zip(sections, shown_by_section, strict=True):
        content["sections"].append(
            {
                "title": section.title,
                "notes": section.notes,
                "tables": [_serialise_table(item) for item in shown],
                "figures": []
                if public
                else [
                    [f.label, _figure_value(f, cells, threshold, history, span)]
                    for f in section.figures
                ],
            }
        )
    release = _release_log(agency, report, period, threshold, audience, epsilon, cells, acting_user)
    if public:
        _run_store(agency, report, RunKind.PUBLIC, period, release, content, acting_user)
    audit_record(
        action="report.viewed",
        actor=acting_user,
        agency_id=agency.pk,
        object_type="reports.Release",
        object_id=release.pk,
        detail={
            "report": report,
            "start": content["period"]["start"],
            "end": content["period"]["end"],
            "audience": audience,
        },
    )
    return content, release


def _release_log(
    agency: Agency,
    report: str,
    period: Period,
    threshold: int,
    audience: str,
    epsilon: float | None,
    cells: dict[str, int],
    acting_user: User | None,
) -> Release:
    key = {
        "agency": agency,
        "report": report,
        "period_start": period.start,
        "period_end": period.end,
        "digest": _digest(cells),
    }
    found = Release.objects.filter(**key).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Release.objects.create(
                **key,
                threshold=threshold,
                audience=audience,
                epsilon=epsilon if audience == Audience.PUBLIC else None,
                cells=cells,
                created_by=acting_user,
            )
    except IntegrityError:  # the same figures logged by a concurrent request
        return Release.objects.get(**key)


def _run_store(
    agency: Agency,
    report: str,
    kind: str,
    period: Period,
    release: Release | None,
    content: dict[str, Any],
    acting_user: User | None,
) -> ReportRun:
    return ReportRun.objects.create(
        agency=agency,
        report=report,
        kind=kind,
        period_start=period.start,
        period_end=period.end,
        release=release,
        content=content,
        created_by=acting_user,
    )


@transaction.atomic
def report_run_create(
    *,
    agency: Agency,
    report: str,
    period: Period,
    kind: str = RunKind.ON_REQUEST,
    acting_user: User | None = None,
) -> tuple[ReportRun, bool]:
    """Store a produced report; a scheduled run exists once per report and month.
    Returns (run, created)."""
    if kind == RunKind.SCHEDULED:
        existing = ReportRun.objects.filter(
            agency=agency,
            report=report,
            kind=kind,
            period_start=period.start,
            period_end=period.end,
        ).first()
        if existing is not None:
            return existing, False
    content, release = report_build(
        agency=agency, report=report, period=period, acting_user=acting_user
    )
    run = _run_store(agency, report, kind, period, release, content, acting_user)
    audit_record(
        action="report.stored",
        actor=acting_user,
        agency_id=agency.pk,
        object_type="reports.ReportRun",
        object_id=run.pk,
        detail={"report": report, "kind": kind},
    )
    return run, True


def last_month(today: date | None = None) -> Period:
    today = today or timezone.localdate()
    end = month_start(today) - timedelta(days=1)
    return Period(month_start(end), end)


def deliver_monthly_reports(today: date | None = None) -> int:
    """Periodic job: last month's reports, stored once, and a "report ready" notice (which
    says nothing else) to the people who receive them. Returns how many runs it made."""
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency
    from tandem.core.notifications import notify

    period = last_month(today)
    made = 0
    for agency in Agency.objects.all():
        for definition in monthly_reports(agency):
            recipients = list(
                User.objects.filter(
                    is_active=True,
                    role_assignments__agency=agency,
                    role_assignments__role=definition.deliver_to,
                ).distinct()
            )
            if not recipients:
                continue
            with transaction.atomic():
                run, created = report_run_create(
                    agency=agency, report=definition.slug, period=period, kind=RunKind.SCHEDULED
                )
                if not created:
                    continue
                made += 1
                for user in recipients:
                    notify(kind="report.ready", recipient_user=user, agency=agency)
    return made


def usage_months_roll_up(now: datetime | None = None) -> int:
    """Periodic job: keep the usage counts of every settled month of every agency that runs
    peer support (``rollups``), in the agency's time zone and the server's. Derived from the
    usage records, it writes no audit event of its own. Returns the months counted."""
    from zoneinfo import ZoneInfo

    from tandem.agencies.models import Agency
    from tandem.reports import rollups

    made = 0
    for agency in Agency.objects.all():
        if not agency.runs(PEER_SUPPORT):
            continue
        zones = {timezone.get_default_timezone_name(), agency.time_zone}
        for name in sorted(zones):
            try:
                zone = ZoneInfo(name)
            except (KeyError, ValueError):
                continue
            made += rollups.agency_roll_up(agency, zone, now)
    return made
