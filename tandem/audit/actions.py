"""The closed vocabulary of audit actions (X-4): every ``action`` written to the trail.

``audit_record`` refuses an action that is not listed here while DEBUG is on or the tests
run, and logs a warning in production (the event is still recorded: an audit row is never
dropped for a naming mistake). ``tests/acceptance/test_audit.py`` reads the source of every
app and fails when an action used in the code is missing here. Add a new action here, in
its group, in the same change that starts recording it. Names are ``area.verb`` (some
older ones are single words); never put a person's name or free text in an action.
"""

from __future__ import annotations

ACTIONS: frozenset[str] = frozenset(
    {
        # account
        "account.backup_codes_generated",
        "account.created",
        "account.credentials_reset",
        "account.deactivated",
        "account.locked",
        "account.mfa_enrolled",
        "account.mfa_reset",
        "account.password_changed",
        "account.password_set",
        "account.reactivated",
        "account.unlocked",
        # agency
        "agency.create",
        "agency.logo",
        # audit
        "audit.export",
        "audit.key_rotated",
        "audit.purge",
        "audit.verify",
        "audit.view",
        # backup
        "backup.create",
        # crypto
        "crypto.epoch_rotate",
        "crypto.rotate",
        "crypto.shred",
        # feed
        "feed.issued",
        "feed.revoked",
        # member
        "member.activate",
        "member.create",
        "member.deactivate",
        "member.import",
        "member.import_preview",
        "member.update",
        # notification
        "notification.cancelled",
        "notification.failed",
        "notification.sent",
        # policy
        "policy.reset",
        "policy.update",
        # psp
        "psp.availability.set",
        "psp.breach.reported",
        "psp.consultation.answered",
        "psp.consultation.asked",
        "psp.coverage.gaps",
        "psp.deployment.created",
        "psp.duty.acknowledged",
        "psp.duty.filed",
        "psp.duty.renotified",
        "psp.duty.resolved",
        "psp.group_session.created",
        "psp.incident.created",
        "psp.intake_link.rotated",
        "psp.mutual_aid.saved",
        "psp.override.created",
        "psp.override.deleted",
        "psp.profile.photo",
        "psp.profile.updated",
        "psp.reminder.done",
        "psp.request.accepted",
        "psp.request.closed",
        "psp.request.contacted",
        "psp.request.created",
        "psp.request.expired",
        "psp.request.offered",
        "psp.request.recused",
        "psp.request.withdrawn",
        "psp.rotation.saved",
        # readiness
        "readiness.agreement_published",
        "readiness.agreement_signed",
        "readiness.application_decided",
        "readiness.application_interviewed",
        "readiness.application_submitted",
        "readiness.application_viewed",
        "readiness.application_withdrawn",
        "readiness.applications_viewed",
        "readiness.attendance_marked",
        "readiness.background_check_recorded",
        "readiness.catalogue_seeded",
        "readiness.certification_updated",
        "readiness.certification_viewed",
        "readiness.designated",
        "readiness.enrolled",
        "readiness.gate_changed",
        "readiness.hours_logged",
        "readiness.hours_signed_off",
        "readiness.person_viewed",
        "readiness.policy_reviewed",
        "readiness.removed",
        "readiness.session_scheduled",
        "readiness.session_viewed",
        "readiness.signature_refused",
        "readiness.statement_viewed",
        "readiness.team_viewed",
        "readiness.time_entry_added",
        "readiness.time_entry_deleted",
        "readiness.time_exported",
        "readiness.vacancy_closed",
        "readiness.vacancy_created",
        # recovery
        "recovery.match_run_request",
        "recovery.match_run",
        "recovery.candidate_view",
        "recovery.client_not_same",
        "recovery.client_merge",
        "recovery.client_unmerge",
        "recovery.import_upload",
        "recovery.import_commit",
        "recovery.accounting_view",
        "recovery.cji_create",
        "recovery.cji_read",
        "recovery.client_create",
        "recovery.client_flags",
        "recovery.client_photo_view",
        "recovery.client_purged",
        "recovery.client_update",
        "recovery.client_view",
        "recovery.consent_create",
        "recovery.consent_event_ended",
        "recovery.consent_revoke",
        "recovery.consent_view",
        "recovery.contact_create",
        "recovery.contact_update",
        "recovery.contact_view",
        "recovery.disclosure_create",
        "recovery.disclosure_refused",
        "recovery.disclosure_view",
        "recovery.goal_create",
        "recovery.goal_status",
        "recovery.naloxone_kit",
        "recovery.outreach_create",
        "recovery.overdose_create",
        "recovery.overdose_export",
        "recovery.planned_cancel",
        "recovery.planned_create",
        "recovery.planned_start",
        "recovery.referral_advance",
        "recovery.referral_create",
        "recovery.referral_view",
        "recovery.reminder_sent",
        "recovery.resource_save",
        "recovery.safety_assessment",
        "recovery.stage_record",
        "recovery.statement_decide",
        "recovery.statement_request",
        "recovery.sworn_note_create",
        # report
        "report.stored",
        "report.viewed",
        # role
        "role.approved",
        "role.declined",
        "role.granted",
        "role.proposed",
        "role.revoked",
        "role.suspended",
        # seed
        "seed.generate",
        # signin
        "signin.failed",
        "signin.succeeded",
        # signout
        "signout",
        # unit
        "unit.create",
        "unit.delete",
        "unit.update",
    }
)


def is_known_action(action: str) -> bool:
    return action in ACTIONS
