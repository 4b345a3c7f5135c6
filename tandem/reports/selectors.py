"""Reads for the report screens and the API: stored runs, never their content in a list."""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import QuerySet

from tandem.agencies.models import Agency
from tandem.reports.models import ReportRun


def runs_listed(agency: Agency, reports: Sequence[str]) -> QuerySet[ReportRun]:
    """The stored runs of the reports the reader may see, without their content."""
    return ReportRun.objects.filter(agency=agency, report__in=reports).defer("content")


LATEST_RUNS = 36


def latest_runs(agency: Agency, reports: Sequence[str]) -> QuerySet[ReportRun]:
    """The ``LATEST_RUNS`` newest runs for the reports page: only what a row shows."""
    return ReportRun.objects.filter(agency=agency, report__in=reports).only(
        "pk", "report", "kind", "period_start", "period_end", "created_at"
    )[:LATEST_RUNS]
