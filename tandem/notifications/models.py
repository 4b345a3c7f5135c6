"""Delivery records for notifications, and the state of the job runner (X-8).

A ``Delivery`` is one message to one destination on one channel. It never stores a
destination in plain text: for an account it keeps the user id and reads the address from
the account when sending; for anyone else (e.g. a peer-support requester who has no account)
the address is a ``SealedDestination`` (encrypted under its own data key), crypto-shredded
and deleted as soon as the delivery is finished. ``destination_hint`` keeps only enough to
tell numbers apart ("•••42"). Each try is a ``DeliveryAttempt`` with the error's class name,
never its text.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from tandem.core.fields import EncryptedJSONField, EncryptedTextField
from tandem.core.models import EnvelopeEncrypted


class Channel(models.TextChoices):
    EMAIL = "email", "E-mail"
    SMS = "sms", "SMS"


class DeliveryStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENDING = "sending", "Sending"
    RETRYING = "retrying", "Waiting to retry"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


OPEN_STATUSES = (DeliveryStatus.QUEUED, DeliveryStatus.RETRYING)
FINISHED_STATUSES = (DeliveryStatus.SENT, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED)


class SealedDestination(EnvelopeEncrypted):
    """An address for someone without an account, encrypted under its own data key."""

    data_key_purpose = "notifications.destination"
    address = EncryptedTextField()

    def __str__(self) -> str:
        return f"sealed destination #{self.pk}"


class Delivery(models.Model):
    kind = models.CharField(max_length=64)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    agency = models.ForeignKey(
        "agencies.Agency", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recipient_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notification_deliveries",
    )
    destination = models.OneToOneField(
        SealedDestination,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="delivery",
    )
    destination_hint = models.CharField(max_length=40, blank=True)
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} #{self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES


def _this_hour() -> Any:
    return timezone.now().replace(minute=0, second=0, microsecond=0)


class PeerSupportDelivery(EnvelopeEncrypted):
    """One peer-support message (a ``psp.*`` kind) to one destination on one channel.

    Whom it goes to (the account or the address) and when it is due are sealed under the
    delivery's own key, shredded as soon as it is finished; in the clear it keeps a random
    key, the kind, the channel, its state and hours only. No job row is queued for it: the
    periodic sender (``peer_support_deliveries_send``) unseals the open ones and sends those
    due, so no row with an exact time or a sequence number follows each message.
    """

    data_key_purpose = "psp.delivery"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=64)
    channel = models.CharField(max_length=8, choices=Channel.choices)
    agency = models.ForeignKey(
        "agencies.Agency", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # {"user_id": …} for an account (its address is read when sending) or {"address": …}.
    recipient = EncryptedJSONField(blank=True)
    # {"due": ISO moment of the next try, "claimed": ISO moment a sender took it}.
    schedule = EncryptedJSONField(blank=True)
    status = models.CharField(
        max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.QUEUED
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(default=_this_hour)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]
        verbose_name_plural = "peer-support deliveries"
        indexes = [models.Index(fields=["status"], name="psp_delivery_status")]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def recipient_data(self) -> dict[str, Any]:
        value = self.recipient
        return value if isinstance(value, dict) else {}

    @property
    def schedule_data(self) -> dict[str, Any]:
        value = self.schedule
        return value if isinstance(value, dict) else {}


class DeliveryAttempt(models.Model):
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveSmallIntegerField()
    attempted_at = models.DateTimeField()
    succeeded = models.BooleanField(default=False)
    error = models.CharField(max_length=120, blank=True)

    class Meta:
        ordering = ["delivery_id", "number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="attempt_number_once")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
