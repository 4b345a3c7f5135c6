"""Who may see which report. Every helper answers ``Http404`` both for "missing" and for
"not allowed", and scopes every query to the signed-in user's agency."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import Http404

from tandem.agencies.access import require_role
from tandem.reports.models import ReportRun
from tandem.reports.services import PUBLISHERS, REPORTS, ReportDef

if TYPE_CHECKING:
    from tandem.accounts.models import User

#: Everyone who may see at least one report.
READERS = tuple(sorted({role for r in REPORTS.values() for role in r.roles}))


def get_report_for_user(user: User, slug: str) -> ReportDef:
    definition = REPORTS.get(str(slug))
    if definition is None:
        raise Http404
    agency = require_role(user, *definition.roles)
    if not agency.runs(definition.program):
        raise Http404
    return definition


def may_publish(user: User) -> bool:
    return bool(user.has_role(*PUBLISHERS))


def get_run_for_user(user: User, pk: int | str) -> ReportRun:
    agency = require_role(user, *READERS)
    try:
        run = ReportRun.objects.get(agency=agency, pk=int(pk))
    except (ReportRun.DoesNotExist, TypeError, ValueError):
        raise Http404 from None
    get_report_for_user(user, run.report)
    return run
