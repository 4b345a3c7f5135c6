"""Single sign-on with OpenID Connect (issue 16) against a real provider: the certified
``oidc-provider`` package run with Node.js in a second process (``tests/oidc_provider``).
Discovery, PKCE, signature and nonce checks, a token without multi-factor falling through
to Tandem's TOTP step, disabled and locked accounts, clock skew, session limits and the
use banner."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import time_machine
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.middleware import SESSION_BANNER_OK
from tandem.accounts.models import RoleRequest, RoleRequestReason, RoleRequestStatus, User
from tandem.accounts.oidc import (
    AgencyOIDCBackend,
    account_for_subject,
    external_identity_link,
    identity_provider_set,
)
from tandem.api.models import ExternalIdentity, IdentityProvider
from tandem.audit.models import AuditEvent
from tandem.notifications.models import Delivery
from tests.conftest import sign_in
from tests.helpers import free_port

PROVIDER_DIR = Path(__file__).resolve().parent.parent / "oidc_provider"
CALLBACK = "http://testserver/sso/callback/"
SECRET = "a-test-client-secret-that-is-long-enough-0123456789"
ACCOUNTS = {
    "alice-sub": {"amr": ["pwd", "otp"]},  # signs in with two factors at the provider
    "bob-sub": {"amr": ["pwd"]},  # password only
    "carol-sub": {"amr": ["pwd", "hwk"]},
}


@contextmanager
def running_provider(redirect_uri: str, accounts: dict[str, Any]) -> Iterator[str]:
    """Start the test provider for one Tandem callback address; yield its issuer."""
    node = shutil.which("node")
    if node is None or not (PROVIDER_DIR / "node_modules" / "oidc-provider").exists():
        pytest.skip("Node.js or the test OIDC provider is not installed (make test-deps)")
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "PORT": str(port),
        "ISSUER": issuer,
        "CLIENT_ID": "tandem",
        "CLIENT_SECRET": SECRET,
        "REDIRECT_URI": redirect_uri,
        "ACCOUNTS": json.dumps(accounts),
        "NODE_NO_WARNINGS": "1",
    }
    process = subprocess.Popen(  # noqa: S603 - fixed arguments
        [node, "server.mjs"],
        cwd=PROVIDER_DIR,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:  # warnings may come first
        lines.append(line)
        if line.startswith("LISTENING") or len(lines) > 20:
            break
    assert lines[-1].startswith("LISTENING"), lines
    threading.Thread(target=lambda: [None for _ in process.stdout or ()], daemon=True).start()
    try:
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="session")
def provider_url() -> Iterator[str]:
    with running_provider(CALLBACK, ACCOUNTS) as issuer:
        yield issuer


@pytest.fixture
def provider(provider_url: str, cast: dict[str, Any]) -> IdentityProvider:
    cache.clear()
    return identity_provider_set(
        acting_user=cast["administrator"],
        issuer=provider_url,
        client_id="tandem",
        client_secret=SECRET,
    )


@pytest.fixture
def alice(cast: dict[str, Any], provider: IdentityProvider) -> User:
    user = cast["supporter"]
    external_identity_link(acting_user=cast["administrator"], user=user, subject="alice-sub")
    return user


@pytest.fixture
def bob(cast: dict[str, Any], provider: IdentityProvider) -> User:
    user = cast["coordinator"]
    external_identity_link(acting_user=cast["administrator"], user=user, subject="bob-sub")
    return user


def past_banner() -> Client:
    browser = Client()
    browser.post(reverse("accounts:banner"))
    return browser


def at_provider(url: str) -> str:
    """Follow the provider's redirects (authorize → interaction → consent) to the callback."""
    session = requests.Session()
    for _ in range(12):
        answer = session.get(url, allow_redirects=False, timeout=10)
        assert answer.status_code in (302, 303), answer.text[:300]
        url = requests.compat.urljoin(url, answer.headers["Location"])
        if url.startswith("http://testserver/"):
            return url
    raise AssertionError("the provider never sent the browser back")


