"""Peer support (PSP): roster, on-call schedules, requests, usage records, exceptions.

What the database may hold is the point of this module (P1, PS-5):

* ``SupportRequest`` keeps everything that could identify the person who asked — name,
  phone, e-mail, their account and member ids, and the referrer's identity — only in
  encrypted fields under the request's own data key. Closing or expiring the request
  shreds that key; the row that remains says only that a request existed.
* ``UsageRecord`` holds closed codes and times, and a relation to the supporter's profile;
  it has no free-text field and no relation to a member or an account (a test fails if a
  migration ever adds one).
* Incidents, deployments and group sessions hold types, dates and counts — no names.
"""

from __future__ import annotations

import math
import secrets
import uuid
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from tandem.core.fields import EncryptedJSONField
from tandem.core.models import EnvelopeEncrypted
from tandem.support import vocab

if TYPE_CHECKING:
    from tandem.agencies.models import Agency


def _reference() -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    return "".join(secrets.choice(alphabet) for _ in range(8))


# --- Roster ---------------------------------------------------------------------------


class SupporterProfileQuerySet(models.QuerySet["SupporterProfile"]):
    def for_agency(self, agency: Agency) -> SupporterProfileQuerySet:
        return self.filter(agency=agency)

    def ready(self, agency: Agency, at: datetime | None = None) -> SupporterProfileQuerySet:
        """Designated, compliant supporters (the readiness gate) of ``agency``."""
        from tandem.readiness.gates import peer_support_ready_users

        return self.filter(agency=agency, user__in=peer_support_ready_users(agency, at))

    def available_at(self, at: datetime) -> SupporterProfileQuerySet:
        return self.filter(Q(unavailable_until__isnull=True) | Q(unavailable_until__lte=at))


class SupporterProfile(models.Model):
    """A supporter's directory entry, written by the supporter (PS-1)."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    user = models.OneToOneField(
        "accounts.User", on_delete=models.CASCADE, related_name="supporter_profile"
    )
    phone = models.CharField(max_length=32, blank=True, help_text="Shown on the roster.")
    affiliation = models.CharField(max_length=16, choices=vocab.Affiliation.choices)
    gender = models.CharField(max_length=16, choices=vocab.Gender.choices, blank=True)
    unit = models.ForeignKey(
        "agencies.Unit", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    specialties = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    introduction = models.TextField(
        max_length=400, blank=True, help_text="A few words about yourself, for the directory."
    )
    photo = models.FileField(upload_to="supporters/", blank=True)
    unavailable_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    objects = SupporterProfileQuerySet.as_manager()

    class Meta:
        ordering = ["user__last_name", "user__first_name"]
        indexes = [models.Index(fields=["agency", "unavailable_until"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        return self.user.get_full_name() or self.user.username

    @property
    def reach_phone(self) -> str:
        return self.phone or self.user.phone

    def is_available_at(self, at: datetime) -> bool:
        return self.unavailable_until is None or self.unavailable_until <= at

    def specialty_labels(self) -> list[str]:
        return [vocab.Specialty(c).label for c in self.specialties if c in vocab.Specialty]

    def language_labels(self) -> list[str]:
        return [vocab.Language(c).label for c in self.languages if c in vocab.Language]


class FollowUpReminder(EnvelopeEncrypted):
    """A supporter's own reminder (PS-10): an opaque code, no request link, and — sealed
    under the reminder's own peer-support key (epoch-wrapped like a request's) — whose
    contact it is: the name and the way to reach them the person gave. Only the supporter's
    own page unseals it; marking it done shreds the key."""

    data_key_purpose = "psp.reminder"

    # {"name": …, "phone": …, "email": …, "contact_on": ISO date the contact began}.
    about = EncryptedJSONField(blank=True)
    supporter = models.ForeignKey(
        SupporterProfile, on_delete=models.CASCADE, related_name="reminders"
    )
    code = models.CharField(max_length=12, default=_reference)
    due_on = models.DateField()
    done_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on"]

    def __str__(self) -> str:
        return f"follow-up {self.code}"

    @property
    def about_data(self) -> dict[str, Any]:
        value = self.about
        return value if isinstance(value, dict) else {}

    @property
    def contact_on(self) -> date | None:
        raw = self.about_data.get("contact_on")
        return date.fromisoformat(raw) if raw else None

    @property
    def whose(self) -> str:
        """Whose follow-up this is, in the words the supporter reads."""
        about = self.about_data
        reach = about.get("phone") or about.get("email") or ""
        name = about.get("name") or "the person you helped"
        return f"{name} ({reach})" if reach else str(name)


# --- On-call schedules -------------------------------------------------------------------


class Rotation(models.Model):
    """Participants take turns, one shift each, handing off at a fixed time (PS-2)."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    layer = models.CharField(max_length=16, choices=vocab.Layer.choices)
    starts_on = models.DateField()
    handoff_time = models.TimeField(default=time(7, 0))
    shift_hours = models.PositiveSmallIntegerField(default=168)
    participants = models.ManyToManyField(
        SupporterProfile, through="RotationMember", related_name="rotations"
    )
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["layer", "name"]

    def __str__(self) -> str:
        return self.name

    def start_at(self, tz: Any) -> datetime:
        return datetime.combine(self.starts_on, self.handoff_time, tzinfo=tz)

    def shift_index_at(self, at: datetime, tz: Any) -> int | None:
        start = self.start_at(tz)
        if at < start:
            return None
        return math.floor((at - start) / timedelta(hours=self.shift_hours))

    def shift_bounds(self, index: int, tz: Any) -> tuple[datetime, datetime]:
        begin = self.start_at(tz) + index * timedelta(hours=self.shift_hours)
        return begin, begin + timedelta(hours=self.shift_hours)


