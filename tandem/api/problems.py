"""Errors as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

PROBLEM_TYPE = "https://tandem.invalid/problems/"
TITLES = {
    400: "Invalid request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    415: "Unsupported media type",
    429: "Too many requests",
}


def problem_body(status_code: int, detail: Any = None, **extra: Any) -> dict[str, Any]:
    return {
        "type": PROBLEM_TYPE + str(status_code),
        "title": TITLES.get(status_code, "Error"),
        "status": status_code,
        **({"detail": str(detail)} if detail else {}),
        **extra,
    }


def problem(status_code: int, detail: Any = None, **extra: Any) -> Response:
    return Response(
        problem_body(status_code, detail, **extra),
        status=status_code,
        content_type="application/problem+json",
    )


def not_found_response() -> JsonResponse:
    """A 404 for an address under the API that matches no endpoint (outside DRF)."""
    return JsonResponse(
        problem_body(404, "No such resource."), status=404, content_type="application/problem+json"
    )


def _flatten(data: Any) -> dict[str, list[str]]:
    if isinstance(data, dict):
        return {
            str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])]
            for k, vs in data.items()
        }
    return {"non_field_errors": [str(v) for v in (data if isinstance(data, list) else [data])]}


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return problem(400, "; ".join(m for ms in errors.values() for m in ms), errors=errors)
    if isinstance(exc, Http404 | PermissionDenied):
        # Missing and forbidden get one answer, as on the screens.
        return problem(404, "No such resource.")
    response = exception_handler(exc, context)
    if response is None:
        return None
    extra: dict[str, Any] = {}
    if isinstance(exc, exceptions.ValidationError):
        extra["errors"] = _flatten(exc.detail)
        detail = "The request body or parameters are not valid."
    else:
        detail = getattr(exc, "detail", "")
    result = problem(response.status_code, detail, **extra)
    for header, value in response.items():
        if header.lower() in ("retry-after", "www-authenticate", "allow"):
            result[header] = value
    if response.status_code == status.HTTP_403_FORBIDDEN and isinstance(
        exc, exceptions.PermissionDenied
    ):
        result.data["detail"] = str(exc.detail)
    return result
