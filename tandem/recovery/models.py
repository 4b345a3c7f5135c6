"""Peer recovery records: clients, contacts, field safety, plans, referrals, consent and
disclosures, the CJI compartment, overdoses, naloxone, outreach and public statements.

Searchable identity (names, aliases, date of birth, phone) stays in plain columns because
search and de-duplication need it; clinical and sensitive details are sealed per record
(``EnvelopeEncrypted``). Criminal justice information lives only in ``CJIEntry`` and
``SwornNote``, read only through ``access.get_cji_client_for_user``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tandem.core.fields import EncryptedJSONField, EncryptedTextField
from tandem.core.models import EnvelopeEncrypted
from tandem.recovery import vocab

USER = settings.AUTH_USER_MODEL

#: 42 CFR § 2.32(a)(1): the notice that must accompany each disclosure made with consent.
REDISCLOSURE_NOTICE = (
    "This record which has been disclosed to you is protected by federal confidentiality "
    "rules (42 CFR part 2). These rules prohibit you from using or disclosing this record, "
    "or testimony that describes the information contained in this record, in any civil, "
    "criminal, administrative, or legislative proceedings by any Federal, State, or local "
    "authority, against the patient, unless authorized by the consent of the patient, "
    "except as provided at 42 CFR 2.12(c)(5) or as authorized by a court in accordance "
    "with 42 CFR 2.64 or 2.65. In addition, the federal rules prohibit you from making any "
    "other use or disclosure of this record unless at least one of the following applies: "
    "(A) Further use or disclosure is expressly permitted by the written consent of the "
    "individual whose information is being disclosed in this record or as otherwise "
    "permitted by 42 CFR part 2. (B) You are a covered entity or business associate and "
    "have received the record for treatment, payment, or health care operations, or "
    "(C) You have received the record from a covered entity or business associate as "
    "permitted by 45 CFR part 164, subparts A and E. A general authorization for the "
    "release of medical or other information is NOT sufficient to meet the required "
    "elements of written consent to further use or redisclose the record (see 42 CFR 2.31)."
)


class Client(EnvelopeEncrypted):
    data_key_purpose = "prp.client"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    first_name = models.CharField(max_length=80)
    last_name = models.CharField(max_length=80)
    aliases = models.CharField(max_length=300, blank=True)
    date_of_birth = models.DateField(null=True, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    # Normalised copies for search and de-duplication (lower case, no accents, digits only).
    name_key = models.CharField(max_length=400, db_index=True, editable=False)
    phone_digits = models.CharField(max_length=20, blank=True, db_index=True, editable=False)
    address = EncryptedTextField(blank=True)
    photo = EncryptedTextField(blank=True)  # base64 of a PNG/JPEG, sealed like the rest
    photo_type = models.CharField(max_length=20, blank=True)
    gender = models.CharField(
        max_length=16, choices=vocab.Gender.choices, default=vocab.Gender.NOT_STATED
    )
    race = models.CharField(
        max_length=20, choices=vocab.Race.choices, default=vocab.Race.NOT_STATED
    )
    ethnicity = models.CharField(
        max_length=16, choices=vocab.Ethnicity.choices, default=vocab.Ethnicity.NOT_STATED
    )
    veteran = models.BooleanField(null=True, blank=True)
    substances = EncryptedJSONField(default=list, blank=True)
    notes = EncryptedTextField(blank=True)
    status = models.CharField(
        max_length=16,
        choices=vocab.ClientStatus.choices,
        default=vocab.ClientStatus.ACTIVE,
        db_index=True,
    )
    aro = models.ForeignKey(
        USER,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="recovery_clients_as_aro",
    )
    prs = models.ForeignKey(
        USER,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="recovery_clients_as_prs",
    )
    # Officer-set flags: the only safety information a PRS sees (closed list, PR-7).
    safety_flags = models.JSONField(default=list, blank=True)
    version = models.PositiveIntegerField(default=1)
    idempotency_key = models.CharField(max_length=64, blank=True)
    # Set when this record was merged into another (the survivor); cleared by an unmerge.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["last_name", "first_name", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="recovery_client_idempotency",
            )
        ]
        indexes = [
            # The client list's order (keyset pages) over the registry, absorbed records
            # left out: without it PostgreSQL sorted all 20,000 clients for every page.
            models.Index(
                fields=["agency", "last_name", "first_name", "id"],
                condition=Q(merged_into__isnull=True),
                name="client_list_order",
            ),
        ]

    def __str__(self) -> str:
        return self.full_name

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def safety_flag_labels(self) -> list[str]:
        labels = dict(vocab.SafetyFlag.choices)
        return [labels[f] for f in self.safety_flags or [] if f in labels]

    def substance_labels(self) -> list[str]:
        labels = dict(vocab.Substance.choices)
        return [labels.get(s, s) for s in self.substances or []]

    def current_stage(self) -> StageAssessment | None:
        return self.stages.order_by("-assessed_at", "-pk").first()


class PlannedContact(models.Model):
    """A visit planned in advance and shared by ARO and PRS (PR-6, 000 C.3)."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="planned")
    kind = models.CharField(
        max_length=16, choices=vocab.ContactKind.choices, default=vocab.ContactKind.FIELD
    )
    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField()
    aro = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    prs = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    with_prs = models.BooleanField(default=True)
    status = models.CharField(
        max_length=12, choices=vocab.PlanStatus.choices, default=vocab.PlanStatus.PLANNED
    )
    started_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at", "pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} with client {self.client_id} at {self.starts_at}"

    @property
    def needs_safety_assessment(self) -> bool:
        """Planned as field work with the PRS (anything but a phone call or an office visit)."""
        return self.with_prs and self.kind not in (
            vocab.ContactKind.PHONE,
            vocab.ContactKind.OFFICE,
        )

    @property
    def closed(self) -> bool:
        return self.status in (vocab.PlanStatus.DONE, vocab.PlanStatus.CANCELLED)

    def latest_assessment(self, at: datetime | None = None) -> SafetyAssessment | None:
        """The ARO's most recent assessment (up to ``at``): a reassessment replaces the
        earlier ones, so a danger found during the contact closes the gate again."""
        assessments = self.assessments.all()
        if at is not None:
            assessments = assessments.filter(assessed_at__lte=at)
        return assessments.order_by("-assessed_at", "-pk").first()

    def gate_open(self, at: datetime | None = None) -> bool:
        """The PRS may take part: the latest assessment (up to ``at``) is all clear."""
        latest = self.latest_assessment(at)
        return latest is not None and latest.all_clear

    def first_all_clear_at(self) -> datetime | None:
        first = self.assessments.filter(all_clear=True).order_by("assessed_at", "pk").first()
        return first.assessed_at if first is not None else None

    def safe_to_start(self) -> bool:
        if not self.needs_safety_assessment:
            return True
        return self.gate_open()

    def overlaps(self) -> models.QuerySet[PlannedContact]:
        return (
            PlannedContact.objects.filter(
                agency_id=self.agency_id,
                client_id=self.client_id,
                starts_at__lt=self.ends_at,
                ends_at__gt=self.starts_at,
            )
            .exclude(pk=self.pk)
            .exclude(status=vocab.PlanStatus.CANCELLED)
        )


