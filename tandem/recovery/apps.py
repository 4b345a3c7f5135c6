from datetime import timedelta

from django.apps import AppConfig


class RecoveryConfig(AppConfig):
    name = "tandem.recovery"
    label = "recovery"

    def ready(self) -> None:
        from tandem.core.jobs import register_periodic

        register_periodic(timedelta(days=1), "tandem.recovery.services.follow_up_reminders_send")
        register_periodic(timedelta(days=1), "tandem.recovery.services.submissions_purge")
        register_periodic(timedelta(days=1), "tandem.recovery.services.records_purge")
        register_periodic(timedelta(days=1), "tandem.recovery.services.match_scan_all")
        register_periodic(timedelta(days=1), "tandem.recovery.services.import_batches_purge")
