"""Creating, sending and retrying deliveries. Apps call ``tandem.core.notifications.notify``.

Sending happens in the job ``deliver_notification(delivery_id)``. A conditional UPDATE
(open -> sending) lets exactly one worker send a delivery; the network call runs outside any
transaction. A failed try is recorded and retried after 1, 5, 15 and 60 minutes; after the
fifth failure the delivery is marked failed and logged. Once a delivery is finished its
sealed destination is crypto-shredded. Errors are recorded by class name only, because
provider and SMTP error texts can echo the address.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage, get_connection
from django.core.validators import validate_email
from django.db import transaction
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.core.notifications import get_kind, is_peer_support, sending_kind, site_url
from tandem.core.sms import SmsError, mask_phone, normalize_phone, send_sms
from tandem.notifications.models import (
    OPEN_STATUSES,
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    PeerSupportDelivery,
    SealedDestination,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency

logger = logging.getLogger("tandem.notifications")

RETRY_DELAYS = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(minutes=60),
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A delivery stuck in "sending" this long was interrupted (worker killed mid-send).
STALLED_AFTER = timedelta(minutes=15)
# An open delivery this far past its due time lost its job (or the queue is far behind).
OVERDUE_AFTER = timedelta(minutes=10)
# Finished peer-support messages are deleted after this long.
PEER_SUPPORT_FINISHED_KEPT = timedelta(days=7)


class NoDestination(Exception):
    """The account has no usable address for this channel any more, or is deactivated."""


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    tld = domain.rsplit(".", 1)[-1] if "." in domain else ""
    return f"{local[:1]}•••@•••.{tld}" if tld else "•••"


def _enqueue(delivery_id: int, run_after: datetime | None = None) -> None:
    from tandem.notifications.tasks import deliver_notification

    job = deliver_notification
    if run_after is not None:
        if not job.get_backend().supports_defer:
            return  # picked up by deliveries_resume_stalled once it is due
        job = job.using(run_after=run_after)
    job.enqueue(delivery_id)


def _user_channels(recipient_user: Any, kind_channels: tuple[str, ...]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if Channel.EMAIL in kind_channels and recipient_user.email:
        found.append((Channel.EMAIL, mask_email(recipient_user.email)))
    if Channel.SMS in kind_channels and recipient_user.phone:
        found.append((Channel.SMS, mask_phone(recipient_user.phone)))
    return found


def _sealed_delivery(
    *, kind: str, channel: str, agency: Agency | None, destination: str
) -> Delivery:
    hint = mask_email(destination) if channel == Channel.EMAIL else mask_phone(destination)
    return Delivery.objects.create(
        kind=kind,
        channel=channel,
        agency=agency,
        destination=SealedDestination.objects.create(address=destination),
        destination_hint=hint,
        next_attempt_at=timezone.now(),
    )


def _checked_addresses(email: str, phone: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ValueError("Not a usable e-mail address.") from None
        found.append((Channel.EMAIL, email.strip()))
    if phone:
        found.append((Channel.SMS, normalize_phone(phone)))
    return found


@transaction.atomic
def deliveries_create(
    *,
    kind: str,
    recipient_user: Any = None,
    email: str = "",
    phone: str = "",
    agency: Agency | None = None,
    channels: tuple[str, ...] | None = None,
) -> list[Any]:
    """One delivery (and one queued job) per channel; see ``notify`` for the contract.
    Peer-support kinds get a ``PeerSupportDelivery`` each and no job (see there)."""
    spec = get_kind(kind)
    if recipient_user is not None and (email or phone):
        raise ValueError("Notify an account or an address, not both.")
    if recipient_user is None and not (email or phone):
        raise ValueError("A notification needs a recipient.")
    if is_peer_support(kind):
        return _peer_support_create(
            kind, spec.channels, recipient_user, email, phone, agency, channels
        )
    deliveries: list[Delivery] = []
    if recipient_user is not None:
        wanted = tuple(c for c in spec.channels if channels is None or c in channels)
        for channel, hint in _user_channels(recipient_user, wanted):
            deliveries.append(
                Delivery.objects.create(
                    kind=kind,
                    channel=channel,
                    agency_id=agency.pk if agency is not None else recipient_user.agency_id,
                    recipient_user=recipient_user,
                    destination_hint=hint,
                    next_attempt_at=timezone.now(),
                )
            )
    else:
        for channel, destination in _checked_addresses(email, phone):
            deliveries.append(
                _sealed_delivery(kind=kind, channel=channel, agency=agency, destination=destination)
            )
    for delivery in deliveries:
        _enqueue(delivery.pk)
    if not deliveries:
        logger.info(
            "notification has no channel",
            extra={"kind": kind, "user_id": getattr(recipient_user, "pk", None)},
        )
    return deliveries


# --- Peer-support messages -----------------------------------------------------------------


def _hour(moment: datetime) -> datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def _peer_support_create(
    kind: str,
    kind_channels: tuple[str, ...],
    recipient_user: Any,
    email: str,
    phone: str,
    agency: Agency | None,
    channels: tuple[str, ...] | None,
) -> list[PeerSupportDelivery]:
    """Sealed recipient, hour-coarse times, no job row: the periodic sender sends it."""
    due = {"due": timezone.now().isoformat()}
    found: list[tuple[str, dict[str, Any]]] = []
    if recipient_user is not None:
        wanted = tuple(c for c in kind_channels if channels is None or c in channels)
        found = [
            (channel, {"user_id": recipient_user.pk})
            for channel, _ in _user_channels(recipient_user, wanted)
        ]
        agency_id = agency.pk if agency is not None else recipient_user.agency_id
    else:
        found = [
            (channel, {"address": address}) for channel, address in _checked_addresses(email, phone)
        ]
        agency_id = agency.pk if agency is not None else None
    deliveries = [
        PeerSupportDelivery.objects.create(  # type: ignore[misc]  # encrypted JSON
            kind=kind, channel=channel, agency_id=agency_id, recipient=recipient, schedule=due
        )
        for channel, recipient in found
    ]
    if not deliveries:
        logger.info("notification has no channel", extra={"kind": kind})  # never whom
    return deliveries


def _peer_support_destination(delivery: PeerSupportDelivery) -> str:
    recipient = delivery.recipient_data
    if recipient.get("address"):
        return str(recipient["address"])
    from tandem.accounts.models import User

    user_id = recipient.get("user_id")
    user = User.objects.filter(pk=int(user_id)).first() if user_id else None
    if user is None:
        raise NoDestination("account deactivated")
    return _account_address(user, delivery.channel)


@transaction.atomic
def _peer_support_finish(
    delivery: PeerSupportDelivery, status: str, now: datetime, error: str = ""
) -> None:
    """Finished: shred whom and when (unaudited here: an audit row at the second a helper
    was alerted would date the request), keep the state and the hour."""
    delivery.status = status
    delivery.finished_at = _hour(now)
    delivery.last_error = error[:120]
    delivery.save(update_fields=["status", "finished_at", "last_error", "attempts"])
    delivery.shred(reason="peer-support message finished", audited=False)
    if status == DeliveryStatus.FAILED:
        logger.warning(
            "notification delivery failed",
            extra={
                "kind": delivery.kind,
                "channel": delivery.channel,
                "attempts": delivery.attempts,
                "error": error,
            },
        )


def _peer_support_attempt(delivery: PeerSupportDelivery, now: datetime) -> str:
    claimed = PeerSupportDelivery.objects.filter(pk=delivery.pk, status__in=OPEN_STATUSES).update(
        status=DeliveryStatus.SENDING
    )
    if not claimed:
        return "skipped"
    delivery.status = DeliveryStatus.SENDING
    delivery.schedule = {  # encrypted JSON
        **delivery.schedule_data,
        "claimed": now.isoformat(),
    }
    delivery.save(update_fields=["schedule"])
    try:
        _send(delivery, _peer_support_destination(delivery))
    except NoDestination as exc:
        _peer_support_finish(delivery, DeliveryStatus.CANCELLED, now, str(exc))
    except Exception as exc:
        _peer_support_failure(delivery, now, _describe(exc))
    else:
        delivery.attempts += 1
        _peer_support_finish(delivery, DeliveryStatus.SENT, now)
    return delivery.status


def _peer_support_failure(delivery: PeerSupportDelivery, now: datetime, error: str) -> None:
    delivery.attempts += 1
    if delivery.attempts >= MAX_ATTEMPTS:
        _peer_support_finish(delivery, DeliveryStatus.FAILED, now, error)
        return
    delivery.status = DeliveryStatus.RETRYING
    delivery.last_error = error[:120]
    due = now + RETRY_DELAYS[delivery.attempts - 1]
    delivery.schedule = {"due": due.isoformat()}  # encrypted JSON
    delivery.save(update_fields=["status", "last_error", "attempts", "schedule"])


def peer_support_deliveries_send(now: datetime | None = None) -> int:
    """Periodic (every minute): send the peer-support messages that are due, retry failed
    ones after 1, 5, 15 and 60 minutes, and recover those a dead worker left "sending".
    When each is due is sealed, so the (few) open ones are unsealed here, in memory."""
    now = now or timezone.now()
    handled = 0
    # Finished rows say only kind, channel, state and hour; a week is enough to look into
    # a failure, and fewer rows leave less to count alerts per hour with.
    PeerSupportDelivery.objects.filter(
        finished_at__lt=_hour(now) - PEER_SUPPORT_FINISHED_KEPT
    ).delete()
    open_rows = PeerSupportDelivery.objects.select_related("data_key").filter(
        status__in=(*OPEN_STATUSES, DeliveryStatus.SENDING)
    )
    for delivery in open_rows:
        schedule = delivery.schedule_data
        if delivery.status == DeliveryStatus.SENDING:
            claimed = schedule.get("claimed")
            if claimed and datetime.fromisoformat(claimed) + STALLED_AFTER < now:
                with transaction.atomic():
                    _peer_support_failure(delivery, now, "Interrupted")
                handled += 1
            continue
        due = schedule.get("due")
        if due and datetime.fromisoformat(due) > now:
            continue
        if _peer_support_attempt(delivery, now) != "skipped":
            handled += 1
    return handled


# --- Sending ----------------------------------------------------------------------------


def _account_address(user: User, channel: str) -> str:
    """Where a message to an account goes on ``channel``: its e-mail or its phone number."""
    if not user.is_active:
        raise NoDestination("account deactivated")
    address = user.email if channel == Channel.EMAIL else user.phone
    if not address:
        raise NoDestination("no address on the account")
    if channel == Channel.SMS:
        try:
            return normalize_phone(address)
        except ValueError:
            raise NoDestination("unusable phone number") from None
    return str(address)


def _destination(delivery: Delivery) -> str:
    user = delivery.recipient_user
    if user is not None:
        return _account_address(user, delivery.channel)
    sealed = delivery.destination
    stored = sealed.address if sealed is not None else None
    if not stored:
        raise NoDestination("destination already shredded")
    return str(stored)


def _send(delivery: Delivery | PeerSupportDelivery, destination: str) -> None:
    spec = get_kind(delivery.kind)
    url = site_url()
    token = sending_kind.set(delivery.kind)  # console back ends withhold psp.* recipients
    try:
        if delivery.channel == Channel.EMAIL:
            timeout = getattr(settings, "EMAIL_TIMEOUT", None) or 30
            EmailMessage(
                subject=spec.subject,
                body=spec.email_body(url),
                from_email=settings.DEFAULT_FROM_EMAIL,
                to=[destination],
                connection=get_connection(timeout=timeout),
            ).send(fail_silently=False)
        else:
            send_sms(to=destination, body=spec.sms_body(url))
    finally:
        sending_kind.reset(token)


def _describe(exc: BaseException) -> str:
    # SmsError texts are written to be safe; any other text may contain the address.
    if isinstance(exc, SmsError):
        return f"SmsError: {exc}"[:120]
    return type(exc).__name__[:120]


def _forget_peer_support_recipient(delivery: Delivery) -> None:
    """A finished peer-support message forgets whom it went to. Kept, these rows would show
    over months which helpers were offered each request, and so who was left out — the
    requester's own chain of command."""
    if delivery.kind.startswith("psp.") and delivery.recipient_user_id is not None:
        delivery.recipient_user = None
        delivery.destination_hint = ""
        delivery.save(update_fields=["recipient_user", "destination_hint"])


