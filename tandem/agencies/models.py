"""Agencies, their policy, organisational units and members (HR roster).

Every row of program data hangs off an ``Agency``; every query that reaches it goes through
``for_agency()`` / the access helpers so one agency never sees another's rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import connections, models
from django.db.models import Q
from django.db.models.expressions import RawSQL

from tandem.core.fts import MIN_CHARS, found_first, fts_phrase

if TYPE_CHECKING:
    from tandem.agencies.presets import Policy

#: The two programs an agency may run (policy ``programs``; ``Agency.runs``).
PEER_SUPPORT = "peer_support"
PEER_RECOVERY = "peer_recovery"
PROGRAMS: tuple[str, ...] = (PEER_SUPPORT, PEER_RECOVERY)


class Agency(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    short_name = models.CharField(max_length=60, blank=True)
    preset = models.CharField(max_length=64, help_text="Name of the policy preset it started from.")
    policy = models.JSONField(default=dict, help_text="Validated policy (see agencies.presets).")
    logo = models.FileField(upload_to="logos/", blank=True)
    time_zone = models.CharField(max_length=64, default="America/New_York")
    intake_token = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def display_name(self) -> str:
        return self.short_name or self.name

    def policy_model(self) -> Policy:
        """The policy as a validated ``Policy`` object."""
        from tandem.agencies.presets import Policy

        return Policy.model_validate(self.policy)

    def runs(self, program: str) -> bool:
        """Whether the agency runs ``program`` (``PEER_SUPPORT`` or ``PEER_RECOVERY``), as its
        policy's ``programs`` says; a policy that says nothing runs both (the default)."""
        return program in self.policy.get("programs", PROGRAMS)

    def title_for(self, role: str) -> str:
        titles = self.policy.get("titles", {})
        return str(titles.get(role) or Role(role).label)

    def uses_role(self, role: str) -> bool:
        """Whether ``role`` has work here: a role of one program only (``PROGRAM_ONLY_ROLES``)
        is of no use in an agency that does not run that program."""
        return all(
            self.runs(program) for program, roles in PROGRAM_ONLY_ROLES.items() if role in roles
        )

    def role_choices(self) -> list[tuple[str, str]]:
        """The roles an account here may hold, under the agency's own titles (role pickers)."""
        return [(role.value, self.title_for(role.value)) for role in Role if self.uses_role(role)]


class Role(models.TextChoices):
    """Roles are assigned per agency. Program content is visible only to program roles."""

    COORDINATOR = "coordinator", "Peer Support Coordinator"
    SUPPORTER = "supporter", "Peer Supporter"
    PSYCHOLOGIST = "psychologist", "Police Psychologist"
    CHIEF = "chief", "Chief / designee"
    DISPATCHER = "dispatcher", "Dispatcher"
    SUPERVISOR = "supervisor", "Supervisor"
    MEMBER = "member", "Member"
    ARO = "aro", "Addiction Response Officer"
    PRS = "prs", "Peer Recovery Specialist"
    CRT_SUPERVISOR = "crt_supervisor", "CRT Supervisor"
    AUDITOR = "auditor", "Auditor"
    ADMINISTRATOR = "administrator", "Administrator"


#: Roles that open program content (peer support, peer recovery, the audit trail) or decide
#: over it. Granting one takes two people: an administrator proposes, and the chief or a
#: current holder of the role approves (``accounts.services.role_grant_approve``). The chief
#: is one of them, or an administrator could grant a puppet account "chief" and approve
#: through it. Titles such as "Wellness Unit Sergeant" are the coordinator role under an
#: agency's own name, so they are covered. Administrator, dispatcher (the on-call list and
#: the form to ask on someone's behalf), supervisor and member open no program content and
#: stay one-person grants.
PROGRAM_ROLES: frozenset[str] = frozenset(
    {
        Role.COORDINATOR,
        Role.SUPPORTER,
        Role.PSYCHOLOGIST,
        Role.CHIEF,
        Role.AUDITOR,
        Role.ARO,
        Role.PRS,
        Role.CRT_SUPERVISOR,
    }
)


