from django.apps import AppConfig


class ReadinessConfig(AppConfig):
    name = "tandem.readiness"
    label = "readiness"
