"""Account actions. Each one is atomic and writes its audit event in the same transaction.

``acting_user`` is the administrator doing it, or ``None`` for the system (scheduled jobs,
the console). Passwords and codes never reach the audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models.functions import Coalesce, Greatest
from django.http import HttpRequest
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts import mfa
from tandem.accounts.models import (
    RoleAssignment,
    RoleRequest,
    RoleRequestReason,
    RoleRequestStatus,
    User,
    role_deciders,
)
from tandem.accounts.sessions import end_sessions
from tandem.agencies.access import require_actor_role
from tandem.agencies.models import PROGRAM_ROLES, Member, Role
from tandem.audit.services import audit_record
from tandem.core.notifications import notify


def _check_admin(acting_user: User | None, user: User) -> None:
    """Account administration is reached from the screens, SCIM and commands (which act
    with no user): the service checks its actor itself."""
    if acting_user is not None:
        require_actor_role(acting_user, Role.ADMINISTRATOR, agency_id=user.agency_id)
        if user.is_service_account:  # managed on the API clients screen only
            raise PermissionDenied


def _locked_row(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


# --- Sign-in -------------------------------------------------------------------------------


@transaction.atomic
def signin_failed(
    *, user: User | None, stage: str, reason: str, request: HttpRequest | None = None
) -> bool:
    """Count a failed attempt (password or second factor). Returns True when the account is
    locked now. The 5th consecutive failure (``TANDEM_LOCKOUT_ATTEMPTS``) locks it."""
    if user is None:
        audit_record(
            action="signin.failed",
            outcome="failed",
            request=request,
            object_type="accounts.User",
            detail={"stage": stage, "reason": "unknown_account"},
        )
        return False
    row = _locked_row(user)
    detail: dict[str, Any] = {"stage": stage, "reason": reason}
    if row.locked_at is not None or not row.is_active:
        detail["reason"] = "locked" if row.locked_at is not None else "inactive"
        audit_record(
            action="signin.failed",
            actor=row,
            obj=row,
            outcome="denied",
            request=request,
            detail=detail,
        )
        user.locked_at = row.locked_at
        return row.locked_at is not None
    row.failed_attempts += 1
    locked = row.failed_attempts >= settings.TANDEM_LOCKOUT_ATTEMPTS
    fields = ["failed_attempts"]
    if locked:
        row.locked_at = timezone.now()
        fields.append("locked_at")
    row.save(update_fields=fields)
    detail["attempt"] = row.failed_attempts
    audit_record(
        action="signin.failed",
        actor=row,
        obj=row,
        outcome="failed",
        request=request,
        detail=detail,
    )
    if locked:
        audit_record(
            action="account.locked",
            actor=None,
            obj=row,
            request=request,
            detail={"failed_attempts": row.failed_attempts},
        )
    user.failed_attempts, user.locked_at = row.failed_attempts, row.locked_at
    return locked


@transaction.atomic
def signin_succeeded(*, user: User, method: str, request: HttpRequest | None = None) -> None:
    """Both factors passed: the failure count starts again from zero."""
    now = timezone.now()
    User.objects.filter(pk=user.pk).update(failed_attempts=0, last_login=now)
    user.failed_attempts, user.last_login = 0, now
    audit_record(
        action="signin.succeeded",
        actor=user,
        obj=user,
        request=request,
        detail={"method": method},
    )


@transaction.atomic
def mfa_enrolment_confirm(
    *, user: User, device: Any, request: HttpRequest | None = None
) -> list[str]:
    """The user proved their new app works: keep it, issue 10 backup codes."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    type(device).objects.filter(user=user, confirmed=False).delete()
    codes = mfa.new_backup_codes(user)
    audit_record(
        action="account.mfa_enrolled",
        actor=user,
        obj=user,
        request=request,
        detail={"backup_codes": len(codes)},
    )
    return codes


@transaction.atomic
def backup_codes_regenerate(
    *, acting_user: User, reauthenticated: str = "", request: HttpRequest | None = None
) -> list[str]:
    """A fresh set of backup codes. ``reauthenticated`` records how the screen made sure it
    was the account holder ("recent_sign_in" or "password_and_code")."""
    codes = mfa.new_backup_codes(acting_user)
    detail: dict[str, Any] = {"backup_codes": len(codes)}
    if reauthenticated:
        detail["reauthenticated"] = reauthenticated
    audit_record(
        action="account.backup_codes_generated",
        actor=acting_user,
        obj=acting_user,
        request=request,
        detail=detail,
    )
    return codes


