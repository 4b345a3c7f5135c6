from django.urls import include, path

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

handler404 = "tandem.core.views.not_found"
handler403 = "tandem.core.views.not_found"