#: Roles whose work lies inside one program: an agency that does not run the program has no
#: use for them, so its role pickers and its demo leave them out (``Agency.uses_role``).
PROGRAM_ONLY_ROLES: dict[str, frozenset[str]] = {
    PEER_SUPPORT: frozenset({Role.COORDINATOR, Role.SUPPORTER, Role.PSYCHOLOGIST}),
    PEER_RECOVERY: frozenset({Role.ARO, Role.PRS, Role.CRT_SUPERVISOR}),
}


class UnitKind(models.TextChoices):
    DISTRICT = "district", "District"
    SECTION = "section", "Section"
    UNIT = "unit", "Unit"


class Unit(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="units")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    kind = models.CharField(max_length=16, choices=UnitKind.choices, default=UnitKind.UNIT)
    code = models.CharField(max_length=32)
    name = models.CharField(max_length=200)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "code"], name="unit_code_unique_per_agency")
        ]

    def __str__(self) -> str:
        return self.name

    def ancestors(self) -> list[Unit]:
        chain: list[Unit] = []
        node = self.parent
        seen = {self.pk}
        while node is not None and node.pk not in seen:
            chain.append(node)
            seen.add(node.pk)
            node = node.parent
        return chain

    @property
    def path(self) -> str:
        return " › ".join([u.name for u in reversed(self.ancestors())] + [self.name])


class MemberCategory(models.TextChoices):
    SWORN = "sworn", "Sworn"
    CIVILIAN = "civilian", "Civilian"
    VOLUNTEER = "volunteer", "Volunteer"


class MemberQuerySet(models.QuerySet["Member"]):
    def active(self) -> MemberQuerySet:
        return self.filter(active=True)

    def search(self, text: str) -> MemberQuerySet:
        text = text.strip()
        if not text:
            return self
        names = Q(last_name__icontains=text) | Q(first_name__icontains=text)
        number = Q(employee_number__iexact=text)
        if len(text) < MIN_CHARS:
            return self.filter(names | number)
        if connections[self.db].vendor == "postgresql":
            # The trigram GIN indexes (migration 0003) and the number's expression index
            # find the matches before the directory's order is applied.
            return found_first(self, names | number)
        # The FTS5 trigram index (migration 0004) finds the same substrings without
        # scanning the agency.
        names = Q(
            pk__in=RawSQL(
                "SELECT rowid FROM agencies_member_fts WHERE agencies_member_fts MATCH %s",
                [fts_phrase(text)],
            )
        )
        return self.filter(names | number)


class Member(models.Model):
    """A person on the agency's HR roster (not necessarily a Tandem account holder)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="members")
    employee_number = models.CharField(max_length=32)
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    rank_title = models.CharField("rank or title", max_length=100, blank=True)
    category = models.CharField(max_length=16, choices=MemberCategory.choices)
    unit = models.ForeignKey(
        Unit, null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    supervisor = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reports"
    )
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    active = models.BooleanField(default=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MemberQuerySet.as_manager()

    class Meta:
        ordering = ["last_name", "first_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "employee_number"], name="member_number_unique_per_agency"
            )
        ]
        indexes = [
            models.Index(fields=["agency", "active", "last_name"]),
            # The directory's whole order (MEMBER_ORDER): pages read from the index.
            models.Index(
                fields=["agency", "last_name", "first_name", "employee_number"],
                name="member_directory_order",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def is_sworn(self) -> bool:
        return self.category == MemberCategory.SWORN

    def supervisor_chain(self, limit: int = 50) -> list[Member]:
        """Supervisors upwards, nearest first (cycle-safe)."""
        chain: list[Member] = []
        seen = {self.pk}
        node = self.supervisor
        while node is not None and node.pk not in seen and len(chain) < limit:
            chain.append(node)
            seen.add(node.pk)
            node = node.supervisor
        return chain


class RosterUpload(models.Model):
    """An HR roster file between its dry run and its confirmed import.

    The bytes stay on the server (never round-trip through the browser), keyed by their
    SHA-256 so the confirmation re-validates exactly the file that was reviewed. A staged
    upload lives at most ``ROSTER_STAGE_TTL``; ``committed_at`` makes a second confirmation
    of the same upload a no-op, and the content is cleared once it has been imported.
    """

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="roster_uploads")
    uploaded_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    digest = models.CharField(max_length=64)
    filename = models.CharField(max_length=200, blank=True)
    content = models.BinaryField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    committed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["agency", "digest"])]

    def __str__(self) -> str:
        return f"{self.filename or 'roster'} ({self.digest[:12]})"
