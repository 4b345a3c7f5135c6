"""Peer recovery, the CJI compartment, from the users' side."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from tandem.audit.models import AuditEvent
from tandem.readiness.gates import gate_update
from tandem.recovery import services
from tests.authz import make_world
from tests.authz_recovery import ROWS, build_world
from tests.conftest import make_user
from tests.recovery.support import MARKER, browser, new_client, plant_cji, raw_rows

# ========================================================================================
# 7. The CJI compartment
# ========================================================================================


def test_cji_is_shown_only_after_the_officer_states_a_purpose_and_every_read_is_audited(
    cast: dict[str, Any],
) -> None:
    gate_update(user=cast["aro"], peer_support=False, cji=True)
    client = new_client(cast["aro"])
    plant_cji(cast, client)
    aro = browser(cast["aro"])
    url = reverse("recovery:cji", args=[client.pk])
    assert MARKER not in aro.get(url).content.decode()  # the purpose comes first
    assert aro.post(url, {"purpose": "x"}).status_code == 400
    shown = aro.post(url, {"purpose": "Safety check before home visit"}).content.decode()
    assert f"{MARKER}-summary" in shown
    assert f"{MARKER}-note" in shown
    event = AuditEvent.objects.filter(action="recovery.cji_read").get()
    assert event.purpose == "Safety check before home visit"
    assert event.actor_id == cast["aro"].pk
    for table in ("recovery_cjientry", "recovery_swornnote"):
        assert MARKER not in raw_rows(table)


def test_cji_needs_a_sworn_program_officer_with_an_open_gate(
    agency: Any, cast: dict[str, Any]
) -> None:
    client = new_client(cast["aro"])
    url = reverse("recovery:cji", args=[client.pk])
    assert browser(cast["aro"]).get(url).status_code == 404  # no gate yet
    gate_update(user=cast["aro"], peer_support=False, cji=True)
    assert browser(cast["aro"]).get(url).status_code == 200
    gate_update(user=cast["aro"], peer_support=False, cji=False)
    assert browser(cast["aro"]).get(url).status_code == 404  # closes at once
    civilian_aro = make_user(agency, "civilianaro", "aro", sworn=False)
    gate_update(user=civilian_aro, peer_support=False, cji=True)
    assert browser(civilian_aro).get(url).status_code == 404
    sworn_outsider = make_user(agency, "detective", "member", sworn=True)
    gate_update(user=sworn_outsider, peer_support=False, cji=True)
    assert browser(sworn_outsider).get(url).status_code == 404


def test_cji_never_reaches_a_page_export_search_or_partial_the_prs_can_open(
    agency: Any, cast: dict[str, Any], stranger: Any
) -> None:
    world = make_world(agency, cast, [build_world])
    client = world.objects["client"]
    gate_update(user=cast["aro"], peer_support=False, cji=True)
    plant_cji(cast, client)
    services.client_flags_set(
        acting_user=cast["aro"], client=client, flags=["officer_safety", "do_not_visit_alone"]
    )
    prs = browser(cast["prs"])
    seen: list[str] = []
    for row in ROWS:
        if "prs" not in row.allowed or row.method != "get":
            continue
        path = row.build(world)
        response = prs.get(path)
        assert response.status_code == 200, path
        assert MARKER.encode() not in response.content, path
        seen.append(row.url_name)
    extra = [
        (reverse("recovery:client_list"), {"q": "Casey"}),
        (reverse("recovery:client_list"), {"q": MARKER}),
        (reverse("recovery:client_duplicates"), {"first_name": "Casey", "last_name": "World"}),
        (reverse("recovery:client_detail", args=[client.pk]), {}),
        (reverse("recovery:overdose_export"), {}),
        (reverse("recovery:accounting_pdf", args=[client.pk]), {}),
    ]
    for path, params in extra:
        response = prs.get(path, params, HTTP_HX_REQUEST="true")
        assert MARKER.encode() not in response.content, path
    assert len(seen) >= 25
    detail = prs.get(reverse("recovery:client_detail", args=[client.pk])).content.decode()
    assert "Officer safety caution" in detail
    assert "Do not visit alone" in detail
    assert reverse("recovery:cji", args=[client.pk]) not in detail
    # Nor in notifications or the audit trail.
    from tandem.notifications.models import Delivery

    assert MARKER not in repr(list(Delivery.objects.values()))
    assert MARKER not in repr(list(AuditEvent.objects.values("detail", "purpose")))


def test_only_the_officer_sets_the_safety_flags_the_prs_sees(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    url = reverse("recovery:client_flags", args=[client.pk])
    assert browser(cast["prs"]).post(url, {"flags": ["officer_safety"]}).status_code == 404
    browser(cast["aro"]).post(url, {"flags": ["officer_safety", "not-a-flag"]})
    client.refresh_from_db()
    assert client.safety_flags == []  # an unknown flag refuses the whole change
    browser(cast["aro"]).post(url, {"flags": ["do_not_visit_alone"]})
    client.refresh_from_db()
    assert client.safety_flag_labels() == ["Do not visit alone"]
