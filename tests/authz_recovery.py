"""Authorization rows for the recovery app's URLs (see tests/authz.py).

Only the program (ARO, PRS, CRT supervisor) reaches clients; nobody else — not the Chief,
not sworn officers outside the program, not the administrator. The CJI compartment is for
sworn program staff with an open CJI gate; the Chief only decides public statements.
"""

from __future__ import annotations

from collections.abc import Callable

from django.urls import reverse

from tests.authz import ACTION, Row, World, roles
from tests.helpers import PNG

PROGRAM = roles("aro", "prs", "crt_supervisor")
SWORN = roles("aro", "crt_supervisor")
CHIEF = roles("chief")


def _p(name: str, key: str) -> Callable[[World], str]:
    return lambda w: reverse(f"recovery:{name}", args=[w.objects[key].pk])


def _get(name: str, allowed: frozenset[str], key: str | None = None) -> Row:
    return Row(f"recovery:{name}", allowed, _p(name, key) if key else None)


def _post(name: str, allowed: frozenset[str], key: str) -> Row:
    return Row(f"recovery:{name}", allowed, _p(name, key), "post", ACTION)


ROWS: list[Row] = [
    _get("caseload", PROGRAM),
    _get("client_list", PROGRAM),
    _get("client_create", PROGRAM),
    _get("client_duplicates", PROGRAM),
    _get("deconflict", PROGRAM),
    Row("recovery:deconflict_scan", PROGRAM, None, "post", ACTION),
    _get("candidate_detail", PROGRAM, "candidate"),
    _post("candidate_not_same", PROGRAM, "candidate"),
    _post("candidate_merge", PROGRAM, "candidate"),
    _post("merge_undo", PROGRAM, "merge"),
    _post("conflict_settle", PROGRAM, "client"),
    _get("import_start", PROGRAM),
    _get("import_detail", PROGRAM, "import_batch"),
    _post("import_commit", PROGRAM, "import_batch"),
    _get("client_detail", PROGRAM, "client"),
    _get("client_edit", PROGRAM, "client"),
    _get("client_photo", PROGRAM, "client"),
    _post("client_flags", SWORN, "client"),
    _get("contact_create", PROGRAM, "client"),
    _get("patrol_call", PROGRAM, "client"),
    Row("recovery:personnel_evaluation", roles("crt_supervisor", "chief")),
    Row(
        "recovery:personnel_evaluation_write",
        roles("crt_supervisor", "chief"),
        lambda w: reverse("recovery:personnel_evaluation_write", args=[w.cast["prs"].pk]),
        "post",
        ACTION,
    ),
    _get("my_evaluations", roles("aro", "prs")),
    # The person evaluated and the evaluators read it; only the person acknowledges it.
    _get("personnel_evaluation_pdf", roles("prs", "crt_supervisor", "chief"), "evaluation"),
    _post("personnel_evaluation_acknowledge", roles("prs"), "evaluation"),
    _get("contact_edit", PROGRAM, "contact"),
    _post("stage_create", PROGRAM, "client"),
    _post("goal_create", PROGRAM, "client"),
    _post("goal_status", PROGRAM, "goal"),
    _get("planned_list", PROGRAM),
    _get("planned_create", PROGRAM),
    Row("recovery:feed_issue", PROGRAM, None, "post", ACTION),
    _get("planned_detail", PROGRAM, "planned"),
    _post("planned_assess", SWORN, "planned"),
    _post("planned_start", PROGRAM, "planned"),
    _post("planned_cancel", PROGRAM, "planned_other"),
    _get("resource_list", PROGRAM),
    _get("resource_create", PROGRAM),
    _get("resource_edit", PROGRAM, "resource"),
    _get("referral_create", PROGRAM, "client"),
    _get("referral_detail", PROGRAM, "referral"),
    _post("referral_advance", PROGRAM, "referral"),
    _get("consent_create", PROGRAM, "client"),
    _get("consent_detail", PROGRAM, "consent"),
    _post("consent_revoke", PROGRAM, "consent_other"),
    _post("consent_event", PROGRAM, "consent_event"),
    _get("disclosure_create", PROGRAM, "client"),
    _get("disclosure_detail", PROGRAM, "disclosure"),
    _get("accounting", PROGRAM, "client"),
    _get("accounting_pdf", PROGRAM, "client"),
    _get("cji", SWORN, "client"),
    _post("cji_entry_create", SWORN, "client"),
    _post("sworn_note_create", SWORN, "client"),
    _get("overdose_list", PROGRAM),
    _get("overdose_export", PROGRAM),
    _get("naloxone_list", PROGRAM),
    _get("outreach_list", PROGRAM),
    _get("statement_list", PROGRAM | CHIEF),
    _post("statement_decide", CHIEF, "statement"),
]
# The visits calendar feed is guarded by its secret token
# (tested in tests/recovery/test_reminders_retention_and_feeds.py).
PUBLIC_BY_DESIGN: set[str] = {"recovery:feed"}


