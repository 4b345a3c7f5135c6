from datetime import timedelta

from django.apps import AppConfig


class SupportConfig(AppConfig):
    name = "tandem.support"
    label = "support"

    def ready(self) -> None:
        from tandem.core.jobs import register_periodic
        from tandem.support import signals

        signals.connect()

        register_periodic(timedelta(minutes=1), "tandem.support.services.escalate_due")
        register_periodic(timedelta(hours=1), "tandem.support.services.expire_open_requests")
        register_periodic(timedelta(days=1), "tandem.support.services.coverage_warn_daily")
        register_periodic(timedelta(days=1), "tandem.support.services.publish_finished_requests")