@transaction.atomic
def signout_record(*, user: User, request: HttpRequest | None = None) -> None:
    audit_record(
        action="signout",
        actor=user,
        obj=user,
        request=request,
    )


# --- Passwords -----------------------------------------------------------------------------


@transaction.atomic
def user_change_password(
    *, acting_user: User, password: str, request: HttpRequest | None = None
) -> None:
    """The account holder chose a new password (they re-entered the current one). After an
    administrator's reset it must differ from the temporary one the administrator knows."""
    validate_password(password, user=acting_user)
    if acting_user.password_reset_required and acting_user.check_password(password):
        raise ValidationError("Choose a new password, not the temporary one you were given.")
    acting_user.set_password(password)
    acting_user.password_changed_at = timezone.now()
    acting_user.password_reset_required = False
    acting_user.save(update_fields=["password", "password_changed_at", "password_reset_required"])
    audit_record(
        action="account.password_changed",
        actor=acting_user,
        obj=acting_user,
        request=request,
    )


@transaction.atomic
def user_set_password(
    *, acting_user: User | None, user: User, password: str, request: HttpRequest | None = None
) -> int:
    """A new password for ``user``; their sessions end. From an administrator this is a
    credential reset (``user_credentials_reset``); from the system (``acting_user`` None:
    the demo loader, the console) it only sets the password."""
    if acting_user is not None:
        return user_credentials_reset(
            acting_user=acting_user, user=user, password=password, request=request
        )
    validate_password(password, user=user)
    user.set_password(password)
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password", "password_changed_at"])
    ended = end_sessions(user)
    audit_record(
        action="account.password_set",
        actor=acting_user,
        obj=user,
        request=request,
        detail={"sessions_ended": ended},
    )
    return ended


@transaction.atomic
def user_credentials_reset(
    *,
    acting_user: User,
    user: User,
    password: str | None = None,
    authenticator: bool = False,
    request: HttpRequest | None = None,
) -> int:
    """An administrator resets someone's sign-in: a temporary password and/or a new
    authenticator. Returns the number of sessions ended.

    The person must choose their own password (and enrol a new authenticator) at the next
    sign-in, is told by a content-free message, and every session of theirs ends. Program
    roles they held are suspended and proposed again, so they return only when a second
    person approves: whoever signs in with the reset credentials — the administrator
    included — holds no program power and sees no peer-support state.
    """
    _check_admin(acting_user, user)
    if password is None and not authenticator:
        raise ValidationError("Choose what to reset: the password, the authenticator or both.")
    if acting_user.pk == user.pk:
        raise ValidationError("Ask another administrator to reset your own sign-in.")
    fields = ["password_reset_required", "credentials_reset_at"]
    if password is not None:
        validate_password(password, user=user)
        user.set_password(password)
        user.password_changed_at = timezone.now()
        fields += ["password", "password_changed_at"]
    removed = mfa.delete_devices(user) if authenticator else 0
    user.password_reset_required = True
    user.credentials_reset_at = timezone.now()
    user.save(update_fields=fields)
    ended = end_sessions(user)
    suspended = _suspend_program_roles(acting_user=acting_user, user=user, request=request)
    notify(kind="account.signin_reset", recipient_user=user, agency=user.agency)
    audit_record(
        action="account.credentials_reset",
        actor=acting_user,
        obj=user,
        request=request,
        detail={
            "password": password is not None,
            "authenticator": authenticator,
            "devices_removed": removed,
            "sessions_ended": ended,
            "roles_suspended": suspended,
        },
    )
    return ended


@transaction.atomic
def user_signin_relinked(
    *, acting_user: User, user: User, request: HttpRequest | None = None
) -> tuple[int, list[str]]:
    """An administrator gave ``user`` another way in (a new or changed subject at the
    identity provider, see ``accounts.oidc.external_identity_link``): treated as a
    credential reset. Every session ends, program roles are suspended and proposed again
    (a second person restores them) and the person is told by a content-free message.
    Returns the sessions ended and the roles suspended; the caller audits the change."""
    _check_admin(acting_user, user)
    if acting_user.pk == user.pk:
        raise ValidationError("Ask another administrator to change your own sign-in.")
    ended = end_sessions(user)
    suspended = _suspend_program_roles(acting_user=acting_user, user=user, request=request)
    notify(kind="account.signin_reset", recipient_user=user, agency=user.agency)
    return ended, suspended


