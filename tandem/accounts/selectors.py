"""Reads for the administrator's account screens (a fixed number of queries per page) and
for the screen of role requests awaiting a decision."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import RoleAssignment, RoleRequest, RoleRequestStatus, User
from tandem.agencies.models import PROGRAM_ROLES, Role
from tandem.api.models import ExternalIdentity, IdentityProvider

STATUSES = {
    "active": ("Active", Q(is_active=True, locked_at__isnull=True)),
    "locked": ("Locked", Q(locked_at__isnull=False)),
    "no_mfa": ("Not enrolled in MFA", Q(mfa_enrolled=False, is_active=True)),
    "deactivated": ("Deactivated", Q(is_active=False)),
}


def accounts_for_agency(agency_id: int, *, text: str = "", status: str = "") -> QuerySet[User]:
    enrolled = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    linked = ExternalIdentity.objects.filter(user=OuterRef("pk"), provider__agency_id=agency_id)
    roles = RoleAssignment.objects.filter(agency_id=agency_id).order_by("role")
    accounts = (
        User.objects.filter(agency_id=agency_id, api_client__isnull=True)  # people only
        .annotate(mfa_enrolled=Exists(enrolled), sso_linked=Exists(linked))
        .select_related("member")
        .prefetch_related(Prefetch("role_assignments", queryset=roles))
        .order_by("username")
    )
    text = text.strip()
    if text:
        accounts = accounts.filter(
            Q(username__icontains=text)
            | Q(first_name__icontains=text)
            | Q(last_name__icontains=text)
            | Q(member__employee_number__iexact=text)
        )
    if status in STATUSES:
        accounts = accounts.filter(STATUSES[status][1])
    return accounts


@dataclass(frozen=True)
class SingleSignOn:
    """An account's place in its agency's single sign-on: the provider and, when linked,
    the subject that signs in to it."""

    provider: IdentityProvider
    identity: ExternalIdentity | None


def single_sign_on_for(account: User) -> SingleSignOn | None:
    """``None`` when the account's agency has no identity provider."""
    if account.agency_id is None:
        return None
    provider = IdentityProvider.objects.filter(agency_id=account.agency_id).first()
    if provider is None:
        return None
    identity = ExternalIdentity.objects.filter(provider=provider, user=account).first()
    return SingleSignOn(provider=provider, identity=identity)


def _role_requests(agency_id: int) -> QuerySet[RoleRequest]:
    return (
        RoleRequest.objects.filter(agency_id=agency_id)
        .select_related("user", "proposed_by")
        .order_by("proposed_at", "pk")
    )


def role_requests_to_decide(user: User) -> list[RoleRequest]:
    """Pending requests ``user`` may approve or decline (chief: every program role; a holder:
    their own role), never one they proposed or would receive."""
    if user.agency_id is None:
        return []
    roles = PROGRAM_ROLES if user.has_role(Role.CHIEF) else PROGRAM_ROLES & user.role_set()
    if not roles:
        return []
    return list(
        _role_requests(user.agency_id)
        .filter(status=RoleRequestStatus.PENDING, role__in=roles)
        .exclude(user=user)
        .exclude(proposed_by=user)
    )


def role_requests_proposed_by(user: User) -> list[RoleRequest]:
    if user.agency_id is None:
        return []
    return list(
        _role_requests(user.agency_id).filter(proposed_by=user, status=RoleRequestStatus.PENDING)
    )


def pending_role_requests_for(account: User) -> list[RoleRequest]:
    """Program roles proposed for ``account`` that await a second person."""
    return list(
        _role_requests(account.agency_id or 0).filter(
            user=account, status=RoleRequestStatus.PENDING
        )
    )


def account_by_username(username: str) -> User | None:
    return User.objects.filter(username=username).first()
