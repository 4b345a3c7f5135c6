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

from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from tandem.accounts.models import User


class AuditRecorder(Protocol):
    def __call__(
        self,
        *,
        action: str,
        actor: User | None = ...,
        agency_id: int | None = ...,
        object_type: str = ...,
        object_id: Any = ...,
        purpose: str = ...,
        detail: dict[str, Any] | None = ...,
        obj: Any = ...,
    ) -> object: ...


class DeliveryCreator(Protocol):
    def __call__(
        self,
        *,
        kind: str,
        recipient_user: Any,
        email: str,
        phone: str,
        agency: Any,
        channels: tuple[str, ...] | None,
    ) -> list[Any]: ...


_audit_recorder: AuditRecorder | None = None
_delivery_creator: DeliveryCreator | None = None


def register_audit_recorder(recorder: AuditRecorder) -> None:
    global _audit_recorder  # set once, from AuditConfig.ready()
    _audit_recorder = recorder


def register_delivery_creator(creator: DeliveryCreator) -> None:
    global _delivery_creator  # set once, from NotificationsConfig.ready()
    _delivery_creator = creator


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    agency_id: int | None = None,
    object_type: str = "",
    object_id: Any = "",
    purpose: str = "",
    detail: dict[str, Any] | None = None,
    obj: Any = None,
) -> None:
    """``tandem.audit.services.audit_record`` for core's own events (same arguments, same
    transaction as the caller)."""
    if _audit_recorder is None:
        raise ImproperlyConfigured("tandem.audit must be installed: core's events are audited.")
    _audit_recorder(
        action=action,
        actor=actor,
        agency_id=agency_id,
        object_type=object_type,
        object_id=object_id,
        purpose=purpose,
        detail=detail,
        obj=obj,
    )


def deliveries_create(
    *,
    kind: str,
    recipient_user: Any,
    email: str,
    phone: str,
    agency: Any,
    channels: tuple[str, ...] | None,
) -> list[Any]:
    """``tandem.notifications.services.deliveries_create``: queue one catalogue message."""
    if _delivery_creator is None:
        raise ImproperlyConfigured("tandem.notifications must be installed to send messages.")
    return _delivery_creator(
        kind=kind,
        recipient_user=recipient_user,
        email=email,
        phone=phone,
        agency=agency,
        channels=channels,
    )
