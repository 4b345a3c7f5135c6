"""Helpers shared by the API tests: tokens, calls, a second approver, the objects the
endpoints point at."""

from __future__ import annotations

from typing import Any

from django.test import Client as HttpClient

from tandem.accounts import services as accounts
from tandem.accounts.models import User
from tandem.agencies.models import Agency, Member, Role
from tandem.api import services as api
from tandem.recovery import services as recovery
from tandem.reports.services import last_month, report_run_create
from tests.conftest import make_user
from tests.peer_support.support import open_everything
from tests.recovery.support import new_client, resource


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


def cast_of(user: Any) -> Any:
    """A second person of ``user``'s agency who may approve (the stranger's chief)."""
    return make_user(user.agency, f"chief{user.agency.slug}", "chief")


def puppet_of(agency: Agency, admin: User) -> User:
    """A second administrator that ``admin`` made alone (the administrator role is not a
    program role)."""
    return accounts.user_create(
        acting_user=admin,
        agency_id=agency.pk,
        username="puppet",
        password="a long enough puppet passphrase 9",
        roles=[Role.ADMINISTRATOR],
    )


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