class SafetyAssessment(models.Model):
    """The ARO's checklist before (and during) a field contact with the PRS (000 C.1/C.2)."""

    planned = models.ForeignKey(
        PlannedContact, on_delete=models.CASCADE, related_name="assessments"
    )
    assessed_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    assessed_at = models.DateTimeField(default=timezone.now)
    reassessment = models.BooleanField(default=False)
    checklist = models.JSONField(default=dict)  # item text -> confirmed (bool)
    all_clear = models.BooleanField(default=False)

    class Meta:
        ordering = ["assessed_at", "pk"]

    def __str__(self) -> str:
        return f"safety assessment {self.pk}"


class Contact(EnvelopeEncrypted):
    data_key_purpose = "prp.contact"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="contacts")
    planned = models.ForeignKey(
        PlannedContact, null=True, blank=True, on_delete=models.SET_NULL, related_name="contacts"
    )
    kind = models.CharField(max_length=16, choices=vocab.ContactKind.choices)
    occurred_at = models.DateTimeField(db_index=True)
    duration_minutes = models.PositiveIntegerField(default=0)
    aro_present = models.BooleanField(default=False)
    prs_present = models.BooleanField(default=False)
    location_type = models.CharField(max_length=16, choices=vocab.LocationType.choices)
    services = models.JSONField(default=list, blank=True)
    outcome = models.CharField(max_length=12, choices=vocab.ContactOutcome.choices)
    arrest_diverted = models.BooleanField(default=False)
    notes = EncryptedTextField(blank=True)
    version = models.PositiveIntegerField(default=1)
    idempotency_key = models.CharField(max_length=64, blank=True)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="recovery_contact_idempotency",
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.occurred_at:%Y-%m-%d}"


