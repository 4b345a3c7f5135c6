"""Every write of the peer-support program: atomic, audited, and silent about requesters.

Audit rows and notifications name request ids, categories and the acting supporter only —
never the person who asked (P1, P3). Identity lives in the request's encrypted fields and
is shredded when the request closes, is withdrawn, or expires.
"""

from __future__ import annotations

from .common import (
    ACCEPTED_BY_ANOTHER,
    DUTY_RENOTIFY_AFTER,
    FINISHED_STATUSES,
    INTAKE_LINK_DAYS,
    USAGE_LIST_FIELDS,
    USAGE_STRING_FIELDS,
)
from .coverage import (
    coverage_warn_daily,
)
from .incidents import (
    deployment_create,
    group_session_create,
    incident_create,
    mutual_aid_save,
)
from .intake import (
    _digest,
    intake_link_for,
    intake_link_rotate,
)
from .limits import (
    breach_acknowledge,
    breach_readers,
    breach_report,
    consultation_answer,
    consultation_ask,
    duty_acknowledge,
    duty_file,
    duty_resolve,
    exception_choices,
    exception_labels,
)
from .profiles import (
    availability_set,
    profile_draft,
    profile_for,
    profile_photo_set,
    profile_update,
)
from .requests import (
    RECEIPT_ANSWERS,
    RECEIPT_STATES,
    _finish,
    _hour,
    _route,
    api_receipt,
    chosen_supporter_excluded,
    escalate_due,
    expire_open_requests,
    help_idempotency_key,
    member_by_number,
    publish_finished_requests,
    receipt_digest,
    reminder_done,
    request_accept,
    request_close,
    request_contact,
    request_create,
    request_recuse,
    request_withdraw,
    screen_receipt,
    status_code_digest,
    usage_fields,
)
from .schedules import (
    override_create,
    override_delete,
    rotation_save,
)

__all__ = [
    "ACCEPTED_BY_ANOTHER",
    "DUTY_RENOTIFY_AFTER",
    "FINISHED_STATUSES",
    "INTAKE_LINK_DAYS",
    "RECEIPT_ANSWERS",
    "RECEIPT_STATES",
    "USAGE_LIST_FIELDS",
    "USAGE_STRING_FIELDS",
    "_digest",
    "_finish",
    "_hour",
    "_route",
    "api_receipt",
    "screen_receipt",
    "availability_set",
    "breach_acknowledge",
    "breach_readers",
    "breach_report",
    "chosen_supporter_excluded",
    "consultation_answer",
    "consultation_ask",
    "coverage_warn_daily",
    "deployment_create",
    "duty_acknowledge",
    "duty_file",
    "duty_resolve",
    "escalate_due",
    "exception_choices",
    "exception_labels",
    "expire_open_requests",
    "group_session_create",
    "help_idempotency_key",
    "incident_create",
    "intake_link_for",
    "intake_link_rotate",
    "member_by_number",
    "mutual_aid_save",
    "override_create",
    "override_delete",
    "profile_draft",
    "profile_for",
    "profile_photo_set",
    "profile_update",
    "publish_finished_requests",
    "receipt_digest",
    "reminder_done",
    "request_accept",
    "request_close",
    "request_contact",
    "request_create",
    "request_recuse",
    "request_withdraw",
    "rotation_save",
    "status_code_digest",
    "usage_fields",
]
