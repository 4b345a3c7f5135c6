from django.urls import path

from tandem.readiness import views

app_name = "readiness"
urlpatterns = [
    path("", views.home, name="home"),
    path("team/", views.team, name="team"),
    path("team/review/", views.policy_review, name="policy_review"),
    path("team/<int:pk>/", views.person, name="person"),
    path("team/<int:pk>/credential/", views.person_credential, name="person_credential"),
    path("team/<int:pk>/checks/", views.check_add, name="check_add"),
    path("team/<int:pk>/statement/", views.statement, name="statement"),
    path("team/<int:pk>/statement.pdf", views.statement_pdf, name="statement_pdf"),
    path("team/<int:pk>/designate/", views.designate, name="designate"),
    path("vacancies/<int:pk>/close/", views.vacancy_close, name="vacancy_close"),
    path("designations/<int:pk>/remove/", views.designation_remove, name="designation_remove"),
    path("vacancies/", views.vacancies, name="vacancies"),
    path("vacancies/new/", views.vacancy_create, name="vacancy_create"),
    path("vacancies/<int:pk>/apply/", views.apply, name="apply"),
    path("applications/", views.applications, name="applications"),
    path("applications/<int:pk>/", views.application, name="application"),
    path(
        "applications/<int:pk>/interview/",
        views.application_interview,
        name="application_interview",
    ),
    path("applications/<int:pk>/decide/", views.application_decide, name="application_decide"),
    path(
        "applications/<int:pk>/withdraw/", views.application_withdraw, name="application_withdraw"
    ),
    path("sessions/", views.sessions, name="sessions"),
    path("sessions/<int:pk>/", views.session, name="session"),
    path("sessions/<int:pk>/enrol/", views.session_enrol, name="session_enrol"),
    path("agreements/", views.agreements, name="agreements"),
    path("agreements/<int:pk>/sign/", views.agreement_sign, name="agreement_sign"),
    path("hours/", views.time_entries, name="time_entries"),
    path("hours/<int:pk>/delete/", views.time_entry_delete, name="time_entry_delete"),
    path("hours/export/", views.time_export, name="time_export"),
    path("certification/", views.certification, name="certification"),
    path("certification/hours/<int:pk>/sign-off/", views.hours_sign_off, name="hours_sign_off"),
    path("calendar/", views.feed_issue, name="feed_issue"),
    path("calendar/<str:token>.ics", views.feed, name="feed"),
]
