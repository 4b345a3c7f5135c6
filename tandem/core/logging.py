"""Structured logging that cannot carry what users typed.

Log records never include request bodies, query strings, form values, cookies or headers:

* ``ScrubFilter`` (on every handler) replaces the ``request`` object Django attaches to error
  records by "METHOD /path" (``request.path`` never holds the query string), drops query
  strings from anything else that looks like a URL, masks e-mail addresses, phone numbers
  and long tokens in the message and in extra fields, and formats exceptions with
  ``safe_traceback``: file, line and code of each frame and the exception's class, but not
  its message (``int("what the user typed")`` puts the input in the message).
* ``ScrubbingExceptionReporterFilter`` hides every POST value, GET value, cookie, header and
  local variable in Django's error pages and reports.
* ``ScrubbingAdminEmailHandler`` mails operators (``TANDEM_ADMINS``) the scrubbed record only.
* ``access_log`` writes one line per request: request id, method, path (tokens masked),
  status and duration. No user id and no client address: together with a path they could
  tell who asked for peer support.
"""

from __future__ import annotations

import contextvars
import logging
import re
import traceback
from typing import Any

from django.http import HttpRequest
from django.utils.log import AdminEmailHandler
from django.views.debug import SafeExceptionReporterFilter

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

access_logger = logging.getLogger("tandem.access")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]+")
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d[\d\s().-]{5,}\d(?!\w)")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# "/path?query" inside a message (Django's runserver line, a request's repr): keep the path.
_QUERY = re.compile(r"(/[^\s?\"'<>]*)\?[^\s\"'<>]*")
_TOKENISH = re.compile(r"^(?=.*[A-Za-z])(?=.*\d)[A-Za-z0-9_-]{16,}$|^[A-Za-z0-9_-]{24,}$")
_STANDARD_ATTRS = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "request_id",
    "taskName",
}


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    if digits < 7 or _ISO_DATE.match(text.lstrip("+(")):
        return text
    return "[phone]"


def scrub_text(text: str) -> str:
    text = _QUERY.sub(r"\1", text)
    return _PHONE.sub(_mask_phone, _EMAIL.sub("[email]", text))


def _mask_segment(segment: str) -> str:
    stem, dot, suffix = segment.rpartition(".")
    if dot and _TOKENISH.match(stem) and suffix.isalnum():
        return f"[token].{suffix}"  # a calendar link: /…/<token>.ics
    return "[token]" if _TOKENISH.match(segment) else segment


def mask_path(path: str) -> str:
    """A request path fit for logs: secret-link tokens, e-mails and numbers masked."""
    return scrub_text("/".join(_mask_segment(seg) for seg in path.split("/")))


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, dict):
        return {str(k): _scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_scrub_value(v) for v in value]
    return scrub_text(str(value))


def _type_name(exc_type: Any) -> str:
    if exc_type is None:
        return "Exception"
    module = getattr(exc_type, "__module__", "")
    name = getattr(exc_type, "__qualname__", str(exc_type))
    return name if module in ("builtins", "") else f"{module}.{name}"


def _format_chain(te: traceback.TracebackException, seen: set[int]) -> list[str]:
    seen.add(id(te))
    lines: list[str] = []
    cause, context = te.__cause__, te.__context__
    if cause is not None and id(cause) not in seen:
        lines += _format_chain(cause, seen)
        lines.append("\nThe above exception was the direct cause of the following exception:\n\n")
    elif context is not None and not te.__suppress_context__ and id(context) not in seen:
        lines += _format_chain(context, seen)
        lines.append("\nDuring handling of the above exception, another exception occurred:\n\n")
    lines.append("Traceback (most recent call last):\n")
    lines.extend(te.stack.format())
    lines.append(f"{_type_name(getattr(te, 'exc_type', None))} (message withheld)\n")
    return lines


def safe_traceback(exc: BaseException) -> str:
    """A traceback with frames and exception classes, without messages or local values."""
    te = traceback.TracebackException.from_exception(exc, capture_locals=False)
    return "".join(_format_chain(te, set())).rstrip("\n")


class ScrubFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        request = getattr(record, "request", None)
        if request is not None and not isinstance(request, str):
            method = getattr(request, "method", None) or "?"
            path = getattr(request, "path", None)
            record.request = f"{method} {mask_path(path)}" if isinstance(path, str) else "-"
        # Freeze the message so args (which may hold user input) are not formatted again.
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not stop the request
            message = str(record.msg)
        record.msg = scrub_text(message)
        record.args = ()
        for key, value in list(vars(record).items()):
            if key not in _STANDARD_ATTRS and key != "request":
                setattr(record, key, _scrub_value(value))
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = safe_traceback(record.exc_info[1])
        elif record.exc_text:
            record.exc_text = scrub_text(record.exc_text)
        record.exc_info = None
        return True


class ScrubbingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Hide every value a user or browser sent, and every local variable, in error reports."""

    def get_post_parameters(self, request: HttpRequest | None) -> dict[str, str]:
        if request is None:
            return {}
        return dict.fromkeys(request.POST, self.cleansed_substitute)

    def get_safe_request_meta(self, request: HttpRequest) -> dict[str, str]:
        return dict.fromkeys(getattr(request, "META", {}), self.cleansed_substitute)

    def get_safe_cookies(self, request: HttpRequest) -> dict[str, str]:
        return dict.fromkeys(getattr(request, "COOKIES", {}), self.cleansed_substitute)

    def get_traceback_frame_variables(self, request: HttpRequest | None, tb_frame: Any) -> Any:
        return [(name, self.cleansed_substitute) for name in tb_frame.f_locals]


class ScrubbingAdminEmailHandler(AdminEmailHandler):
    """Mail operators the scrubbed record: no request data, no exception message, no locals."""

    def emit(self, record: logging.LogRecord) -> None:
        from django.conf import settings

        if not settings.ADMINS:
            return
        ScrubFilter().filter(record)
        subject = self.format_subject(f"{record.levelname}: {record.getMessage()}")
        body = "\n".join(
            [
                f"Level: {record.levelname}",
                f"Logger: {record.name}",
                f"Request id: {getattr(record, 'request_id', '-')}",
                f"Request: {getattr(record, 'request', '-')}",
                f"Message: {record.getMessage()}",
                "",
                record.exc_text or "(no traceback)",
                "",
                "Request data, form values and variables are never included in these reports.",
            ]
        )
        self.send_mail(subject, body, fail_silently=True)


def access_log(request: HttpRequest, status: int, duration_ms: float) -> None:
    access_logger.info(
        "request",
        extra={
            "method": request.method,
            "path": mask_path(request.path),
            "status": status,
            "duration_ms": round(duration_ms, 1),
        },
    )
