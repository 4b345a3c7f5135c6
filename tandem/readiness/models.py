"""Team readiness (PS-11 … PS-16, PR-7, PR-8, PR-11).

``Gate`` is the one place other programs read readiness from: peer support asks
``gates.peer_support_ready_users()`` who may be on the roster and on call, recovery asks
``gates.has_cji_access()`` before showing criminal justice information. Readiness
services recompute a person's gate whenever something it depends on changes, and a daily
job catches dates passing; ``*_until`` makes a lapse take effect at the exact moment even
before that job runs.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from tandem.agencies.models import PEER_RECOVERY, PEER_SUPPORT, Agency


class GateQuerySet(models.QuerySet["Gate"]):
    def peer_support_open(self, at: datetime | None = None) -> GateQuerySet:
        at = at or timezone.now()
        return self.filter(peer_support=True).filter(
            Q(peer_support_until__isnull=True) | Q(peer_support_until__gt=at)
        )


class Gate(models.Model):
    """Whether one person may serve now: on the peer-support roster and on call
    (designated and compliant), and whether they may see criminal justice information
    (sworn, current fingerprint background check and CJIS awareness, NDA where required).
    ``reasons`` lists why a gate is closed, in words a coordinator can act on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness_gate"
    )
    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    peer_support = models.BooleanField(default=False)
    peer_support_until = models.DateTimeField(null=True, blank=True)
    cji = models.BooleanField(default=False)
    cji_until = models.DateTimeField(null=True, blank=True)
    reasons = models.JSONField(default=list, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)
    #: The person's compliance level (``compliance.LEVELS``) when the gate was last
    #: recomputed, and their earliest due date then. Written with the gate, in the same
    #: transaction, so the home page counts who is not compliant (a level of not compliant,
    #: or a due date already passed) with one indexed query. Empty until first computed.
    compliance = models.CharField(max_length=16, blank=True, default="")
    next_due_on = models.DateField(null=True, blank=True)

    objects = GateQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["agency", "peer_support"]),
            models.Index(fields=["agency", "cji"]),
        ]

    def __str__(self) -> str:
        return f"Gate for user {self.user_id}"

    def peer_support_open_at(self, at: datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.peer_support and (
            self.peer_support_until is None or self.peer_support_until > at
        )

    def cji_open_at(self, at: datetime | None = None) -> bool:
        at = at or timezone.now()
        return self.cji and (self.cji_until is None or self.cji_until > at)

    def as_state(self) -> dict[str, Any]:
        return {
            "peer_support": self.peer_support,
            "peer_support_until": self.peer_support_until,
            "cji": self.cji,
            "cji_until": self.cji_until,
            "reasons": list(self.reasons),
        }


# ---------------------------------------------------------------------------------------
# Selection (PS-11)
# ---------------------------------------------------------------------------------------


class Program(models.TextChoices):
    PSP = "psp", "Peer support"
    PRP = "prp", "Peer recovery"


#: The agency program (``Agency.runs``) whose team each readiness program code is.
PROGRAM_OF: dict[str, str] = {Program.PSP: PEER_SUPPORT, Program.PRP: PEER_RECOVERY}


def programs_run(agency: Agency) -> list[tuple[str, str]]:
    """The readiness programs of the programs the agency runs, for its pickers: Columbus
    designates peer supporters and announces peer support vacancies only."""
    return [(value, label) for value, label in Program.choices if agency.runs(PROGRAM_OF[value])]


def course_programs_run(agency: Agency) -> list[str]:
    """The course programs (``CourseProgram``) that concern the agency: those of the programs
    it runs, and the courses for both."""
    return [value for value, _label in programs_run(agency)] + ["all"]


class Vacancy(models.Model):
    """A vacancy announced to the whole agency."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    program = models.CharField(max_length=8, choices=Program.choices)
    title = models.CharField(max_length=200)
    description = models.TextField(max_length=4000, blank=True)
    closes_on = models.DateField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "program", "title"],
                condition=Q(closed_at__isnull=True),
                name="vacancy_open_title_unique",
            )
        ]

    def __str__(self) -> str:
        return self.title

    def is_open_on(self, day: date) -> bool:
        return self.closed_at is None and (self.closes_on is None or self.closes_on >= day)


class ApplicationStatus(models.TextChoices):
    SUBMITTED = "submitted", "Received, waiting for the interview"
    INTERVIEWED = "interviewed", "Interviewed, waiting for the Chief's decision"
    APPROVED = "approved", "Approved and designated"
    DECLINED = "declined", "Not selected"
    WITHDRAWN = "withdrawn", "Withdrawn"


OPEN_APPLICATION = (ApplicationStatus.SUBMITTED, ApplicationStatus.INTERVIEWED)


class InterviewOutcome(models.TextChoices):
    RECOMMENDED = "recommended", "Recommended"
    NOT_RECOMMENDED = "not_recommended", "Not recommended"


class Application(models.Model):
    """A letter of request to join a team. The interview keeps its outcome only."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    vacancy = models.ForeignKey(
        Vacancy, null=True, blank=True, on_delete=models.PROTECT, related_name="applications"
    )
    applicant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness_applications"
    )
    program = models.CharField(max_length=8, choices=Program.choices)
    letter = models.TextField(max_length=5000)
    status = models.CharField(
        max_length=16, choices=ApplicationStatus.choices, default=ApplicationStatus.SUBMITTED
    )
    interview_outcome = models.CharField(
        max_length=20, choices=InterviewOutcome.choices, blank=True
    )
    interviewed_on = models.DateField(null=True, blank=True)
    interviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    submitted_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-submitted_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["applicant", "program"],
                condition=Q(status__in=["submitted", "interviewed"]),
                name="one_open_application_per_program",
            )
        ]

    def __str__(self) -> str:
        return f"Application {self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_APPLICATION