class StageAssessment(models.Model):
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="stages")
    stage = models.CharField(max_length=20, choices=vocab.Stage.choices)
    assessed_at = models.DateTimeField(default=timezone.now)
    assessed_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-assessed_at", "-pk"]

    def __str__(self) -> str:
        return self.get_stage_display()


class Goal(EnvelopeEncrypted):
    data_key_purpose = "prp.goal"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="goals")
    text = EncryptedTextField()
    status = models.CharField(
        max_length=12, choices=vocab.GoalStatus.choices, default=vocab.GoalStatus.OPEN
    )
    target_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "pk"]

    def __str__(self) -> str:
        return f"goal {self.pk}"


class Resource(models.Model):
    """An organisation in the agency's resource directory (PR-4)."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    name = models.CharField(max_length=200)
    category = models.CharField(max_length=32, choices=vocab.ResourceCategory.choices)
    contact_name = models.CharField(max_length=120, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    email = models.EmailField(blank=True)
    address = models.CharField(max_length=300, blank=True)
    eligibility = models.TextField(blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="recovery_resource_name")
        ]

    def __str__(self) -> str:
        return self.name


class Referral(EnvelopeEncrypted):
    data_key_purpose = "prp.referral"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="referrals")
    resource = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="referrals")
    status = models.CharField(
        max_length=12,
        choices=vocab.ReferralStatus.choices,
        default=vocab.ReferralStatus.PROPOSED,
        db_index=True,
    )
    proposed_on = models.DateField(default=timezone.localdate)
    sent_on = models.DateField(null=True, blank=True)
    accepted_on = models.DateField(null=True, blank=True)
    declined_on = models.DateField(null=True, blank=True)
    engaged_on = models.DateField(null=True, blank=True)
    completed_on = models.DateField(null=True, blank=True)
    not_engaged_on = models.DateField(null=True, blank=True)
    follow_up_on = models.DateField(null=True, blank=True, db_index=True)
    reason = EncryptedTextField(blank=True)  # why declined / not engaged
    history = models.JSONField(default=list, blank=True)  # [{status, on, by}]
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-proposed_on", "-pk"]

    def __str__(self) -> str:
        return f"referral {self.pk}"

    def next_steps(self) -> list[tuple[str, str]]:
        labels = dict(vocab.ReferralStatus.choices)
        return [(s, labels[s]) for s in vocab.REFERRAL_NEXT.get(self.status, ())]

    @property
    def closed(self) -> bool:
        return not vocab.REFERRAL_NEXT.get(self.status)

    def steps(self) -> list[tuple[str, str]]:
        """(label, ISO date) of every step so far, for the closed-loop table."""
        labels = dict(vocab.ReferralStatus.choices)
        return [(labels.get(h["status"], h["status"]), h["on"]) for h in self.history or []]


class Consent(EnvelopeEncrypted):
    """A written consent with the elements of 42 CFR § 2.31."""

    data_key_purpose = "prp.consent"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="consents")
    discloser = models.CharField(max_length=200)  # who may disclose (the program)
    recipient = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="consents")
    # "To whom" as signed: copied from the directory when the consent is recorded, so that
    # later directory edits never change what the client agreed to.
    recipient_name = models.CharField(max_length=200)
    recipient_category = models.CharField(max_length=32, choices=vocab.ResourceCategory.choices)
    purpose = models.CharField(max_length=16, choices=vocab.ConsentPurpose.choices)
    information = models.JSONField(default=list)  # ConsentInformation codes
    starts_on = models.DateField()
    expires_on = models.DateField(null=True, blank=True)
    expiry_event = models.CharField(max_length=200, blank=True)
    revocation_method = models.CharField(max_length=300)
    signed_by = models.CharField(max_length=12, choices=vocab.Signer.choices)
    signer_name = EncryptedTextField()
    # The record the consent was signed for, when it now sits on another one after a merge:
    # it then covers no disclosure about the merged record until a new consent is signed.
    signed_for = models.ForeignKey(
        "Client", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    signed_on = models.DateField()
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # When program staff recorded that the expiry event happened (the consent ends then).
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-signed_on", "-pk"]

    def __str__(self) -> str:
        return f"consent {self.pk}"

    def information_labels(self) -> list[str]:
        labels = dict(vocab.ConsentInformation.choices)
        return [labels.get(i, i) for i in self.information or []]

    def is_in_force(self, at: datetime | None = None) -> bool:
        moment = at or timezone.now()
        today = timezone.localdate(moment)
        if self.revoked_at is not None and self.revoked_at <= moment:
            return False
        if self.ended_at is not None and self.ended_at <= moment:
            return False
        if today < self.starts_on:
            return False
        return self.expires_on is None or today <= self.expires_on

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "Revoked"
        if self.ended_at is not None:
            return "Ended"
        if self.expires_on is not None and timezone.localdate() > self.expires_on:
            return "Expired"
        if timezone.localdate() < self.starts_on:
            return "Not yet in force"
        return "In force"


class Disclosure(EnvelopeEncrypted):
    """One disclosure made under a consent: the ledger row of the accounting (§ 2.24)."""

    data_key_purpose = "prp.disclosure"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="disclosures")
    # RESTRICT: a consent with disclosures cannot be deleted on its own, only together with
    # its client (the retention purge).
    consent = models.ForeignKey(Consent, on_delete=models.RESTRICT, related_name="disclosures")
    recipient = models.ForeignKey(Resource, on_delete=models.PROTECT, related_name="+")
    # The recipient as it was when the disclosure was made: the ledger never changes.
    recipient_name = models.CharField(max_length=200)
    recipient_category = models.CharField(max_length=32, choices=vocab.ResourceCategory.choices)
    purpose = models.CharField(max_length=16, choices=vocab.ConsentPurpose.choices)
    information = models.JSONField(default=list)
    description = EncryptedTextField()
    notice = models.TextField(default=REDISCLOSURE_NOTICE)
    disclosed_at = models.DateTimeField(default=timezone.now)
    disclosed_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    idempotency_key = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-disclosed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="recovery_disclosure_idempotency",
            )
        ]

    def __str__(self) -> str:
        return f"disclosure {self.pk}"

    def information_labels(self) -> list[str]:
        labels = dict(vocab.ConsentInformation.choices)
        return [labels.get(i, i) for i in self.information or []]


class CJIEntry(EnvelopeEncrypted):
    """Criminal justice information about a client (P2): sworn, cleared program staff only."""

    data_key_purpose = "prp.cji"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    source = models.CharField(max_length=8, choices=vocab.CJISource.choices)
    queried_on = models.DateField()
    purpose = EncryptedTextField()
    summary = EncryptedTextField()
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-queried_on", "-pk"]

    def __str__(self) -> str:
        return f"CJI entry {self.pk}"


class SwornNote(EnvelopeEncrypted):
    data_key_purpose = "prp.sworn_note"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    text = EncryptedTextField()
    author = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"sworn note {self.pk}"


class OverdoseResponse(EnvelopeEncrypted):
    data_key_purpose = "prp.overdose"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    occurred_at = models.DateTimeField(db_index=True)
    location = EncryptedTextField()
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    fatal = models.BooleanField(default=False)
    naloxone_given = models.BooleanField(default=False)
    naloxone_doses = models.PositiveSmallIntegerField(default=0)
    suspected_drug = models.CharField(
        max_length=12, choices=vocab.SuspectedDrug.choices, default=vocab.SuspectedDrug.UNKNOWN
    )
    case_number = models.CharField(max_length=40, blank=True)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="overdoses"
    )
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-occurred_at", "-pk"]

    def __str__(self) -> str:
        return f"overdose response {self.pk}"


class NaloxoneKit(models.Model):
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    given_on = models.DateField(db_index=True)
    quantity = models.PositiveSmallIntegerField(default=1)
    recipient_type = models.CharField(max_length=12, choices=vocab.KitRecipient.choices)
    client = models.ForeignKey(
        Client, null=True, blank=True, on_delete=models.SET_NULL, related_name="kits"
    )
    given_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-given_on", "-pk"]

    def __str__(self) -> str:
        return f"{self.quantity} naloxone kit(s) on {self.given_on}"


class OutreachEvent(models.Model):
    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    held_on = models.DateField(db_index=True)
    title = models.CharField(max_length=200)
    audience = models.CharField(max_length=12, choices=vocab.OutreachAudience.choices)
    attendance = models.PositiveIntegerField(default=0)
    topics = models.JSONField(default=list)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-held_on", "-pk"]

    def __str__(self) -> str:
        return self.title

    def topic_labels(self) -> list[str]:
        labels = dict(vocab.OutreachTopic.choices)
        return [labels.get(t, t) for t in self.topics or []]


class StatementRequest(models.Model):
    """A request to speak publicly about the program; the Chief decides (000 D.5)."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    requested_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    venue = models.CharField(max_length=200)
    planned_on = models.DateField()
    summary = models.TextField()
    status = models.CharField(
        max_length=10, choices=vocab.StatementStatus.choices, default=vocab.StatementStatus.PENDING
    )
    decided_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"statement request {self.pk}"


