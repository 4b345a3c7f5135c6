from collections.abc import Callable
from typing import Any, cast

from django.http.response import HttpResponseBase
from django.urls import path

from tandem.api import scim
from tandem.core.decorators import public

app_name = "scim"


def _scim(view: Any) -> Callable[..., HttpResponseBase]:
    return public(cast(Callable[..., HttpResponseBase], view.as_view()))


urlpatterns = [
    path("ServiceProviderConfig", _scim(scim.ServiceProviderConfig), name="config"),
    path("Users", _scim(scim.Users), name="users"),
    path("Users/<int:pk>", _scim(scim.UserDetail), name="user"),
    path("Groups", _scim(scim.Groups), name="groups"),
    path("Groups/<str:role>", _scim(scim.GroupDetail), name="group"),
]
