from collections.abc import Callable
from typing import Any, cast

from django.http.response import HttpResponseBase
from django.urls import path

from tandem.api import admin_views, docs_views, sso_views, views
from tandem.core.decorators import public

app_name = "api"


def _api(view: Any) -> Callable[..., HttpResponseBase]:
    # Token-authenticated: the session sign-in does not apply; the view refuses without one.
    return public(cast(Callable[..., HttpResponseBase], view.as_view()))


urlpatterns = [
    path("schema/", docs_views.schema, name="schema"),
    path("reference/", docs_views.reference, name="reference"),
    path("clients/", admin_views.client_list, name="client_list"),
    path("clients/new/", admin_views.client_create, name="client_create"),
    path("clients/<int:pk>/approve/", admin_views.client_approve, name="client_approve"),
    path("clients/<int:pk>/tokens/", admin_views.token_issue, name="token_issue"),
    path("clients/<int:pk>/revoke/", admin_views.client_revoke, name="client_revoke"),
    path("tokens/<int:pk>/revoke/", admin_views.token_revoke, name="token_revoke"),
    path("sign-in/", sso_views.sso_settings, name="sso_settings"),
    path("sign-in/test/", sso_views.sso_test, name="sso_test"),
    path("v1/units/", _api(views.UnitList), name="units"),
    path("v1/members/", _api(views.MemberList), name="members"),
    path("v1/members/<int:pk>/", _api(views.MemberDetail), name="member"),
    path("v1/roster/", _api(views.RosterList), name="roster"),
    path("v1/on-call/", _api(views.OnCallNow), name="on_call"),
    path("v1/dispatch-requests/", _api(views.DispatchRequest), name="dispatch_request"),
    path("v1/dispatch-requests/receipt/", _api(views.DispatchReceipt), name="dispatch_receipt"),
    path("v1/readiness/", _api(views.ReadinessList), name="readiness"),
    path("v1/recovery/clients/", _api(views.ClientList), name="clients"),
    path("v1/recovery/clients/<int:pk>/", _api(views.ClientDetail), name="client"),
    path("v1/recovery/clients/<int:pk>/contacts/", _api(views.ContactList), name="contacts"),
    path(
        "v1/recovery/clients/<int:pk>/referrals/",
        _api(views.ClientReferralCreate),
        name="client_referrals",
    ),
    path(
        "v1/recovery/clients/<int:pk>/disclosures/",
        _api(views.ClientDisclosureCreate),
        name="client_disclosures",
    ),
    path("v1/recovery/visits/", _api(views.VisitList), name="visits"),
    path("v1/recovery/resources/", _api(views.ResourceList), name="resources"),
    path("v1/recovery/referrals/", _api(views.ReferralList), name="referrals"),
    path("v1/recovery/referrals/<int:pk>/", _api(views.ReferralDetail), name="referral"),
    path("v1/reports/", _api(views.ReportRunList), name="reports"),
    path("v1/reports/<int:pk>/", _api(views.ReportRunDetail), name="report"),
]
