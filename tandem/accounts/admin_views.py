"""The administrator's screens: accounts of their own agency, nothing of program content."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from tandem.accounts import mfa, services
from tandem.accounts.access import get_account_for_user, require_administrator
from tandem.accounts.forms import AccountCreateForm, CredentialResetForm, RoleForm, SsoLinkForm
from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.accounts.models import User
from tandem.accounts.oidc import IdentityLink, external_identity_link, external_identity_unlink
from tandem.accounts.selectors import (
    STATUSES,
    accounts_for_agency,
    pending_role_requests_for,
    single_sign_on_for,
)
from tandem.agencies.models import PROGRAM_ROLES, Role
from tandem.core.db_router import reads_from_replica
from tandem.core.forms import form_errors
from tandem.core.keyset import keyset_page, parse_cursor

PAGE_SIZE = 50


def _titles(user: Any) -> dict[str, str]:
    return {role.value: user.agency.title_for(role.value) for role in Role}


@require_GET
@reads_from_replica
def user_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    admin: Any = request.user
    require_administrator(admin)
    text, status = request.GET.get("q", ""), request.GET.get("status", "")
    titles = _titles(admin)
    page = keyset_page(
        accounts_for_agency(admin.agency_id, text=text, status=status),
        order=("username", "pk"),
        size=PAGE_SIZE,
        after=parse_cursor(request.GET.get("after")),
        before=parse_cursor(request.GET.get("before")),
    )
    rows = [(account, [titles[a.role] for a in account.role_assignments.all()]) for account in page]
    context = {
        "page": page,
        "rows": rows,
        "q": text,
        "status": status,
        "statuses": [(key, label) for key, (label, _) in STATUSES.items()],
    }
    return render(request, "accounts/user_list.html", context)


@sensitive_post_parameters("password1", "password2")
@require_http_methods(["GET", "POST"])
def user_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    admin: Any = request.user
    require_administrator(admin)
    form = AccountCreateForm(request.POST or None, agency=admin.agency)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            account = services.user_create(
                acting_user=admin,
                agency_id=admin.agency_id,
                username=data["username"],
                password=data["password1"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                phone=data["phone"],
                member=data["member"],
                roles=data["roles"],
                request=request,
            )
        except ValidationError as error:
            form_errors(form, error)
        else:
            messages.success(
                request,
                f"Account {account.username} created. At their first "
                "sign-in they set up their authenticator app.",
            )
            return redirect("accounts:user_detail", pk=account.pk)
    return render(request, "accounts/user_create.html", {"form": form})


def _detail(
    request: AuthenticatedHttpRequest,
    account: User,
    *,
    password_form: Any = None,
    sso_form: SsoLinkForm | None = None,
    status: int = 200,
) -> HttpResponse:
    admin: Any = request.user
    titles = _titles(admin)
    sso = single_sign_on_for(account)
    if sso is not None and sso_form is None:
        sso_form = SsoLinkForm(
            claim=sso.provider.subject_claim,
            initial={"subject": sso.identity.subject if sso.identity else ""},
        )
    held = sorted(
        a.role for a in account.role_assignments.all() if a.agency_id == account.agency_id
    )
    context = {
        "account": account,
        "roles": [(role, titles[role]) for role in held],
        "pending": [(r, titles[r.role]) for r in pending_role_requests_for(account)],
        "role_form": RoleForm(agency=admin.agency),
        "password_form": password_form or CredentialResetForm(user=account),
        "mfa_enrolled": mfa.has_app_device(account),
        "codes_left": mfa.backup_codes_left(account),
        "is_self": account.pk == admin.pk,
        "sso": sso,
        "sso_form": sso_form,
    }
    return render(request, "accounts/user_detail.html", context, status=status)


@require_GET
def user_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _detail(request, get_account_for_user(request.user, pk))


def _act(request: AuthenticatedHttpRequest, pk: int, action: Callable[[User], str]) -> HttpResponse:
    """Run one administrator action on account ``pk`` and go back to its page."""
    account = get_account_for_user(request.user, pk)
    try:
        messages.success(request, action(account))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    return redirect("accounts:user_detail", pk=account.pk)


@require_POST
def user_role_grant(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    admin: Any = request.user
    form = RoleForm(request.POST, agency=admin.agency)

    def grant(account: User) -> str:
        if not form.is_valid():
            raise ValidationError("Choose a role from the list.")
        role = form.cleaned_data["role"]
        title = admin.agency.title_for(role)
        if role in PROGRAM_ROLES:
            services.role_grant_propose(acting_user=admin, user=account, role=role, request=request)
            return (
                f"{title} proposed for {account.username}. It takes effect when the chief "
                "or a current holder of the role approves it."
            )
        services.role_grant(acting_user=admin, user=account, role=role, request=request)
        return f"{account.username} now holds the role {title}."

    return _act(request, pk, grant)


@require_POST
def user_role_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    admin: Any = request.user
    role = request.POST.get("role", "")

    def revoke(account: User) -> str:
        if role not in Role.values:
            raise ValidationError("Choose a role from the list.")
        services.role_revoke(acting_user=admin, user=account, role=role, request=request)
        return f"{account.username} no longer holds the role {admin.agency.title_for(role)}."

    return _act(request, pk, revoke)


def _account_action(
    service: Callable[..., Any], message: Callable[[User, Any], str]
) -> Callable[[AuthenticatedHttpRequest, int], HttpResponse]:
    """A POST-only view that runs ``service`` on the account and says ``message`` of it."""

    @require_POST
    def view(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
        def act(account: User) -> str:
            result = service(acting_user=request.user, user=account, request=request)
            return message(account, result)

        return _act(request, pk, act)

    return view


user_unlock = _account_action(
    services.user_unlock,
    lambda account, _: f"{account.username} is released and can sign in again.",
)
user_reset_mfa = _account_action(
    services.user_reset_mfa,
    lambda account, _: (
        f"The authenticator app and backup codes of {account.username} are removed; "
        "they set up a new app at their next sign-in and were told. Program roles "
        "they held wait for a second person's approval."
    ),
)
user_deactivate = _account_action(
    services.user_deactivate,
    lambda account, ended: f"{account.username} is deactivated; {ended} open session(s) ended.",
)
user_reactivate = _account_action(
    services.user_reactivate, lambda account, _: f"{account.username} is active again."
)


@sensitive_post_parameters("password1", "password2")
@require_POST
def user_password(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Reset the sign-in: a temporary password (and optionally the authenticator)."""
    account = get_account_for_user(request.user, pk)
    form = CredentialResetForm(request.POST, user=account)
    if form.is_valid():
        try:
            services.user_credentials_reset(
                acting_user=request.user,
                user=account,
                password=form.cleaned_data["password1"],
                authenticator=form.cleaned_data["authenticator"],
                request=request,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(
                request,
                f"The sign-in of {account.username} is reset: their open "
                "sessions ended and they were told. Give them the temporary "
                "password in person or by phone; they choose their own at the "
                "next sign-in. Program roles they held wait for a second "
                "person's approval.",
            )
            return redirect("accounts:user_detail", pk=account.pk)
    return _detail(request, account, password_form=form, status=400)


def _linked_message(account: User, link: IdentityLink, titles: dict[str, str]) -> str:
    if not link.changed:
        return f"{account.username} already signs in with that subject; nothing changed."
    text = f"{account.username} now signs in with single sign-on as {link.identity.subject}."
    if link.reset:
        text += (
            " This counts as a reset of their sign-in: "
            f"{link.sessions_ended} open session(s) ended and they were told."
        )
        if link.roles_suspended:
            held = ", ".join(titles[role] for role in link.roles_suspended)
            text += f" Their program roles ({held}) wait for a second person's approval."
    return text


@require_POST
def user_sso_link(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Set or change the subject an account signs in as at the agency's identity provider."""
    account = get_account_for_user(request.user, pk)
    sso = single_sign_on_for(account)
    form = SsoLinkForm(request.POST, claim=sso.provider.subject_claim if sso else "sub")
    if form.is_valid():
        try:
            link = external_identity_link(
                acting_user=request.user,
                user=account,
                subject=form.cleaned_data["subject"],
                request=request,
            )
        except ValidationError as error:
            form_errors(form, error)
        else:
            messages.success(request, _linked_message(account, link, _titles(request.user)))
            return redirect("accounts:user_detail", pk=account.pk)
    return _detail(request, account, sso_form=form, status=400)


@require_POST
def user_sso_unlink(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    def unlink(account: User) -> str:
        ended = external_identity_unlink(acting_user=request.user, user=account, request=request)
        text = (
            f"{account.username} no longer signs in with single sign-on; {ended} open "
            "session(s) ended and they were told."
        )
        if not account.has_usable_password():
            text += (
                " They have no Tandem password: reset their sign-in below to give them a "
                "temporary one, or link them again."
            )
        return text

    return _act(request, pk, unlink)
