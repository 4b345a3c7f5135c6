"""Calls from core up to the apps built on it, registered by those apps at start-up.

``core`` is the bottom layer: it never imports ``tandem.audit`` or ``tandem.notifications``
(a test walks the imports). Where core itself audits (shredding and rotating keys, feed
links, backups, generated data) or queues a message, it calls the function the upper app
registered in its ``AppConfig.ready()``: ``tandem.audit`` registers ``audit_record``,
``tandem.notifications`` registers ``deliveries_create``. Both apps are always installed,
so a missing registration is a configuration error, never a silent skip: nothing that
must be audited happens unaudited.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, TypedDict, Unpack

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from tandem.accounts.models import User


class AuditFields(TypedDict, total=False):
    """``audit_record``'s arguments besides the action (each optional)."""

    actor: User | None
    agency_id: int | None
    object_type: str
    object_id: Any
    purpose: str
    detail: dict[str, Any] | None
    obj: Any


class AuditRecorder(Protocol):
    def __call__(self, *, action: str, **fields: Unpack[AuditFields]) -> object: ...


class DeliveryFields(TypedDict):
    """``deliveries_create``'s arguments."""

    kind: str
    recipient_user: Any
    email: str
    phone: str
    agency: Any
    channels: tuple[str, ...] | None


class DeliveryCreator(Protocol):
    def __call__(self, **fields: Unpack[DeliveryFields]) -> list[Any]: ...


_audit_recorder: AuditRecorder | None = None
_delivery_creator: DeliveryCreator | None = None


def register_audit_recorder(recorder: AuditRecorder) -> None:
    global _audit_recorder  # set once, from AuditConfig.ready()
    _audit_recorder = recorder


def register_delivery_creator(creator: DeliveryCreator) -> None:
    global _delivery_creator  # set once, from NotificationsConfig.ready()
    _delivery_creator = creator


def audit_record(*, action: str, **fields: Unpack[AuditFields]) -> None:
    """``tandem.audit.services.audit_record`` for core's own events (same arguments, same
    transaction as the caller)."""
    if _audit_recorder is None:
        raise ImproperlyConfigured("tandem.audit must be installed: core's events are audited.")
    _audit_recorder(action=action, **fields)


def deliveries_create(**fields: Unpack[DeliveryFields]) -> list[Any]:
    """``tandem.notifications.services.deliveries_create``: queue one catalogue message."""
    if _delivery_creator is None:
        raise ImproperlyConfigured("tandem.notifications must be installed to send messages.")
    return _delivery_creator(**fields)
