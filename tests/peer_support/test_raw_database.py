"""Peer support, raw-database proof and schema guard: acceptance tests from the user's side."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.apps import apps
from django.db import connection, models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.notifications.models import Delivery, PeerSupportDelivery
from tandem.support import services, vocab
from tandem.support.models import (
    DutyToReportNotice,
    RequestOffer,
    SupportRequest,
    UsageRecord,
)
from tests.authz_support import requester_of
from tests.conftest import sign_in
from tests.helpers import MIGRATED_SQLITE, child_env, python_output
from tests.peer_support.support import (
    ask,
    help_url,
    make_supporter,
    open_everything,
    rotation,
    status_page,
)

pytestmark = pytest.mark.django_db


# ========================================================================================
# Raw-database proof and schema guard
# ========================================================================================


MARKERS = {
    "self": ("Zyxqa Selfmarker", "+1 555 7301 441", "selfmarker.q7@example.test"),
    "family": ("Wvuqb Familymarker", "+1 555 7302 552", "familymarker.q8@example.test"),
    "referral": ("Tsrqc Referralmarker", "+1 555 7303 663", "referralmarker.q9@example.test"),
    "referrer": ("Ponqd Referrermarker", "+1 555 7304 774", "referrermarker.qa@example.test"),
    "expired": ("Mlkqe Expirymarker", "+1 555 7305 885", "expirymarker.qb@example.test"),
    # Driven through the pages (the self-request's name is the account's, not a marker).
    "web_self": ("", "+1 555 7306 996", "webselfmarker.qc@example.test"),
    "web_withdrawn": ("", "+1 555 7307 117", "webwithdrawnmarker.qd@example.test"),
    "web_referral": (
        "Jihqf Webreferralmarker",
        "+1 555 7308 228",
        "webreferralmarker.qe@example.test",
    ),
    "web_intake": ("Gfeqg Webintakemarker", "+1 555 7309 339", "webintakemarker.qf@example.test"),
    "web_behalf": ("Dcbqh Webbehalfmarker", "+1 555 7310 440", "webbehalfmarker.qg@example.test"),
    "web_duty": ("Azyqi Webdutymarker", "+1 555 7311 551", ""),
}


def run_marker_flow() -> list[str]:
    """Make self, family and referral requests whose identities are unique markers; route,
    accept, close and expire them. Returns every marker string."""
    from tandem.accounts.models import RoleAssignment
    from tandem.agencies.models import Agency as AgencyModel
    from tandem.agencies.presets import load_preset
    from tests.conftest import make_user as new_user

    policy = load_preset("colorado-springs").model_dump(mode="json")
    agency = AgencyModel.objects.create(
        slug="marker", name="Marker PD", preset="colorado-springs", policy=policy
    )
    open_everything(agency)
    sup = make_supporter(agency, "msup", phone="+1 555 0100")
    backup = make_supporter(agency, "mbak", phone="+1 555 0101")
    coordinator = new_user(agency, "mcoord", "coordinator")
    RoleAssignment.objects.get_or_create(user=coordinator, agency=agency, role="coordinator")
    rotation(
        agency,
        coordinator,
        vocab.Layer.PRIMARY,
        [sup],
        starts_on=timezone.localdate() - timedelta(days=1),
    )
    rotation(
        agency,
        coordinator,
        vocab.Layer.BACKUP,
        [backup],
        starts_on=timezone.localdate() - timedelta(days=1),
    )
    name, phone, email = MARKERS["self"]
    asker = new_user(agency, "masker", "member")
    made = []
    self_request, _ = services.request_create(
        acting_user=asker,
        agency=agency,
        idempotency_key="m-self",
        channel="self_request",
        urgency="now",
        contact_method="email",
        requester={**requester_of(asker), "name": name, "phone": phone, "email": email},
    )
    made.append(self_request)
    name, phone, email = MARKERS["family"]
    family, _ = services.request_create(
        acting_user=None,
        agency=agency,
        idempotency_key="m-family",
        channel="self_request",
        urgency="today",
        contact_method="phone",
        requester={"kind": "family", "name": name, "phone": phone, "email": email},
    )
    made.append(family)
    name, phone, email = MARKERS["referral"]
    rname, rphone, remail = MARKERS["referrer"]
    referral, _ = services.request_create(
        acting_user=coordinator,
        agency=agency,
        idempotency_key="m-ref",
        channel="proactive_referral",
        urgency="today",
        contact_method="text",
        requester={"kind": "member", "name": name, "phone": phone, "email": email},
        referrer={"user_id": coordinator.pk, "name": rname, "phone": rphone, "email": remail},
    )
    made.append(referral)
    services.escalate_due(timezone.now() + timedelta(minutes=20))  # route onwards
    usage = {
        "gender": "female",
        "member_category": "family",
        "duration_bucket": "15_60",
        "services": ["listening"],
    }
    for request in made:
        request = SupportRequest.objects.get(pk=request.pk)
        helper = User.objects.get(
            pk=RequestOffer.objects.filter(request=request, active=True)
            .values_list("user_id", flat=True)
            .first()
        )
        request = services.request_accept(acting_user=helper, request=request)
        services.request_contact(acting_user=helper, request=request, notice_given=True)
        services.request_close(acting_user=helper, request=request, usage=usage)
    _run_marker_pages(agency, coordinator, usage)
    name, phone, email = MARKERS["expired"]
    services.request_create(
        acting_user=None,
        agency=agency,
        idempotency_key="m-exp",
        channel="self_request",
        urgency="this_week",
        contact_method="email",
        requester={"kind": "retiree", "name": name, "phone": phone, "email": email},
    )
    services.expire_open_requests(timezone.now() + timedelta(days=31))
    services.publish_finished_requests(timezone.now() + timedelta(days=32))
    assert UsageRecord.objects.filter(agency=agency).count() == 8
    assert not SupportRequest.objects.filter(agency=agency).exists()
    _assert_sessions_are_coarse([value for triple in MARKERS.values() for value in triple if value])
    return [value for triple in MARKERS.values() for value in triple if value]


def _run_marker_pages(agency: Agency, coordinator: User, usage: dict[str, Any]) -> None:
    """The same proof through the pages: ask, withdraw, refer, intake, on behalf, recuse,
    accept, first contact, close, and a duty-to-report notice acknowledged and resolved."""
    from tests.conftest import make_user as new_user

    clients: dict[int, Client] = {}

    def client_of(user: User) -> Client:
        if user.pk not in clients:
            clients[user.pk] = sign_in(Client(), user)
            # Signed in, they open the roster first (where "Ask for support" is).
            assert clients[user.pk].get(reverse("support:directory")).status_code == 200
        return clients[user.pk]

    def reach(key: str, marker: str, **extra: Any) -> dict[str, Any]:
        name, phone, email = MARKERS[marker]
        data = {
            "idempotency_key": key,
            "code": key.ljust(32, "x"),
            "requester_kind": "member",
            "contact_method": "phone",
            "phone": phone,
            "email": email,
            "urgency": "today",
            "best_time": "any",
            **extra,
        }
        if name:
            data["name"] = name
        return data

    def offered_helper(request_pk: Any) -> User:
        return User.objects.get(
            pk=RequestOffer.objects.filter(request_id=request_pk, active=True)
            .values_list("user_id", flat=True)
            .first()
        )

    def accept_and_close(request_pk: Any) -> None:
        helper = client_of(offered_helper(request_pk))
        assert helper.post(reverse("support:request_accept", args=[request_pk])).status_code == 302
        helper.post(reverse("support:request_contact", args=[request_pk]), {"notice_given": "on"})
        closed = helper.post(reverse("support:request_close", args=[request_pk]), usage)
        assert closed.status_code == 302, closed.content[-2000:]

    seen: set[Any] = set(SupportRequest.objects.values_list("pk", flat=True))

    def newest() -> Any:
        """The request made last (keys are random: the one not seen before)."""
        (made,) = set(SupportRequest.objects.values_list("pk", flat=True)) - seen
        seen.add(made)
        return made

    asker = new_user(agency, "mwebself", "member")
    assert client_of(asker).post(help_url(agency), reach("w-self", "web_self")).status_code == 200
    accept_and_close(newest())

    leaver = new_user(agency, "mwebleave", "member")
    client_of(leaver).post(help_url(agency), reach("w-leave", "web_withdrawn"))
    status_page(client_of(leaver), "w-leave", action="withdraw")
    newest()  # the withdrawn request: shredded, its row waits for the daily batch

    referrer = new_user(agency, "mwebref", "member")
    assert (
        client_of(referrer)
        .post(help_url(agency, **{"for": "colleague"}), reach("w-ref", "web_referral"))
        .status_code
        == 200
    )
    referral = newest()
    first = client_of(offered_helper(referral))
    first.post(
        reverse("support:request_recuse", args=[referral]),
        {"reason": vocab.RecusalReason.DUAL_ROLE},
    )
    accept_and_close(referral)

    token = services.intake_link_rotate(acting_user=coordinator, agency=agency)
    done = Client().post(
        reverse("support:intake", args=[token]),
        reach("w-intake", "web_intake", requester_kind="family"),
    )
    assert done.status_code == 200, done.content[-2000:]
    newest()  # the intake request (left open until it expires)

    behalf = client_of(coordinator).post(
        reverse("support:on_behalf_new"),
        reach("w-behalf", "web_behalf", channel="supervisor_via_coordinator"),
    )
    assert behalf.status_code == 200, behalf.content[-2000:]
    accept_and_close(newest())

    name, phone, _ = MARKERS["web_duty"]
    filer = client_of(User.objects.get(username="msup"))
    filer.post(
        reverse("support:duty_new"),
        {
            "category": "threats_to_others",
            "emergency": "on",
            "subject_name": name,
            "subject_phone": phone,
        },
    )
    notice = DutyToReportNotice.objects.get(agency=agency)
    for action in ("acknowledge", "resolve"):
        client_of(coordinator).post(
            reverse("support:duty_acknowledge", args=[notice.pk]), {"action": action}
        )
    assert DutyToReportNotice.objects.get(pk=notice.pk).is_shredded


def _assert_sessions_are_coarse(markers: list[str]) -> None:
    """No session row can date a request: times in 5-minute buckets, no identity inside."""
    from django.contrib.sessions.models import Session

    from tandem.accounts.middleware import SESSION_AUTH_AT, SESSION_LAST_SEEN

    rows = list(Session.objects.all())
    assert rows
    for row in rows:
        stored = row.get_decoded()
        assert float(stored[SESSION_LAST_SEEN]) % 300 == 0, stored
        assert float(stored[SESSION_AUTH_AT]) % 300 == 0, stored
        assert row.expire_date.timestamp() % 300 == 0
        blob = json.dumps(stored, default=str)
        assert not [m for m in markers if m in blob]


def _marker_forms(markers: list[str]) -> list[bytes]:
    found: list[bytes] = []
    for text in markers:
        for variant in (text, text.lower(), text.upper(), json.dumps(text)[1:-1]):
            found.append(variant.encode())
            found.append(variant.encode("utf-16-le"))
    return found


SQLITE_SCRIPT = (
    MIGRATED_SQLITE
    + r"""
