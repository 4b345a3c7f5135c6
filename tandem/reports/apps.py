from datetime import timedelta

from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "tandem.reports"
    label = "reports"

    def ready(self) -> None:
        from tandem.core.jobs import register_periodic

        # Daily: a month that has ended gets its report once (the run is unique per month).
        register_periodic(timedelta(days=1), "tandem.reports.services.deliver_monthly_reports")
        # Hourly: the usage counts of months that can no longer change, kept once.
        register_periodic(timedelta(hours=1), "tandem.reports.services.usage_months_roll_up")
