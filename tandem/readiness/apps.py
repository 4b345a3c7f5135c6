from datetime import timedelta

from django.apps import AppConfig


class ReadinessConfig(AppConfig):
    name = "tandem.readiness"
    label = "readiness"

    def ready(self) -> None:
        from tandem.core.jobs import register_periodic

        # Dates pass: a quarter ends, a year begins, a clearance expires (gates also carry
        # their own lapse moment, so this only tidies up and reopens after a new year).
        register_periodic(timedelta(days=1), "tandem.readiness.services.recompute_everyone")
        register_periodic(timedelta(days=1), "tandem.readiness.services.reminders_send")
