from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "tandem.agencies"
    label = "agencies"

    def ready(self) -> None:
        from datetime import timedelta

        from tandem.core.jobs import register_periodic

        # Staged roster files hold names and phone numbers: clear them within the hour.
        register_periodic(timedelta(hours=1), "tandem.agencies.services.roster_uploads_purge")