def _shred_destination(delivery: Delivery) -> None:
    """Crypto-shred a sealed address once it is no longer needed, then drop its row."""
    _forget_peer_support_recipient(delivery)
    sealed = delivery.destination
    if sealed is None:
        return
    sealed.shred(reason="notification finished")
    delivery.destination = None
    delivery.save(update_fields=["destination"])
    sealed.delete()


def _delivery_detail(delivery: Delivery) -> dict[str, Any]:
    """What a delivery's audit event holds: ids and categories, never the destination."""
    return {
        "kind": delivery.kind,
        "channel": delivery.channel,
        "attempts": delivery.attempts,
        "recipient_user_id": delivery.recipient_user_id,
    }


def _finish(delivery: Delivery, status: str, error: str, *, action: str, outcome: str) -> None:
    """Close a delivery for good (sent, failed or cancelled): no further attempt, its
    address shredded, and the audit event saying how it ended."""
    delivery.status = status
    delivery.finished_at = timezone.now()
    delivery.next_attempt_at = None
    delivery.last_error = error
    _shred_destination(delivery)
    delivery.save(
        update_fields=[
            "attempts",
            "status",
            "finished_at",
            "next_attempt_at",
            "last_error",
            "updated_at",
        ]
    )
    audit_record(
        action=action,
        obj=delivery,
        agency_id=delivery.agency_id,
        outcome=outcome,
        detail=_delivery_detail(delivery),
    )


