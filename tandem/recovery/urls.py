from django.urls import path

from tandem.agencies.access import program_only
from tandem.agencies.models import PEER_RECOVERY
from tandem.recovery import views

app_name = "recovery"
urlpatterns = [
    path("caseload/", views.caseload, name="caseload"),
    path("clients/", views.client_list, name="client_list"),
    path("clients/new/", views.client_create, name="client_create"),
    path("clients/duplicates/", views.client_duplicates, name="client_duplicates"),
    path("deconflict/", views.deconflict, name="deconflict"),
    path("deconflict/scan/", views.deconflict_scan, name="deconflict_scan"),
    path("deconflict/pairs/<int:pk>/", views.candidate_detail, name="candidate_detail"),
    path(
        "deconflict/pairs/<int:pk>/not-same/", views.candidate_not_same, name="candidate_not_same"
    ),
    path("deconflict/pairs/<int:pk>/merge/", views.candidate_merge, name="candidate_merge"),
    path("merges/<int:pk>/undo/", views.merge_undo, name="merge_undo"),
    path("import/", views.import_start, name="import_start"),
    path("import/<int:pk>/", views.import_detail, name="import_detail"),
    path("import/<int:pk>/commit/", views.import_commit, name="import_commit"),
    path("clients/<int:pk>/settle/", views.conflict_settle, name="conflict_settle"),
    path("clients/<int:pk>/", views.client_detail, name="client_detail"),
    path("clients/<int:pk>/edit/", views.client_edit, name="client_edit"),
    path("clients/<int:pk>/photo/", views.client_photo, name="client_photo"),
    path("clients/<int:pk>/flags/", views.client_flags, name="client_flags"),
    path("clients/<int:pk>/contacts/new/", views.contact_create, name="contact_create"),
    path("clients/<int:pk>/patrol-call/", views.patrol_call, name="patrol_call"),
    path("evaluation/personnel/", views.personnel_evaluation, name="personnel_evaluation"),
    path(
        "evaluation/personnel/<int:person>/write/",
        views.personnel_evaluation_write,
        name="personnel_evaluation_write",
    ),
    path("evaluation/mine/", views.my_evaluations, name="my_evaluations"),
    path(
        "evaluation/<int:pk>/acknowledge/",
        views.personnel_evaluation_acknowledge,
        name="personnel_evaluation_acknowledge",
    ),
    path(
        "evaluation/<int:pk>/pdf/", views.personnel_evaluation_pdf, name="personnel_evaluation_pdf"
    ),
    path("contacts/<int:pk>/", views.contact_edit, name="contact_edit"),
    path("clients/<int:pk>/stage/", views.stage_create, name="stage_create"),
    path("clients/<int:pk>/goals/", views.goal_create, name="goal_create"),
    path("goals/<int:pk>/status/", views.goal_status, name="goal_status"),
    path("visits/", views.planned_list, name="planned_list"),
    path("visits/new/", views.planned_create, name="planned_create"),
    path("visits/calendar-link/", views.feed_issue, name="feed_issue"),
    path("visits/feed/<str:token>.ics", views.feed, name="feed"),
    path("visits/<int:pk>/", views.planned_detail, name="planned_detail"),
    path("visits/<int:pk>/assess/", views.planned_assess, name="planned_assess"),
    path("visits/<int:pk>/start/", views.planned_start, name="planned_start"),
    path("visits/<int:pk>/cancel/", views.planned_cancel, name="planned_cancel"),
    path("resources/", views.resource_list, name="resource_list"),
    path("resources/new/", views.resource_create, name="resource_create"),
    path("resources/<int:pk>/", views.resource_edit, name="resource_edit"),
    path("clients/<int:pk>/referrals/new/", views.referral_create, name="referral_create"),
    path("referrals/<int:pk>/", views.referral_detail, name="referral_detail"),
    path("referrals/<int:pk>/step/", views.referral_advance, name="referral_advance"),
    path("clients/<int:pk>/consents/new/", views.consent_create, name="consent_create"),
    path("consents/<int:pk>/", views.consent_detail, name="consent_detail"),
    path("consents/<int:pk>/revoke/", views.consent_revoke, name="consent_revoke"),
    path("consents/<int:pk>/event/", views.consent_event, name="consent_event"),
    path("clients/<int:pk>/disclosures/new/", views.disclosure_create, name="disclosure_create"),
    path("disclosures/<int:pk>/", views.disclosure_detail, name="disclosure_detail"),
    path("clients/<int:pk>/disclosures/", views.accounting, name="accounting"),
    path("clients/<int:pk>/disclosures.pdf", views.accounting_pdf, name="accounting_pdf"),
    path("clients/<int:pk>/cji/", views.cji, name="cji"),
    path("clients/<int:pk>/cji/entries/", views.cji_entry_create, name="cji_entry_create"),
    path("clients/<int:pk>/cji/notes/", views.sworn_note_create, name="sworn_note_create"),
    path("overdoses/", views.overdose_list, name="overdose_list"),
    path("overdoses/odmap.csv", views.overdose_export, name="overdose_export"),
    path("naloxone/", views.naloxone_list, name="naloxone_list"),
    path("outreach/", views.outreach_list, name="outreach_list"),
    path("statements/", views.statement_list, name="statement_list"),
    path("statements/<int:pk>/decide/", views.statement_decide, name="statement_decide"),
]

# Every signed-in page here belongs to the peer recovery program: none opens where the
# agency does not run it (Agency.runs), whatever role the person holds there. The calendar
# feed carries no signed-in person: it checks its link's owner and agency itself.
for _pattern in urlpatterns:
    if not getattr(_pattern.callback, "tandem_public", False):
        _pattern.callback = program_only(PEER_RECOVERY)(_pattern.callback)
