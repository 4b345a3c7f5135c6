"""Start-up checks of settings that can only be judged with the apps loaded (``tandem check``
runs them, and so does every command that starts Tandem). Values that cannot even be parsed
are refused earlier, in ``tandem/settings.py``."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks
from django.utils.module_loading import import_string


def _backend_paths() -> list[tuple[str, str]]:
    tasks = getattr(settings, "TASKS", {}).get("default", {})
    return [
        ("TANDEM_EMAIL_BACKEND", str(settings.EMAIL_BACKEND)),
        ("TANDEM_SMS_BACKEND", str(settings.TANDEM_SMS_BACKEND)),
        ("TANDEM_TASK_BACKEND", str(tasks.get("BACKEND", ""))),
    ]


@checks.register()
def check_backends(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Each configured backend names a class that imports."""
    errors: list[checks.CheckMessage] = []
    for variable, path in _backend_paths():
        try:
            import_string(path)
        except ImportError as exc:
            errors.append(
                checks.Error(
                    f"{variable}={path!r} cannot be imported ({exc}).",
                    hint="Give the dotted path of an installed backend class.",
                    id="tandem.E010",
                )
            )
    return errors


@checks.register()
def check_session_limits(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Session limits must be at least one session time bucket (settings changed in code
    skip the start-up parsing that refuses them from the environment)."""
    step = settings.TANDEM_SESSION_GRANULARITY_SECONDS
    errors: list[checks.CheckMessage] = []
    for variable in ("TANDEM_IDLE_TIMEOUT_SECONDS", "TANDEM_ABSOLUTE_TIMEOUT_SECONDS"):
        value = getattr(settings, variable)
        if not isinstance(value, int) or value < step:
            errors.append(
                checks.Error(
                    f"{variable} must be at least {step} (sessions are timed in {step}-second "
                    f"steps), not {value!r}.",
                    id="tandem.E011",
                )
            )
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_secret_key(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """``check --deploy``: the built-in insecure fallback key is for the demo and tests only."""
    fallback = getattr(settings, "INSECURE_FALLBACK_SECRET_KEY", None)
    if fallback is not None and str(settings.SECRET_KEY) == fallback:
        return [
            checks.Warning(
                "TANDEM_SECRET_KEY is not set, so the built-in insecure fallback secret key is in "
                "use: anyone can forge sessions and signed links.",
                hint="Set TANDEM_SECRET_KEY to 50 or more random characters.",
                id="tandem.W001",
            )
        ]
    return []