class RotationMember(models.Model):
    rotation = models.ForeignKey(Rotation, on_delete=models.CASCADE, related_name="members")
    supporter = models.ForeignKey(SupporterProfile, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveSmallIntegerField()

    class Meta:
        ordering = ["position"]
        constraints = [
            models.UniqueConstraint(fields=["rotation", "position"], name="rotation_position_once")
        ]

    def __str__(self) -> str:
        return f"{self.rotation_id}#{self.position}"


class Override(models.Model):
    """A swap or cover: ``supporter`` is on call for ``layer`` from start to end."""

    class Reason(models.TextChoices):
        SWAP = "swap", "Swap"
        COVER = "cover", "Cover"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    layer = models.CharField(max_length=16, choices=vocab.Layer.choices)
    supporter = models.ForeignKey(SupporterProfile, on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    reason = models.CharField(max_length=8, choices=Reason.choices, default=Reason.COVER)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["agency", "layer", "ends_at"])]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="override_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"override {self.layer} {self.starts_at:%Y-%m-%d %H:%M}"


# --- Critical incidents ----------------------------------------------------------------


class CriticalIncident(models.Model):
    """Type, date, units and a count — no names (PS-3)."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, choices=vocab.CriticalIncidentKind.choices)
    occurred_on = models.DateField()
    units = models.ManyToManyField("agencies.Unit", blank=True, related_name="+")
    members_affected = models.PositiveIntegerField()
    involved_supporters = models.ManyToManyField(
        SupporterProfile,
        blank=True,
        related_name="+",
        help_text="Supporters who were themselves part of the incident (never routed to it).",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.occurred_on}"


class Deployment(models.Model):
    incident = models.ForeignKey(
        CriticalIncident, on_delete=models.CASCADE, related_name="deployments"
    )
    supporter = models.ForeignKey(SupporterProfile, on_delete=models.PROTECT, related_name="+")
    deployed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["deployed_at"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "supporter"], name="deployment_once")
        ]

    def __str__(self) -> str:
        return f"deployment {self.pk}"


class GroupSession(models.Model):
    incident = models.ForeignKey(
        CriticalIncident, on_delete=models.CASCADE, related_name="group_sessions"
    )
    kind = models.CharField(max_length=32, choices=vocab.GroupSessionKind.choices)
    held_on = models.DateField()
    attendees = models.PositiveIntegerField()

    class Meta:
        ordering = ["held_on"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} on {self.held_on}"


class MutualAidRequest(models.Model):
    """Supporters asked from, or lent to, another agency (counts only)."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    direction = models.CharField(max_length=16, choices=vocab.MutualAidDirection.choices)
    partner_agency = models.CharField(max_length=200)
    incident_kind = models.CharField(max_length=32, choices=vocab.CriticalIncidentKind.choices)
    requested_on = models.DateField()
    supporters_requested = models.PositiveSmallIntegerField()
    supporters_provided = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(
        max_length=16, choices=vocab.MutualAidStatus.choices, default=vocab.MutualAidStatus.OPEN
    )

    class Meta:
        ordering = ["-requested_on", "-pk"]

    def __str__(self) -> str:
        return f"mutual aid {self.pk}"


