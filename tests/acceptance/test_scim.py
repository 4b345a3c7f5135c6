"""SCIM 2.0 provisioning (issue 16): the identity provider creates, updates and disables
accounts and assigns roles; deprovisioning ends sessions at once; program roles still need
a second person in Tandem."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from tandem.accounts.models import RoleAssignment, SignInSession, User
from tandem.accounts.oidc import account_for_subject, identity_provider_set
from tandem.agencies.models import Member, MemberCategory
from tandem.api import services as api
from tandem.api.models import ExternalIdentity
from tandem.audit.models import AuditEvent
from tests.conftest import make_user, sign_in

SCIM = "application/scim+json"


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    cache.clear()


def token(admin: Any, *scopes: str) -> str:
    """A token of a provisioning client, approved by the agency's chief."""
    client = api.api_client_create(
        acting_user=admin, name="Entra provisioning", scopes=list(scopes or ["scim"])
    )
    if not client.is_approved:
        chief = User.objects.filter(agency=admin.agency, role_assignments__role="chief").exclude(
            pk=admin.pk
        ).first() or make_user(admin.agency, f"chief{admin.agency.slug}", "chief")
        api.api_client_approve(acting_user=chief, client=client)
    return api.api_token_issue(acting_user=admin, client=client)[1]


def patch_external_id(secret: str, user: Any, subject: str) -> Any:
    return scim(
        secret,
        "patch",
        reverse("scim:user", args=[user.pk]),
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "externalId", "value": subject}],
        },
    )


@pytest.fixture
def idp(cast: dict[str, Any]) -> Any:
    """The agency's identity provider; the administrator and the coordinator each linked
    to their own subject there."""
    provider = identity_provider_set(
        acting_user=cast["administrator"],
        issuer="https://login.example.org/alpha/v2.0",
        client_id="tandem",
    )
    for role, subject in (("administrator", "admin-sub"), ("coordinator", "coord-sub")):
        ExternalIdentity.objects.create(provider=provider, user=cast[role], subject=subject)
    return provider


def scim(secret: str | None, method: str, path: str, body: Any = None) -> Any:
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}"} if secret else {}
    http = Client()
    if method == "get":
        return http.get(path, **headers)
    if method == "delete":
        return http.delete(path, **headers)
    return getattr(http, method)(path, body or {}, content_type=SCIM, **headers)


def new_user(**extra: Any) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "jdoe@alpha.example",
        "externalId": "entra-oid-1",
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "emails": [{"value": "jdoe@alpha.example", "primary": True}],
        "active": True,
        **extra,
    }


def test_the_provider_creates_finds_and_updates_an_account(
    agency: Any, cast: dict[str, Any]
) -> None:
    secret = token(cast["administrator"])
    Member.objects.create(
        agency=agency,
        employee_number="HR-77",
        first_name="Jane",
        last_name="Doe",
        category=MemberCategory.CIVILIAN,
    )
    made = scim(
        secret,
        "post",
        reverse("scim:users"),
        new_user(
            **{
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                    "employeeNumber": "HR-77"
                }
            }
        ),
    )
    assert made.status_code == 201, made.content
    assert made["Content-Type"] == SCIM
    body = made.json()
    user = User.objects.get(username="jdoe@alpha.example")
    assert body["id"] == str(user.pk)
    assert user.agency == agency
    assert user.member.employee_number == "HR-77"
    assert not user.has_usable_password()  # signs in through the identity provider
    assert not user.role_assignments.exists()
    found = scim(secret, "get", reverse("scim:users") + '?filter=userName eq "jdoe@alpha.example"')
    assert found.json()["totalResults"] == 1
    again = scim(secret, "post", reverse("scim:users"), new_user())
    assert again.status_code == 409
    assert again.json()["scimType"] == "uniqueness"
    renamed = scim(
        secret,
        "patch",
        reverse("scim:user", args=[user.pk]),
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "name.familyName", "value": "Smith"}],
        },
    )
    assert renamed.status_code == 200
    assert renamed.json()["name"]["familyName"] == "Smith"
    assert AuditEvent.objects.filter(action="account.created", object_id=str(user.pk)).exists()


def test_deprovisioning_ends_the_persons_sessions_at_once(cast: dict[str, Any]) -> None:
    secret = token(cast["administrator"])
    person = cast["supporter"]
    browser = sign_in(Client(), person)
    assert browser.get(reverse("core:home")).status_code == 200
    assert SignInSession.objects.filter(user=person).exists()
    answer = scim(
        secret,
        "patch",
        reverse("scim:user", args=[person.pk]),
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
        },
    )
    assert answer.status_code == 200
    assert answer.json()["active"] is False
    assert browser.get(reverse("core:home")).status_code == 302
    assert not SignInSession.objects.filter(user=person).exists()
    back = scim(secret, "put", reverse("scim:user", args=[person.pk]), {"active": True})
    assert back.json()["active"] is True
    gone = scim(secret, "delete", reverse("scim:user", args=[person.pk]))
    assert gone.status_code == 204
    assert not User.objects.get(pk=person.pk).is_active  # disabled, never deleted


