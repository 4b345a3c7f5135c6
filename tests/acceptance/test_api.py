"""The agency API (issue 16): machine credentials, the authorization matrix of every
endpoint × token scope × another agency, Part 2 and CJI over the API, on call now, a
request from dispatch, audit, rate limits, cursors, problem details, and Schemathesis
against the live OpenAPI description."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection, transaction
from django.test import Client as HttpClient
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.accounts import services as accounts
from tandem.accounts.models import RoleAssignment
from tandem.agencies.models import Member, MemberCategory, Role, Unit
from tandem.api import services as api
from tandem.api.models import ApiClient, ApiToken
from tandem.api.scopes import SCOPES
from tandem.audit.models import AuditEvent
from tandem.recovery import services as recovery
from tandem.recovery.models import Disclosure
from tandem.reports.services import last_month, report_run_create
from tandem.support import selectors as support_selectors
from tandem.support import services as support_services
from tandem.support.models import SupportRequest
from tests import authz
from tests.authz_api import ROWS, build_world
from tests.conftest import sign_in
from tests.peer_support.support import T0, open_everything
from tests.recovery.support import MARKER, new_client, plant_cji, resource

CLOCK_START = T0  # the shared clock fixture starts where peer support's does


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def issue(admin: Any, *scopes: str, approver: Any = None, name: str = "", days: int = 30) -> str:
    """A token of a new client of ``admin``'s agency (approved by ``approver`` if given)."""
    client = api.api_client_create(
        acting_user=admin, name=name or "-".join(scopes), scopes=list(scopes)
    )
    if approver is not None:
        api.api_client_approve(acting_user=approver, client=client)
    _, secret = api.api_token_issue(acting_user=admin, client=client, days=days)
    return secret


def call(secret: str | None, method: str, path: str, body: Any = None) -> Any:
    http = HttpClient()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    if method == "get":
        return http.get(path, **headers)
    return getattr(http, method)(path, body or {}, content_type="application/json", **headers)


@pytest.fixture
def tokens(agency: Any, cast: dict[str, Any]) -> Callable[[str], str]:
    made: dict[str, str] = {}

    def _token(scope: str) -> str:
        if scope not in made:
            approver = cast["chief"] if SCOPES[scope].program else None
            made[scope] = issue(cast["administrator"], scope, approver=approver)
        return made[scope]

    return _token


# ========================================================================================
# 1. Machine credentials
# ========================================================================================


def test_a_token_is_shown_once_and_only_its_digest_is_stored(cast: dict[str, Any]) -> None:
    secret = issue(cast["administrator"], "members:read")
    token = ApiToken.objects.get()
    assert secret.startswith("tdm_")
    assert len(secret) > 40
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM api_apitoken")
        assert secret.split("_", 2)[2] not in repr(cursor.fetchall())
    assert token.digest == api.token_digest(secret)
    assert call(secret, "get", reverse("api:members")).status_code == 200


def test_only_an_administrator_of_the_agency_creates_clients_and_tokens(
    cast: dict[str, Any], stranger: Any
) -> None:
    for person in (cast["chief"], cast["coordinator"], cast["auditor"]):
        with pytest.raises(PermissionDenied):
            api.api_client_create(acting_user=person, name="HR", scopes=["members:read"])
    client = api.api_client_create(
        acting_user=cast["administrator"], name="HR", scopes=["members:read"]
    )
    with pytest.raises(PermissionDenied):
        api.api_token_issue(acting_user=stranger, client=client)
    with pytest.raises(ValidationError):
        api.api_client_create(acting_user=cast["administrator"], name="X", scopes=["root"])


def test_program_scopes_work_only_after_a_second_person_approves(cast: dict[str, Any]) -> None:
    admin = cast["administrator"]
    client = api.api_client_create(acting_user=admin, name="CAD", scopes=["oncall:read"])
    _, secret = api.api_token_issue(acting_user=admin, client=client)
    assert call(secret, "get", reverse("api:on_call")).status_code == 401
    with pytest.raises(PermissionDenied):
        api.api_client_approve(acting_user=admin, client=client)  # not the creator
    with pytest.raises(PermissionDenied):
        api.api_client_approve(acting_user=cast["coordinator"], client=client)
    api.api_client_approve(acting_user=cast["chief"], client=client)
    assert call(secret, "get", reverse("api:on_call")).status_code == 200
    assert AuditEvent.objects.filter(
        action="api.client_approved", actor_id=cast["chief"].pk
    ).exists()


def test_a_puppet_administrator_cannot_approve_program_scopes(
    agency: Any, cast: dict[str, Any]
) -> None:
    """The tester's reproduction: an administrator makes a second administrator alone (the
    administrator role is not a program role), creates a client with program scopes and has
    the puppet approve it."""
    admin = cast["administrator"]
    puppet = accounts.user_create(
        acting_user=admin,
        agency_id=agency.pk,
        username="puppet",
        password="a long enough puppet passphrase 9",
        roles=[Role.ADMINISTRATOR],
    )
    assert puppet.has_role(Role.ADMINISTRATOR)
    client = api.api_client_create(
        acting_user=admin, name="Exfil", scopes=["recovery:read", "oncall:read"]
    )
    _, secret = api.api_token_issue(acting_user=admin, client=client)
    for approver in (puppet, cast["coordinator"], cast["prs"], cast["dispatcher"]):
        with pytest.raises(PermissionDenied):
            api.api_client_approve(acting_user=approver, client=client)
    client.refresh_from_db()
    assert client.approved_at is None
    assert call(secret, "get", reverse("api:clients")).status_code == 401
    assert call(secret, "get", reverse("api:on_call")).status_code == 401
    api.api_client_approve(acting_user=cast["chief"], client=client)
    assert call(secret, "get", reverse("api:on_call")).status_code == 200