class RemovalReason(models.TextChoices):
    BREACH = "breach", "Breach of confidentiality or policy"
    NON_COMPLIANCE = "non_compliance", "Training or attendance requirements not met"
    RESIGNED = "resigned", "Left the team at their own request"
    SEPARATED = "separated", "Left the agency"
    OTHER = "other", "Other reason"


class Designation(models.Model):
    """Official designation by the Chief (a condition of privilege), and its end."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness_designations"
    )
    program = models.CharField(max_length=8, choices=Program.choices)
    application = models.OneToOneField(
        Application, null=True, blank=True, on_delete=models.SET_NULL, related_name="designation"
    )
    designated_on = models.DateField()
    designated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    removed_on = models.DateField(null=True, blank=True)
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    removal_reason = models.CharField(max_length=20, choices=RemovalReason.choices, blank=True)

    class Meta:
        ordering = ["-designated_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "program"],
                condition=Q(removed_on__isnull=True),
                name="one_current_designation_per_program",
            )
        ]

    def __str__(self) -> str:
        return f"Designation {self.pk}"

    def active_on(self, day: date) -> bool:
        return self.designated_on <= day and (self.removed_on is None or self.removed_on > day)


# ---------------------------------------------------------------------------------------
# Training (PS-12, PR-11)
# ---------------------------------------------------------------------------------------


class CourseKind(models.TextChoices):
    INITIAL = "initial", "Initial training"
    ONGOING = "ongoing", "Ongoing training"
    CJIS = "cjis", "CJIS security awareness"
    MEETING = "meeting", "Monthly team meeting"
    SUPERVISION = "supervision", "Clinical supervision"


class CourseProgram(models.TextChoices):
    PSP = "psp", "Peer support"
    PRP = "prp", "Peer recovery"
    ALL = "all", "Both programs"


class Course(models.Model):
    """A course in the agency's catalogue; ``topics`` are the labels it covers."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    code = models.SlugField(max_length=48)
    title = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=CourseKind.choices)
    program = models.CharField(max_length=8, choices=CourseProgram.choices)
    topics = models.JSONField(default=list, blank=True)
    source = models.CharField(
        max_length=200, blank=True, help_text="Where the curriculum comes from."
    )
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["kind", "title"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "code"], name="course_code_unique_per_agency")
        ]

    def __str__(self) -> str:
        return self.title

    def serves(self, program: str) -> bool:
        return self.program in (program, CourseProgram.ALL)

    def serves_any(self, programs: set[str]) -> bool:
        return self.program == CourseProgram.ALL or self.program in programs


class TrainingSession(models.Model):
    """One sitting of a course: date, place, instructor and capacity. Meetings and
    clinical supervision are sessions too; none of them records what was said."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    course = models.ForeignKey(Course, on_delete=models.PROTECT, related_name="sessions")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    place = models.CharField(max_length=200)
    instructor = models.CharField(max_length=200)
    capacity = models.PositiveIntegerField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["course", "starts_at"], name="one_session_per_course_and_start"
            )
        ]
        indexes = [models.Index(fields=["agency", "starts_at"])]

    def __str__(self) -> str:
        return f"{self.course.title} {self.starts_at:%Y-%m-%d}"


class Enrolment(models.Model):
    session = models.ForeignKey(
        TrainingSession, on_delete=models.CASCADE, related_name="enrolments"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness_enrolments"
    )
    enrolled_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="one_enrolment_per_person")
        ]

    def __str__(self) -> str:
        return f"Enrolment {self.pk}"


class AttendanceStatus(models.TextChoices):
    PRESENT = "present", "Present"
    EXCUSED = "excused", "Excused absence"
    UNEXCUSED = "unexcused", "Unexcused absence"


class Attendance(models.Model):
    session = models.ForeignKey(
        TrainingSession, on_delete=models.CASCADE, related_name="attendance"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness_attendance"
    )
    status = models.CharField(max_length=12, choices=AttendanceStatus.choices)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    marked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="one_attendance_per_person")
        ]

    def __str__(self) -> str:
        return f"Attendance {self.pk}"


# ---------------------------------------------------------------------------------------
# Clearances (PR-7)
# ---------------------------------------------------------------------------------------


class CheckResult(models.TextChoices):
    CLEARED = "cleared", "Cleared"
    NOT_CLEARED = "not_cleared", "Not cleared"
    PENDING = "pending", "Pending"


class BackgroundCheck(models.Model):
    """A fingerprint-based background check (FBI CJIS / state network)."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness_checks"
    )
    checked_on = models.DateField()
    result = models.CharField(max_length=12, choices=CheckResult.choices)
    renewal_due = models.DateField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-checked_on", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "checked_on"], name="one_check_per_person_day")
        ]

    def __str__(self) -> str:
        return f"Background check {self.pk}"


