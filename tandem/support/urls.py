from django.urls import path

from tandem.agencies.access import program_only
from tandem.agencies.models import PEER_SUPPORT
from tandem.support import breach_views, contact_views, views

app_name = "support"
urlpatterns = [
    path("roster/", views.directory, name="directory"),
    path("roster/<int:pk>/photo/", views.photo, name="photo"),
    path("roster/poster/", views.poster, name="poster"),
    path("roster/poster.pdf", views.poster_pdf, name="poster_pdf"),
    path("on-behalf/", views.on_behalf_new, name="on_behalf_new"),
    path("on-behalf/receipt/", views.receipt, name="receipt"),
    path("on-call/", views.on_call_now, name="on_call_now"),
    path("work/", views.workspace, name="workspace"),
    path("work/profile/", views.profile_edit, name="profile_edit"),
    path("work/availability/", views.availability, name="availability"),
    path("work/calendar/", views.feed_manage, name="feed_manage"),
    path("work/reminders/<int:pk>/done/", views.reminder_done, name="reminder_done"),
    path("requests/<uuid:pk>/", views.request_detail, name="request_detail"),
    path("requests/<uuid:pk>/accept/", views.request_accept, name="request_accept"),
    path("requests/<uuid:pk>/recuse/", views.request_recuse, name="request_recuse"),
    path("requests/<uuid:pk>/contact/", views.request_contact, name="request_contact"),
    path("requests/<uuid:pk>/close/", views.request_close, name="request_close"),
    path("queue/", views.queue, name="queue"),
    path("schedule/", views.schedule, name="schedule"),
    path("schedule/rotations/new/", views.rotation_edit, name="rotation_new"),
    path("schedule/rotations/<int:pk>/", views.rotation_edit, name="rotation_edit"),
    path("schedule/covers/new/", views.override_new, name="override_new"),
    path("schedule/covers/<int:pk>/delete/", views.override_delete, name="override_delete"),
    path("schedule/coverage/", views.coverage, name="coverage"),
    path("intake-link/", views.intake_admin, name="intake_admin"),
    path("intake/status/", views.help_status, name="help_status"),
    path("intake/<str:token>/", views.intake, name="intake"),
    path("calendar/<str:token>.ics", views.feed, name="feed"),
    path("confidentiality/notices/new/", views.duty_new, name="duty_new"),
    path("confidentiality/notices/", views.duty_list, name="duty_list"),
    path("confidentiality/notices/<int:pk>/", views.duty_detail, name="duty_detail"),
    path(
        "confidentiality/notices/<int:pk>/acknowledge/",
        views.duty_acknowledge,
        name="duty_acknowledge",
    ),
    path("confidentiality/ask/", views.consult_new, name="consult_new"),
    path("confidentiality/questions/", views.consult_list, name="consult_list"),
    path("confidentiality/breach/", views.breach_new, name="breach_new"),
    path("activate/", contact_views.coordinator_contact, name="coordinator_contact"),
    path("confidentiality/breaches/", breach_views.breach_list, name="breach_list"),
    path(
        "confidentiality/breaches/<int:pk>/acknowledge/",
        breach_views.breach_acknowledge,
        name="breach_acknowledge",
    ),
    path("incidents/", views.incident_list, name="incident_list"),
    path("incidents/<int:pk>/", views.incident_detail, name="incident_detail"),
    path("mutual-aid/", views.mutual_aid, name="mutual_aid"),
]

# Every signed-in page here belongs to the peer support program: none opens where the agency
# does not run it (Agency.runs), whatever role the person holds there. The secret-link pages
# (intake, calendar feed) carry no signed-in person; they stay as their links allow.
for _pattern in urlpatterns:
    if not getattr(_pattern.callback, "tandem_public", False):
        _pattern.callback = program_only(PEER_SUPPORT)(_pattern.callback)
