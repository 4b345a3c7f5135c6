"""Demo data for this program (called by ``tandem demo`` through core.demo.DEMO_APPS).

The reports count what the other programs' demo data recorded; this adds the stored
monthly report that the scheduled delivery would have made for last month, so the
coordinator and the CRT supervisor find one under "Reports". Safe to run again: a
scheduled run exists once per report and month.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tandem.reports.models import RunKind
from tandem.reports.services import last_month, monthly_reports, report_run_create

if TYPE_CHECKING:
    from tandem.agencies.models import Agency


def populate(*, agency: Agency, users: dict[str, Any]) -> None:
    """Store last month's reports for ``agency``; safe to run again."""
    period = last_month()
    for definition in monthly_reports(agency):
        report_run_create(
            agency=agency,
            report=definition.slug,
            period=period,
            kind=RunKind.SCHEDULED,
            acting_user=users.get(definition.deliver_to),
        )
