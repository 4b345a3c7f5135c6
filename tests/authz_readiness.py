"""Authorization rows for the readiness app's URLs (see tests/authz.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.urls import reverse
from django.utils import timezone

from tests.authz import ACTION, EVERY_SIGNED_IN, Row, World, roles

TEAM = roles("supporter", "aro", "prs")
OVERSEERS = roles("coordinator", "chief", "psychologist", "crt_supervisor")
PSP_OVERSEERS = roles("coordinator", "chief", "psychologist")
COORDINATORS = roles("coordinator", "crt_supervisor")
SELECTORS = roles("coordinator", "chief", "psychologist")
STATEMENT = roles("coordinator", "chief", "psychologist")
SIGNERS = roles("crt_supervisor")
REMOVERS = roles("coordinator", "chief")


def _p(name: str, key: str) -> Callable[[World], str]:
    return lambda w: reverse(f"readiness:{name}", args=[w.objects[key].pk])


ROWS: list[Row] = [
    Row("readiness:home", TEAM),
    Row("readiness:team", OVERSEERS),
    Row("readiness:policy_review", COORDINATORS, None, "post", ACTION),
    # r_person is a peer supporter: the peer recovery supervisor does not oversee them.
    Row("readiness:person", PSP_OVERSEERS, _p("person", "r_person")),
    Row("readiness:check_add", roles("coordinator"), _p("check_add", "r_person"), "post", ACTION),
    Row("readiness:person_credential", SIGNERS, _p("person_credential", "r_prs"), "post", ACTION),
    Row("readiness:statement", STATEMENT, _p("statement", "r_person")),
    Row(
        "readiness:statement_pdf",
        STATEMENT,
        _p("statement_pdf", "r_person"),
        "get",
        frozenset({200, 302}),
    ),
    Row("readiness:designate", roles("chief"), _p("designate", "r_person"), "post", ACTION),
    Row("readiness:vacancy_close", COORDINATORS, _p("vacancy_close", "r_vacancy"), "post", ACTION),
    Row(
        "readiness:designation_remove",
        REMOVERS,
        _p("designation_remove", "r_designation"),
        "post",
        ACTION,
    ),
    Row("readiness:vacancies", EVERY_SIGNED_IN),
    Row("readiness:vacancy_create", COORDINATORS),
    Row("readiness:apply", EVERY_SIGNED_IN, _p("apply", "r_vacancy")),
    Row("readiness:applications", SELECTORS),
    Row("readiness:application", SELECTORS | {"member"}, _p("application", "r_application")),
    Row(
        "readiness:application_interview",
        roles("psychologist"),
        _p("application_interview", "r_application"),
        "post",
        ACTION,
    ),
    Row(
        "readiness:application_decide",
        roles("chief"),
        _p("application_decide", "r_application"),
        "post",
        ACTION,
    ),
    Row(
        "readiness:application_withdraw",
        roles("member"),
        _p("application_withdraw", "r_application"),
        "post",
        ACTION,
    ),
    Row("readiness:sessions", COORDINATORS),
    Row("readiness:session", COORDINATORS, _p("session", "r_session")),
    Row("readiness:session_enrol", TEAM, _p("session_enrol", "r_session"), "post", ACTION),
    Row("readiness:agreements", COORDINATORS),
    Row("readiness:agreement_sign", COORDINATORS | TEAM, _p("agreement_sign", "r_document")),
    Row("readiness:time_entries", roles("supporter")),
    Row(
        "readiness:time_entry_delete",
        roles("supporter"),
        _p("time_entry_delete", "r_time"),
        "post",
        ACTION,
    ),
    Row("readiness:time_export", roles("coordinator")),
    Row("readiness:certification", roles("aro", "prs")),
    Row("readiness:hours_sign_off", SIGNERS, _p("hours_sign_off", "r_hour_log"), "post", ACTION),
    Row("readiness:feed_issue", TEAM, None, "post", ACTION),
]
PUBLIC_BY_DESIGN: set[str] = {"readiness:feed"}


def build_world(w: World) -> None:
    """Add the objects this app's parameterised URLs need to ``w.objects``."""
    from tandem.readiness import services
    from tandem.readiness.models import Course, TrainingSession

    cast = w.cast
    services.catalogue_seed(agency=w.agency)
    w.objects["r_person"] = cast["supporter"]
    w.objects["r_prs"] = cast["prs"]
    before = timezone.now() - timedelta(days=3)
    initial = TrainingSession.objects.create(
        agency=w.agency,
        course=Course.objects.get(agency=w.agency, code="psp-initial"),
        starts_at=before,
        ends_at=before + timedelta(hours=8),
        place="Academy",
        instructor="Dr. Lane",
        capacity=20,
    )
    services.attendance_mark(
        acting_user=cast["coordinator"], session=initial, user=cast["supporter"], status="present"
    )
    services.check_record(
        acting_user=cast["coordinator"],
        user=cast["supporter"],
        checked_on=timezone.localdate() - timedelta(days=5),
        result="cleared",
        renewal_due=timezone.localdate() + timedelta(days=700),
    )
    agreement = services.agreement_publish(
        acting_user=cast["coordinator"],
        kind="confidentiality",
        title="Confidentiality agreement",
        body="I keep what I hear in confidence, within the limits of the policy.",
    )
    # The signature's re-authentication is tested on its own; here it is laid down directly.
    services._signature_write(
        acting_user=cast["supporter"],
        document=agreement,
        typed_name=cast["supporter"].get_full_name(),
    )
    w.objects["r_designation"] = services.designation_grant(
        acting_user=cast["chief"], user=cast["supporter"], program="psp"
    )
    vacancy = services.vacancy_create(
        acting_user=cast["coordinator"], program="psp", title="Peer supporter, District 2"
    )
    w.objects["r_vacancy"] = vacancy
    w.objects["r_application"] = services.application_submit(
        acting_user=cast["member"], vacancy=vacancy, letter="I would like to help colleagues."
    )
    start = timezone.now() + timedelta(days=10)
    w.objects["r_session"] = services.session_schedule(
        acting_user=cast["coordinator"],
        course=Course.objects.get(agency=w.agency, code="psp-ongoing"),
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        place="Training room",
        instructor="Dr. Lane",
        capacity=30,
    )
    w.objects["r_document"] = services.agreement_publish(
        acting_user=cast["coordinator"],
        kind="confidentiality",
        title="Confidentiality agreement",
        body="I keep what I hear in confidence, within the limits of the policy.",
    )
    w.objects["r_time"] = services.time_entry_add(
        acting_user=cast["supporter"],
        worked_on=timezone.localdate(),
        hours=Decimal("1.5"),
        idempotency_key="world-time",
    )
    w.objects["r_hour_log"] = services.hours_log(
        acting_user=cast["prs"],
        kind="experience",
        worked_on=timezone.localdate(),
        hours=Decimal("3"),
        idempotency_key="world-hours",
    )