def sso(browser: Client, hint: str, *, tamper: Any = None, skew: timedelta = timedelta(0)) -> Any:
    """Sign in at the provider; ``skew`` sets Tandem's clock off the provider's on return."""
    start = browser.get(reverse("sso:start", args=["alpha"]) + f"?login_hint={hint}")
    assert start.status_code == 302
    back = at_provider(start["Location"])
    if tamper is not None:
        tamper(browser)
    parts = urlsplit(back)
    with time_machine.travel(timezone.now() + skew, tick=True):
        return browser.get(f"{parts.path}?{parts.query}")


def test_discovery_and_pkce_are_used_on_the_way_out(alice: User) -> None:
    start = past_banner().get(reverse("sso:start", args=["alpha"]))
    query = dict(p.split("=", 1) for p in urlsplit(start["Location"]).query.split("&"))
    assert start["Location"].startswith(IdentityProvider.objects.get().issuer + "/auth")
    assert query["code_challenge_method"] == "S256"
    assert len(query["code_challenge"]) >= 43
    assert query["nonce"]
    assert query["state"]


def test_a_token_asserting_mfa_signs_in_completely(alice: User) -> None:
    browser = past_banner()
    done = sso(browser, "alice-sub")
    assert done.status_code == 302
    assert done["Location"] == reverse("core:home")
    assert browser.get(reverse("core:home")).status_code == 200
    assert AuditEvent.objects.filter(
        action="signin.succeeded", actor_id=alice.pk, detail__method="oidc_mfa"
    ).exists()


def test_a_token_without_mfa_goes_on_to_tandems_own_second_factor(bob: User) -> None:
    browser = past_banner()
    done = sso(browser, "bob-sub")
    assert done["Location"] == reverse("accounts:mfa")
    assert browser.get(reverse("core:home")).status_code == 302  # not signed in yet
    assert browser.get(reverse("accounts:mfa")).status_code == 200


def test_the_mfa_claims_are_configurable(bob: User, provider: IdentityProvider) -> None:
    provider.mfa_amr = ["pwd"]  # an agency whose provider always enforces MFA upstream
    provider.save(update_fields=["mfa_amr"])
    done = sso(past_banner(), "bob-sub")
    assert done["Location"] == reverse("core:home")


def test_an_unknown_subject_is_refused_and_no_account_is_created(alice: User) -> None:
    before = User.objects.count()
    done = sso(past_banner(), "carol-sub")
    assert done["Location"] == reverse("accounts:login")
    assert User.objects.count() == before
    assert AuditEvent.objects.filter(
        action="signin.failed", detail__reason="unknown_subject"
    ).exists()


def test_just_in_time_creation_makes_an_account_without_roles_when_enabled(
    alice: User, provider: IdentityProvider
) -> None:
    provider.jit_create = True
    provider.save(update_fields=["jit_create"])
    sso(past_banner(), "carol-sub")
    made = ExternalIdentity.objects.get(subject="carol-sub").user
    assert made.agency == provider.agency
    assert not made.role_assignments.exists()


def test_a_disabled_or_locked_account_is_refused(alice: User) -> None:
    User.objects.filter(pk=alice.pk).update(is_active=False)
    assert sso(past_banner(), "alice-sub")["Location"] == reverse("accounts:login")
    User.objects.filter(pk=alice.pk).update(is_active=True, locked_at=timezone.now())
    browser = past_banner()
    assert sso(browser, "alice-sub")["Location"] == reverse("accounts:login")
    assert browser.get(reverse("core:home")).status_code == 302
    assert AuditEvent.objects.filter(action="signin.failed", detail__reason="locked").exists()


def test_a_replayed_callback_or_a_wrong_nonce_is_refused(alice: User) -> None:
    def forget_nonce(browser: Client) -> None:
        session = browser.session
        session["tandem_sso"] = {**session["tandem_sso"], "nonce": "not-the-one-sent"}
        session.save()

    browser = past_banner()
    assert sso(browser, "alice-sub", tamper=forget_nonce)["Location"] == reverse("accounts:login")
    assert browser.get(reverse("core:home")).status_code == 302
    assert AuditEvent.objects.filter(action="signin.failed", detail__stage="sso").exists()