class Submission(models.Model):
    """A form's one-time key: a double submit of the same form writes nothing the second
    time (records without their own idempotency column claim their key here)."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE)
    key = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "key"], name="recovery_submission_once")
        ]

    def __str__(self) -> str:
        return f"submission {self.pk}"


class MatchRun(models.Model):
    """One scan of an agency's registry with Splink (nightly or asked for on the Deconflict
    page). ``model`` is the trained Splink model the typing-time warning reuses."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE)
    trigger = models.CharField(max_length=12, choices=vocab.MatchTrigger.choices)
    status = models.CharField(
        max_length=10, choices=vocab.MatchRunStatus.choices, default=vocab.MatchRunStatus.QUEUED
    )
    requested_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    records = models.PositiveIntegerField(default=0)
    pairs = models.PositiveIntegerField(default=0)
    estimated = models.BooleanField(default=False)  # EM on the agency's data, not priors
    model = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"match run {self.pk}"


class MatchCandidate(models.Model):
    """A pair of clients that may be one person, with Splink's explanation. A decision
    ("not the same person", merged) is remembered: later scans update the score only."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE)
    left = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    right = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    probability = models.FloatField()
    match_weight = models.FloatField()
    explanation = models.JSONField(default=list)  # [{field, label, level, weight}]
    status = models.CharField(
        max_length=10,
        choices=vocab.CandidateStatus.choices,
        default=vocab.CandidateStatus.OPEN,
        db_index=True,
    )
    run = models.ForeignKey(MatchRun, null=True, blank=True, on_delete=models.SET_NULL)
    decided_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-probability", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["left", "right"], name="recovery_candidate_pair"),
            models.CheckConstraint(
                condition=Q(left__lt=models.F("right")), name="recovery_candidate_ordered"
            ),
        ]

    def __str__(self) -> str:
        return f"candidate {self.left_id}/{self.right_id}"

    @property
    def disagreeing(self) -> list[str]:
        return [f["label"] for f in self.explanation if f["weight"] < 0]


class ClientMerge(EnvelopeEncrypted):
    """One merge, with everything needed to undo it exactly: the survivor's values before
    (sealed, they include the address and notes) and the ids of every record moved."""

    data_key_purpose = "prp.merge"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT)
    survivor = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    absorbed = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="+")
    candidate = models.ForeignKey(
        MatchCandidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    taken = models.JSONField(default=list)  # fields whose value came from the absorbed record
    # JSON values, sealed (typed Any: the stubs see the text column underneath).
    before: Any = EncryptedJSONField(default=dict)  # survivor's values of those fields before
    after: Any = EncryptedJSONField(default=dict)  # the survivor's values right after
    absorbed_status = models.CharField(max_length=16, choices=vocab.ClientStatus.choices)
    moved = models.JSONField(default=dict)  # model name -> [pk, ...]
    merged_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    merged_at = models.DateTimeField(default=timezone.now)
    undone_by = models.ForeignKey(
        USER, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-merged_at", "-pk"]

    def __str__(self) -> str:
        return f"merge {self.pk}"


class ClientFact(EnvelopeEncrypted):
    """One value of a client's phone, address or status as somebody recorded it, so that
    what the ARO and the PRS recorded differently about the same person can be listed
    (PR-2). The value is sealed like the record's own."""

    data_key_purpose = "prp.fact"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="facts")
    field = models.CharField(max_length=16)  # one of vocab.FACT_FIELDS
    value = EncryptedTextField(blank=True)
    recorded_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-recorded_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.field} of client {self.client_id}"