# --- Requests ---------------------------------------------------------------------------


def _this_hour() -> datetime:
    """Now, floored to the hour: the finest time a peer-support row keeps in the clear."""
    return timezone.now().replace(minute=0, second=0, microsecond=0)


class SupportRequest(EnvelopeEncrypted):
    """One request for support. Identity only in encrypted fields, shredded at close.

    Nothing in the clear dates or orders it finer than the hour: a random key, the hour it
    came in, and once it ends the day it ended. The exact moments routing needs (when it
    came in, when the current step started, accepted, first contact) are sealed in
    ``timing`` under the request's own key. Lifecycle events wait in ``ledger`` (day, and
    the acting supporter, never the requester) and the usage record in ``usage`` until the
    daily batch writes them in a shuffled order and deletes the row.
    """

    data_key_purpose = "psp.request"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    reference = models.CharField(max_length=12, default=_reference, unique=True)
    idempotency_key = models.CharField(max_length=64)
    channel = models.CharField(max_length=32, choices=vocab.Channel.choices)
    urgency = models.CharField(max_length=16, choices=vocab.Urgency.choices)
    contact_method = models.CharField(max_length=16, choices=vocab.ContactMethod.choices)
    best_time = models.CharField(
        max_length=16, choices=vocab.BestTime.choices, default=vocab.BestTime.ANY
    )
    topic = models.CharField(max_length=32, choices=vocab.Topic.choices, blank=True)
    chosen_supporter = models.ForeignKey(
        SupporterProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    incident = models.ForeignKey(
        CriticalIncident, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Identity (encrypted; shredded at close): name, phone, e-mail, user/member ids, kind.
    requester = EncryptedJSONField(blank=True)
    # Preferences (sworn/civilian, gender, specialty, language): encrypted as well.
    preferences = EncryptedJSONField(blank=True)
    # A proactive referral's referrer (user id and name), shown to the coordinator only.
    referrer = EncryptedJSONField(blank=True)
    # The digest of the status code shown once to whoever asked on the help page (the code
    # itself is never stored); blank for requests made for someone by dispatch or staff.
    status_digest = models.CharField(max_length=64, blank=True, db_index=True)
    # The digest of the receipt shown once to whoever asked for someone (dispatch, the
    # coordinator): with it they see what became of the request — looking for a supporter,
    # accepted, closed — never who. Blank for the help page's own requests.
    receipt_digest = models.CharField(max_length=64, blank=True, db_index=True)
    # Exact moments routing needs (ISO 8601): created, step_started, accepted, first_contact.
    timing = EncryptedJSONField(blank=True)

    status = models.CharField(
        max_length=16, choices=vocab.RequestStatus.choices, default=vocab.RequestStatus.ROUTING
    )
    step = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(default=_this_hour)
    accepted_by = models.ForeignKey(
        SupporterProfile, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    onset_notice_given = models.BooleanField(default=False)
    finished_on = models.DateField(null=True, blank=True)
    # Waiting for the daily batch: lifecycle events and, once finished, the usage record.
    ledger = models.JSONField(default=list, blank=True)
    usage = models.JSONField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "idempotency_key"], name="support_request_submitted_once"
            )
        ]
        indexes = [models.Index(fields=["agency", "status"], name="psp_request_agency_status")]

    def __str__(self) -> str:
        return f"request {self.reference}"

    @property
    def is_open(self) -> bool:
        return self.status in vocab.OPEN_STATUSES

    @property
    def origin(self) -> str:
        """Where the request comes from — a member, a family member, a retiree, another
        agency, dispatch... — for the supporter's screens only: the requester's kind is a
        closed code sealed with the identity, so it is shredded at close with the name."""
        return vocab.request_origin(self.channel, str(self.requester_data.get("kind", "")))

    @property
    def requester_data(self) -> dict[str, Any]:
        value = self.requester
        return value if isinstance(value, dict) else {}

    @property
    def preference_data(self) -> dict[str, Any]:
        value = self.preferences
        return value if isinstance(value, dict) else {}

    @property
    def referrer_data(self) -> dict[str, Any]:
        value = self.referrer
        return value if isinstance(value, dict) else {}

    # --- sealed moments ------------------------------------------------------------------

    def moment(self, name: str) -> datetime | None:
        """A sealed exact moment; ``created`` and ``step_started`` fall back to the hour the
        request came in (rows migrated from before the moments were sealed)."""
        value = self.timing
        raw = value.get(name) if isinstance(value, dict) else None
        if raw:
            return datetime.fromisoformat(raw)
        return self.created_at if name in ("created", "step_started") else None

    def set_moment(self, name: str, value: datetime | None) -> None:
        value_now = self.timing
        current: dict[str, Any] = value_now if isinstance(value_now, dict) else {}
        moment = value.isoformat() if value is not None else None
        self.timing = {**current, name: moment}  # encrypted JSON

    @property
    def created_exact(self) -> datetime | None:
        return self.moment("created")

    @property
    def step_started_at(self) -> datetime | None:
        return self.moment("step_started")

    @property
    def accepted_at(self) -> datetime | None:
        return self.moment("accepted")

    @property
    def first_contact_at(self) -> datetime | None:
        return self.moment("first_contact")