def _suspend_program_roles(
    *, acting_user: User, user: User, request: HttpRequest | None
) -> list[str]:
    agency_id = user.agency_id
    if agency_id is None:
        return []
    mine = RoleAssignment.objects.filter(user=user, agency_id=agency_id)
    held = sorted(set(mine.filter(role__in=PROGRAM_ROLES).values_list("role", flat=True)))
    if not held:
        return []
    mine.filter(role__in=held).delete()
    user.forget_roles()
    # Suspended roles stop counting at once: a suspended supporter leaves the roster now.
    _recompute_gate(user, acting_user, cause="role")
    for role in held:
        audit_record(
            action="role.suspended",
            actor=acting_user,
            obj=user,
            request=request,
            detail={"role": role, "reason": "credentials_reset"},
        )
        _propose(
            acting_user=acting_user,
            user=user,
            role=role,
            reason=RoleRequestReason.RESTORE,
            request=request,
        )
    return held


# --- Administration --------------------------------------------------------------------------


@transaction.atomic
def user_create(
    *,
    acting_user: User | None,
    agency_id: int,
    username: str,
    password: str,
    first_name: str = "",
    last_name: str = "",
    email: str = "",
    phone: str = "",
    member: Member | None = None,
    roles: Iterable[str] = (),
    request: HttpRequest | None = None,
) -> User:
    if acting_user is not None:
        require_actor_role(acting_user, Role.ADMINISTRATOR, agency_id=agency_id)
    if member is not None and member.agency_id != agency_id:
        raise ValidationError({"member": "This person is not on your agency's roster."})
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "An account with this username already exists."})
    user = User(
        username=username,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        agency_id=agency_id,
        member=member,
    )
    validate_password(password, user=user)
    user.set_password(password)
    user.password_changed_at = timezone.now()
    user.save()
    roles = sorted(set(roles))
    # From an administrator, program roles are only proposed: a second person approves.
    proposed = [r for r in roles if acting_user is not None and r in PROGRAM_ROLES]
    granted = [r for r in roles if r not in proposed]
    RoleAssignment.objects.bulk_create(
        [
            RoleAssignment(user=user, agency_id=agency_id, role=r, granted_by=acting_user)
            for r in granted
        ]
    )
    audit_record(
        action="account.created",
        actor=acting_user,
        obj=user,
        request=request,
        detail={
            "roles": granted,
            "proposed_roles": proposed,
            "member_id": member.pk if member else None,
        },
    )
    if acting_user is not None:
        for role in proposed:
            _propose(
                acting_user=acting_user,
                user=user,
                role=role,
                reason=RoleRequestReason.GRANT,
                request=request,
            )
    return user


def _deactivate(
    user: User, *, actor: User | None, reason: str, request: HttpRequest | None = None
) -> int:
    user.is_active = False
    user.deactivated_at = timezone.now()
    user.save(update_fields=["is_active", "deactivated_at"])
    ended = end_sessions(user)
    audit_record(
        action="account.deactivated",
        actor=actor,
        obj=user,
        request=request,
        detail={"reason": reason, "sessions_ended": ended},
    )
    return ended


@transaction.atomic
def user_deactivate(
    *,
    acting_user: User | None,
    user: User,
    reason: str = "administrator",
    request: HttpRequest | None = None,
) -> int:
    """Disable the account and end all its sessions at once. Returns sessions ended."""
    _check_admin(acting_user, user)
    if acting_user is not None and acting_user.pk == user.pk:
        raise ValidationError("You cannot deactivate your own account.")
    if not user.is_active:
        return 0
    return _deactivate(user, actor=acting_user, reason=reason, request=request)


@transaction.atomic
def user_reactivate(
    *, acting_user: User | None, user: User, request: HttpRequest | None = None
) -> None:
    _check_admin(acting_user, user)
    if user.is_active:
        return
    user.is_active = True
    user.deactivated_at = None
    user.reactivated_at = timezone.now()
    user.save(update_fields=["is_active", "deactivated_at", "reactivated_at"])
    audit_record(
        action="account.reactivated",
        actor=acting_user,
        obj=user,
        request=request,
    )