class ConflictSettlement(models.Model):
    """A conflict somebody settled from the Deconflict page: what was recorded before
    ``settled_at`` on that topic (and day, for double work) is no longer listed."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    client = models.ForeignKey(Client, on_delete=models.CASCADE, related_name="settlements")
    topic = models.CharField(max_length=12, choices=vocab.ConflictTopic.choices)
    day = models.DateField(null=True, blank=True)  # for contacts and visits of one day
    outcome = models.CharField(max_length=40)
    settled_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    settled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-settled_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.topic} of client {self.client_id} settled"


class ImportBatch(EnvelopeEncrypted):
    """An uploaded spreadsheet kept (sealed) between the upload, the mapping, the dry run
    and the commit: nothing reaches the registry before the commit, and a slow step never
    loses the upload."""

    data_key_purpose = "prp.import"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE)
    kind = models.CharField(max_length=10, choices=vocab.ImportKind.choices)
    filename = models.CharField(max_length=200)
    header: Any = EncryptedJSONField(default=list)
    rows: Any = EncryptedJSONField(default=list)
    mapping = models.JSONField(default=dict, blank=True)  # field -> column heading
    values: Any = EncryptedJSONField(default=dict, blank=True)  # field -> {file word: code}
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    committed_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)  # counts after the commit
    # A large file is checked and imported by the worker (no request waits for it): what
    # it is doing now, the last dry run (sealed: its messages name people) and why the
    # last background import was refused.
    job_state = models.CharField(max_length=10, choices=vocab.ImportJob.choices, blank=True)
    # Nullable: rows uploaded before these fields existed have no sealed value to read.
    dry_run: Any = EncryptedJSONField(null=True, blank=True, default=None)
    job_errors: Any = EncryptedJSONField(null=True, blank=True, default=None)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"import {self.pk}"


class PatrolCall(models.Model):
    """An unscheduled contact on a patrol call (West Virginia Police and Peers: the peer
    rides with patrol). The officer's on-scene safety check is recorded when the contact is
    recorded, never back-dated, against the agency's safety checklist: it stands in for the
    planned visit's assessment."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    contact = models.OneToOneField(
        "recovery.Contact", on_delete=models.CASCADE, related_name="patrol_call"
    )
    call_type = models.CharField(max_length=24, choices=vocab.PatrolCallType.choices)
    officer = models.ForeignKey("agencies.Member", on_delete=models.PROTECT, related_name="+")
    safety_checklist = models.JSONField(default=dict)  # item text -> confirmed (bool)
    safety_checked_at = models.DateTimeField()
    recorded_by = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"patrol call {self.pk}"


