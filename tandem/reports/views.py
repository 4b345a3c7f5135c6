"""Report screens and exports. Each view asks ``access`` for the report (404 for a role
that may not see it), parses the period, calls ``services.report_build`` — the only path
from the database to a figure — and renders the protected content."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_role
from tandem.reports import documents, selectors
from tandem.reports.access import READERS, get_report_for_user, get_run_for_user, may_publish
from tandem.reports.charts import bar_chart
from tandem.reports.forms import PeriodForm
from tandem.reports.models import Audience
from tandem.reports.services import (
    REPORTS,
    ReportError,
    annual_year,
    last_month,
    report_build,
    reports_for,
)

EXPORTS = ("csv", "xlsx", "pdf")


def _with_charts(content: dict[str, Any]) -> dict[str, Any]:
    for section in content.get("sections", []):
        for table in section["tables"]:
            table["svg"] = bar_chart(table["title"], table["chart"], chart_id=table["name"])
    return content


def _period_form(request: AuthenticatedHttpRequest) -> PeriodForm:
    publisher = may_publish(request.user)
    if "start" in request.GET or "end" in request.GET:
        return PeriodForm(request.GET, may_publish=publisher)
    default = last_month()
    data = {
        "start": f"{default.start:%Y-%m}",
        "end": f"{default.end:%Y-%m}",
        "audience": Audience.DEPARTMENT,
    }
    return PeriodForm(data, may_publish=publisher)


def _build(request: AuthenticatedHttpRequest, slug: str, form: PeriodForm) -> dict[str, Any]:
    data = form.cleaned_data
    return report_build(
        agency=request.user.home_agency,
        report=slug,
        period=data["period"],
        acting_user=request.user,
        audience=data.get("audience") or Audience.DEPARTMENT,
        epsilon=data.get("epsilon"),
    )[0]


@require_GET
def index(request: AuthenticatedHttpRequest) -> HttpResponse:
    agency = require_role(request.user, *READERS)
    visible = reports_for(request.user)
    runs = list(selectors.latest_runs(agency, [r.slug for r in visible]))
    default = last_month()
    cards = [{"r": r, "year": annual_year(agency, r.slug)} for r in visible]
    return render(
        request,
        "reports/index.html",
        {
            "reports": visible,
            "cards": cards,
            "runs": runs,
            "more_runs": len(runs) == selectors.LATEST_RUNS,
            "titles": {r.slug: r.title for r in REPORTS.values()},
            "last_month": f"{default.start:%Y-%m}",
        },
    )


@require_GET
def report(request: AuthenticatedHttpRequest, slug: str) -> HttpResponse:
    definition = get_report_for_user(request.user, slug)
    form = _period_form(request)
    content: dict[str, Any] | None = None
    error = ""
    status = 200
    if form.is_valid():
        try:
            content = _with_charts(_build(request, slug, form))
        except ReportError as problem:
            error, status = str(problem), 400
    else:
        status = 400
    query = request.GET.urlencode() if form.is_valid() else ""
    return render(
        request,
        "reports/report.html",
        {
            "definition": definition,
            "form": form,
            "content": content,
            "error": error,
            "query": query,
            "exports": [(fmt, definition.export_url(fmt)) for fmt in EXPORTS],
        },
        status=status,
    )


@require_GET
def export(request: AuthenticatedHttpRequest, slug: str, fmt: str) -> HttpResponse:
    get_report_for_user(request.user, slug)
    if fmt not in EXPORTS:
        raise Http404
    form = _period_form(request)
    if not form.is_valid():
        return _refused(request, slug, form)
    try:
        content = _build(request, slug, form)
    except ReportError as problem:
        form.add_error(None, str(problem))
        return _refused(request, slug, form)
    if fmt == "csv":
        return documents.csv_export(content)
    if fmt == "xlsx":
        return documents.xlsx_export(content)
    return documents.pdf_export(content, request.user.home_agency)


def _refused(request: AuthenticatedHttpRequest, slug: str, form: PeriodForm) -> HttpResponse:
    """A bad request for an export answers with the report page and its message — never a
    file, and never a table without disclosure control."""
    return render(
        request,
        "reports/report.html",
        {
            "definition": REPORTS[slug],
            "form": form,
            "content": None,
            "error": "",
            "query": "",
            "exports": [],
        },
        status=400,
    )


@require_GET
def run_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    run = get_run_for_user(request.user, pk)
    content = _with_charts(dict(run.content))
    return render(
        request,
        "reports/run_detail.html",
        {
            "run": run,
            "content": content,
            "definition": REPORTS[run.report],
        },
    )
