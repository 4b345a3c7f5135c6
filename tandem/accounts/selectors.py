"""Reads for the administrator's account screens (a fixed number of queries per page)."""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django_otp.plugins.otp_totp.models import TOTPDevice

from tandem.accounts.models import RoleAssignment, User

STATUSES = {
    "active": ("Active", Q(is_active=True, locked_at__isnull=True)),
    "locked": ("Locked", Q(locked_at__isnull=False)),
    "no_mfa": ("Not enrolled in MFA", Q(mfa_enrolled=False, is_active=True)),
    "deactivated": ("Deactivated", Q(is_active=False)),
}


def accounts_for_agency(agency_id: int, *, text: str = "", status: str = "") -> QuerySet[User]:
    enrolled = TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True)
    roles = RoleAssignment.objects.filter(agency_id=agency_id).order_by("role")
    accounts = (
        User.objects.filter(agency_id=agency_id)
        .annotate(mfa_enrolled=Exists(enrolled))
        .select_related("member")
        .prefetch_related(Prefetch("role_assignments", queryset=roles))
        .order_by("username")
    )
    text = text.strip()
    if text:
        accounts = accounts.filter(
            Q(username__icontains=text) | Q(first_name__icontains=text)
            | Q(last_name__icontains=text) | Q(member__employee_number__iexact=text)
        )
    if status in STATUSES:
        accounts = accounts.filter(STATUSES[status][1])
    return accounts