class PersonnelEvaluation(EnvelopeEncrypted):
    """The annual evaluation of one ARO or PRS (OO 2-78 E.1–2): the year's figures as they
    stood when the evaluator wrote it, the evaluator's written feedback and the person's
    acknowledgement, with an optional response. Feedback and response are personnel
    records, sealed like the rest; once acknowledged, the evaluation no longer changes."""

    data_key_purpose = "prp.evaluation"

    agency = models.ForeignKey("agencies.Agency", on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    role = models.CharField(max_length=8, choices=[("aro", "ARO"), ("prs", "PRS")])
    year = models.PositiveSmallIntegerField()
    # [[duty, label, value], …]: the figures the feedback was written against.
    figures = models.JSONField(default=list)
    feedback = EncryptedTextField()
    evaluator = models.ForeignKey(USER, on_delete=models.PROTECT, related_name="+")
    written_at = models.DateTimeField(default=timezone.now)
    response = EncryptedTextField(blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-year", "person_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["person", "year"], name="recovery_evaluation_once_a_year"
            )
        ]

    def __str__(self) -> str:
        return f"evaluation {self.year} of {self.person_id}"

    @property
    def is_acknowledged(self) -> bool:
        return self.acknowledged_at is not None


#: Everything that belongs to a client and follows it through a merge
#: (and back) and through erasure.
CLIENT_RECORDS = (
    Contact,
    PlannedContact,
    StageAssessment,
    Goal,
    Referral,
    Consent,
    Disclosure,
    CJIEntry,
    SwornNote,
    OverdoseResponse,
    NaloxoneKit,
)