class RequestOffer(models.Model):
    """A request offered to one helper at one escalation step (or a recusal)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    request = models.ForeignKey(SupportRequest, on_delete=models.CASCADE, related_name="offers")
    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="+")
    step = models.PositiveSmallIntegerField()
    offered_at = models.DateTimeField(default=_this_hour)
    active = models.BooleanField(default=True)
    recused_reason = models.CharField(
        max_length=32, choices=vocab.RecusalReason.choices, blank=True
    )

    class Meta:
        ordering = ["offered_at"]
        indexes = [models.Index(fields=["user", "active"], name="psp_offer_user_active")]

    def __str__(self) -> str:
        return f"offer {self.pk}"


class UsageRecord(models.Model):
    """What remains of a contact: closed codes and times (PS-6, P1). Never add a free-text
    field or a relation to a member or account here (the schema guard test says so).

    Written only by the daily batch, in a shuffled order, under a random key: neither its
    key nor its place in the table follows the order in which requests closed."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    supporter = models.ForeignKey(
        SupporterProfile, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=vocab.Outcome.choices)
    # Blank unless the agency's usage form collects "activation_channel".
    channel = models.CharField(max_length=32, choices=vocab.Channel.choices, blank=True)
    # Blank unless the agency's usage form collects "urgency" / "topic".
    urgency = models.CharField(max_length=16, choices=vocab.Urgency.choices, blank=True)
    topic = models.CharField(max_length=32, choices=vocab.Topic.choices, blank=True)
    incident_type = models.CharField(max_length=32, choices=vocab.IncidentType.choices, blank=True)
    intervention_type = models.CharField(
        max_length=32, choices=vocab.InterventionType.choices, blank=True
    )
    member_category = models.CharField(
        max_length=16, choices=vocab.MemberCategory.choices, blank=True
    )
    gender = models.CharField(max_length=16, choices=vocab.Gender.choices, blank=True)
    duration_bucket = models.CharField(
        max_length=16, choices=vocab.DurationBucket.choices, blank=True
    )
    services = models.JSONField(default=list, blank=True)
    referral_types = models.JSONField(default=list, blank=True)
    follow_up = models.BooleanField(null=True, blank=True)
    seconds_to_ack = models.PositiveIntegerField(null=True, blank=True)
    seconds_to_contact = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-closed_at"]
        indexes = [models.Index(fields=["agency", "closed_at"], name="psp_usage_agency_closed")]

    def __str__(self) -> str:
        return f"usage record {self.pk}"


