"""The agency API's authorization matrix: every endpoint × token scope × another agency,
and no answer without a token."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client as HttpClient
from django.urls import reverse
from django.utils import timezone

from tandem.agencies.models import Member, Unit
from tandem.api.scopes import SCOPES
from tandem.support.models import SupportRequest
from tests.api.support import call, cast_of, issue
from tests.conftest import sign_in


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
    # The same scope in another agency: its objects are missing, its lists are its own. It
    # runs both programs here (its Columbus preset is peer support only, whose recovery
    # endpoints answer 404 anyway: tests/api/test_program_rules.py).
    other_agency = stranger.agency
    other_agency.policy["programs"] = ["peer_support", "peer_recovery"]
    other_agency.save(update_fields=["policy"])
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
