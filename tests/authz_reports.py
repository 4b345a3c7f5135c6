"""Authorization rows for the reports app's URLs (see tests/authz.py).

Peer-support figures: coordinator, psychologist, Chief (PS-6). Recovery evaluation: CRT
supervisor, Chief, ARO, PRS (PR-10, PR-12). Nobody else — administrator and auditor
included — sees program statistics.
"""

from __future__ import annotations

from django.urls import reverse

from tests.authz import Row, World, roles

PSP = roles("coordinator", "psychologist", "chief")
PRP = roles("crt_supervisor", "chief", "aro", "prs")


def _run(w: World) -> str:
    return reverse("reports:run_detail", args=[w.objects["report_run"].pk])


ROWS: list[Row] = [
    Row("reports:index", PSP | PRP),
    Row("reports:peer_support", PSP),
    *[Row(f"reports:peer_support_{fmt}", PSP) for fmt in ("csv", "xlsx", "pdf")],
    Row("reports:recovery", PRP),
    *[Row(f"reports:recovery_{fmt}", PRP) for fmt in ("csv", "xlsx", "pdf")],
    # The grant report goes to funders: prepared by the CRT supervisor, signed by the Chief.
    Row("reports:grant", roles("crt_supervisor", "chief")),
    *[
        Row(f"reports:grant_{fmt}", roles("crt_supervisor", "chief"))
        for fmt in ("csv", "xlsx", "pdf")
    ],
    Row("reports:run_detail", PSP, _run),
]
PUBLIC_BY_DESIGN: set[str] = set()


def build_world(w: World) -> None:
    """A stored monthly peer-support report of agency Alpha."""
    from tandem.reports.models import RunKind
    from tandem.reports.services import last_month, report_run_create

    run, _ = report_run_create(
        agency=w.agency, report="peer-support", period=last_month(), kind=RunKind.SCHEDULED
    )
    w.objects["report_run"] = run
