from django.urls import path

from tandem.agencies import operator_views

app_name = "operator"
urlpatterns = [
    path("agencies/", operator_views.agency_list, name="agency_list"),
    path("agencies/new/", operator_views.agency_create, name="agency_create"),
]
