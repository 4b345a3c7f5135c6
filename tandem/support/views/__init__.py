"""Peer-support screens: roster, asking for support, the supporter's workspace, on call
now, schedules, limits of confidentiality, critical incidents, and the intake page.

Views parse input, ask ``access`` for the object (404 for missing or not allowed), call a
service and render. Messages shown after an action never name the person who asked.
"""

from __future__ import annotations

from .common import (
    FEED_PURPOSE,
)
from .help_page import (
    help_status,
    intake,
)
from .incidents import (
    _session,
    incident_detail,
    incident_list,
    mutual_aid,
)
from .intake_link import (
    intake_admin,
)
from .limits import (
    breach_new,
    consult_list,
    consult_new,
    duty_acknowledge,
    duty_detail,
    duty_list,
    duty_new,
)
from .on_behalf import (
    CHANNEL_WAYS,
    _status,
    on_behalf_channels,
    on_behalf_new,
    receipt,
)
from .on_call import (
    coverage,
    on_call_now,
    override_delete,
    override_new,
    queue,
    rotation_edit,
    schedule,
)
from .roster import (
    POSTER_LEDE,
    ROSTER_PER_PAGE,
    directory,
    poster,
    poster_pdf,
)
from .workspace import (
    availability,
    feed,
    feed_manage,
    photo,
    profile_edit,
    reminder_done,
    request_accept,
    request_close,
    request_contact,
    request_detail,
    request_recuse,
    workspace,
)

__all__ = [
    "CHANNEL_WAYS",
    "FEED_PURPOSE",
    "POSTER_LEDE",
    "ROSTER_PER_PAGE",
    "_session",
    "_status",
    "availability",
    "breach_new",
    "consult_list",
    "consult_new",
    "coverage",
    "directory",
    "duty_acknowledge",
    "duty_detail",
    "duty_list",
    "duty_new",
    "feed",
    "feed_manage",
    "help_status",
    "incident_detail",
    "incident_list",
    "intake",
    "intake_admin",
    "mutual_aid",
    "on_behalf_channels",
    "on_behalf_new",
    "on_call_now",
    "override_delete",
    "override_new",
    "photo",
    "poster",
    "poster_pdf",
    "profile_edit",
    "queue",
    "receipt",
    "reminder_done",
    "request_accept",
    "request_close",
    "request_contact",
    "request_detail",
    "request_recuse",
    "rotation_edit",
    "schedule",
    "workspace",
]
