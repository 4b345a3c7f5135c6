from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tandem.audit"
    label = "audit"

    def ready(self) -> None:
        from tandem.audit import keys  # noqa: F401  (registers the deploy check)
        from tandem.audit.checkpoints import CHECKPOINT_INTERVAL  # and the destination check
        from tandem.audit.services import audit_record
        from tandem.core.hooks import register_audit_recorder
        from tandem.core.jobs import register_periodic

        register_audit_recorder(audit_record)

        register_periodic(CHECKPOINT_INTERVAL, "tandem.audit.checkpoints.audit_checkpoint_job")