@transaction.atomic
def _record_success(delivery: Delivery, now: datetime) -> None:
    number = delivery.attempts + 1
    DeliveryAttempt.objects.create(
        delivery=delivery, number=number, attempted_at=now, succeeded=True
    )
    delivery.attempts = number
    _finish(delivery, DeliveryStatus.SENT, "", action="notification.sent", outcome="success")


@transaction.atomic
def _record_failure(delivery: Delivery, now: datetime, error: str) -> None:
    number = delivery.attempts + 1
    DeliveryAttempt.objects.create(
        delivery=delivery, number=number, attempted_at=now, succeeded=False, error=error
    )
    delivery.attempts = number
    delivery.last_error = error
    fields = ["attempts", "last_error", "status", "next_attempt_at", "updated_at"]
    if number < MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.RETRYING
        delivery.next_attempt_at = now + RETRY_DELAYS[number - 1]
        delivery.save(update_fields=fields)
        _enqueue(delivery.pk, run_after=delivery.next_attempt_at)
        return
    _finish(delivery, DeliveryStatus.FAILED, error, action="notification.failed", outcome="failed")
    logger.warning(
        "notification delivery failed",
        extra={
            "delivery_id": delivery.pk,
            "kind": delivery.kind,
            "channel": delivery.channel,
            "attempts": number,
            "error": error,
        },
    )


