from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from tandem.api.problems import not_found_response
from tandem.core import views as core_views
from tandem.core.decorators import public

urlpatterns = [
    path("", include("tandem.core.urls")),
    path("accounts/", include("tandem.accounts.urls")),
    path("agency/", include("tandem.agencies.urls")),
    path("operator/", include("tandem.agencies.operator_urls")),
    path("audit/", include("tandem.audit.urls")),
    path("support/", include("tandem.support.urls")),
    path("readiness/", include("tandem.readiness.urls")),
    path("recovery/", include("tandem.recovery.urls")),
    path("reports/", include("tandem.reports.urls")),
    path("api/", include("tandem.api.urls")),
    path("sso/", include("tandem.accounts.oidc_urls")),
    path("scim/v2/", include("tandem.api.scim_urls")),
]


@public
def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The one answer for "missing" and "not allowed": problem details (RFC 9457) under
    /api/v1/, the page everywhere else."""
    if request.path.startswith("/api/v1/"):
        return not_found_response()
    return core_views.not_found(request, exception)


handler404 = "tandem.urls.not_found"
handler403 = "tandem.urls.not_found"
