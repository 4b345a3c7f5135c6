"""The agency API's description: its pages are for signed-in staff, and Schemathesis finds
no 5xx against the live OpenAPI description (single calls and the links between them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client as HttpClient
from django.urls import reverse

from tandem.api.scopes import SCOPES
from tests import authz
from tests.api.support import issue
from tests.authz_api import ROWS, build_world
from tests.conftest import sign_in


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
