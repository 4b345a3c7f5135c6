"""Shared base models: per-record data keys for envelope encryption (X-5, P1).

A model that holds protected values adopts encryption like this::

    from tandem.core.fields import EncryptedTextField
    from tandem.core.models import EnvelopeEncrypted

    class SupportRequest(EnvelopeEncrypted):
        data_key_purpose = "psp.request"
        requester_name = EncryptedTextField(blank=True)
        ...

    request.requester_name            # plaintext in Python, ciphertext in the database
    request.shred(acting_user=user, reason="retention period ended")
    request.is_shredded               # True; encrypted attributes now read as None

List pages should ``select_related("data_key")`` so that reading encrypted fields does not
cost a query per row.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from django.db import models, transaction
from django.utils import timezone

from tandem.core import crypto
from tandem.core.fields import EncryptedFieldMixin, EnvelopeKeyField

if TYPE_CHECKING:
    from tandem.accounts.models import User


class DataKey(models.Model):
    """One record's AES-256-GCM key, stored only wrapped by a master key.

    Peer-support keys (purpose ``psp.*``) are wrapped under the master key and the epoch key
    ``epoch_id`` together (``core/epochs.py``); other keys have an empty ``epoch_id``.
    After crypto-shredding ``wrapped_key`` is NULL and ``shredded_at`` is set: nothing that
    was sealed under this key can ever be decrypted again.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    purpose = models.CharField(max_length=64)
    wrapped_key = models.BinaryField(null=True, editable=False)
    master_key_id = models.CharField(max_length=40, db_index=True)
    epoch_id = models.CharField(max_length=40, blank=True, default="", db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    rotated_at = models.DateTimeField(null=True, blank=True)
    shredded_at = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        state = "shredded" if self.is_shredded else f"wrapped by {self.master_key_id}"
        if self.epoch_id and not self.is_shredded:
            state += f" and epoch {self.epoch_id}"
        return f"data key {self.pk} ({self.purpose}, {state})"

    def __getstate__(self) -> dict[str, Any]:
        # Never let the unwrapped key reach a pickle (cache back ends, sessions).
        state = super().__getstate__()
        state.pop("_plain_key", None)
        return state

    @property
    def is_shredded(self) -> bool:
        return self.shredded_at is not None

    def plain_key(self) -> bytes:
        """The unwrapped key, cached on this instance only (never across instances)."""
        if self.is_shredded:
            self.forget_plain_key()
            raise crypto.KeyShredded(f"Data key {self.pk} was shredded; its data cannot be read.")
        cached: bytes | None = self.__dict__.get("_plain_key")
        if cached is None:
            cached = crypto.unwrap_data_key(self)
            self.__dict__["_plain_key"] = cached
        return cached

    def remember_plain_key(self, key: bytes) -> None:
        self.__dict__["_plain_key"] = key

    def forget_plain_key(self) -> None:
        self.__dict__.pop("_plain_key", None)


class EnvelopeEncrypted(models.Model):
    """Abstract base for models with ``EncryptedTextField`` / ``EncryptedJSONField`` columns.

    Each record gets its own data key on first save. ``shred()`` blanks the encrypted columns
    and crypto-shreds the key; afterwards encrypted attributes read as ``None`` and
    ``is_shredded`` is True, so templates stay safe.
    """

    data_key = EnvelopeKeyField(
        "core.DataKey",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="+",
    )

    # Short label stored with the data key, e.g. "psp.request"; defaults to the model label.
    data_key_purpose: ClassVar[str] = ""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and self.data_key_id is None:
            # A record stored before it had a key: the key must be saved with the values.
            self.ensure_data_key()
            kwargs["update_fields"] = {*update_fields, "data_key"}
        super().save(*args, **kwargs)

    @classmethod
    def encrypted_field_names(cls) -> list[str]:
        return [f.name for f in cls._meta.concrete_fields if isinstance(f, EncryptedFieldMixin)]

    def ensure_data_key(self) -> DataKey:
        data_key = self.data_key if self.data_key_id is not None else None
        if data_key is None:
            data_key = crypto.new_data_key(purpose=self.data_key_purpose or self._meta.label_lower)
            self.data_key = data_key
        return data_key

    @property
    def is_shredded(self) -> bool:
        data_key = self.data_key if self.data_key_id is not None else None
        return data_key is not None and data_key.is_shredded

    def blank_encrypted_fields(self) -> list[str]:
        """Overwrite every encrypted column of this record with NULL; returns the names."""
        names = self.encrypted_field_names()
        for name in names:
            setattr(self, name, None)
        if names and self.pk is not None:
            super().save(update_fields=names)
        return names

    @transaction.atomic
    def shred(self, *, acting_user: User | None = None, reason: str, audited: bool = True) -> None:
        """Blank the encrypted columns and crypto-shred this record's data key (audited,
        unless the caller records the event itself: see ``crypto.crypto_shred``)."""
        self.blank_encrypted_fields()
        data_key = self.data_key if self.data_key_id is not None else None
        if data_key is None:
            return
        crypto.crypto_shred(
            data_key=data_key,
            acting_user=acting_user,
            reason=reason,
            agency_id=getattr(self, "agency_id", None),
            audited=audited,
        )


class FeedToken(models.Model):
    """A revocable secret link to one person's calendar feed (iCal, X-9).

    Only a SHA-256 digest of the token is stored; the token itself is shown once, when it
    is issued. Issuing a new token for the same purpose revokes the old one.
    """

    user = models.ForeignKey("accounts.User", on_delete=models.CASCADE, related_name="feed_tokens")
    purpose = models.CharField(max_length=48)
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "purpose"])]

    def __str__(self) -> str:
        return f"{self.purpose} feed of user {self.user_id}"


class WorkerHeartbeat(models.Model):
    """One ``tandem worker`` process, seen at ``seen_at`` (``core.jobs``)."""

    worker_id = models.CharField(max_length=64, unique=True)
    pid = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        # Created by the notifications app before the job runner moved to core: the
        # table keeps its name so the move changed no data.
        db_table = "notifications_workerheartbeat"

    def __str__(self) -> str:
        return f"worker {self.worker_id[:8]} seen {self.seen_at:%Y-%m-%d %H:%M:%S}"


class PeriodicRun(models.Model):
    """When a registered periodic job runs next, and how its last run went (``core.jobs``)."""

    name = models.CharField(max_length=200, unique=True)
    next_run_at = models.DateTimeField()
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=120, blank=True)

    class Meta:
        db_table = "notifications_periodicrun"  # see WorkerHeartbeat

    def __str__(self) -> str:
        return self.name
