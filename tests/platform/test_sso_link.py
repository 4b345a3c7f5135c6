"""Single sign-on on the account's page (issue 16): an administrator ties an account to its
subject at the agency's identity provider, changes it (a credential reset) or removes it,
never on their own account and never with a subject another account uses. Other agencies'
accounts and people who do not administer accounts get the 404. The audit trail keeps
digests of subjects, never a subject."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tandem.accounts.models import RoleRequest, RoleRequestReason, RoleRequestStatus, User
from tandem.accounts.oidc import (
    account_for_subject,
    external_identity_link,
    identity_provider_set,
    subject_digest,
)
from tandem.api.models import ExternalIdentity, IdentityProvider, SsoMfaDevice
from tandem.audit.models import AuditEvent
from tandem.notifications.models import Delivery
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db

NOBODY_SUB = "0f7c2e-nobody-at-idp"
COORD_SUB = "7a91d4-coordinator-at-idp"
SUPPORTER_SUB = "c3b8e1-supporter-at-idp"
ADMIN_SUB = "e52a07-admin-at-idp"


@pytest.fixture
def idp(cast: dict[str, User]) -> IdentityProvider:
    """Alpha's provider record (no network needed): the administrator, the coordinator and
    the supporter already linked by provisioning."""
    provider = identity_provider_set(
        acting_user=cast["administrator"],
        issuer="https://login.example.org/alpha/v2.0",
        client_id="tandem",
    )
    for role, subject in (
        ("administrator", ADMIN_SUB),
        ("coordinator", COORD_SUB),
        ("supporter", SUPPORTER_SUB),
    ):
        external_identity_link(acting_user=None, user=cast[role], subject=subject)
    return provider


def detail_url(user: User) -> str:
    return reverse("accounts:user_detail", args=[user.pk])


def link_url(user: User) -> str:
    return reverse("accounts:user_sso_link", args=[user.pk])


def unlink_url(user: User) -> str:
    return reverse("accounts:user_sso_unlink", args=[user.pk])


def no_subject_in_the_audit_trail(*subjects: str) -> None:
    for event in AuditEvent.objects.all():
        written = json.dumps(event.detail) + event.purpose + event.object_id + event.actor_label
        for subject in subjects:
            assert subject not in written, (event.action, subject)


def test_the_section_appears_only_when_the_agency_has_an_identity_provider(
    cast: dict[str, User],
) -> None:
    admin = sign_in(Client(), cast["administrator"])
    page = admin.get(detail_url(cast["nobody"]))
    assert page.status_code == 200
    assert 'id="sso-heading"' not in page.content.decode()


def test_an_administrator_links_an_account_to_its_subject(
    cast: dict[str, User], idp: IdentityProvider
) -> None:
    nobody = cast["nobody"]
    theirs = sign_in(Client(), nobody)
    admin = sign_in(Client(), cast["administrator"])
    page = admin.get(detail_url(nobody)).content.decode()
    assert 'id="sso-heading"' in page
    assert "Not linked" in page
    assert "Link the account" in page

    response = admin.post(link_url(nobody), {"sso-subject": f"  {NOBODY_SUB} "}, follow=True)

    assert response.redirect_chain[-1][0] == detail_url(nobody)
    page = response.content.decode()
    assert f"nobody now signs in with single sign-on as {NOBODY_SUB}." in page
    assert "open session(s) ended" not in page
    assert f"<code>{NOBODY_SUB}</code>" in page
    assert "Remove the link" in page
    assert account_for_subject(idp, {"sub": NOBODY_SUB}) == nobody
    # No power and no earlier link: nothing else changes for the person.
    assert theirs.get(reverse("core:home")).status_code == 200
    assert not Delivery.objects.filter(recipient_user=nobody).exists()
    event = AuditEvent.objects.get(action="sso.identity_linked", object_id=str(nobody.pk))
    assert event.actor_id == cast["administrator"].pk
    assert event.detail["subject"] == subject_digest(NOBODY_SUB)
    assert event.detail["previous"] == ""
    no_subject_in_the_audit_trail(NOBODY_SUB)

    again = admin.post(link_url(nobody), {"sso-subject": NOBODY_SUB}, follow=True)
    assert "already signs in with that subject; nothing changed" in again.content.decode()
    assert (
        AuditEvent.objects.filter(action="sso.identity_linked", object_id=str(nobody.pk)).count()
        == 1
    )


def test_changing_the_link_is_a_credential_reset(
    cast: dict[str, User], idp: IdentityProvider
) -> None:
    coordinator = cast["coordinator"]
    theirs = sign_in(Client(), coordinator)
    assert theirs.get(reverse("core:home")).status_code == 200
    admin = sign_in(Client(), cast["administrator"])
    page = admin.get(detail_url(coordinator)).content.decode()
    assert f"<code>{COORD_SUB}</code>" in page
    assert "Change the link" in page

    new_subject = "19d0aa-coordinator-new-login"
    response = admin.post(link_url(coordinator), {"sso-subject": new_subject}, follow=True)

    page = response.content.decode()
    assert "counts as a reset of their sign-in: 1 open session(s) ended" in page
    title = coordinator.agency.title_for("coordinator")
    assert f"Their program roles ({title}) wait for a second person&#x27;s approval." in page
    assert theirs.get(reverse("core:home")).status_code == 302  # signed out
    assert account_for_subject(idp, {"sub": new_subject}) == coordinator
    assert account_for_subject(idp, {"sub": COORD_SUB}) is None
    assert not User.objects.get(pk=coordinator.pk).has_role("coordinator")
    restore = RoleRequest.objects.get(user=coordinator, role="coordinator")
    assert (restore.status, restore.reason) == (
        RoleRequestStatus.PENDING,
        RoleRequestReason.RESTORE,
    )
    assert Delivery.objects.filter(kind="account.signin_reset", recipient_user=coordinator).exists()
    event = AuditEvent.objects.get(
        action="sso.identity_linked",
        actor_id=cast["administrator"].pk,
        object_id=str(coordinator.pk),
    )
    assert event.detail["previous"] == subject_digest(COORD_SUB)
    assert event.detail["subject"] == subject_digest(new_subject)
    assert event.detail["roles_suspended"] == ["coordinator"]
    no_subject_in_the_audit_trail(COORD_SUB, new_subject)


def test_a_first_link_for_an_account_with_power_is_a_credential_reset(
    cast: dict[str, User], idp: IdentityProvider
) -> None:
    chief = cast["chief"]
    admin = sign_in(Client(), cast["administrator"])
    response = admin.post(link_url(chief), {"sso-subject": "b7e044-chief"}, follow=True)
    assert "counts as a reset of their sign-in" in response.content.decode()
    assert not User.objects.get(pk=chief.pk).has_role("chief")


def test_removing_the_link_ends_the_persons_sessions(
    cast: dict[str, User], idp: IdentityProvider
) -> None:
    supporter = cast["supporter"]
    SsoMfaDevice.objects.create(user=supporter, name="SSO", confirmed=True)
    theirs = sign_in(Client(), supporter)
    admin = sign_in(Client(), cast["administrator"])

    response = admin.post(unlink_url(supporter), follow=True)

    page = response.content.decode()
    assert "supporter no longer signs in with single sign-on; 1 open session(s) ended" in page
    assert "Not linked" in page
    assert not ExternalIdentity.objects.filter(user=supporter).exists()
    assert account_for_subject(idp, {"sub": SUPPORTER_SUB}) is None
    assert theirs.get(reverse("core:home")).status_code == 302
    assert not SsoMfaDevice.objects.filter(user=supporter).exists()
    assert User.objects.get(pk=supporter.pk).has_role("supporter")  # nothing new opened
    assert Delivery.objects.filter(kind="account.signin_reset", recipient_user=supporter).exists()
    event = AuditEvent.objects.get(action="sso.identity_unlinked", object_id=str(supporter.pk))
    assert event.actor_id == cast["administrator"].pk
    assert event.detail == {
        "source": "administrator",
        "previous": subject_digest(SUPPORTER_SUB),
        "sessions_ended": 1,
    }
    no_subject_in_the_audit_trail(SUPPORTER_SUB)

    again = admin.post(unlink_url(supporter), follow=True)
    assert "This account has no single sign-on link to remove." in again.content.decode()
    assert AuditEvent.objects.filter(action="sso.identity_unlinked").count() == 1


def test_removing_the_link_of_an_account_without_a_password_says_how_to_let_them_in(
    cast: dict[str, User], idp: IdentityProvider
) -> None:
    supporter = cast["supporter"]
    supporter.set_unusable_password()
    supporter.save(update_fields=["password"])
    admin = sign_in(Client(), cast["administrator"])
    response = admin.post(unlink_url(supporter), follow=True)
    assert "They have no Tandem password" in response.content.decode()


def test_an_administrator_does_not_change_their_own_link(
    cast: dict[str, User], idp: IdentityProvider
) -> None:
    me = cast["administrator"]
    admin = sign_in(Client(), me)
    page = admin.get(detail_url(me)).content.decode()
    assert f"<code>{ADMIN_SUB}</code>" in page
    assert "Another administrator sets or removes the link of your own account." in page
    assert link_url(me) not in page
    assert unlink_url(me) not in page

    refused = admin.post(link_url(me), {"sso-subject": "e52a07-parked"})
    assert refused.status_code == 400
    assert "Ask another administrator to change your own sign-in." in refused.content.decode()
    removed = admin.post(unlink_url(me), follow=True)
    assert "Ask another administrator to change your own sign-in." in removed.content.decode()
    assert account_for_subject(idp, {"sub": ADMIN_SUB}) == me
    assert not AuditEvent.objects.filter(
        action__in=["sso.identity_linked", "sso.identity_unlinked"], actor_id=me.pk
    ).exists()


def test_a_subject_another_account_uses_is_refused_and_nothing_changes(
    cast: dict[str, User], idp: IdentityProvider
) -> None:
    nobody = cast["nobody"]
    admin = sign_in(Client(), cast["administrator"])
    before = AuditEvent.objects.count()
    refused = admin.post(link_url(nobody), {"sso-subject": COORD_SUB})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "This subject already signs in to another account." in page
    assert 'class="error-summary"' in page
    assert not ExternalIdentity.objects.filter(user=nobody).exists()
    assert account_for_subject(idp, {"sub": COORD_SUB}) == cast["coordinator"]
    assert AuditEvent.objects.count() == before


def test_an_empty_or_overlong_subject_gets_a_message_next_to_the_field(
    cast: dict[str, User], idp: IdentityProvider
) -> None:
    admin = sign_in(Client(), cast["administrator"])
    empty = admin.post(link_url(cast["nobody"]), {"sso-subject": "   "})
    assert empty.status_code == 400
    assert "Give the subject the identity provider uses for this person." in empty.content.decode()
    long = admin.post(link_url(cast["nobody"]), {"sso-subject": "x" * 256})
    assert long.status_code == 400
    assert "at most 255 characters" in long.content.decode()
    assert not ExternalIdentity.objects.filter(user=cast["nobody"]).exists()


def test_another_agencys_accounts_and_non_administrators_get_the_404(
    cast: dict[str, User], stranger: User, idp: IdentityProvider
) -> None:
    target = cast["coordinator"]
    outsider = sign_in(Client(), stranger)  # every role, in Bravo
    for url in (detail_url(target), link_url(target), unlink_url(target)):
        method = outsider.get if url == detail_url(target) else outsider.post
        assert method(url, {"sso-subject": "taken-over"}).status_code == 404, url
    # Alpha's administrator cannot reach Bravo's account either.
    admin = sign_in(Client(), cast["administrator"])
    assert admin.post(link_url(stranger), {"sso-subject": "x-sub"}).status_code == 404
    assert admin.post(unlink_url(stranger)).status_code == 404
    for role in ("chief", "coordinator", "auditor", "nobody"):
        browser = sign_in(Client(), cast[role])
        assert browser.post(link_url(target), {"sso-subject": "x-sub"}).status_code == 404, role
        assert browser.post(unlink_url(target)).status_code == 404, role
    assert account_for_subject(idp, {"sub": COORD_SUB}) == target
    assert not AuditEvent.objects.filter(
        action__in=["sso.identity_linked", "sso.identity_unlinked"], actor_id__isnull=False
    ).exists()


def test_a_get_changes_nothing(cast: dict[str, User], idp: IdentityProvider) -> None:
    admin = sign_in(Client(), cast["administrator"])
    assert admin.get(link_url(cast["nobody"]), {"sso-subject": "x"}).status_code == 405
    assert admin.get(unlink_url(cast["supporter"])).status_code == 405
    assert ExternalIdentity.objects.filter(user=cast["supporter"]).exists()


def test_the_account_list_marks_linked_accounts_in_the_same_number_of_queries(
    cast: dict[str, User], idp: IdentityProvider
) -> None:
    admin = sign_in(Client(), cast["administrator"])
    url = reverse("accounts:user_list")
    admin.get(url)  # the session and the agency's settings are read once, then cached
    with CaptureQueriesContext(connection) as three_linked:
        page = admin.get(url).content.decode()
    assert page.count("Signs in with single sign-on") == 3
    for role in ("chief", "auditor", "nobody"):
        external_identity_link(acting_user=None, user=cast[role], subject=f"{role}-sub")
    with CaptureQueriesContext(connection) as six_linked:
        page = admin.get(url).content.decode()
    assert page.count("Signs in with single sign-on") == 6
    assert len(six_linked.captured_queries) == len(three_linked.captured_queries)


def test_the_command_line_still_links_through_the_same_service(
    cast: dict[str, Any], idp: IdentityProvider
) -> None:
    from django.core.management import call_command

    call_command("sso", "link", "--admin", "administrator", "--user", "nobody", "--subject", "cli")
    assert account_for_subject(idp, {"sub": "cli"}) == cast["nobody"]
