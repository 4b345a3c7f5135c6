"""The OpenAPI description and its reference page, for signed-in staff (a full sign-in:
these are ordinary Tandem pages behind ``RequireVerifiedMiddleware``)."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.agencies.access import require_account
from tandem.api.scopes import SCOPES


def build_schema() -> dict[str, Any]:
    return dict(SchemaGenerator(patterns=None).get_schema(request=None, public=True))


@require_GET
def schema(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_account(request.user)
    body = OpenApiJsonRenderer().render(build_schema(), renderer_context={})
    return HttpResponse(body, content_type="application/vnd.oai.openapi+json")


@require_GET
def reference(request: AuthenticatedHttpRequest) -> HttpResponse:
    require_account(request.user)
    spec = build_schema()
    operations = [
        {
            "method": method.upper(),
            "path": path,
            "summary": op.get("summary", ""),
            "description": op.get("description", ""),
            "scope": op.get("x-scope", ""),
        }
        for path, item in spec.get("paths", {}).items()
        for method, op in item.items()
        if isinstance(op, dict)
    ]
    return render(
        request,
        "api/reference.html",
        {"info": spec.get("info", {}), "operations": operations, "scopes": SCOPES.values()},
    )
