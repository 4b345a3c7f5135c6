from datetime import timedelta

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "tandem.audit"
    label = "audit"

    def ready(self) -> None:
        from tandem.audit import keys  # noqa: F401  (registers the deploy check)
        from tandem.core.jobs import register_periodic

        register_periodic(timedelta(minutes=15), "tandem.audit.checkpoints.audit_checkpoint_job")
