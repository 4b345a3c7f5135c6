"""The release log and stored report runs (X-7, X-9, P4).

Neither model holds a row-level record or an identity: a ``Release`` keeps the figures that
were shown (population key → count, withheld figures left out) so that later releases can
be checked against them for differencing; a ``ReportRun`` keeps a produced report exactly as
it was shown (already through disclosure control), so a stored report can be read again
without recomputing it.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


class Audience(models.TextChoices):
    DEPARTMENT = "department", "Inside the department"
    PUBLIC = "public", "Outside the department (with noise)"


class _ReportPeriod(models.Model):
    """What a release and a stored run both name: which report, for which period, and who
    produced it when (nobody for the monthly delivery)."""

    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    report = models.CharField(max_length=40)
    period_start = models.DateField()
    period_end = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.report} {self.period_start}–{self.period_end}"


class Release(_ReportPeriod):
    threshold = models.PositiveSmallIntegerField()
    audience = models.CharField(
        max_length=16, choices=Audience.choices, default=Audience.DEPARTMENT
    )
    epsilon = models.FloatField(null=True, blank=True)
    cells = models.JSONField(default=dict)  # population key -> published count
    digest = models.CharField(max_length=64)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "report", "period_start", "period_end", "digest"],
                name="reports_release_once",
            )
        ]
        indexes = [models.Index(fields=["agency", "period_start", "period_end"])]


class RunKind(models.TextChoices):
    SCHEDULED = "scheduled", "Monthly delivery"
    ON_REQUEST = "on_request", "Saved on request"
    PUBLIC = "public", "Published outside the department"


class ReportRun(_ReportPeriod):
    kind = models.CharField(max_length=16, choices=RunKind.choices)
    release = models.ForeignKey(
        Release, null=True, blank=True, on_delete=models.PROTECT, related_name="runs"
    )  # none when nothing was recorded in the period
    content = models.JSONField(default=list)  # published tables: title, header, rows, notes

    class Meta:
        ordering = ["-period_start", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "report", "period_start", "period_end"],
                condition=models.Q(kind="scheduled"),
                name="reports_scheduled_run_once",
            ),
            # Noisy figures are made once per report and period: asking again returns the
            # same figures, so repeating the request cannot average the noise away.
            models.UniqueConstraint(
                fields=["agency", "report", "period_start", "period_end"],
                condition=models.Q(kind="public"),
                name="reports_public_run_once",
            ),
        ]


class UsageMonth(models.Model):
    """The peer-support usage counts of one settled month of one agency (see
    ``tandem.reports.rollups``): the month's bounds in the time zone it was counted in, the
    digest of the keys counted, and the counts by key (zeros left out). Nothing else: no
    time of its own, no order (a random key), nothing a reader of the usage records could
    not count. Triggers on the usage records delete the row of a month whose records
    change."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    agency = models.ForeignKey("agencies.Agency", on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    ends_before = models.DateTimeField()
    shape = models.CharField(max_length=64)
    counts = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "starts_at", "ends_before"], name="reports_usage_month_once"
            )
        ]

    def __str__(self) -> str:
        return f"usage counts {self.starts_at:%Y-%m}"
