from datetime import timedelta

from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "tandem.notifications"
    label = "notifications"
    verbose_name = "Notifications and jobs"

    def ready(self) -> None:
        from tandem.core.hooks import register_delivery_creator
        from tandem.core.jobs import register_periodic
        from tandem.notifications.services import deliveries_create

        register_delivery_creator(deliveries_create)

        # Peer-support messages have no job row: this sender picks up the due ones.
        register_periodic(
            timedelta(minutes=1), "tandem.notifications.services.peer_support_deliveries_send"
        )