def test_a_token_with_a_broken_signature_is_refused(
    alice: User, provider: IdentityProvider, rf: Any
) -> None:
    import jwt
    from django.core.exceptions import SuspiciousOperation

    browser = past_banner()
    captured: dict[str, str] = {}
    original = AgencyOIDCBackend.verify_token

    def capture(self: Any, token: str, **kwargs: Any) -> Any:
        captured["token"], captured["nonce"] = token, kwargs.get("nonce", "")
        return original(self, token, **kwargs)

    AgencyOIDCBackend.verify_token = capture  # type: ignore[method-assign]
    try:
        sso(browser, "alice-sub")
    finally:
        AgencyOIDCBackend.verify_token = original  # type: ignore[method-assign]
    header, body, signature = captured["token"].split(".")
    backend = AgencyOIDCBackend(provider, CALLBACK)
    assert backend.verify_token(captured["token"], nonce=captured["nonce"])["sub"] == "alice-sub"
    forged_sig = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(f"{header}.{body}.{forged_sig}", nonce=captured["nonce"])
    claims = jwt.decode(captured["token"], options={"verify_signature": False})
    claims["sub"] = "bob-sub"
    swapped = jwt.encode(claims, "x" * 32, algorithm="HS256")
    with pytest.raises(SuspiciousOperation):
        backend.verify_token(swapped, nonce=captured["nonce"])


def test_clock_skew_within_the_leeway_is_tolerated_and_beyond_it_refused(alice: User) -> None:
    home, login = reverse("core:home"), reverse("accounts:login")
    # Tandem's clock 30 s behind the provider's: the token looks issued in the future, within
    # the one-minute leeway.
    assert sso(past_banner(), "alice-sub", skew=-timedelta(seconds=30))["Location"] == home
    # Ten minutes behind: issued "in the future" beyond the leeway.
    assert sso(past_banner(), "alice-sub", skew=-timedelta(minutes=10))["Location"] == login
    # Two hours ahead: the token has expired.
    assert sso(past_banner(), "alice-sub", skew=timedelta(hours=2))["Location"] == login


def test_the_use_banner_comes_first(alice: User) -> None:
    browser = Client()
    start = browser.get(reverse("sso:start", args=["alpha"]))
    assert start["Location"] == reverse("accounts:banner")
    assert SESSION_BANNER_OK not in browser.session


def test_session_limits_apply_to_a_single_sign_on_session(alice: User) -> None:
    browser = past_banner()
    sso(browser, "alice-sub")
    assert browser.get(reverse("core:home")).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(minutes=40)):
        assert browser.get(reverse("core:home")).status_code == 302  # idle limit
    browser = past_banner()
    sso(browser, "alice-sub")
    assert browser.get(reverse("core:home")).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=13)):
        assert browser.get(reverse("core:home")).status_code == 302  # absolute limit


def test_an_agency_without_a_provider_has_no_sso(cast: dict[str, Any]) -> None:
    assert past_banner().get(reverse("sso:start", args=["alpha"])).status_code == 404


def test_the_provider_is_configured_and_accounts_linked_by_command(
    cast: dict[str, Any], monkeypatch: Any
) -> None:
    from django.core.management import call_command
    from django.core.management.base import CommandError

    monkeypatch.setenv("TANDEM_SSO_CLIENT_SECRET", SECRET)
    call_command(
        "sso",
        "set",
        "--admin",
        "administrator",
        "--issuer",
        "https://login.example.org/tenant/v2.0",
        "--client-id",
        "tandem",
        "--mfa-amr",
        "mfa",
    )
    provider = IdentityProvider.objects.get()
    assert provider.client_secret == SECRET
    assert provider.mfa_amr == ["mfa"]
    call_command(
        "sso", "link", "--admin", "administrator", "--user", "supporter", "--subject", "oid-123"
    )
    assert ExternalIdentity.objects.get().user == cast["supporter"]
    with pytest.raises(CommandError):
        call_command(
            "sso", "set", "--admin", "chief", "--issuer", "https://x.example", "--client-id", "x"
        )


