from django.urls import path

from tandem.accounts import admin_views, role_views, setup_views, views

app_name = "accounts"
urlpatterns = [
    # Signing in and out
    path("notice/", views.banner, name="banner"),
    path("login/", views.login, name="login"),
    path("mfa/", views.mfa_verify, name="mfa"),
    path("mfa/enrol/", views.mfa_enrol, name="mfa_enrol"),
    path("logout/", views.logout, name="logout"),
    path("setup/<str:uidb64>/<str:token>/", setup_views.setup, name="setup"),
    # The account holder's own screens
    path("me/", views.account, name="account"),
    path("me/password/", views.password_change, name="password_change"),
    path("me/backup-codes/", views.backup_codes, name="backup_codes"),
    # Program roles awaiting a second person's decision
    path("roles/", role_views.role_requests, name="role_requests"),
    path("roles/<int:pk>/approve/", role_views.role_request_approve, name="role_request_approve"),
    path("roles/<int:pk>/decline/", role_views.role_request_decline, name="role_request_decline"),
    # Administrator screens
    path("users/", admin_views.user_list, name="user_list"),
    path("users/new/", admin_views.user_create, name="user_create"),
    path("users/<int:pk>/", admin_views.user_detail, name="user_detail"),
    path("users/<int:pk>/roles/grant/", admin_views.user_role_grant, name="user_role_grant"),
    path("users/<int:pk>/roles/revoke/", admin_views.user_role_revoke, name="user_role_revoke"),
    path("users/<int:pk>/unlock/", admin_views.user_unlock, name="user_unlock"),
    path("users/<int:pk>/reset-mfa/", admin_views.user_reset_mfa, name="user_reset_mfa"),
    path("users/<int:pk>/deactivate/", admin_views.user_deactivate, name="user_deactivate"),
    path("users/<int:pk>/reactivate/", admin_views.user_reactivate, name="user_reactivate"),
    path("users/<int:pk>/password/", admin_views.user_password, name="user_password"),
    path("users/<int:pk>/sso/link/", admin_views.user_sso_link, name="user_sso_link"),
    path("users/<int:pk>/sso/unlink/", admin_views.user_sso_unlink, name="user_sso_unlink"),
]
