from django.urls import include, path

urlpatterns = [
    path("", include("tandem.core.urls")),
    path("accounts/", include("tandem.accounts.urls")),
    path("agency/", include("tandem.agencies.urls")),
    path("audit/", include("tandem.audit.urls")),
]

handler404 = "tandem.core.views.not_found"
handler403 = "tandem.core.views.not_found"