@pytest.fixture
def offline_idp(cast: dict[str, Any]) -> IdentityProvider:
    """A provider record only (no network): the administrator and the coordinator linked."""
    provider = identity_provider_set(
        acting_user=cast["administrator"],
        issuer="https://login.example.org/alpha/v2.0",
        client_id="tandem",
    )
    external_identity_link(acting_user=None, user=cast["administrator"], subject="admin-sub")
    external_identity_link(acting_user=None, user=cast["coordinator"], subject="coord-sub")
    return provider


def test_moving_an_accounts_sign_in_to_another_subject_is_a_credential_reset(
    cast: dict[str, Any], offline_idp: IdentityProvider
) -> None:
    admin, coordinator = cast["administrator"], cast["coordinator"]
    browser = sign_in(Client(), coordinator)
    assert browser.get(reverse("core:home")).status_code == 200
    with pytest.raises(ValidationError):  # a subject already linked to someone else
        external_identity_link(acting_user=admin, user=coordinator, subject="admin-sub")
    with pytest.raises(ValidationError):  # one's own sign-in is changed by someone else
        external_identity_link(acting_user=admin, user=admin, subject="parked-sub")
    assert account_for_subject(offline_idp, {"sub": "admin-sub"}) == admin
    external_identity_link(acting_user=admin, user=coordinator, subject="new-sub")
    assert account_for_subject(offline_idp, {"sub": "new-sub"}) == coordinator
    assert account_for_subject(offline_idp, {"sub": "coord-sub"}) is None
    fresh = User.objects.get(pk=coordinator.pk)
    assert not fresh.has_role("coordinator")  # back only when a second person approves
    assert (
        RoleRequest.objects.get(user=coordinator, role="coordinator").status
        == RoleRequestStatus.PENDING
    )
    assert RoleRequest.objects.get(user=coordinator).reason == RoleRequestReason.RESTORE
    assert browser.get(reverse("core:home")).status_code == 302  # sessions ended
    assert Delivery.objects.filter(kind="account.signin_reset", recipient_user=coordinator).exists()
    event = AuditEvent.objects.get(
        action="sso.identity_linked", actor_id=admin.pk, object_id=str(coordinator.pk)
    )
    assert event.detail["previous"]
    assert event.detail["subject"]
    assert event.detail["previous"] != event.detail["subject"]
    assert event.detail["roles_suspended"] == ["coordinator"]
    assert "coord-sub" not in str(event.detail)
    assert "new-sub" not in str(event.detail)


def test_a_first_sign_in_link_for_a_program_role_holder_is_a_credential_reset(
    cast: dict[str, Any], offline_idp: IdentityProvider
) -> None:
    """The auditor signs in with a password; an administrator linking their own second
    login at the provider to that account gets an account with no program power."""
    auditor = cast["auditor"]
    external_identity_link(
        acting_user=cast["administrator"], user=auditor, subject="admins-second-login"
    )
    assert account_for_subject(offline_idp, {"sub": "admins-second-login"}) == auditor
    assert not User.objects.get(pk=auditor.pk).has_role("auditor")
    assert RoleRequest.objects.filter(
        user=auditor, role="auditor", status=RoleRequestStatus.PENDING
    ).exists()
    # A person with no power is linked plainly, and linking the same subject again is a no-op.
    nobody = cast["nobody"]
    external_identity_link(acting_user=cast["administrator"], user=nobody, subject="n-sub")
    external_identity_link(acting_user=cast["administrator"], user=nobody, subject="n-sub")
    assert (
        AuditEvent.objects.filter(action="sso.identity_linked", object_id=str(nobody.pk)).count()
        == 1
    )
    assert not Delivery.objects.filter(recipient_user=nobody).exists()


# --- The administrator's screen and the sign-in page --------------------------------------