@transaction.atomic
def user_unlock(
    *, acting_user: User | None, user: User, request: HttpRequest | None = None
) -> None:
    """Release a lock: the failure count restarts and second-factor throttling is cleared."""
    _check_admin(acting_user, user)
    row = _locked_row(user)
    was_locked = row.locked_at is not None
    row.locked_at, row.failed_attempts = None, 0
    row.save(update_fields=["locked_at", "failed_attempts"])
    for model in (TOTPDevice, StaticDevice):
        model.objects.filter(user=row).update(
            throttling_failure_count=0, throttling_failure_timestamp=None
        )
    user.locked_at, user.failed_attempts = None, 0
    audit_record(
        action="account.unlocked",
        actor=acting_user,
        obj=row,
        request=request,
        detail={"was_locked": was_locked},
    )


@transaction.atomic
def user_reset_mfa(
    *, acting_user: User | None, user: User, request: HttpRequest | None = None
) -> int:
    """Remove the app and backup codes; the person enrols again at their next sign-in.
    Their sessions end, in case the phone was lost or stolen. From an administrator this
    is a credential reset (``user_credentials_reset``)."""
    if acting_user is not None:
        if acting_user.pk == user.pk:
            _check_admin(acting_user, user)
            raise ValidationError("Ask another administrator to reset your own second factor.")
        return user_credentials_reset(
            acting_user=acting_user, user=user, authenticator=True, request=request
        )
    removed = mfa.delete_devices(user)
    ended = end_sessions(user)
    audit_record(
        action="account.mfa_reset",
        actor=acting_user,
        obj=user,
        request=request,
        detail={"devices_removed": removed, "sessions_ended": ended},
    )
    return ended


@transaction.atomic
def role_grant(
    *, acting_user: User | None, user: User, role: str, request: HttpRequest | None = None
) -> RoleAssignment:
    """Grant a role at once. An administrator may do so only for roles that open no program
    content; program roles go through ``role_grant_propose`` and a second person. The
    system (``acting_user`` None: the demo loader, fixtures, the console) grants directly."""
    _check_admin(acting_user, user)
    if role not in Role.values:
        raise ValidationError({"role": "Choose a role from the list."})
    if acting_user is not None and acting_user.pk == user.pk:
        # Otherwise an administrator could make themselves auditor or coordinator and read
        # the program content the administrator role is kept away from.
        raise ValidationError("You cannot give yourself a role; ask another administrator.")
    if acting_user is not None and role in PROGRAM_ROLES:
        raise ValidationError("This role needs a second person: propose it for approval.")
    return _assign(user=user, role=role, granted_by=acting_user, request=request, actor=acting_user)


def _assign(
    *,
    user: User,
    role: str,
    granted_by: User | None,
    actor: User | None,
    request: HttpRequest | None,
    detail: dict[str, Any] | None = None,
) -> RoleAssignment:
    if user.agency is None:
        raise ValidationError("This account belongs to no agency, so it cannot hold roles.")
    assignment, created = RoleAssignment.objects.get_or_create(
        user=user, agency=user.agency, role=role, defaults={"granted_by": granted_by}
    )
    if created:
        audit_record(
            action="role.granted",
            actor=actor,
            obj=user,
            request=request,
            detail={"role": role, **(detail or {})},
        )
    user.forget_roles()
    _recompute_gate(user, actor, cause="role")
    return assignment


# --- Two people for program power --------------------------------------------------------------


def _propose(
    *, acting_user: User, user: User, role: str, reason: str, request: HttpRequest | None
) -> RoleRequest:
    agency_id = user.agency_id
    if agency_id is None:
        raise ValidationError("This account belongs to no agency, so it cannot hold roles.")
    pending = RoleRequest.objects.filter(
        user=user, agency_id=agency_id, role=role, status=RoleRequestStatus.PENDING
    ).first()
    if pending is not None:
        return pending
    proposal = RoleRequest.objects.create(
        agency_id=agency_id, user=user, role=role, reason=reason, proposed_by=acting_user
    )
    audit_record(
        action="role.proposed",
        actor=acting_user,
        agency_id=user.agency_id,
        obj=proposal,
        request=request,
        detail={"role": role, "user_id": user.pk, "reason": reason},
    )
    for person in role_deciders(proposal):
        notify(kind="role.request", recipient_user=person, agency=user.agency)
    return proposal


@transaction.atomic
def role_grant_propose(
    *, acting_user: User, user: User, role: str, request: HttpRequest | None = None
) -> RoleRequest:
    """An administrator proposes a program role for ``user``. Nothing changes until the
    chief or a holder of the role approves (``role_grant_approve``); they are told by a
    content-free message."""
    _check_admin(acting_user, user)
    if role not in PROGRAM_ROLES:
        raise ValidationError({"role": "Only program roles are proposed; grant this one."})
    if acting_user.pk == user.pk:
        raise ValidationError("You cannot give yourself a role; ask another administrator.")
    if user.agency is None:
        raise ValidationError("This account belongs to no agency, so it cannot hold roles.")
    if not user.agency.uses_role(role):
        raise ValidationError({"role": "The agency does not run the program of this role."})
    if user.has_role(role):
        raise ValidationError("This person already holds that role.")
    return _propose(
        acting_user=acting_user,
        user=user,
        role=role,
        reason=RoleRequestReason.GRANT,
        request=request,
    )