# ---------------------------------------------------------------------------------------
# Agreements (PS-13, PR-8)
# ---------------------------------------------------------------------------------------


class AgreementKind(models.TextChoices):
    CONFIDENTIALITY = "confidentiality", "Confidentiality agreement"
    NDA = "nda", "Non-disclosure agreement"
    POLICY = "policy", "Policy acknowledgement"


class AgreementDocument(models.Model):
    """One version of an agreement. Its text never changes; a new text is a new version."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=AgreementKind.choices)
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField(max_length=20000)
    content_hash = models.CharField(max_length=64)
    published_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["kind", "-version"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "kind", "version"], name="agreement_version_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.title} (version {self.version})"


class Signature(models.Model):
    """An electronic signature: typed name, re-authentication, time and version hash."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    document = models.ForeignKey(
        AgreementDocument, on_delete=models.PROTECT, related_name="signatures"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness_signatures"
    )
    typed_name = models.CharField(max_length=200)
    content_hash = models.CharField(max_length=64)
    reauthenticated_with = models.CharField(max_length=20)
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-signed_at"]
        constraints = [
            models.UniqueConstraint(fields=["document", "user"], name="one_signature_per_version")
        ]

    def __str__(self) -> str:
        return f"Signature {self.pk}"


class PolicyReview(models.Model):
    """The coordinator's periodic review of the written policy."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    reviewed_on = models.DateField()
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-reviewed_on"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "reviewed_on"], name="one_review_per_day")
        ]

    def __str__(self) -> str:
        return f"Policy review {self.reviewed_on}"


# ---------------------------------------------------------------------------------------
# Certification and hours (PR-11)
# ---------------------------------------------------------------------------------------


class Education(models.TextChoices):
    NONE = "none", "Not yet recorded"
    DIPLOMA = "diploma", "High-school diploma"
    GED = "ged", "GED"
    HIGHER = "higher", "College degree"


class ExamResult(models.TextChoices):
    NOT_TAKEN = "not_taken", "Not taken"
    SCHEDULED = "scheduled", "Scheduled"
    PASSED = "passed", "Passed"
    FAILED = "failed", "Not passed"


class Certification(models.Model):
    """A peer recovery specialist's progress toward, and holding of, the credential."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness_certification"
    )
    education = models.CharField(max_length=10, choices=Education.choices, default=Education.NONE)
    exam_date = models.DateField(null=True, blank=True)
    exam_result = models.CharField(
        max_length=10, choices=ExamResult.choices, default=ExamResult.NOT_TAKEN
    )
    credential_number = models.CharField(max_length=64, blank=True)
    issued_on = models.DateField(null=True, blank=True)
    expires_on = models.DateField(null=True, blank=True)
    renewed_on = models.DateField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"Certification {self.pk}"

    def held_on(self, day: date) -> bool:
        return bool(
            self.credential_number
            and self.issued_on is not None
            and self.issued_on <= day
            and (self.expires_on is None or self.expires_on >= day)
        )


class HourKind(models.TextChoices):
    EXPERIENCE = "experience", "Experience"
    SUPERVISION = "supervision", "Supervision"
    ETHICS = "ethics", "Supervision: ethics"


class HourLog(models.Model):
    """Hours toward certification; they count once a supervisor (not oneself) signs off."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness_hour_logs"
    )
    kind = models.CharField(max_length=12, choices=HourKind.choices)
    worked_on = models.DateField()
    hours = models.DecimalField(max_digits=5, decimal_places=2)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    signed_off_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    idempotency_key = models.CharField(max_length=64)

    class Meta:
        ordering = ["-worked_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"], name="hour_log_once_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"Hours {self.pk}"


# ---------------------------------------------------------------------------------------
# Hours worked (PS-14) and reminders
# ---------------------------------------------------------------------------------------


class TimeEntry(models.Model):
    """Peer support time as Hours Worked with the agency's activity code. It never says
    whom the time was spent with."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="readiness_time_entries"
    )
    worked_on = models.DateField()
    hours = models.DecimalField(max_digits=4, decimal_places=2)
    activity_code = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)
    idempotency_key = models.CharField(max_length=64)

    class Meta:
        ordering = ["-worked_on", "-pk"]
        indexes = [models.Index(fields=["agency", "worked_on"])]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "idempotency_key"], name="time_entry_once_per_key"
            )
        ]

    def __str__(self) -> str:
        return f"Time entry {self.pk}"


class ReminderSent(models.Model):
    """So a reminder for one due date goes out once."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=100)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="one_reminder_per_key")]

    def __str__(self) -> str:
        return self.key
