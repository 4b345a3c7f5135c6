"""The base of every API endpoint: token auth, scope, rate limit, problem details, no-store
and one audit row per call naming the client."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tandem.api.auth import HasScope, TokenAuthentication
from tandem.api.models import ApiToken
from tandem.api.services import api_auth_failure_record, api_call_record
from tandem.api.throttles import ClientRateThrottle


class ApiView(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [HasScope]
    throttle_classes = [ClientRateThrottle]
    #: method -> scope ("*" for any method)
    scopes: dict[str, str] = {}

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        token = getattr(request, "auth", None)
        if isinstance(token, ApiToken):
            match = request.resolver_match
            route = match.view_name if match else ""
            refusal = (
                "rate_limited"
                if response.status_code == 429
                else getattr(request, "api_refusal", "")
            )
            if refusal:
                # A flood of refused calls is counted per minute, not written row by row.
                api_auth_failure_record(reason=refusal, token=token, route=route)
            else:
                api_call_record(
                    token=token, route=route, method=request.method, status=response.status_code
                )
        return response