def _decide(role_request: RoleRequest, *, acting_user: User | None, operator: str) -> RoleRequest:
    row = (
        RoleRequest.objects.select_for_update()
        .select_related("agency", "user")
        .get(pk=role_request.pk)
    )
    if acting_user is not None and not row.may_decide(acting_user):
        raise PermissionDenied
    if acting_user is None:
        if not operator:
            raise ValidationError("Say which operator decides.")
        if role_deciders(row).exists():
            raise ValidationError(
                "People in the agency can decide this request; the console "
                "is only for an agency where nobody can."
            )
    if not row.is_pending:
        raise ValidationError("This request was already decided.")
    return row


def _decision_detail(row: RoleRequest, operator: str) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "role": row.role,
        "user_id": row.user_id,
        "proposed_by": row.proposed_by_id,
        "reason": row.reason,
    }
    if operator:
        detail["operator"] = operator
    return detail


@transaction.atomic
def role_grant_approve(
    *,
    acting_user: User | None,
    role_request: RoleRequest,
    operator: str = "",
    request: HttpRequest | None = None,
) -> RoleAssignment:
    """The second person approves: the role takes effect. ``acting_user`` is the chief or a
    holder of the role (not the proposer, not the grantee); ``None`` with ``operator``
    naming a deployment operator at the console, allowed only when nobody in the agency
    could decide."""
    row = _decide(role_request, acting_user=acting_user, operator=operator)
    row.status, row.decided_by, row.decided_at = (
        RoleRequestStatus.APPROVED,
        acting_user,
        timezone.now(),
    )
    row.save(update_fields=["status", "decided_by", "decided_at"])
    detail = _decision_detail(row, operator)
    audit_record(
        action="role.approved",
        actor=acting_user,
        agency_id=row.agency_id,
        obj=row,
        request=request,
        detail=detail,
    )
    role_request.status = row.status
    return _assign(
        user=row.user,
        role=row.role,
        granted_by=acting_user,
        actor=acting_user,
        request=request,
        detail={"role_request": row.pk, **detail},
    )


@transaction.atomic
def role_grant_reject(
    *,
    acting_user: User | None,
    role_request: RoleRequest,
    operator: str = "",
    request: HttpRequest | None = None,
) -> None:
    """The chief or a holder declines: the account does not get the role."""
    row = _decide(role_request, acting_user=acting_user, operator=operator)
    row.status, row.decided_by, row.decided_at = (
        RoleRequestStatus.DECLINED,
        acting_user,
        timezone.now(),
    )
    row.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        action="role.declined",
        actor=acting_user,
        agency_id=row.agency_id,
        obj=row,
        request=request,
        detail=_decision_detail(row, operator),
    )
    role_request.status = row.status


def _recompute_gate(user: User, acting_user: User | None, *, cause: str) -> None:
    """A role decides which programs a person serves in, so their gate follows at once."""
    from tandem.readiness.gates import gate_for
    from tandem.readiness.selectors import TEAM_ROLES
    from tandem.readiness.services import person_recompute

    if gate_for(user) is not None or user.role_set() & set(TEAM_ROLES):
        person_recompute(user=user, acting_user=acting_user, cause=cause)


@transaction.atomic
def role_revoke(
    *, acting_user: User | None, user: User, role: str, request: HttpRequest | None = None
) -> bool:
    _check_admin(acting_user, user)
    if acting_user is not None and acting_user.pk == user.pk and role == Role.ADMINISTRATOR:
        raise ValidationError("You cannot remove your own administrator role.")
    deleted, _ = RoleAssignment.objects.filter(user=user, agency=user.agency, role=role).delete()
    if deleted:
        audit_record(
            action="role.revoked",
            actor=acting_user,
            obj=user,
            request=request,
            detail={"role": role},
        )
    user.forget_roles()
    _recompute_gate(user, acting_user, cause="role")
    return bool(deleted)


# --- Scheduled job -------------------------------------------------------------------------


