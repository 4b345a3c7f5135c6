"""Accounts: one per person who signs in, always inside one agency, with roles there."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import PermissionDenied
from django.db import models

from tandem.agencies.models import Agency, Member, Role


class User(AbstractUser):
    agency = models.ForeignKey(
        Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    member = models.OneToOneField(
        Member, null=True, blank=True, on_delete=models.SET_NULL, related_name="account"
    )
    phone = models.CharField(max_length=32, blank=True, help_text="For SMS notifications.")
    failed_attempts = models.PositiveSmallIntegerField(default=0)
    locked_at = models.DateTimeField(null=True, blank=True)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    password_changed_at = models.DateTimeField(null=True, blank=True)
    reactivated_at = models.DateTimeField(
        null=True, blank=True, help_text="Restarts the inactivity clock after a reactivation."
    )
    password_reset_required = models.BooleanField(
        default=False, help_text="An administrator reset the sign-in: choose a new password."
    )
    credentials_reset_at = models.DateTimeField(
        null=True, blank=True, help_text="When an administrator last reset this sign-in."
    )

    class Meta:
        ordering = ["username"]

    def __str__(self) -> str:
        return self.get_full_name() or self.username

    @property
    def is_locked(self) -> bool:
        return self.locked_at is not None

    @property
    def is_service_account(self) -> bool:
        """The account an API client acts through (``api.ApiClient.account``): listed under
        API clients, never among people, and it never signs in interactively."""
        return hasattr(self, "api_client")

    def role_set(self) -> frozenset[str]:
        """Roles held in the user's own agency (cached on the instance)."""
        cached: frozenset[str] | None = getattr(self, "_role_cache", None)
        if cached is None:
            if not self.pk or not self.is_active or self.agency_id is None:
                cached = frozenset()
            else:
                cached = frozenset(
                    self.role_assignments.filter(agency_id=self.agency_id).values_list(
                        "role", flat=True
                    )
                )
            self._role_cache = cached
        return cached

    @property
    def home_agency(self) -> Agency:
        """The agency of an account that belongs to one: every account but a deployment
        operator's. Services that act inside an agency read it here (typed, never None)."""
        if self.agency is None:
            raise PermissionDenied
        return self.agency

    @property
    def home_agency_id(self) -> int:
        """``home_agency``'s key, without loading the agency."""
        if self.agency_id is None:
            raise PermissionDenied
        return self.agency_id

    def has_role(self, *roles: str) -> bool:
        return bool(self.role_set().intersection(roles))

    def forget_roles(self) -> None:
        self.__dict__.pop("_role_cache", None)


class SignInSession(models.Model):
    """Which session keys belong to which account, so that deactivating an account (or
    resetting its second factor) can end every one of its sessions at once without
    decoding every session in the store. Rows for sessions that no longer exist are
    harmless and are pruned whenever the account signs in again."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="signin_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user_id}:{self.session_key[:6]}…"


class RoleAssignment(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_assignments")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(max_length=32, choices=Role.choices)
    granted_at = models.DateTimeField(auto_now_add=True)
    granted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "agency", "role"], name="role_once_per_user")
        ]
        # "Who holds this role here" (on call now, routing's fallback, notices): leads with
        # the agency, then the role, so the answer is a range read of a few rows however
        # many supporters and members hold other roles.
        indexes = [models.Index(fields=["agency", "role", "user"], name="role_agency_role_user")]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()}"


class RoleRequestStatus(models.TextChoices):
    PENDING = "pending", "Awaiting a decision"
    APPROVED = "approved", "Approved"
    DECLINED = "declined", "Declined"


class RoleRequestReason(models.TextChoices):
    GRANT = "grant", "New role"
    RESTORE = "restore", "Restore after a sign-in reset"


class RoleRequest(models.Model):
    """A program role proposed for an account, in force only once a second person approves.

    The proposer is an administrator; the approver is the chief or a current holder of the
    role, never the proposer nor the grantee. ``decided_by`` is empty with a decision when a
    deployment operator approved from the console (no one in the agency could).
    """

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="role_requests")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="role_requests")
    role = models.CharField(max_length=32, choices=Role.choices)
    reason = models.CharField(
        max_length=16, choices=RoleRequestReason.choices, default=RoleRequestReason.GRANT
    )
    status = models.CharField(
        max_length=16, choices=RoleRequestStatus.choices, default=RoleRequestStatus.PENDING
    )
    proposed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proposed_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["proposed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "agency", "role"],
                condition=models.Q(status="pending"),
                name="one_pending_role_request",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} – {self.get_role_display()} ({self.get_status_display()})"

    @property
    def is_pending(self) -> bool:
        return self.status == RoleRequestStatus.PENDING

    def may_decide(self, person: User) -> bool:
        """The chief or a holder of the role, in the same agency, who neither proposed it
        nor would receive it."""
        return bool(
            person.pk is not None
            and person.agency_id == self.agency_id
            and person.pk not in (self.proposed_by_id, self.user_id)
            and person.has_role(Role.CHIEF, self.role)
        )


def role_deciders(role_request: RoleRequest) -> models.QuerySet[User]:
    """Everyone who may approve or decline ``role_request``."""
    agency = role_request.agency
    return users_with_role(agency, [Role.CHIEF, role_request.role]).exclude(
        pk__in=[pk for pk in (role_request.proposed_by_id, role_request.user_id) if pk]
    )


def users_with_role(agency: Agency, roles: Iterable[str]) -> models.QuerySet[User]:
    return User.objects.filter(
        agency=agency,
        is_active=True,
        role_assignments__agency=agency,
        role_assignments__role__in=list(roles),
    ).distinct()