# --- Limits of confidentiality (PS-7) ---------------------------------------------------


class DutyToReportNotice(EnvelopeEncrypted):
    """A supporter's notice that an exception to confidentiality applies."""

    data_key_purpose = "psp.duty"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    filed_by = models.ForeignKey(SupporterProfile, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=48)
    emergency = models.BooleanField()
    # Who it concerns and how to reach them (encrypted; coordinator and psychologist only).
    subject = EncryptedJSONField(blank=True)
    self_disclosure_due = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=16, choices=vocab.DutyStatus.choices, default=vocab.DutyStatus.OPEN
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_notified_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"duty-to-report notice {self.pk}"

    @property
    def subject_data(self) -> dict[str, Any]:
        value = self.subject
        return value if isinstance(value, dict) else {}


class Consultation(models.Model):
    """ "Is this reportable?" — a category, never the member's identity."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    asked_by = models.ForeignKey(SupporterProfile, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=48)
    created_at = models.DateTimeField(default=timezone.now)
    answer = models.CharField(max_length=32, choices=vocab.ConsultationAnswer.choices, blank=True)
    answered_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"consultation {self.pk}"


class BreachReport(models.Model):
    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    reported_by = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=32, choices=vocab.BreachKind.choices)
    occurred_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"breach report {self.pk}"


class BreachAcknowledgement(models.Model):
    """GO 702 .38: a breach reaches the Wellness Unit Sergeant and the licensed psychologist
    without delay; each of the people the policy names acknowledges it on their screen."""

    report = models.ForeignKey(
        BreachReport, on_delete=models.CASCADE, related_name="acknowledgements"
    )
    user = models.ForeignKey("accounts.User", on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["report", "user"], name="one_breach_ack_per_person")
        ]

    def __str__(self) -> str:
        return f"breach acknowledgement {self.pk}"


# --- Intake page (no account) ------------------------------------------------------------


class IntakeLink(models.Model):
    """The agency's secret intake link (only its digest is stored); rotatable, expiring."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"intake link {self.pk}"

    def is_valid_at(self, at: datetime) -> bool:
        return self.revoked_at is None and self.expires_at > at


class CoverageSnapshot(models.Model):
    """The coverage gaps of the next days as last computed for the coordinator's home, so a
    page load reads one row instead of walking every quarter hour of the rota. Any change to
    rotations, their members, swaps and covers, availability or a readiness gate deletes it
    (``tandem.support.signals``); it is also recomputed once it is ``SNAPSHOT_TTL`` old, as
    gates lapse and the window moves with time. Only times and layers: nobody's name."""

    agency = models.OneToOneField(
        "agencies.Agency", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    computed_at = models.DateTimeField()
    gaps = models.JSONField(default=list, blank=True)  # [{"layer", "start", "end"}] ISO

    def __str__(self) -> str:
        return f"coverage of agency {self.agency_id} at {self.computed_at:%Y-%m-%d %H:%M}"
