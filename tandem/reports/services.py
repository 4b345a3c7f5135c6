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
from datetime import date, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tandem.agencies.models import Role
from tandem.audit.services import audit_record
from tandem.reports import statistics
from tandem.reports.disclosure import (
    SUPPRESSED,
    SUPPRESSED_TEXT,
    DisclosureError,
    PublishedTable,
    add_noise,
    check_threshold,
    protect,
)
from tandem.reports.models import Audience, Release, ReportRun, RunKind
from tandem.reports.statistics import Period, Section


@dataclass(frozen=True)
class ReportDef:
    slug: str
    title: str
    roles: tuple[str, ...]
    builder: statistics.SectionBuilder
    deliver_to: str  # the role that receives the monthly report
    description: str

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
        "peer-support", "Peer support usage",
        # PS-6: reports to the coordinator; the psychologist plans training from them and
        # the Chief funds the program. All see the same suppressed figures.
        (Role.COORDINATOR, Role.PSYCHOLOGIST, Role.CHIEF),
        statistics.peer_support_sections, Role.COORDINATOR,
        "Contacts by incident, member category, channel, length and services; response "
        "times; critical incidents; supporter hours; training needs.",
    ),
    "recovery": ReportDef(
        "recovery", "Peer recovery program evaluation",
        # PR-10/PR-12: the CRT supervisor runs the evaluation, the Chief signs grant
        # reports, and the ARO and PRS are the program's staff whose outputs it measures.
        (Role.CRT_SUPERVISOR, Role.CHIEF, Role.ARO, Role.PRS),
        statistics.recovery_sections, Role.CRT_SUPERVISOR,
        "Clients served, contacts, the outreach funnel, referrals, treatment engagement, "
        "stage of change, arrests diverted, overdoses and naloxone, staff training.",
    ),
}
#: Figures for outside the department are the Chief's call (PR-8: no public statements
#: without the Chief's permission); they always carry differential-privacy noise.
PUBLISHERS = (Role.CHIEF,)
DEFAULT_EPSILON = 1.0


class ReportError(ValueError):
    """A report that cannot be produced as asked; the message is for the user."""


def reports_for(user: Any) -> list[ReportDef]:
    return [r for r in REPORTS.values() if user.has_role(*r.roles)]


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


def _figure_value(figure: statistics.Figure, cells: dict[str, int], threshold: int) -> str:
    for key in figure.basis:
        value = cells.get(key)
        if value is None or (value < figure.minimum) or (0 < value < threshold):
            return SUPPRESSED
    return figure.value


