"""Signing in (banner → password → second factor), signing out, and the account holder's
own screens (password, backup codes)."""

from __future__ import annotations

from typing import Any

import django_otp
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import update_session_auth_hash
from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render, resolve_url
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from tandem.accounts import mfa, selectors, services
from tandem.accounts.forms import (
    CodeForm,
    EnrolForm,
    PasswordChangeForm,
    ReauthForm,
    SignInForm,
)
from tandem.accounts.middleware import (
    SESSION_AUTH_AT,
    SESSION_BANNER_OK,
    SESSION_LAST_SEEN,
    is_fully_signed_in,
)
from tandem.accounts.models import User
from tandem.accounts.selectors import role_requests_to_decide
from tandem.accounts.sessions import remember_session, rotate_session
from tandem.core.decorators import public, signin_step

SESSION_NEXT = "tandem_next"
SESSION_NEW_CODES = "tandem_new_backup_codes"

#: At enrolment there are no backup codes yet, so the messages do not mention them.
ENROL_MESSAGES = {
    mfa.CodeProblem.WRONG: (
        "That code is not correct. Check that the app shows the account you just added, then "
        "enter the 6-digit code it shows now."
    ),
    mfa.CodeProblem.MALFORMED: "Enter the 6 digits your authenticator app shows.",
}


def signin_failed_message() -> str:
    return (
        "Sign-in failed: the username or password is not correct, or the account is locked or "
        f"disabled. After {settings.TANDEM_LOCKOUT_ATTEMPTS} failed attempts in a row an "
        "account is locked until an administrator releases it."
    )


def locked_now_message() -> str:
    return (
        f"Your account is now locked after {settings.TANDEM_LOCKOUT_ATTEMPTS} failed attempts "
        "in a row. Ask your Tandem administrator to release it."
    )


DEFAULT_USE_NOTICE = """\
You are about to use a restricted information system. It supports your agency's peer \
support and peer recovery programs and may hold Criminal Justice Information (CJI) and \
other information protected by law and agency policy.

Only authorized users may use this system, and only for the purposes of the program. \
Unauthorized use, or use beyond your authorization, is prohibited and may lead to \
disciplinary action and to criminal and civil penalties.

Use of this system is monitored, recorded and subject to audit. By continuing, you \
consent to this monitoring and recording, and you agree to keep what you see here \
confidential except as the law and agency policy allow."""


def use_notice() -> str:
    return str(getattr(settings, "TANDEM_USE_NOTICE", "") or DEFAULT_USE_NOTICE)


def _safe_next(request: HttpRequest, candidate: str | None) -> str | None:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return None


def _remember_next(request: HttpRequest) -> None:
    target = _safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if target:
        request.session[SESSION_NEXT] = target


def _stamp_session(request: HttpRequest) -> None:
    now = timezone.now().timestamp()
    request.session[SESSION_AUTH_AT] = now
    request.session[SESSION_LAST_SEEN] = now


def _abandon(request: HttpRequest, message: str) -> HttpResponse:
    auth.logout(request)
    messages.error(request, message)
    return redirect("accounts:login")


# --- Step 1: the use banner -------------------------------------------------------------------


@public
@never_cache
@require_http_methods(["GET", "POST"])
def banner(request: HttpRequest) -> HttpResponse:
    if is_fully_signed_in(request):
        return redirect(settings.LOGIN_REDIRECT_URL)
    _remember_next(request)
    if request.method == "POST":
        request.session[SESSION_BANNER_OK] = True
        return redirect("accounts:login")
    return render(request, "accounts/banner.html", {"notice": use_notice()})


# --- Step 2: username and password -------------------------------------------------------------


def _authenticate(request: HttpRequest, username: str, password: str) -> User | None:
    """The account, if the password is right and the account may sign in; else count it."""
    account = selectors.account_by_username(username)
    user: Any = auth.authenticate(request, username=username, password=password)
    # An account idle too long is disabled now, not only when the daily job next runs.
    if user is not None and user.is_service_account:
        user = None  # an API client's account never signs in interactively
    if (
        user is not None
        and not user.is_locked
        and not services.user_disable_if_inactive(user=user, request=request)
    ):
        return user  # type: ignore[no-any-return]
    reason = "locked" if user is not None else "bad_password"
    services.signin_failed(user=account, stage="password", reason=reason, request=request)
    return None


