"""Deconfliction: reports count a merged person once."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tandem.audit.models import AuditEvent
from tandem.recovery import services
from tandem.recovery.models import (
    Contact,
    MatchRun,
    StageAssessment,
)
from tests.deconfliction.support import add, browser, scan

# ========================================================================================
# 6. Reports count a merged person once
# ========================================================================================


def test_a_merge_does_not_double_count_in_reports_caseloads_or_the_api(
    cast: dict[str, Any],
) -> None:
    from tandem.recovery.evaluation import personnel_evaluations
    from tandem.recovery.selectors import client_search, my_clients
    from tandem.reports.grant import grant_sections
    from tandem.reports.statistics import Period, recovery_sections

    aro, prs = cast["aro"], cast["prs"]
    survivor = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), aro=aro, prs=prs)
    absorbed = add(prs, "Jaime", "Rivera", date_of_birth=date(1990, 4, 5), aro=aro, prs=prs)
    for client in (survivor, absorbed):
        services.contact_create(
            acting_user=prs,
            client=client,
            data={
                "kind": "phone",
                "occurred_at": timezone.now() - timedelta(minutes=5),
                "duration_minutes": 10,
                "prs_present": True,
                "location_type": "phone",
                "services": [],
                "outcome": "engaged",
            },
        )
        services.stage_record(acting_user=prs, client=client, stage="preparation")
    today = timezone.localdate()
    period = Period(today.replace(day=1), today)

    def counts() -> dict[str, int]:
        tables = {
            t.name: t
            for section in recovery_sections(aro.agency, period)
            + grant_sections(aro.agency, period)
            for t in section.tables
        }
        served = tables["clients_served"]
        return {
            "served": sum(row[0] for row in served.counts),
            "people": int(tables["funnel_people"].total or 0),
            "stages": sum(sum(row) for row in tables["stages"].counts),
            "baseline": sum(tables["follow_up"].counts[0]),
            "search": client_search(aro.agency).count(),
            "caseload": my_clients(aro.agency, prs).count(),
        }

    assert counts() == dict.fromkeys(
        ("served", "people", "stages", "baseline", "search", "caseload"), 2
    )
    services.client_merge(acting_user=aro, survivor=survivor, absorbed=absorbed)
    assert counts() == dict.fromkeys(
        ("served", "people", "stages", "baseline", "search", "caseload"), 1
    )
    api_clients = browser(aro).get(reverse("recovery:client_list")).content.decode()
    assert api_clients.count(reverse("recovery:client_detail", args=[absorbed.pk])) == 0
    lines = {
        (e.person.pk, line.label): line.value
        for e in personnel_evaluations(aro.agency, today.year)
        for line in e.lines
    }
    assert lines[(prs.pk, "Active caseload today")] == "1"
    assert lines[(prs.pk, "Clients worked with")] == "1"


def test_nothing_new_is_recorded_on_a_record_merged_away(cast: dict[str, Any]) -> None:
    aro, prs = cast["aro"], cast["prs"]
    survivor = add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5))
    absorbed = add(prs, "Jaime", "Rivera", date_of_birth=date(1990, 4, 5))
    services.client_merge(acting_user=aro, survivor=survivor, absorbed=absorbed)
    peer = browser(prs)
    page = peer.get(reverse("recovery:client_detail", args=[absorbed.pk])).content.decode()
    assert "This record was merged into" in page
    assert reverse("recovery:contact_create", args=[absorbed.pk]) not in page
    response = peer.post(reverse("recovery:stage_create", args=[absorbed.pk]), {"stage": "action"})
    assert response.status_code == 404
    assert not StageAssessment.objects.filter(client=absorbed).exists()
    response = peer.post(
        reverse("recovery:contact_create", args=[absorbed.pk]),
        {"kind": "phone", "occurred_at": "2026-01-05T10:00", "outcome": "engaged"},
    )
    assert response.status_code == 404
    assert not Contact.objects.filter(client=absorbed).exists()


def test_scans_reuse_the_stored_model_until_it_is_a_week_old_or_the_registry_changed(
    cast: dict[str, Any],
) -> None:
    aro = cast["aro"]
    add(aro, "Jamie", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")
    add(aro, "Jaime", "Rivera", date_of_birth=date(1990, 4, 5), phone="540 555 0199")

    def trained() -> bool:
        last = AuditEvent.objects.filter(action="recovery.match_run").order_by("-pk").first()
        assert last is not None
        return bool(last.detail["trained"])

    def stored_model_as_if(**notes: Any) -> None:
        # As if the registry had been large enough to estimate the model, at this time.
        run = MatchRun.objects.filter(status="done").order_by("-pk").first()
        assert run is not None
        run.model = {**run.model, "estimated": True, **notes}
        run.save(update_fields=["model"])

    first = scan(aro)
    assert first.pairs == 1
    assert trained()
    assert "trained_at" in first.model
    second = scan(aro)
    assert second.pairs == 1
    assert not trained()
    # The nightly scan reuses a model estimated yesterday on a registry of the same size...
    stored_model_as_if(trained_at=(timezone.now() - timedelta(days=1)).isoformat())
    assert services.match_scan_all() == 1
    assert not trained()
    # ... re-estimates one a week old...
    stored_model_as_if(trained_at=(timezone.now() - timedelta(days=7)).isoformat())
    assert services.match_scan_all() == 1
    assert trained()
    # ... and one estimated on a registry that has since shrunk by more than a fifth.
    stored_model_as_if(trained_at=timezone.now().isoformat(), trained_on=3)
    assert services.match_scan_all() == 1
    assert trained()