@transaction.atomic
def _record_cancelled(delivery: Delivery, reason: str) -> None:
    _finish(
        delivery,
        DeliveryStatus.CANCELLED,
        reason[:120],
        action="notification.cancelled",
        outcome="failed",
    )


def delivery_attempt(*, delivery_id: int) -> str:
    """Try to send one delivery; returns its status afterwards ("skipped" if not open)."""
    now = timezone.now()
    claimed = Delivery.objects.filter(pk=delivery_id, status__in=OPEN_STATUSES).update(
        status=DeliveryStatus.SENDING, updated_at=now
    )
    if not claimed:
        return "skipped"
    delivery = Delivery.objects.select_related("recipient_user", "destination__data_key").get(
        pk=delivery_id
    )
    try:
        _send(delivery, _destination(delivery))
    except NoDestination as exc:
        _record_cancelled(delivery, str(exc))
    except Exception as exc:
        _record_failure(delivery, now, _describe(exc))
    else:
        _record_success(delivery, now)
    return delivery.status


def deliveries_resume_stalled() -> int:
    """Periodic: recover deliveries whose worker died mid-send or whose job went missing."""
    now = timezone.now()
    resumed = 0
    stalled = Delivery.objects.filter(
        status=DeliveryStatus.SENDING, updated_at__lt=now - STALLED_AFTER
    ).select_related("destination__data_key")
    for delivery in stalled:
        _record_failure(delivery, now, "Interrupted")
        resumed += 1
    overdue = Delivery.objects.filter(
        status__in=OPEN_STATUSES, next_attempt_at__lt=now - OVERDUE_AFTER
    ).values_list("pk", flat=True)
    for delivery_id in overdue:
        with transaction.atomic():
            Delivery.objects.filter(pk=delivery_id).update(next_attempt_at=now)
            _enqueue(delivery_id)
        resumed += 1
    return resumed