def inactive_accounts(now: datetime | None = None) -> Any:
    """Active accounts with no sign-in for ``TANDEM_INACTIVE_ACCOUNT_DAYS`` days (counted from
    the last sign-in, else from creation, and never before a reactivation)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.TANDEM_INACTIVE_ACCOUNT_DAYS)
    return (
        User.objects.filter(is_active=True)
        .annotate(
            last_activity=Greatest(
                Coalesce("last_login", "date_joined"), Coalesce("reactivated_at", "date_joined")
            )
        )
        .filter(last_activity__lt=cutoff)
        .order_by("pk")
    )


@transaction.atomic
def user_disable_if_inactive(
    *, user: User, request: HttpRequest | None = None, now: datetime | None = None
) -> bool:
    """Checked at sign-in: an account unused for ``TANDEM_INACTIVE_ACCOUNT_DAYS`` is disabled
    at once (as the daily job would) and True is returned; the sign-in must be refused."""
    if not inactive_accounts(now).filter(pk=user.pk).exists():
        return False
    row = _locked_row(user)
    if row.is_active:
        days = settings.TANDEM_INACTIVE_ACCOUNT_DAYS
        _deactivate(row, actor=None, reason=f"inactive for {days} days", request=request)
    user.is_active = False
    return True


def disable_inactive_accounts(now: datetime | None = None) -> int:
    """Deactivate every inactive account (each in its own transaction, audited).
    Returns how many were disabled. Safe to run as often as wanted."""
    days = settings.TANDEM_INACTIVE_ACCOUNT_DAYS
    disabled = 0
    for user in inactive_accounts(now):
        with transaction.atomic():
            row = _locked_row(user)
            if not row.is_active:
                continue
            _deactivate(row, actor=None, reason=f"inactive for {days} days")
            disabled += 1
    return disabled


# --- Invitations: accounts that start from a one-time set-up link ---------------------------


def _may_invite(acting_user: User | None, agency_id: int | None) -> bool:
    """A command (no acting user), a deployment operator, or an administrator of the same
    agency. Only commands and operators make operator accounts (``agency_id`` None)."""
    if acting_user is None:
        return True
    if acting_user.is_staff and acting_user.agency_id is None and acting_user.is_active:
        return True
    return (
        agency_id is not None
        and acting_user.agency_id == agency_id
        and acting_user.has_role(Role.ADMINISTRATOR)
    )


@transaction.atomic
def account_invite(
    *,
    acting_user: User | None,
    agency_id: int | None,
    username: str,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    roles: Iterable[str] = (),
    operator: bool = False,
    request: HttpRequest | None = None,
) -> User:
    """An account with no password yet; ``accounts.setup.setup_link(user)`` is the one-time
    link with which its holder sets a password (then enrols an authenticator at sign-in).
    ``operator=True`` makes a deployment operator: no agency, no roles, only the screen
    that lists and creates agencies."""
    if not _may_invite(acting_user, agency_id) or (operator and agency_id is not None):
        raise PermissionDenied
    username = username.strip()
    if not username:
        raise ValidationError({"username": "Choose a username."})
    User.username_validator(username)
    if User.objects.filter(username__iexact=username).exists():
        raise ValidationError({"username": "An account with this username already exists."})
    user = User(
        username=username,
        email=email.strip(),
        first_name=first_name.strip(),
        last_name=last_name.strip(),
        agency_id=agency_id,
        is_staff=operator,
    )
    user.set_unusable_password()
    user.save()
    roles = sorted(set(roles))
    if roles and agency_id is None:
        raise ValidationError("An account outside every agency holds no role.")
    if agency_id is not None:
        RoleAssignment.objects.bulk_create(
            [
                RoleAssignment(user=user, agency_id=agency_id, role=r, granted_by=acting_user)
                for r in roles
            ]
        )
    audit_record(
        action="account.invited",
        actor=acting_user,
        obj=user,
        request=request,
        detail={"roles": roles, "operator": operator},
    )
    return user


@transaction.atomic
def account_setup_complete(
    *, user: User, password: str, request: HttpRequest | None = None
) -> None:
    """The holder of a set-up link chose their password (the link stops working)."""
    row = _locked_row(user)
    if row.has_usable_password():
        raise ValidationError("This set-up link was already used.")
    validate_password(password, user=row)
    row.set_password(password)
    row.password_changed_at = timezone.now()
    row.save(update_fields=["password", "password_changed_at"])
    audit_record(
        action="account.setup_completed",
        actor=row,
        obj=row,
        request=request,
    )
