"""Writes for team readiness. Each is atomic, audited in the same transaction, and — when
it changes anything a person's gates depend on — recomputes that person's gates at once
(``person_recompute``), so a supporter who falls out of compliance leaves the roster the
moment it happens, not at the next nightly run.
"""

from __future__ import annotations

from .agreements import (
    LOCKED_MESSAGE,
    _signature_write,
    agreement_publish,
    agreement_sign,
    content_hash,
    current_version,
    policy_review_due,
    policy_review_record,
)
from .certification import (
    CERTIFICATION_FIELDS,
    CREDENTIAL_FIELDS,
    SELF_FIELDS,
    _check_hours,
    certification_progress,
    certification_update,
    hours_log,
    hours_sign_off,
)
from .clearances import (
    check_record,
)
from .common import (
    MAX_HOURS_PER_DAY,
    logger,
)
from .courses import (
    CJIS_TOPICS,
    JOPLIN_TOPICS,
    catalogue_seed,
)
from .gates import (
    agency_recompute,
    person_recompute,
    recompute_everyone,
)
from .hours import (
    time_entry_add,
    time_entry_delete,
)
from .reminders import (
    reminders_send,
)
from .selection import (
    APPLICATION_STEPS,
    DECISION_STEPS,
    STEP_PROGRAMS,
    TEAM_ROLE_WORDS,
    TEAM_ROLES,
    application_decide,
    application_interview,
    application_submit,
    application_withdraw,
    designation_grant,
    designation_remove,
    selection_progress,
    vacancy_close,
    vacancy_create,
)
from .training import (
    attendance_mark,
    session_enrol,
    session_schedule,
)

__all__ = [
    "APPLICATION_STEPS",
    "CERTIFICATION_FIELDS",
    "CJIS_TOPICS",
    "CREDENTIAL_FIELDS",
    "DECISION_STEPS",
    "JOPLIN_TOPICS",
    "LOCKED_MESSAGE",
    "MAX_HOURS_PER_DAY",
    "SELF_FIELDS",
    "STEP_PROGRAMS",
    "TEAM_ROLES",
    "TEAM_ROLE_WORDS",
    "_check_hours",
    "_signature_write",
    "agency_recompute",
    "agreement_publish",
    "agreement_sign",
    "application_decide",
    "application_interview",
    "application_submit",
    "application_withdraw",
    "attendance_mark",
    "catalogue_seed",
    "certification_progress",
    "certification_update",
    "check_record",
    "content_hash",
    "current_version",
    "designation_grant",
    "designation_remove",
    "hours_log",
    "hours_sign_off",
    "logger",
    "person_recompute",
    "policy_review_due",
    "policy_review_record",
    "recompute_everyone",
    "reminders_send",
    "selection_progress",
    "session_enrol",
    "session_schedule",
    "time_entry_add",
    "time_entry_delete",
    "vacancy_close",
    "vacancy_create",
]