def test_a_holder_of_the_scopes_role_approves_that_scope_alone(cast: dict[str, Any]) -> None:
    admin = cast["administrator"]
    client = api.api_client_create(acting_user=admin, name="Grant export", scopes=["recovery:read"])
    with pytest.raises(PermissionDenied):
        api.api_client_approve(acting_user=cast["aro"], client=client)
    api.api_client_approve(acting_user=cast["prs"], client=client)
    assert ApiClient.objects.get(pk=client.pk).approved_by == cast["prs"]
    # A chief who also administers and created the client is still not a second person.
    both = cast["chief"]
    RoleAssignment.objects.create(user=both, agency=both.agency, role=Role.ADMINISTRATOR)
    both.forget_roles()
    own = api.api_client_create(acting_user=both, name="Own", scopes=["readiness:read"])
    with pytest.raises(PermissionDenied):
        api.api_client_approve(acting_user=both, client=own)


def test_a_holder_sees_and_approves_on_screen_only_the_clients_waiting_for_them(
    cast: dict[str, Any],
) -> None:
    admin = cast["administrator"]
    mine = api.api_client_create(acting_user=admin, name="Grant export", scopes=["recovery:read"])
    chiefs = api.api_client_create(acting_user=admin, name="Switchboard", scopes=["oncall:read"])
    prs = sign_in(HttpClient(), cast["prs"])
    page = prs.get(reverse("api:client_list")).content.decode()
    assert "<h2>Grant export" in page
    assert "Switchboard" not in page
    assert reverse("api:token_issue", args=[mine.pk]) not in page
    assert prs.post(reverse("api:client_approve", args=[chiefs.pk])).status_code == 404
    admin_screen = sign_in(HttpClient(), admin)
    assert admin_screen.post(reverse("api:client_approve", args=[mine.pk])).status_code == 404
    assert prs.post(reverse("api:client_approve", args=[mine.pk])).status_code == 302
    assert ApiClient.objects.get(pk=mine.pk).approved_by == cast["prs"]
    assert "<h2>Grant export" not in prs.get(reverse("api:client_list")).content.decode()
    assert ApiClient.objects.get(pk=chiefs.pk).approved_at is None


def test_a_scim_client_needs_the_chiefs_approval(agency: Any, cast: dict[str, Any]) -> None:
    admin = cast["administrator"]
    puppet = accounts.user_create(
        acting_user=admin,
        agency_id=agency.pk,
        username="puppet",
        password="a long enough puppet passphrase 9",
        roles=[Role.ADMINISTRATOR],
    )
    client = api.api_client_create(acting_user=admin, name="IdP", scopes=["scim"])
    _, secret = api.api_token_issue(acting_user=admin, client=client)
    assert call(secret, "get", reverse("scim:users")).status_code == 401
    for approver in (admin, puppet, cast["auditor"]):
        with pytest.raises((PermissionDenied, ValidationError)):
            api.api_client_approve(acting_user=approver, client=client)
    api.api_client_approve(acting_user=cast["chief"], client=client)
    assert call(secret, "get", reverse("scim:users")).status_code == 200


def test_the_chief_and_holders_are_told_of_a_waiting_client_by_a_message_that_says_nothing(
    agency: Any, cast: dict[str, Any], mailoutbox: list[Any]
) -> None:
    from django.core.management import call_command

    from tandem.notifications.models import Delivery

    api.api_client_create(
        acting_user=cast["administrator"], name="Grant export", scopes=["recovery:write"]
    )
    told = set(
        Delivery.objects.filter(kind="api.client_approval").values_list(
            "recipient_user__username", flat=True
        )
    )
    assert told == {"chief", "prs"}
    before = Delivery.objects.count()
    api.api_client_create(acting_user=cast["administrator"], name="HR", scopes=["members:read"])
    assert Delivery.objects.count() == before  # nothing to approve, nobody told
    call_command("worker", "--once", verbosity=0)
    assert mailoutbox
    for message in mailoutbox:
        body = f"{message.subject} {message.body}".lower()
        assert "open tandem" in body
        for word in ("grant", "recovery", "scope", "client", "api", "administrator"):
            assert word not in body


def test_an_expired_token_is_refused(cast: dict[str, Any]) -> None:
    secret = issue(cast["administrator"], "members:read", days=1)
    assert call(secret, "get", reverse("api:members")).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=1, minutes=1)):
        refused = call(secret, "get", reverse("api:members"))
    assert refused.status_code == 401
    assert refused["Content-Type"] == "application/problem+json"


def test_a_revoked_token_or_client_is_refused_at_once(cast: dict[str, Any]) -> None:
    admin = cast["administrator"]
    first = issue(admin, "members:read", name="HR")
    client = ApiClient.objects.get(name="HR")
    _, second = api.api_token_issue(acting_user=admin, client=client)
    api.api_token_revoke(acting_user=admin, token=ApiToken.objects.get(prefix=first.split("_")[1]))
    assert call(first, "get", reverse("api:members")).status_code == 401
    assert call(second, "get", reverse("api:members")).status_code == 200
    api.api_client_revoke(acting_user=admin, client=client)
    assert call(second, "get", reverse("api:members")).status_code == 401