from tests.peer_support.test_raw_database import run_marker_flow
markers = run_marker_flow()
connection.close()
print(json.dumps(markers))
"""
)


def test_sqlite_file_and_wal_hold_no_requester_identity_after_close_and_expiry(
    tmp_path: Path,
) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("reads the bytes of a SQLite database file")
    db_path = tmp_path / "psp.sqlite3"
    env = child_env(
        TANDEM_SQLITE_PATH=str(db_path),
        TANDEM_VAR_DIR=str(tmp_path),
        TANDEM_MASTER_KEYS="psp:" + "B" * 43 + "=",
    )
    markers = json.loads(python_output(env, "-c", SQLITE_SCRIPT, timeout=600).splitlines()[-1])
    data = db_path.read_bytes()
    for suffix in ("-wal", "-journal"):
        extra = Path(str(db_path) + suffix)
        if extra.exists():
            data += extra.read_bytes()
    assert b"Marker PD" in data  # the search finds what is stored in clear
    for form in _marker_forms(markers):
        assert form not in data, form


@pytest.mark.django_db(transaction=True)
def test_postgresql_dump_holds_no_requester_identity_after_close_and_expiry(
    agency: Agency,
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("reads pg_dump output of the PostgreSQL test database")
    from tests.helpers import pg_dump

    markers = run_marker_flow()
    dump = pg_dump()
    assert "Marker PD" in dump
    for form in _marker_forms(markers):
        assert form.decode("utf-8", "ignore") not in dump or not form.isascii()


def test_usage_record_schema_has_no_free_text_and_no_relation_to_a_member() -> None:
    model = apps.get_model("support", "UsageRecord")
    allowed_relations = {"agency": "agencies.agency", "supporter": "support.supporterprofile"}
    for field in model._meta.get_fields():
        if field.is_relation:
            assert field.name in allowed_relations, f"unexpected relation {field.name}"
            assert field.related_model._meta.label_lower == allowed_relations[field.name]
            continue
        if isinstance(field, models.TextField):
            pytest.fail(f"free-text field {field.name}")
        if isinstance(field, models.CharField):
            assert field.choices, f"{field.name} must be a closed vocabulary"
    # Nothing points at a usage record (no member → usage link from anywhere).
    assert not list(model._meta.related_objects)
    # The migration state agrees with the model (a migration cannot add a field unseen).
    from django.db.migrations.loader import MigrationLoader

    state = MigrationLoader(connection).project_state()
    migrated = state.models["support", "usagerecord"].fields
    assert set(migrated) == {f.name for f in model._meta.concrete_fields}
    request_model = apps.get_model("support", "SupportRequest")
    for field in request_model._meta.concrete_fields:
        if field.is_relation:
            assert field.related_model._meta.label_lower in {
                "agencies.agency",
                "support.supporterprofile",
                "support.criticalincident",
                "core.datakey",
            }, field.name
        elif isinstance(field, models.CharField | models.TextField):
            assert (
                field.choices
                or field.name in {"reference", "idempotency_key", "status_digest", "receipt_digest"}
                or (
                    field.get_internal_type() == "TextField"
                    and field.name in request_model.encrypted_field_names()
                )
            ), field.name
    # A follow-up reminder: an opaque code in the clear; whose contact it is only sealed.
    reminder_model = apps.get_model("support", "FollowUpReminder")
    for field in reminder_model._meta.concrete_fields:
        if field.is_relation:
            assert field.related_model._meta.label_lower in {
                "support.supporterprofile",
                "core.datakey",
            }, field.name
        elif isinstance(field, models.CharField | models.TextField):
            assert field.name == "code" or (field.name in reminder_model.encrypted_field_names()), (
                field.name
            )


def test_job_queue_and_notification_rows_carry_no_identity(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    from django_tasks_db.models import DBTaskResult

    request = ask(cast["member"], phone="+1 555 4242 777")
    services.request_accept(acting_user=team["pia"], request=request)
    blob = json.dumps(
        [
            list(DBTaskResult.objects.values_list("args_kwargs", flat=True)),
            list(Delivery.objects.values()),
            list(PeerSupportDelivery.objects.values()),
        ],
        default=str,
    )
    assert PeerSupportDelivery.objects.exists()
    assert not DBTaskResult.objects.exists()  # peer-support messages queue no job row
    assert "4242" not in blob
    assert "Member Tester" not in blob
    assert "support" not in " ".join(PeerSupportDelivery.objects.values_list("kind", flat=True))
