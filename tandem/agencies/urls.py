from django.urls import path

from tandem.agencies import views

app_name = "agencies"
urlpatterns = [
    path("policy/", views.policy, name="policy"),
    path("logo/", views.logo, name="logo"),
    path("units/", views.unit_list, name="unit_list"),
    path("units/new/", views.unit_create, name="unit_create"),
    path("units/<int:pk>/", views.unit_edit, name="unit_edit"),
    path("members/", views.member_list, name="member_list"),
    path("members/new/", views.member_create, name="member_create"),
    path("members/<int:pk>/", views.member_edit, name="member_edit"),
    path("roster/import/", views.roster_import, name="roster_import"),
]
