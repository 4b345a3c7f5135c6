from django.urls import path

from tandem.accounts import oidc

app_name = "sso"
urlpatterns = [
    path("callback/", oidc.sso_callback, name="callback"),
    path("find/", oidc.sso_find, name="find"),
    path("<slug:agency>/", oidc.sso_start, name="start"),
]