@public
@never_cache
@sensitive_post_parameters("password")
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    if is_fully_signed_in(request):
        return redirect(settings.LOGIN_REDIRECT_URL)
    if request.user.is_authenticated:
        return redirect("accounts:mfa")
    _remember_next(request)
    from tandem.accounts.oidc import provider_origins, remember_agency, signin_providers

    remember_agency(request)
    if not request.session.get(SESSION_BANNER_OK):
        return redirect("accounts:banner")
    form = SignInForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = _authenticate(request, form.cleaned_data["username"], form.cleaned_data["password"])
        if user is not None:
            auth.login(request, user)  # new session key; banner flag carried over
            _stamp_session(request)
            return redirect("accounts:mfa")
        form.add_error(None, signin_failed_message())
    from tandem.api.forms import SsoFindForm
    from tandem.core.demo import signin_listing  # demo mode only; empty otherwise

    sso = signin_providers(request)
    response = render(
        request,
        "accounts/login.html",
        {"form": form, "demo_agencies": signin_listing(), "sso_form": SsoFindForm(), **sso},
    )
    if sso["sso_find"]:
        # The address form's redirects lead to the agency's provider.
        response._csp_update = {"form-action": provider_origins()}  # type: ignore[attr-defined]
    return response


# --- Step 3: second factor ------------------------------------------------------------------


def _finish(request: HttpRequest, device: Any, method: str) -> None:
    user: Any = request.user
    django_otp.login(request, device)
    rotate_session(request)
    _stamp_session(request)
    services.signin_succeeded(user=user, method=method, request=request)


def _next_url(request: HttpRequest) -> str:
    target = _safe_next(request, request.session.pop(SESSION_NEXT, None))
    return target or resolve_url(settings.LOGIN_REDIRECT_URL)


def _failed_code(
    request: HttpRequest, form: BaseForm, problem: mfa.CodeProblem, stage: str
) -> HttpResponse | None:
    """Say why the code was refused; count it unless it was never checked."""
    messages_for = ENROL_MESSAGES if stage == "enrolment" else {}
    message = messages_for.get(problem, mfa.PROBLEM_MESSAGES[problem])
    if problem not in (mfa.CodeProblem.THROTTLED, mfa.CodeProblem.MALFORMED):
        user: Any = request.user
        if services.signin_failed(user=user, stage=stage, reason=problem.value, request=request):
            return _abandon(request, locked_now_message())
    form.add_error("code", message)
    return None


def _signin_step_problem(request: HttpRequest) -> HttpResponse | None:
    """Where a second-factor step sends someone who should not be on it: home once fully
    signed in, back to the start when the first steps no longer hold."""
    if is_fully_signed_in(request):
        return redirect(settings.LOGIN_REDIRECT_URL)
    return _half_signed_in_problem(request)


def _half_signed_in_problem(request: HttpRequest) -> HttpResponse | None:
    user: Any = request.user
    if (
        not request.session.get(SESSION_BANNER_OK)
        or user.is_locked
        or not user.is_active
        or user.is_service_account
    ):
        return _abandon(request, signin_failed_message())
    return None


@signin_step
@never_cache
@require_http_methods(["GET", "POST"])
def mfa_verify(request: HttpRequest) -> HttpResponse:
    stop = _signin_step_problem(request)
    if stop:
        return stop
    user: Any = request.user
    if not mfa.has_app_device(user):
        return redirect("accounts:mfa_enrol")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = mfa.check_code(user, form.cleaned_data["code"])
        if result.device is not None:
            _finish(request, result.device, result.method)
            if result.method == "backup_code":
                left = mfa.backup_codes_left(user)
                messages.warning(request, f"You used a backup code. {left} backup codes left.")
            return redirect(_next_url(request))
        problem = result.problem or mfa.CodeProblem.WRONG
        stop = _failed_code(request, form, problem, "mfa")
        if stop:
            return stop
    return render(request, "accounts/mfa.html", {"form": form, "issuer": settings.OTP_TOTP_ISSUER})


