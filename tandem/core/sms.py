"""Text messages through a provider interface (X-8), shaped like Django's e-mail back ends.

``settings.TANDEM_SMS_BACKEND`` names the back end:

* ``ConsoleSmsBackend`` (demo): writes the message to standard output, number masked;
  for a peer-support kind only the kind and "recipient withheld".
* ``LocmemSmsBackend`` (tests): appends to ``tandem.core.sms.outbox``.
* ``HttpSmsBackend``: a Twilio-compatible form POST (``To``, ``From``, ``Body``) to
  ``TANDEM_SMS_HTTP_URL``, authenticated with ``TANDEM_SMS_HTTP_TOKEN`` ("user:secret" is
  sent as HTTP Basic, anything else as a Bearer token).

Back ends raise ``SmsError`` when a message was not accepted. Error messages never carry
the destination number or the provider's answer (which may echo it).
"""

from __future__ import annotations

import base64
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, TextIO

from django.conf import settings
from django.utils.module_loading import import_string


class SmsError(Exception):
    """The message was not accepted; the text says why without naming the destination."""


@dataclass(frozen=True)
class SmsMessage:
    to: str
    body: str
    from_number: str = ""


outbox: list[SmsMessage] = []


def normalize_phone(number: str) -> str:
    """Strip formatting; a bare 10-digit number is taken as North American (+1)."""
    raw = number.strip()
    digits = re.sub(r"\D", "", raw)
    if len(digits) < 7 or len(digits) > 15:
        raise ValueError("Not a usable phone number.")
    if raw.startswith("+"):
        return "+" + digits
    if len(digits) == 10:
        return "+1" + digits
    if len(digits) == 11 and digits.startswith("1"):
        return "+" + digits
    return digits


def mask_phone(number: str) -> str:
    """Only the last two digits: enough for an operator to tell numbers apart."""
    digits = re.sub(r"\D", "", number)
    return "•••" + digits[-2:] if digits else "•••"


class SmsBackend:
    def __init__(self, **options: Any) -> None:
        self.options = options

    def send(self, *, to: str, body: str) -> None:
        """Deliver one message or raise ``SmsError``."""
        raise SmsError(f"{type(self).__name__} cannot send messages.")

    @staticmethod
    def from_number() -> str:
        return str(getattr(settings, "TANDEM_SMS_FROM", "") or "")


class ConsoleSmsBackend(SmsBackend):
    def __init__(self, *, stream: TextIO | None = None, **options: Any) -> None:
        super().__init__(**options)
        self.stream = stream

    def send(self, *, to: str, body: str) -> None:
        from tandem.core.notifications import WITHHELD, is_peer_support, sending_kind

        stream = self.stream or sys.stdout
        kind = sending_kind.get()
        if is_peer_support(kind):
            stream.write(f"SMS ({kind}): {WITHHELD}\n")  # not even the last digits
        else:
            stream.write(f"SMS to {mask_phone(to)}: {body}\n")
        stream.flush()


class LocmemSmsBackend(SmsBackend):
    def send(self, *, to: str, body: str) -> None:
        outbox.append(SmsMessage(to=to, body=body, from_number=self.from_number()))


class HttpSmsBackend(SmsBackend):
    """Generic adapter for commercial providers that accept a Twilio-style form POST."""

    def __init__(
        self,
        *,
        url: str | None = None,
        token: str | None = None,
        timeout: float | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.url = url if url is not None else str(getattr(settings, "TANDEM_SMS_HTTP_URL", ""))
        self.token = (
            token if token is not None else str(getattr(settings, "TANDEM_SMS_HTTP_TOKEN", ""))
        )
        self.timeout = (
            timeout
            if timeout is not None
            else float(getattr(settings, "TANDEM_SMS_HTTP_TIMEOUT", 10))
        )

    def _check_url(self) -> None:
        scheme = urllib.parse.urlsplit(self.url).scheme
        plain_http_ok = settings.DEBUG or getattr(settings, "INSECURE_HTTP", False)
        if scheme != "https" and not (scheme == "http" and plain_http_ok):
            raise SmsError("TANDEM_SMS_HTTP_URL must be an https:// address.")

    def _authorization(self) -> str:
        if ":" in self.token:
            return "Basic " + base64.b64encode(self.token.encode()).decode()
        return "Bearer " + self.token

    def send(self, *, to: str, body: str) -> None:
        self._check_url()
        data = urllib.parse.urlencode({"To": to, "From": self.from_number(), "Body": body})
        request = urllib.request.Request(  # noqa: S310 - scheme checked in _check_url
            self.url,
            data=data.encode(),
            method="POST",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        if self.token:
            request.add_header("Authorization", self._authorization())
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status = response.status
        except urllib.error.HTTPError as exc:
            raise SmsError(f"SMS provider answered HTTP {exc.code}.") from None
        except (urllib.error.URLError, TimeoutError, OSError):
            raise SmsError("SMS provider could not be reached.") from None
        if not 200 <= status < 300:
            raise SmsError(f"SMS provider answered HTTP {status}.")


def get_sms_backend(path: str | None = None, **options: Any) -> SmsBackend:
    backend_class = import_string(path or settings.TANDEM_SMS_BACKEND)
    backend: SmsBackend = backend_class(**options)
    return backend


def send_sms(*, to: str, body: str) -> None:
    get_sms_backend().send(to=normalize_phone(to), body=body)