def test_groups_assign_ordinary_roles_but_program_roles_need_a_second_person(
    cast: dict[str, Any],
) -> None:
    secret = token(cast["administrator"])
    person = cast["nobody"]

    def change(role: str, op: str) -> Any:
        return scim(
            secret,
            "patch",
            reverse("scim:group", args=[role]),
            {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": op, "path": "members", "value": [{"value": str(person.pk)}]}],
            },
        )

    assert change("dispatcher", "add").status_code == 200
    assert RoleAssignment.objects.filter(user=person, role="dispatcher").exists()
    listed = scim(secret, "get", reverse("scim:group", args=["dispatcher"])).json()
    assert str(person.pk) in [m["value"] for m in listed["members"]]
    assert change("dispatcher", "remove").status_code == 200
    assert not RoleAssignment.objects.filter(user=person, role="dispatcher").exists()
    for program_role in ("coordinator", "supporter", "prs", "aro", "administrator", "auditor"):
        refused = change(program_role, "add")
        assert refused.status_code == 403, program_role
        assert "second person" in refused.json()["detail"]
    assert not person.role_assignments.exists()
    assert AuditEvent.objects.filter(action="scim.role_refused").count() == 6


def test_scim_needs_its_own_scope_and_sees_only_its_agency(
    cast: dict[str, Any], stranger: Any
) -> None:
    assert scim(None, "get", reverse("scim:users")).status_code == 401
    other_scope = token(cast["administrator"], "members:read")
    assert scim(other_scope, "get", reverse("scim:users")).status_code == 403
    theirs = token(stranger)
    mine = cast["supporter"]
    assert scim(theirs, "get", reverse("scim:user", args=[mine.pk])).status_code == 404
    assert (
        scim(
            theirs,
            "patch",
            reverse("scim:user", args=[mine.pk]),
            {"Operations": [{"op": "replace", "path": "active", "value": False}]},
        ).status_code
        == 404
    )
    listed = scim(theirs, "get", reverse("scim:users")).json()
    assert {r["userName"] for r in listed["Resources"]} == {"stranger", "chiefbravo"}
    assert User.objects.get(pk=mine.pk).is_active


def test_service_provider_config_and_bad_filters(cast: dict[str, Any]) -> None:
    secret = token(cast["administrator"])
    config = scim(secret, "get", reverse("scim:config")).json()
    assert config["patch"]["supported"] is True
    bad = scim(secret, "get", reverse("scim:users") + "?filter=name sw 'x'")
    assert bad.status_code == 400
    assert bad.json()["scimType"] == "invalidFilter"


def test_scim_cannot_move_a_sign_in_to_another_account(cast: dict[str, Any], idp: Any) -> None:
    """The tester's reproduction: with a provisioning token, the administrator moves their own
    subject away, then puts it on the coordinator's account, to sign in as the coordinator
    with their own login at the identity provider."""
    secret = token(cast["administrator"])
    admin, coordinator = cast["administrator"], cast["coordinator"]
    away = patch_external_id(secret, admin, "parked-sub")
    assert away.status_code == 403, away.content
    assert "second person" in away.json()["detail"]
    onto = patch_external_id(secret, coordinator, "admin-sub")
    assert onto.status_code == 403, onto.content
    removed = patch_external_id(secret, coordinator, "")
    assert removed.status_code == 403
    assert account_for_subject(idp, {"sub": "admin-sub"}) == admin
    assert account_for_subject(idp, {"sub": "coord-sub"}) == coordinator
    assert account_for_subject(idp, {"sub": "parked-sub"}) is None
    refused = AuditEvent.objects.filter(action="scim.link_refused")
    assert refused.count() == 3
    assert {e.outcome for e in refused} == {"denied"}
    for event in refused:
        assert "admin-sub" not in str(event.detail)
        assert "coord-sub" not in str(event.detail)
    assert not AuditEvent.objects.filter(action="sso.identity_linked").exists()
    # The provider repeating the subject it already holds changes nothing and is fine.
    same = scim(
        secret,
        "put",
        reverse("scim:user", args=[coordinator.pk]),
        {"externalId": "coord-sub", "active": True},
    )
    assert same.status_code == 200, same.content
    assert same.json()["externalId"] == "coord-sub"


def test_scim_links_a_subject_only_to_an_account_without_one_or_any_power(
    cast: dict[str, Any], idp: Any
) -> None:
    secret = token(cast["administrator"])
    made = scim(secret, "post", reverse("scim:users"), new_user(externalId="jdoe-sub"))
    assert made.status_code == 201, made.content
    jdoe = User.objects.get(username="jdoe@alpha.example")
    assert account_for_subject(idp, {"sub": "jdoe-sub"}) == jdoe
    taken = scim(
        secret,
        "post",
        reverse("scim:users"),
        new_user(userName="twin@alpha.example", externalId="coord-sub"),
    )
    assert taken.status_code == 403
    assert not User.objects.filter(username="twin@alpha.example").exists()
    nobody = cast["nobody"]
    assert patch_external_id(secret, nobody, "admin-sub").status_code == 403  # taken
    assert patch_external_id(secret, nobody, "nobody-sub").status_code == 200
    assert account_for_subject(idp, {"sub": "nobody-sub"}) == nobody
    for role in ("chief", "auditor", "supporter", "administrator"):  # not linked yet
        answer = patch_external_id(secret, cast[role], f"{role}-new-sub")
        assert answer.status_code == 403, role
        assert account_for_subject(idp, {"sub": f"{role}-new-sub"}) is None
    linked = AuditEvent.objects.filter(action="sso.identity_linked")
    assert {e.object_id for e in linked} == {str(jdoe.pk), str(nobody.pk)}
    assert AuditEvent.objects.filter(action="scim.link_refused").count() == 6
