from django.apps import AppConfig


class AgenciesConfig(AppConfig):
    name = "tandem.agencies"
    label = "agencies"