@transaction.atomic
def report_build(
    *, agency: Any, report: str, period: Period, acting_user: Any = None,
    audience: str = Audience.DEPARTMENT, epsilon: float | None = None,
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
        published_before = ReportRun.objects.filter(
            agency=agency, report=report, kind=RunKind.PUBLIC, period_start=period.start,
            period_end=period.end,
        ).select_related("release").first()
        if published_before is not None:
            audit_record(action="report.viewed", actor=acting_user, agency_id=agency.pk,
                         object_type="reports.ReportRun", object_id=published_before.pk,
                         detail={"report": report, "audience": audience})
            return dict(published_before.content), published_before.release
    sections: list[Section] = definition.builder(agency, period)
    tables = [t for s in sections for t in s.tables]
    if public:
        try:
            noisy = iter(add_noise(tables, epsilon=float(epsilon or 0)))
        except DisclosureError as error:
            raise ReportError(str(error)) from error
        for section in sections:
            section.tables = [next(noisy) for _ in section.tables]
        tables = [t for s in sections for t in s.tables]
    content: dict[str, Any] = {
        "report": report, "title": definition.title, "agency": agency.name,
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat(),
                   "label": period.label},
        "threshold": threshold, "audience": audience, "epsilon": epsilon if public else None,
        "legend": SUPPRESSED_TEXT.format(t=threshold), "sections": [],
        "empty": all(t.value(("total",)) == 0 for t in tables),
    }
    if content["empty"]:
        audit_record(action="report.viewed", actor=acting_user, agency_id=agency.pk,
                     object_type="reports.report", object_id=report,
                     detail={"start": content["period"]["start"],
                             "end": content["period"]["end"], "empty": True})
        return content, None
    prior = [
        dict(cells) for cells in Release.objects.filter(
            agency=agency, period_start__lte=period.end, period_end__gte=period.start
        ).values_list("cells", flat=True)
    ]
    published = iter(protect(tables, threshold=threshold, prior=prior))
    cells: dict[str, int] = {}
    for section in sections:
        shown = [next(published) for _ in section.tables]
        for item in shown:
            cells.update(item.published_cells())
        content["sections"].append({
            "title": section.title,
            "notes": section.notes,
            "tables": [_serialise_table(item) for item in shown],
            "figures": [] if public else [
                [f.label, _figure_value(f, cells, threshold)] for f in section.figures
            ],
        })
    release = _release_log(agency, report, period, threshold, audience, epsilon, cells,
                           acting_user)
    if public:
        ReportRun.objects.create(
            agency=agency, report=report, kind=RunKind.PUBLIC, period_start=period.start,
            period_end=period.end, release=release, content=content, created_by=acting_user,
        )
    audit_record(action="report.viewed", actor=acting_user, agency_id=agency.pk,
                 object_type="reports.Release", object_id=release.pk,
                 detail={"report": report, "start": content["period"]["start"],
                         "end": content["period"]["end"], "audience": audience})
    return content, release


def _release_log(agency: Any, report: str, period: Period, threshold: int, audience: str,
                 epsilon: float | None, cells: dict[str, int], acting_user: Any) -> Release:
    digest = _digest(cells)
    found = Release.objects.filter(
        agency=agency, report=report, period_start=period.start, period_end=period.end,
        digest=digest,
    ).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Release.objects.create(
                agency=agency, report=report, period_start=period.start,
                period_end=period.end, threshold=threshold, audience=audience,
                epsilon=epsilon if audience == Audience.PUBLIC else None, cells=cells,
                digest=digest, created_by=acting_user,
            )
    except IntegrityError:  # the same figures logged by a concurrent request
        return Release.objects.get(agency=agency, report=report, period_start=period.start,
                                   period_end=period.end, digest=digest)


@transaction.atomic
def report_run_create(
    *, agency: Any, report: str, period: Period, kind: str = RunKind.ON_REQUEST,
    acting_user: Any = None,
) -> tuple[ReportRun, bool]:
    """Store a produced report; a scheduled run exists once per report and month.
    Returns (run, created)."""
    if kind == RunKind.SCHEDULED:
        existing = ReportRun.objects.filter(
            agency=agency, report=report, kind=kind, period_start=period.start,
            period_end=period.end,
        ).first()
        if existing is not None:
            return existing, False
    content, release = report_build(agency=agency, report=report, period=period,
                                    acting_user=acting_user)
    run = ReportRun.objects.create(
        agency=agency, report=report, kind=kind, period_start=period.start,
        period_end=period.end, release=release, content=content, created_by=acting_user,
    )
    audit_record(action="report.stored", actor=acting_user, agency_id=agency.pk,
                 object_type="reports.ReportRun", object_id=run.pk,
                 detail={"report": report, "kind": kind})
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
        for definition in REPORTS.values():
            recipients = list(User.objects.filter(
                is_active=True, role_assignments__agency=agency,
                role_assignments__role=definition.deliver_to,
            ).distinct())
            if not recipients:
                continue
            with transaction.atomic():
                run, created = report_run_create(agency=agency, report=definition.slug,
                                                 period=period, kind=RunKind.SCHEDULED)
                if not created:
                    continue
                made += 1
                for user in recipients:
                    notify(kind="report.ready", recipient_user=user, agency=agency)
    return made
