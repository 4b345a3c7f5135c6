"""Notifications by e-mail and SMS that carry no sensitive content (X-8, P1).

The only way to send one is ``notify(kind=..., recipient_user=... | email=... | phone=...)``.
There is no parameter for a subject or a text: every message comes from the fixed
``CATALOGUE`` below, whose wording says only that something is waiting in Tandem and links
to the site's front page. Nobody who glances at a phone's lock screen, a shared mailbox or
a provider's logs learns who asked for help, about what, or that it concerns peer support.

Each message is one ``Delivery`` row and one queued job (``deliver_notification``) whose only
argument is the delivery id, so job rows hold no addresses either. Peer-support kinds
(``psp.*``) are different: one ``PeerSupportDelivery`` each, whose recipient and due time
are sealed and shredded once sent, with hour-coarse times and no job row — a periodic
sender picks them up. Who was offered a request would show who was left out, and so who
asked. See ``tandem.notifications.services`` for sending, retries and how destinations are
protected.

No log line and no console back end names the recipient of a peer-support message:
``ConsoleEmailBackend`` and ``tandem.core.sms.ConsoleSmsBackend`` print the kind and
"recipient withheld" for them (they learn the kind from ``sending_kind``).
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TextIO

from django.conf import settings
from django.core.mail.backends.console import EmailBackend as DjangoConsoleEmailBackend

from tandem.core.hooks import deliveries_create

#: The kind being sent right now (set by the sender around the back end's call).
sending_kind: contextvars.ContextVar[str] = contextvars.ContextVar("sending_kind", default="")

WITHHELD = "recipient withheld"


def is_peer_support(kind: str) -> bool:
    return kind.startswith("psp.")


_NEW_ITEM = "You have a new item in Tandem."
_ATTENTION = "Something in Tandem is waiting for you. Please sign in soon."
_FOOTER = (
    "\n\nThis message has no details on purpose. Sign in to Tandem to see them.\n"
    "Please do not reply to this message."
)


@dataclass(frozen=True)
class Kind:
    """One catalogue entry: fixed wording, and the channels used for an account."""

    subject: str
    text: str
    channels: tuple[str, ...] = ("email", "sms")

    def sms_body(self, url: str) -> str:
        return f"{self.text} Open Tandem: {url}"

    def email_body(self, url: str) -> str:
        return f"{self.text}\n\nOpen Tandem: {url}{_FOOTER}"


CATALOGUE: dict[str, Kind] = {
    "psp.request.assigned": Kind("New item in Tandem", _NEW_ITEM),
    "psp.escalation": Kind("Tandem: please sign in", _ATTENTION),
    "psp.duty_to_report": Kind("Tandem: please sign in", _ATTENTION),
    "psp.coverage_gap": Kind("Tandem: please sign in", _ATTENTION, ("email",)),
    "psp.breach": Kind("Tandem: please sign in", _ATTENTION),
    "psp.consultation": Kind("New item in Tandem", _NEW_ITEM, ("email",)),
    "readiness.reminder": Kind(
        "Tandem: reminder", "You have a reminder waiting in Tandem.", ("email",)
    ),
    "recovery.reminder": Kind(
        "Tandem: reminder", "You have a reminder waiting in Tandem.", ("email",)
    ),
    # To an ARO or a PRS: their annual evaluation was written (OO 2-78 E.1–2).
    "recovery.evaluation": Kind("New item in Tandem", _NEW_ITEM, ("email",)),
    "report.ready": Kind(
        "Tandem: report ready", "A report you asked for is ready in Tandem.", ("email",)
    ),
    # To the chief and the role's holders: a program role awaits a second person's decision.
    "role.request": Kind("Tandem: please sign in", _ATTENTION),
    # To the chief and the holders of a scope's role: an API client awaits their approval.
    "api.client_approval": Kind("Tandem: please sign in", _ATTENTION),
    # To the person whose password, authenticator or single sign-on link an administrator
    # reset, changed or removed.
    "account.signin_reset": Kind(
        "Tandem: your sign-in was reset",
        "Your Tandem sign-in was reset. If this was not you, contact your administrator.",
    ),
    "account.security": Kind(
        "Tandem: account notice",
        "There is a security notice for your Tandem account. "
        "If you did not expect it, tell your administrator.",
    ),
}


def site_url() -> str:
    return str(settings.SITE_URL).rstrip("/") + "/"


def get_kind(kind: str) -> Kind:
    try:
        return CATALOGUE[kind]
    except KeyError:
        raise ValueError(
            f"Unknown notification kind {kind!r}; add it to tandem.core.notifications.CATALOGUE."
        ) from None


def notify(
    *,
    kind: str,
    recipient_user: Any = None,
    email: str | None = None,
    phone: str | None = None,
    agency: Any = None,
    channels: Iterable[str] | None = None,
) -> list[Any]:
    """Queue the catalogue message ``kind`` for one recipient; returns the deliveries.

    Give either ``recipient_user`` (an account: its current e-mail and phone are read when
    sending, on the kind's channels, optionally narrowed by ``channels``) or an ``email``
    and/or ``phone`` for someone without an account (stored sealed, shredded once sent).
    Call it inside the transaction of the change that causes it: if that rolls back, nothing
    is sent.
    """
    return deliveries_create(
        kind=kind,
        recipient_user=recipient_user,
        email=email or "",
        phone=phone or "",
        agency=agency,
        channels=tuple(channels) if channels is not None else None,
    )


class ConsoleEmailBackend(DjangoConsoleEmailBackend):
    """Django's console back end, except that a peer-support message shows only its kind:
    no recipient, no headers, no time."""

    stream: TextIO

    def write_message(self, message: Any) -> None:
        kind = sending_kind.get()
        if not is_peer_support(kind):
            super().write_message(message)
            return
        self.stream.write(f"E-mail ({kind}): {WITHHELD}\n")
        self.stream.write("-" * 79 + "\n")