def test_a_forged_or_malformed_token_is_refused(cast: dict[str, Any]) -> None:
    secret = issue(cast["administrator"], "members:read")
    prefix = secret.split("_")[1]
    for bad in (f"tdm_{prefix}_forged", "tdm_x_y", "nonsense", secret + "x"):
        answer = call(bad, "get", reverse("api:members"))
        assert answer.status_code == 401, bad
        assert answer["WWW-Authenticate"].startswith("Bearer")


def test_every_call_is_audited_with_the_clients_name(cast: dict[str, Any]) -> None:
    secret = issue(cast["administrator"], "members:read", name="Workday HR sync")
    call(secret, "get", reverse("api:members") + "?q=Smith")
    call(secret, "get", reverse("api:member", args=[999999]))
    rows = list(AuditEvent.objects.filter(action="api.call").order_by("id"))
    assert [(r.detail["client"], r.detail["status"]) for r in rows] == [
        ("Workday HR sync", 200),
        ("Workday HR sync", 404),
    ]
    assert rows[1].outcome == "denied"
    assert all("Smith" not in repr(r.detail) for r in rows)  # no query strings


def test_a_client_over_its_rate_gets_429_with_retry_after(
    cast: dict[str, Any], settings: Any
) -> None:
    settings.TANDEM_API_RATE = "3/min"
    secret = issue(cast["administrator"], "members:read")
    codes = [call(secret, "get", reverse("api:units")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    limited = call(secret, "get", reverse("api:units"))
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["status"] == 429
    assert limited["Content-Type"] == "application/problem+json"


def failures(**filters: Any) -> list[tuple[str, str, int]]:
    rows = AuditEvent.objects.filter(action="api.auth_failed", **filters).order_by("id")
    return [(r.detail.get("client", ""), r.detail["reason"], r.detail["count"]) for r in rows]


def test_refused_tokens_are_audited_once_a_minute_per_client_and_reason(
    cast: dict[str, Any], settings: Any
) -> None:
    admin = cast["administrator"]
    secret = issue(admin, "members:read", name="HR", days=1)
    prefix = secret.split("_")[1]
    moment = timezone.now().replace(second=5)
    with time_machine.travel(moment, tick=False):
        for _ in range(50):  # a flood of guesses at HR's token
            assert call(f"tdm_{prefix}_guess", "get", reverse("api:members")).status_code == 401
        for _ in range(3):  # tokens nobody issued
            call("tdm_000000000000_nothing", "get", reverse("api:members"))
        call("Basic-but-not", "get", reverse("api:members"))
        call(secret, "get", reverse("api:units"))  # fine
        for _ in range(5):  # the wrong scope: refused 403, counted, not 5 audit rows
            assert call(secret, "get", reverse("api:on_call")).status_code == 403
    assert failures(agency_id=admin.agency_id) == [("HR", "wrong_secret", 1), ("HR", "scope", 1)]
    assert [r[1:] for r in failures(chain=0)] == [("unknown", 1)]
    events = AuditEvent.objects.filter(action="api.auth_failed")
    assert all(
        "guess" not in repr(e.detail) and "nothing" not in repr(e.detail) for e in events
    )  # the presented token is never stored
    assert AuditEvent.objects.filter(action="api.call").count() == 1
    # When the window closes its total is audited once.
    with time_machine.travel(moment + timedelta(minutes=1), tick=False):
        assert api.api_auth_failures_summarise() == 3
        assert api.api_auth_failures_summarise() == 0
        for _ in range(2):
            call(f"tdm_{prefix}_guess", "get", reverse("api:members"))
    assert failures(agency_id=admin.agency_id, detail__summary=True) == [
        ("HR", "wrong_secret", 50),
        ("HR", "scope", 5),
    ]
    assert len(failures(agency_id=admin.agency_id, detail__summary__isnull=True)) == 3
    # Expired and revoked tokens and the rate limit have their own reasons.
    settings.TANDEM_API_RATE = "2/min"
    cache.clear()
    with time_machine.travel(moment + timedelta(days=2), tick=False):
        call(secret, "get", reverse("api:units"))
        other = issue(admin, "members:read", name="Phones")
        for _ in range(4):
            call(other, "get", reverse("api:units"))
        api.api_client_revoke(acting_user=admin, client=ApiClient.objects.get(name="Phones"))
        call(other, "get", reverse("api:units"))
    reasons = {(c, r) for c, r, _ in failures(agency_id=admin.agency_id)}
    assert {("HR", "expired"), ("Phones", "rate_limited"), ("Phones", "revoked")} <= reasons


def test_the_administrator_sees_refused_calls_on_the_clients_screen(
    cast: dict[str, Any], stranger: Any
) -> None:
    secret = issue(cast["administrator"], "members:read", name="HR")
    for _ in range(7):
        call(secret, "get", reverse("api:on_call"))
    stranger_secret = issue(stranger, "members:read", name="Their HR")
    call(stranger_secret, "get", reverse("api:on_call"))
    for role in ("administrator", "chief"):
        page = sign_in(HttpClient(), cast[role]).get(reverse("api:client_list"))
        text = page.content.decode()
        assert "Refused calls in the last 7 days" in text
        assert "Token lacks the scope the call needs" in text
        assert "<td>7</td>" in text
        assert "Their HR" not in text  # another agency's refusals stay there
    coordinator = sign_in(HttpClient(), cast["coordinator"]).get(reverse("api:client_list"))
    assert coordinator.status_code == 404


def test_service_accounts_are_not_people_and_never_sign_in(cast: dict[str, Any]) -> None:
    from tandem.accounts.oidc import external_identity_link, identity_provider_set

    admin = cast["administrator"]
    issue(admin, "members:read", name="Workday HR sync")
    account = ApiClient.objects.get().account
    browser = sign_in(HttpClient(), admin)
    people = browser.get(reverse("accounts:user_list")).content.decode()
    assert "Workday HR sync" not in people
    assert account.username not in people
    assert cast["coordinator"].username in people
    assert "Workday HR sync" in browser.get(reverse("api:client_list")).content.decode()
    # The account screens do not reach it: no password, role or unlock for it there.
    assert browser.get(reverse("accounts:user_detail", args=[account.pk])).status_code == 404
    assert (
        browser.post(
            reverse("accounts:user_password", args=[account.pk]),
            {"password": "Correct-Horse-Battery-9"},
        ).status_code
        == 404
    )
    with pytest.raises(PermissionDenied):
        accounts.role_grant(acting_user=admin, user=account, role="dispatcher")
    # Even with a password someone set in the database, it does not sign in.
    account.set_password("Correct-Horse-Battery-9")
    account.save(update_fields=["password"])
    sign = HttpClient()
    sign.post(reverse("accounts:banner"))
    answer = sign.post(
        reverse("accounts:login"),
        {"username": account.username, "password": "Correct-Horse-Battery-9"},
    )
    assert answer.status_code == 200  # the form again, with the usual message
    assert "_auth_user_id" not in sign.session
    assert AuditEvent.objects.filter(action="signin.failed", detail__reason="bad_password").exists()
    # Nor by single sign-on.
    identity_provider_set(
        acting_user=admin, issuer="https://login.example.org/v2.0", client_id="tandem"
    )
    with pytest.raises(ValidationError, match="does not sign in"):
        external_identity_link(acting_user=admin, user=account, subject="hr-sync")


def test_the_administrator_creates_a_client_a_second_person_approves_and_a_token_shows_once(
    cast: dict[str, Any],
) -> None:
    admin = sign_in(HttpClient(), cast["administrator"])
    made = admin.post(reverse("api:client_create"), {"name": "CAD", "scopes": ["oncall:read"]})
    assert made.status_code == 302
    client = ApiClient.objects.get(name="CAD")
    assert not client.is_approved
    admin.post(reverse("api:client_approve", args=[client.pk]))
    client.refresh_from_db()
    assert not client.is_approved  # not by the person who created it
    sign_in(HttpClient(), cast["chief"]).post(reverse("api:client_approve", args=[client.pk]))
    client.refresh_from_db()
    assert client.is_approved
    page = admin.post(reverse("api:token_issue", args=[client.pk]), {"days": "30"})
    secret = page.context["secret"]
    assert call(secret, "get", reverse("api:on_call")).status_code == 200
    listing = admin.get(reverse("api:client_list")).content.decode()
    assert secret not in listing
    assert secret.split("_")[1] in listing  # only the prefix is ever shown again
    admin.post(reverse("api:token_revoke", args=[ApiToken.objects.get().pk]))
    assert call(secret, "get", reverse("api:on_call")).status_code == 401


# ========================================================================================
# 2. The authorization matrix: endpoint × scope × another agency
# ========================================================================================


@dataclass(frozen=True)
class Endpoint:
    name: str
    method: str
    scope: str
    ok: int
    key: str = ""  # an object of the world the URL points at
    body: Callable[[dict[str, Any]], dict[str, Any]] | None = None

    def path(self, world: dict[str, Any]) -> str:
        args = [world[self.key].pk] if self.key else []
        return reverse(f"api:{self.name}", args=args)


ENDPOINTS = [
    Endpoint("units", "get", "members:read", 200),
    Endpoint(
        "units",
        "post",
        "members:write",
        201,
        body=lambda w: {"code": f"U{Unit.objects.count()}", "name": "Traffic", "parent_code": "HQ"},
    ),
    Endpoint("members", "get", "members:read", 200),
    Endpoint(
        "members",
        "post",
        "members:write",
        201,
        body=lambda w: {
            "employee_number": f"N-{len(w)}-{Member.objects.count()}",
            "first_name": "New",
            "last_name": "Hire",
            "category": "civilian",
            "unit_code": "HQ",
        },
    ),
    Endpoint("member", "get", "members:read", 200, "member"),
    Endpoint(
        "member", "patch", "members:write", 200, "member", body=lambda w: {"rank_title": "Sergeant"}
    ),
    Endpoint("roster", "get", "roster:read", 200),
    Endpoint("on_call", "get", "oncall:read", 200),
    Endpoint(
        "dispatch_request",
        "post",
        "dispatch:request",
        202,
        body=lambda w: {
            "idempotency_key": f"cad-{SupportRequest.objects.count()}",
            "name": "Caller",
            "urgency": "now",
            "contact_method": "phone",
            "phone": "555-0100",
        },
    ),
    Endpoint(
        "dispatch_receipt", "post", "dispatch:request", 404, body=lambda w: {"receipt": "A" * 32}
    ),
    Endpoint("readiness", "get", "readiness:read", 200),
    Endpoint("clients", "get", "recovery:read", 200),
    Endpoint("client", "get", "recovery:read", 200, "client"),
    Endpoint("contacts", "get", "recovery:read", 200, "client"),
    Endpoint(
        "client_referrals",
        "post",
        "recovery:write",
        201,
        "client",
        body=lambda w: {
            "idempotency_key": f"ref-{timezone.now().timestamp()}",
            "resource": w["resource"].pk,
        },
    ),
    Endpoint(
        "client_disclosures",
        "post",
        "recovery:write",
        400,
        "client",
        body=lambda w: {
            "idempotency_key": "d1",
            "recipient": w["resource"].pk,
            "purpose": "court",
            "information": ["substance_use"],
            "description": "history",
        },
    ),
    Endpoint("visits", "get", "recovery:read", 200),
    Endpoint("resources", "get", "recovery:read", 200),
    Endpoint("referrals", "get", "recovery:read", 200),
    Endpoint("referral", "get", "recovery:read", 200, "referral"),
    Endpoint("reports", "get", "reports:read", 200),
    Endpoint("report", "get", "reports:read", 200, "report"),
]


def make_world(agency: Any, cast: dict[str, Any]) -> dict[str, Any]:
    open_everything(agency)
    client = new_client(cast["aro"])
    court = resource(cast["aro"], "County Drug Court", "drug_court")
    referral = recovery.referral_create(acting_user=cast["aro"], client=client, resource=court)
    run, _ = report_run_create(
        agency=agency, report="recovery", period=last_month(), acting_user=cast["chief"]
    )
    return {
        "member": Member.objects.filter(agency=agency).first(),
        "client": client,
        "resource": court,
        "referral": referral,
        "report": run,
    }


@pytest.fixture
def world(agency: Any, cast: dict[str, Any]) -> dict[str, Any]:
    return make_world(agency, cast)


def _id(e: Endpoint) -> str:
    return f"{e.method}-{e.name}"


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_every_endpoint_answers_only_its_scope_and_only_its_agency(
    endpoint: Endpoint,
    world: dict[str, Any],
    tokens: Callable[[str], str],
    cast: dict[str, Any],
    stranger: Any,
) -> None:
    path = endpoint.path(world)
    body = endpoint.body(world) if endpoint.body else None
    for scope in SCOPES:
        if scope in (endpoint.scope, "scim"):
            continue
        answer = call(tokens(scope), endpoint.method, path, body)
        assert answer.status_code == 403, f"{scope}: {answer.status_code}"
        assert answer["Content-Type"] == "application/problem+json"
    answer = call(tokens(endpoint.scope), endpoint.method, path, body)
    assert answer.status_code == endpoint.ok, answer.content
    # The same scope in another agency: its objects are missing, its lists are its own.
    theirs = issue(
        stranger,
        endpoint.scope,
        approver=cast_of(stranger) if SCOPES[endpoint.scope].program else None,
    )
    other = call(theirs, endpoint.method, path, body)
    if endpoint.key:
        assert other.status_code == 404, other.content
    elif endpoint.method == "get":
        assert other.status_code == 200
        text = other.content.decode()
        for theirs_only in ("Jamie", "Drug Court", "E-administrator"):
            assert theirs_only not in text


def cast_of(user: Any) -> Any:
    """A second person of ``user``'s agency who may approve (the stranger's chief)."""
    from tests.conftest import make_user

    return make_user(user.agency, f"chief{user.agency.slug}", "chief")


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=_id)
def test_no_endpoint_answers_without_a_token_or_with_a_session(
    endpoint: Endpoint, world: dict[str, Any], cast: dict[str, Any]
) -> None:
    path = endpoint.path(world)
    answer = call(None, endpoint.method, path, endpoint.body(world) if endpoint.body else None)
    assert answer.status_code == 401
    assert answer.json()["title"] == "Not authenticated"
    staff = sign_in(HttpClient(), cast["administrator"])
    assert staff.get(path).status_code in (401, 405)


# ========================================================================================
# 3. The program rules over the API
# ========================================================================================


def test_a_recovery_token_never_receives_cji(
    world: dict[str, Any], tokens: Callable[[str], str], cast: dict[str, Any]
) -> None:
    from tandem.readiness.gates import gate_update

    gate_update(user=cast["aro"], peer_support=False, cji=True)
    plant_cji(cast, world["client"])
    secret = tokens("recovery:read")
    for name, key in (
        ("clients", ""),
        ("client", "client"),
        ("contacts", "client"),
        ("referrals", ""),
        ("referral", "referral"),
    ):
        path = reverse(f"api:{name}", args=[world[key].pk] if key else [])
        answer = call(secret, "get", path)
        assert answer.status_code == 200
        assert MARKER not in answer.content.decode()
    # Safety flags the officer chose do reach the program, as on screen.
    recovery.client_flags_set(
        acting_user=cast["aro"], client=world["client"], flags=["dog_on_premises"]
    )
    flags = call(secret, "get", reverse("api:client", args=[world["client"].pk])).json()
    assert flags["safety_flags"] == ["dog_on_premises"]
    # Reading a client over the API is audited like opening the page.
    assert AuditEvent.objects.filter(
        action__startswith="recovery.client_view",
        actor_id=ApiClient.objects.get(name="recovery:read").account_id,
    ).exists()


def test_a_disclosure_over_the_api_needs_a_consent_in_force(
    world: dict[str, Any], tokens: Callable[[str], str], cast: dict[str, Any]
) -> None:
    secret = tokens("recovery:write")
    client, court = world["client"], world["resource"]
    body = {
        "idempotency_key": "d-1",
        "recipient": court.pk,
        "purpose": "court",
        "information": ["substance_use"],
        "description": "History for the docket",
    }
    path = reverse("api:client_disclosures", args=[client.pk])
    refused = call(secret, "post", path, body)
    assert refused.status_code == 400
    assert "consent" in refused.json()["detail"].lower()
    assert not Disclosure.objects.exists()
    assert AuditEvent.objects.filter(action="recovery.disclosure_refused").exists()
    today = timezone.localdate()
    recovery.consent_create(
        acting_user=cast["prs"],
        client=client,
        data={
            "discloser": "Peer Recovery Program",
            "recipient": court,
            "purpose": "court",
            "information": ["identity", "substance_use"],
            "starts_on": today,
            "expires_on": today + timedelta(days=30),
            "expiry_event": "",
            "revocation_method": "In writing.",
            "signed_by": "client",
            "signer_name": "J R",
            "signed_on": today,
        },
    )
    made = call(secret, "post", path, {**body, "idempotency_key": "d-2"})
    assert made.status_code == 201, made.content
    assert Disclosure.objects.get().consent.client == client


def test_on_call_now_is_the_dispatchers_page_answer(
    agency: Any,
    cast: dict[str, Any],
    team: dict[str, Any],
    clock: Any,
    tokens: Callable[[str], str],
) -> None:
    body = call(tokens("oncall:read"), "get", reverse("api:on_call")).json()
    expected = support_selectors.on_call_now(agency, timezone.now())
    assert [
        (x["label"], [(p["name"], p["phone"]) for p in x["people"]], x["note"])
        for x in body["lines"]
    ] == [(line.label, [tuple(p) for p in line.people], line.note) for line in expected]
    phones = {p["phone"] for x in body["lines"] for p in x["people"]}
    assert {"+1 555 0111", "+1 555 0122"} <= phones  # primary and backup
    assert len(body["lines"]) == 4  # primary, backup, coordinator, psychologist
    page = sign_in(HttpClient(), cast["dispatcher"]).get(reverse("support:on_call_now"))
    for line in body["lines"]:
        for person in line["people"]:
            assert person["name"] in page.content.decode()


def test_on_call_over_the_api_gives_no_count_of_waiting_requests(
    agency: Any,
    cast: dict[str, Any],
    team: dict[str, Any],
    clock: Any,
    tokens: Callable[[str], str],
) -> None:
    """Polling a live count of unrouted requests would time each arrival of a request for
    peer support; the dispatchers' screen keeps it, the API answer and its schema do not."""
    body = call(tokens("oncall:read"), "get", reverse("api:on_call")).json()
    assert set(body) == {"at", "lines"}
    spec = sign_in(HttpClient(), cast["nobody"]).get(reverse("api:schema")).content.decode()
    assert "unrouted" not in spec


def test_a_request_from_dispatch_returns_only_its_receipt(
    agency: Any,
    cast: dict[str, Any],
    team: dict[str, Any],
    clock: Any,
    tokens: Callable[[str], str],
) -> None:
    """The answer holds the receipt and nothing else to follow the request by: no id, no
    Location, and the request keeps neither the receipt nor the caller's own key."""
    open_everything(agency)
    secret = tokens("dispatch:request")
    body = {
        "idempotency_key": "cad-1",
        "name": "A caller",
        "urgency": "now",
        "contact_method": "phone",
        "phone": "555-0100",
    }
    answer = call(secret, "post", reverse("api:dispatch_request"), body)
    assert answer.status_code == 202
    assert set(answer.json()) == {"status", "receipt"}
    assert answer.json()["status"] == "sent to the on-call chain"
    receipt = answer.json()["receipt"]
    assert "Location" not in answer
    request = SupportRequest.objects.get()
    assert str(request.pk) not in answer.content.decode().replace("555-0100", "")
    assert request.channel == "dispatch"
    assert request.offers.filter(active=True).exists()  # routed like the screen's request
    assert request.receipt_digest == support_services.receipt_digest(receipt)
    assert receipt not in {request.idempotency_key, request.receipt_digest}
    assert request.idempotency_key != "cad-1"
    # A retry of the same call (a lost answer) makes no second request, same receipt.
    again = call(secret, "post", reverse("api:dispatch_request"), body)
    assert again.status_code == 202
    assert again.json()["receipt"] == receipt
    assert SupportRequest.objects.count() == 1


def test_a_receipt_tells_dispatch_where_the_request_stands_never_who(
    agency: Any,
    cast: dict[str, Any],
    team: dict[str, Any],
    clock: Any,
    tokens: Callable[[str], str],
    stranger: Any,
) -> None:
    open_everything(agency)
    secret = tokens("dispatch:request")
    receipt = call(
        secret,
        "post",
        reverse("api:dispatch_request"),
        {
            "idempotency_key": "cad-7",
            "name": "A caller",
            "urgency": "now",
            "contact_method": "phone",
            "phone": "555-0100",
        },
    ).json()["receipt"]
    path = reverse("api:dispatch_receipt")
    routing = call(secret, "post", path, {"receipt": receipt})
    assert routing.status_code == 200
    assert routing.json() == {"state": "routing", "status": "Looking for a supporter"}
    request = SupportRequest.objects.get()
    helper = request.offers.filter(active=True).first().user
    accepted_page = sign_in(HttpClient(), helper).post(
        reverse("support:request_accept", args=[request.pk])
    )
    assert accepted_page.status_code == 302
    accepted = call(secret, "post", path, {"receipt": receipt})
    assert accepted.json() == {"state": "accepted", "status": "A supporter accepted it"}
    text = accepted.content.decode()
    assert helper.get_full_name() not in text
    assert helper.username not in text
    assert str(request.pk) not in text
    # The screen's receipt page answers the same for the API's receipt.
    page = sign_in(HttpClient(), cast["dispatcher"]).post(
        reverse("support:receipt"), {"code": receipt}
    )
    assert "A supporter accepted it" in page.content.decode()
    # Unknown, malformed, another agency's: the one 404; another scope: 403.
    for wrong in ("A" * 32, receipt[:-1] + ("A" if receipt[-1] != "A" else "B")):
        unknown = call(secret, "post", path, {"receipt": wrong})
        assert unknown.status_code == 404
        assert unknown["Content-Type"] == "application/problem+json"
    assert call(secret, "post", path, {"receipt": "short"}).status_code == 400
    theirs = issue(stranger, "dispatch:request", approver=cast_of(stranger))
    assert call(theirs, "post", path, {"receipt": receipt}).status_code == 404
    assert call(tokens("oncall:read"), "post", path, {"receipt": receipt}).status_code == 403


def test_a_screen_receipt_answers_over_the_api(
    agency: Any,
    cast: dict[str, Any],
    team: dict[str, Any],
    clock: Any,
    tokens: Callable[[str], str],
) -> None:
    open_everything(agency)
    dispatcher = sign_in(HttpClient(), cast["dispatcher"])
    form = dispatcher.get(reverse("support:on_behalf_new")).context["form"]
    key = form.initial["idempotency_key"]
    sent = dispatcher.post(
        reverse("support:on_behalf_new"),
        {
            "idempotency_key": key,
            "channel": "dispatch",
            "urgency": "now",
            "contact_method": "phone",
            "name": "A caller",
            "phone": "555-0100",
            "best_time": "any",
        },
    )
    receipt = sent.context["receipt"]
    answer = call(
        tokens("dispatch:request"), "post", reverse("api:dispatch_receipt"), {"receipt": receipt}
    )
    assert answer.json()["state"] == "routing"


def test_hr_sync_creates_and_updates_members_through_the_roster_rules(
    agency: Any, cast: dict[str, Any], tokens: Callable[[str], str]
) -> None:
    secret = tokens("members:write")
    made = call(
        secret,
        "post",
        reverse("api:members"),
        {
            "employee_number": "HR-1",
            "first_name": "Ada",
            "last_name": "Lane",
            "category": "sworn",
            "unit_code": "HQ",
        },
    )
    assert made.status_code == 201
    member = Member.objects.get(employee_number="HR-1")
    assert member.unit == Unit.objects.get(agency=agency, code="HQ")
    clash = call(
        secret,
        "post",
        reverse("api:members"),
        {"employee_number": "HR-1", "first_name": "Ada", "last_name": "Lane", "category": "sworn"},
    )
    assert clash.status_code == 400
    assert "already in use" in clash.json()["detail"]
    gone = call(secret, "patch", reverse("api:member", args=[member.pk]), {"active": False})
    assert gone.status_code == 200
    assert AuditEvent.objects.filter(action="member.deactivate", object_id=str(member.pk)).exists()
    unknown = call(
        secret,
        "post",
        reverse("api:members"),
        {
            "employee_number": "HR-2",
            "first_name": "A",
            "last_name": "B",
            "category": "sworn",
            "unit_code": "NOPE",
        },
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"]["unit_code"]


def test_published_reports_carry_only_the_suppressed_tables(
    world: dict[str, Any], tokens: Callable[[str], str]
) -> None:
    secret = tokens("reports:read")
    run = world["report"]
    listed = call(secret, "get", reverse("api:reports")).json()
    assert [r["id"] for r in listed["results"]] == [run.pk]
    assert "tables" not in listed["results"][0]
    detail = call(secret, "get", reverse("api:report", args=[run.pk])).json()
    assert detail["tables"] == run.content


# ========================================================================================
# 4. Pagination and errors
# ========================================================================================


def test_members_page_by_stable_cursors_at_a_flat_query_count(
    agency: Any, cast: dict[str, Any], tokens: Callable[[str], str]
) -> None:
    Member.objects.bulk_create(
        [
            Member(
                agency=agency,
                employee_number=f"B-{i:04d}",
                first_name="Bulk",
                last_name=f"P{i:04d}",
                category=MemberCategory.CIVILIAN,
            )
            for i in range(230)
        ]
    )
    secret = tokens("members:read")
    seen: list[int] = []
    counts: list[int] = []
    url: str | None = reverse("api:members") + "?limit=50"
    call(secret, "get", url)  # the first call of the day also notes the token's use
    while url:
        with CaptureQueriesContext(connection) as queries:
            page = call(secret, "get", url).json()
        counts.append(len(queries))
        seen.extend(item["id"] for item in page["results"])
        url = page["next"]
    expected = Member.objects.filter(agency=agency).count()
    assert len(seen) == len(set(seen)) == expected
    assert seen == sorted(seen)
    assert max(counts) == min(counts[:-1] or counts)  # the same cost on every full page


def test_errors_are_problem_details(world: dict[str, Any], tokens: Callable[[str], str]) -> None:
    missing = call(tokens("members:read"), "get", reverse("api:member", args=[987654]))
    assert missing.status_code == 404
    assert missing["Content-Type"] == "application/problem+json"
    assert set(missing.json()) >= {"type", "title", "status"}
    invalid = call(tokens("members:write"), "post", reverse("api:members"), {"category": 1})
    assert invalid.status_code == 400
    assert "employee_number" in invalid.json()["errors"]
    assert invalid["Content-Type"] == "application/problem+json"
    wrong_method = call(tokens("members:read"), "delete", reverse("api:members"))
    assert wrong_method.status_code == 405
    assert wrong_method["Content-Type"] == "application/problem+json"
    assert wrong_method["Allow"]
    # An address under the API that names no endpoint: the same problem details.
    nowhere = call(tokens("members:read"), "get", "/api/v1/no-such-thing/")
    assert nowhere.status_code == 404
    assert nowhere["Content-Type"] == "application/problem+json"
    assert nowhere.json()["status"] == 404
    unauthenticated = call(None, "get", reverse("api:members"))
    assert unauthenticated.status_code == 401
    assert unauthenticated["Content-Type"] == "application/problem+json"
    assert unauthenticated.json()["title"] == "Not authenticated"


# ========================================================================================
# 5. The description: for signed-in staff, and Schemathesis against it
# ========================================================================================


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.url_name)
def test_the_api_pages_answer_signed_in_staff_only(
    row: Any, agency: Any, cast: dict[str, Any], stranger: Any
) -> None:
    world = authz.make_world(agency, cast, [build_world])
    authz.check_row(row, world, stranger)
    authz.check_no_session(row, world)


def test_the_openapi_description_and_reference_are_for_signed_in_staff(
    cast: dict[str, Any],
) -> None:
    assert HttpClient().get(reverse("api:schema")).status_code == 302
    staff = sign_in(HttpClient(), cast["nobody"])
    spec = staff.get(reverse("api:schema")).json()
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/on-call/" in spec["paths"]
    page = staff.get(reverse("api:reference")).content.decode()
    assert "/api/v1/on-call/" in page
    assert "oncall:read" in page


def test_schemathesis_finds_no_5xx_and_every_answer_matches_the_description(
    world: dict[str, Any], tokens: Callable[[str], str], cast: dict[str, Any]
) -> None:
    import schemathesis
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from tandem.wsgi import application

    spec = sign_in(HttpClient(), cast["nobody"]).get(reverse("api:schema")).json()
    schema = schemathesis.openapi.from_dict(spec)
    schema.app = application
    every = ",".join(SCOPES)
    secret = issue(cast["administrator"], *SCOPES, approver=cast["chief"], name="all")
    assert every
    failures: list[str] = []
    # As Django's test client does: the test's database connection stays open between calls.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        _run_schemathesis(schema, application, secret, failures)
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert not failures


def _run_schemathesis(schema: Any, application: Any, secret: str, failures: list[str]) -> None:
    from hypothesis import HealthCheck, Phase, given, settings
    from schemathesis.specs.openapi.checks import (
        response_schema_conformance,
        status_code_conformance,
    )

    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(
            max_examples=8,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=operation.as_strategy())
        def run(case: Any) -> None:
            cache.clear()
            response = case.call(app=application, headers={"Authorization": f"Bearer {secret}"})
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
            case.validate_response(
                response, checks=(status_code_conformance, response_schema_conformance)
            )
            for refused in ({}, {"Authorization": "Bearer tdm_000000000000_forged"}):
                bare = case.call(app=application, headers=refused)
                assert bare.status_code == 401, f"{case.method} {case.formatted_path}"

        run()


def test_schemathesis_follows_the_descriptions_links_without_5xx(
    world: dict[str, Any], cast: dict[str, Any]
) -> None:
    """The stateful phase, bounded: sequences of calls that follow the description's links
    (create a member → read it → change it; a list's first row → its detail, its contacts,
    a referral → the referral) answer no 5xx and match the description."""
    import schemathesis
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections
    from hypothesis import HealthCheck, Phase, settings
    from schemathesis import GenerationMode
    from schemathesis.specs.openapi.checks import (
        response_schema_conformance,
        status_code_conformance,
    )

    from tandem.wsgi import application

    spec = sign_in(HttpClient(), cast["nobody"]).get(reverse("api:schema")).json()
    assert spec["paths"]["/api/v1/members/"]["post"]["responses"]["201"]["links"]
    schema = schemathesis.openapi.from_dict(spec)
    secret = issue(cast["administrator"], *SCOPES, approver=cast["chief"], name="all")
    # Valid requests with the token: refusals of bad input and of no token are the first
    # schemathesis test's part; here the point is what the chained calls do.
    schema.config.update(headers={"Authorization": f"Bearer {secret}"})
    schema.config.generation.update(modes=[GenerationMode.POSITIVE])
    failures: list[str] = []
    followed: set[str] = set()

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        # Each scenario starts from the same data: what a scenario creates is rolled back,
        # so the answers (and the rules they enable) do not depend on earlier scenarios.
        def setup(self) -> None:
            self.savepoint = transaction.savepoint()

        def teardown(self) -> None:
            transaction.savepoint_rollback(self.savepoint)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"app": application, "headers": {"Authorization": f"Bearer {secret}"}}

        def step(self, input: Any) -> Any:
            cache.clear()  # the rate limit is tested elsewhere
            if input.transition is not None and input.is_applied:
                followed.add(input.transition.id)
            return super().step(input)

        def validate_response(self, response: Any, case: Any, **kwargs: Any) -> None:
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")
            case.validate_response(
                response, checks=[status_code_conformance, response_schema_conformance]
            )

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        Machine.run(
            settings=settings(
                max_examples=25,
                stateful_step_count=4,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
        )
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    assert not failures
    assert followed  # the links were followed, not only single calls