def sso_form(issuer: str, **changes: Any) -> dict[str, Any]:
    data = {
        "issuer": issuer,
        "client_id": "tandem",
        "client_secret": SECRET,
        "subject_claim": "sub",
        "mfa_amr": "mfa otp hwk",
        "mfa_acr": "",
        "email_domains": "alpha.example",
        "leeway_seconds": "60",
        "active": "on",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_the_administrator_sets_up_single_sign_on_on_a_screen_and_tests_it(
    provider_url: str, cast: dict[str, Any], signed_in: Any
) -> None:
    cache.clear()
    admin = signed_in(cast["administrator"])
    page = admin.get(reverse("api:sso_settings"))
    assert page.status_code == 200
    assert "http://testserver/sso/callback/" in page.content.decode()  # to register there
    saved = admin.post(reverse("api:sso_settings"), sso_form(provider_url), follow=True)
    assert "Single sign-on settings saved" in saved.content.decode()
    provider = IdentityProvider.objects.get()
    assert (provider.issuer, provider.client_id, provider.client_secret) == (
        provider_url,
        "tandem",
        SECRET,
    )
    assert provider.mfa_amr == ["mfa", "otp", "hwk"]
    assert provider.email_domains == ["alpha.example"]
    assert not provider.jit_create  # off unless ticked
    raw = (
        IdentityProvider.objects.filter(pk=provider.pk)
        .values_list("client_secret", flat=True)
        .get()
    )
    assert SECRET not in str(raw)  # sealed at rest
    event = AuditEvent.objects.get(action="sso.provider_set")
    assert event.actor_id == cast["administrator"].pk
    assert "client_secret" in event.detail["changed"]
    assert SECRET not in json.dumps(event.detail)
    assert SECRET not in saved.content.decode()  # never shown again

    tested = admin.post(reverse("api:sso_test"))
    text = tested.content.decode()
    assert tested.status_code == 200
    assert "The connection works" in text
    assert "It accepts PKCE with S256." in text
    assert "signing key(s)" in text
    assert AuditEvent.objects.get(action="sso.provider_tested").outcome == "success"

    # Saving again with the secret left empty keeps it.
    admin.post(reverse("api:sso_settings"), sso_form(provider_url, client_secret=""))
    assert IdentityProvider.objects.get().client_secret == SECRET


def test_the_connection_test_says_clearly_what_is_wrong(
    provider_url: str, cast: dict[str, Any], signed_in: Any
) -> None:
    admin = signed_in(cast["administrator"])
    admin.post(reverse("api:sso_settings"), sso_form(provider_url + "/tenant"))
    text = admin.post(reverse("api:sso_test")).content.decode()
    assert "The connection does not work yet" in text
    assert "answered HTTP 404" in text
    admin.post(reverse("api:sso_settings"), sso_form(f"http://127.0.0.1:{free_port()}"))
    text = admin.post(reverse("api:sso_test")).content.decode()
    assert "Could not reach" in text
    admin.post(reverse("api:sso_settings"), sso_form(provider_url, subject_claim="oid"))
    text = admin.post(reverse("api:sso_test")).content.decode()
    assert "does not list the claim “oid”" in text
    failed = AuditEvent.objects.filter(action="sso.provider_tested").order_by("seq")
    assert [e.outcome for e in failed] == ["failed"] * 3
    assert failed.last().detail["failed"] == ["subject_claim"]  # type: ignore[union-attr]


def test_the_server_never_fetches_link_local_or_reserved_addresses_for_a_provider(
    cast: dict[str, Any], signed_in: Any
) -> None:
    """An administrator picks the issuer and the issuer's document picks the key and token
    addresses: neither may send Tandem's server to a cloud metadata service or the like."""
    from tandem.accounts.oidc import SsoRefused, guarded_get, outbound_refusal

    for url in (
        "https://169.254.169.254/latest/meta-data/",
        "http://[fe80::1]/",
        "https://224.0.0.1/",
        "http://0.0.0.0:8000/",
        "https://240.0.0.1/",
    ):
        assert outbound_refusal(url), url
        with pytest.raises(SsoRefused):
            guarded_get(url)
    # Agencies run providers on their own networks: private and loopback stay allowed.
    assert outbound_refusal("https://10.20.30.40/realms/agency") == ""
    assert outbound_refusal("http://127.0.0.1:8080/") == ""

    admin = signed_in(cast["administrator"])
    admin.post(reverse("api:sso_settings"), sso_form("https://169.254.169.254/tenant"))
    text = admin.post(reverse("api:sso_test")).content.decode()
    assert "The connection does not work yet" in text
    assert "link-local, multicast or reserved address" in text


def test_bad_settings_come_back_with_a_clear_message_and_change_nothing(
    cast: dict[str, Any], signed_in: Any, other_agency: Any
) -> None:
    admin = signed_in(cast["administrator"])
    for bad, message in (
        ({"issuer": "http://login.example.org"}, "must be an https address"),
        ({"subject_claim": "not a claim"}, "subject claim is a claim name"),
        ({"email_domains": "not_a_domain"}, "not a valid e-mail domain"),
        ({"leeway_seconds": "900"}, "less than or equal to 300"),
    ):
        answer = admin.post(
            reverse("api:sso_settings"), {**sso_form("https://login.example.org/alpha"), **bad}
        )
        assert answer.status_code == 400
        assert message in answer.content.decode()
    assert not IdentityProvider.objects.exists()
    # A domain already leading to another agency's provider is refused.
    from tests.conftest import make_user

    other_admin = make_user(other_agency, "otheradmin", "administrator")
    identity_provider_set(
        acting_user=other_admin,
        issuer="https://idp.other.example",
        client_id="x",
        email_domains=["alpha.example"],
    )
    answer = admin.post(reverse("api:sso_settings"), sso_form("https://login.example.org/a"))
    assert "alpha.example already signs in through another agency" in answer.content.decode()


def test_only_the_administrator_reaches_the_screen(
    cast: dict[str, Any], signed_in: Any, stranger: User
) -> None:
    for role in ("chief", "coordinator", "auditor", "nobody"):
        browser = signed_in(cast[role])
        assert browser.get(reverse("api:sso_settings")).status_code == 404
        assert browser.post(reverse("api:sso_test")).status_code == 404
    assert not IdentityProvider.objects.exists()
    # Another agency's administrator sets only their own agency's provider.
    signed_in(stranger).post(reverse("api:sso_settings"), sso_form("https://x.example"))
    assert IdentityProvider.objects.get().agency == stranger.agency


def test_moving_to_another_issuer_unlinks_every_account(
    cast: dict[str, Any], offline_idp: IdentityProvider, signed_in: Any
) -> None:
    admin = signed_in(cast["administrator"])
    answer = admin.post(
        reverse("api:sso_settings"), sso_form("https://evil.example.org/v2.0"), follow=True
    )
    assert "2 account(s) must be linked again" in answer.content.decode()
    assert not ExternalIdentity.objects.exists()
    assert account_for_subject(IdentityProvider.objects.get(), {"sub": "admin-sub"}) is None
    event = AuditEvent.objects.filter(action="sso.provider_set").last()
    assert event is not None
    assert event.detail["links_removed"] == 2
    assert "issuer" in event.detail["changed"]


def test_the_subject_claim_decides_who_signs_in(
    provider: IdentityProvider, cast: dict[str, Any]
) -> None:
    provider.subject_claim = "email"
    provider.save(update_fields=["subject_claim"])
    external_identity_link(
        acting_user=cast["administrator"], user=cast["supporter"], subject="alice-sub@example.test"
    )
    assert (
        account_for_subject(provider, {"sub": "x", "email": "alice-sub@example.test"})
        == cast["supporter"]
    )
    provider.subject_claim = "oid"
    provider.save(update_fields=["subject_claim"])
    browser = past_banner()
    assert sso(browser, "alice-sub")["Location"] == reverse("accounts:login")
    assert AuditEvent.objects.filter(
        action="signin.failed", detail__reason="subject_claim_missing"
    ).exists()


def test_a_disabled_provider_signs_nobody_in(alice: User, provider: IdentityProvider) -> None:
    provider.active = False
    provider.save(update_fields=["active"])
    assert past_banner().get(reverse("sso:start", args=["alpha"])).status_code == 404
    assert (
        "Sign in with your agency"
        not in past_banner().get(reverse("accounts:login")).content.decode()
    )


def test_the_sign_in_page_offers_the_agencys_sign_in(
    cast: dict[str, Any], offline_idp: IdentityProvider, other_agency: Any
) -> None:
    page = past_banner().get(reverse("accounts:login")).content.decode()
    assert "Sign in with your agency" in page
    assert reverse("sso:start", args=["alpha"]) in page  # the only agency: one button
    from tests.conftest import make_user

    other_admin = make_user(other_agency, "otheradmin", "administrator")
    identity_provider_set(
        acting_user=other_admin,
        issuer="https://idp.other.example",
        client_id="x",
        email_domains=["other.example"],
    )
    identity_provider_set(
        acting_user=cast["administrator"],
        issuer=offline_idp.issuer,
        client_id="tandem",
        email_domains=["alpha.example"],
    )
    answer = past_banner().get(reverse("accounts:login"))
    page = answer.content.decode()
    assert reverse("sso:find") in page  # several agencies: asked for an address
    assert "Your work e-mail or your agency" in page
    # The form's redirects may lead to the providers, and nowhere else.
    form_action = next(
        d
        for d in answer["Content-Security-Policy"].split(";")
        if d.strip().startswith("form-action")
    )
    assert "https://idp.other.example" in form_action
    assert "https://login.example.org" in form_action
    # An agency's own sign-in link names it, across the use banner.
    browser = Client()
    assert browser.get(reverse("accounts:login") + "?agency=alpha")["Location"] == reverse(
        "accounts:banner"
    )
    browser.post(reverse("accounts:banner"))
    assert (
        reverse("sso:start", args=["alpha"])
        in browser.get(reverse("accounts:login")).content.decode()
    )

    browser = past_banner()
    found = browser.get(reverse("sso:find"), {"address": "Alice@Alpha.Example"})
    assert (
        found["Location"]
        == reverse("sso:start", args=["alpha"]) + "?login_hint=Alice%40Alpha.Example"
    )
    assert browser.get(reverse("sso:find"), {"address": "bravo"})["Location"] == reverse(
        "sso:start", args=["bravo"]
    )
    lost = browser.get(reverse("sso:find"), {"address": "someone@gmail.com"}, follow=True)
    assert "Single sign-on is not set up for that address" in lost.content.decode()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_person_signs_in_with_their_agency_in_the_browser(
    live_server: Any, cast: dict[str, Any], other_agency: Any
) -> None:
    from tests.browser import browser_page
    from tests.conftest import make_user

    people = {"alice@alpha.example": {"amr": ["pwd", "mfa"]}}
    with running_provider(f"{live_server.url}/sso/callback/", people) as issuer:
        identity_provider_set(
            acting_user=cast["administrator"],
            issuer=issuer,
            client_id="tandem",
            client_secret=SECRET,
            email_domains=["alpha.example"],
        )
        external_identity_link(
            acting_user=cast["administrator"], user=cast["supporter"], subject="alice@alpha.example"
        )
        # A second agency with single sign-on: the page asks for the work e-mail.
        identity_provider_set(
            acting_user=make_user(other_agency, "bravoadmin", "administrator"),
            issuer="https://idp.bravo.example",
            client_id="b",
        )
        cache.clear()
        with browser_page() as page:
            page.goto(f"{live_server.url}/")
            page.get_by_role("button", name="I understand and agree").click()
            page.get_by_role("heading", name="Sign in with your agency").wait_for()
            page.get_by_label("Your work e-mail or your agency's short name").fill(
                "alice@alpha.example"
            )
            page.get_by_role("button", name="Sign in with your agency").click()
            page.get_by_role("heading", name="Welcome, Supporter").wait_for()
    assert AuditEvent.objects.filter(
        action="signin.succeeded", actor_id=cast["supporter"].pk, detail__method="oidc_mfa"
    ).exists()