def build_world(w: World) -> None:
    """Add the objects this app's parameterised URLs need to ``w.objects``."""
    from datetime import timedelta

    from django.utils import timezone

    from tandem.readiness.gates import gate_update
    from tandem.recovery import services
    from tandem.recovery.models import MatchCandidate

    aro, prs = w.cast["aro"], w.cast["prs"]
    for user in (aro, w.cast["crt_supervisor"]):
        gate_update(user=user, peer_support=False, cji=True)
    client = services.client_create(
        acting_user=aro,
        photo=PNG,
        photo_type="image/png",
        data={"first_name": "Casey", "last_name": "World", "aro": aro, "prs": prs},
    )
    now = timezone.now()
    contact = services.contact_create(
        acting_user=prs,
        client=client,
        data={
            "kind": "phone",
            "occurred_at": now,
            "duration_minutes": 10,
            "prs_present": True,
            "location_type": "phone",
            "services": [],
            "outcome": "engaged",
        },
    )
    planned = services.planned_create(
        acting_user=aro,
        client=client,
        kind="field",
        starts_at=now + timedelta(hours=1),
        ends_at=now + timedelta(hours=2),
        aro=aro,
        prs=prs,
        with_prs=True,
    )
    planned_other = services.planned_create(
        acting_user=aro,
        client=client,
        kind="office",
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=1, hours=1),
        aro=aro,
        prs=prs,
        with_prs=True,
    )
    goal = services.goal_create(acting_user=prs, client=client, text="Attend an NA meeting")
    resource = services.resource_save(
        acting_user=aro,
        data={"name": "World Treatment Center", "category": "treatment_outpatient", "active": True},
    )
    referral = services.referral_create(acting_user=prs, client=client, resource=resource)
    consent_data = {
        "discloser": "Peer Recovery Program",
        "recipient": resource,
        "purpose": "treatment",
        "information": ["identity", "substance_use"],
        "starts_on": timezone.localdate(),
        "expires_on": timezone.localdate() + timedelta(days=365),
        "expiry_event": "",
        "revocation_method": "In writing",
        "signed_by": "client",
        "signer_name": "C. World",
        "signed_on": timezone.localdate(),
    }
    consent = services.consent_create(acting_user=prs, client=client, data=consent_data)
    consent_other = services.consent_create(acting_user=prs, client=client, data=consent_data)
    consent_event = services.consent_create(
        acting_user=prs,
        client=client,
        data={**consent_data, "expires_on": None, "expiry_event": "Completion of Drug Court"},
    )
    disclosure = services.disclosure_create(
        acting_user=prs,
        client=client,
        recipient=resource,
        purpose="treatment",
        information=["identity"],
        description="Intake confirmation",
    )
    statement = services.statement_request_create(
        acting_user=prs,
        venue="Local radio",
        planned_on=timezone.localdate() + timedelta(days=3),
        summary="Talk about naloxone",
    )
    twin = services.client_create(
        acting_user=prs, data={"first_name": "Casey", "last_name": "Worlde"}
    )
    candidate = MatchCandidate.objects.create(
        agency=w.agency,
        left=client,
        right=twin,
        probability=0.97,
        match_weight=5.0,
        explanation=[{"field": "last_name", "label": "Last name", "level": "similar", "weight": 3}],
    )
    kept, gone = (
        services.client_create(acting_user=aro, data={"first_name": "Robin", "last_name": n})
        for n in ("Merged", "Merged")
    )
    merge = services.client_merge(acting_user=aro, survivor=kept, absorbed=gone)
    import_batch = services.import_upload(
        acting_user=prs,
        kind="clients",
        filename="clients.csv",
        data=b"First name,Last name\nAvery,Import\n",
    )
    evaluation = services.personnel_evaluation_write(
        acting_user=w.cast["crt_supervisor"],
        person=prs,
        year=timezone.localdate().year,
        feedback="Steady work with clients; keep logging contacts the same day.",
    )
    w.objects.update(
        evaluation=evaluation,
        candidate=candidate,
        merge=merge,
        import_batch=import_batch,
        client=client,
        contact=contact,
        planned=planned,
        planned_other=planned_other,
        goal=goal,
        resource=resource,
        referral=referral,
        consent=consent,
        consent_other=consent_other,
        consent_event=consent_event,
        disclosure=disclosure,
        statement=statement,
    )
