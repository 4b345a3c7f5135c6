from datetime import timedelta

from django.apps import AppConfig


class ApiConfig(AppConfig):
    name = "tandem.api"
    label = "api"
    verbose_name = "Agency API"

    def ready(self) -> None:
        from tandem.core.jobs import register_periodic

        # Closes the per-minute windows of refused calls with one audited total each.
        register_periodic(timedelta(minutes=5), "tandem.api.services.api_auth_failures_summarise")