@signin_step
@never_cache
@require_http_methods(["GET", "POST"])
def mfa_enrol(request: HttpRequest) -> HttpResponse:
    stop = _signin_step_problem(request)
    if stop:
        return stop
    user: Any = request.user
    if mfa.has_app_device(user):
        return redirect("accounts:mfa")
    device = mfa.enrolment_device(user)
    form = EnrolForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = mfa.check_totp(device, form.cleaned_data["code"])
        if result.device is not None:
            confirmed = result.device
            codes = services.mfa_enrolment_confirm(user=user, device=confirmed, request=request)
            _finish(request, confirmed, "enrolment")
            request.session[SESSION_NEW_CODES] = codes
            return redirect("accounts:backup_codes")
        problem = result.problem or mfa.CodeProblem.WRONG
        stop = _failed_code(request, form, problem, "enrolment")
        if stop:
            return stop
    context = {
        "form": form,
        "qr": mfa.qr_data_uri(device),
        "secret": mfa.secret_text(device),
        "issuer": settings.OTP_TOTP_ISSUER,
    }
    return render(request, "accounts/mfa_enrol.html", context)


# --- Signing out ----------------------------------------------------------------------------


@public
@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if user.is_authenticated:
        services.signout_record(user=user, request=request)
    auth.logout(request)
    messages.success(request, "You are signed out.")
    return redirect("accounts:login")


# --- The account holder's own screens -----------------------------------------------------------


def _signed_in_recently(request: HttpRequest) -> bool:
    """Whether this session passed password and second factor within the re-authentication
    window (``TANDEM_REAUTH_SECONDS``, counted from the session's coarse sign-in time)."""
    auth_at = request.session.get(SESSION_AUTH_AT)
    if auth_at is None:
        return False
    return timezone.now().timestamp() - float(auth_at) <= settings.TANDEM_REAUTH_SECONDS


@never_cache
@sensitive_post_parameters("password", "code")
@require_http_methods(["GET", "POST"])
def backup_codes(request: HttpRequest) -> HttpResponse:
    """New codes are shown exactly once, straight after they were made. Making them needs a
    fresh sign-in, or the password and the app's current code again."""
    user: Any = request.user
    form = None if _signed_in_recently(request) else ReauthForm(request.POST or None, user=user)
    if request.method == "POST":
        if form is None or form.is_valid():
            how = "recent_sign_in" if form is None else "password_and_code"
            codes = services.backup_codes_regenerate(
                acting_user=user, reauthenticated=how, request=request
            )
            request.session[SESSION_NEW_CODES] = codes
            return redirect("accounts:backup_codes")
        if form.failure and services.signin_failed(
            user=user, stage="reauthentication", reason=form.failure, request=request
        ):
            return _abandon(request, locked_now_message())
    codes = request.session.pop(SESSION_NEW_CODES, None) or []
    context = {
        "codes": [mfa.format_code(c) for c in codes],
        "left": mfa.backup_codes_left(user),
        "next_url": _next_url(request),
        "form": form,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "accounts/backup_codes.html", context, status=status)


@require_http_methods(["GET"])
def account(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    roles = [user.agency.title_for(r) for r in sorted(user.role_set())] if user.agency else []
    context = {
        "roles": roles,
        "codes_left": mfa.backup_codes_left(user),
        "to_decide": len(role_requests_to_decide(user)),
    }
    return render(request, "accounts/account.html", context)


@never_cache
@sensitive_post_parameters("current_password", "password1", "password2")
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = PasswordChangeForm(request.POST or None, user=user)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_change_password(
                acting_user=user, password=form.cleaned_data["password1"], request=request
            )
        except ValidationError as error:
            form.add_error("password1", error)
        else:
            update_session_auth_hash(request, user)  # keeps this session, ends the others
            remember_session(user, request.session.session_key)
            messages.success(request, "Your password is changed.")
            return redirect("accounts:account")
    return render(request, "accounts/password_change.html", {"form": form})
