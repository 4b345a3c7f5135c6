"""Machine credentials of the agency API (issue 16): clients, a second person's approval,
tokens shown once, expiry and revocation, refused calls audited, rate limits, service
accounts that are not people."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import connection
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from tandem.accounts import services as accounts
from tandem.accounts.models import RoleAssignment
from tandem.agencies.models import Role
from tandem.api import services as api
from tandem.api.models import ApiClient, ApiToken
from tandem.audit.models import AuditEvent
from tests.api.support import call, issue, puppet_of
from tests.conftest import sign_in


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
    puppet = puppet_of(agency, admin)
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
    puppet = puppet_of(agency, admin)
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
