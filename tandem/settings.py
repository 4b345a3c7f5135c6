"""Tandem settings: one module, driven by environment variables.

Defaults are safe for production (DEBUG off, secure cookies, HSTS); the demo and the
test suite opt out of HTTPS-only cookies through TANDEM_DEMO / TANDEM_INSECURE_HTTP.
Never read these values at import time elsewhere: use ``django.conf.settings``.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


# A value that cannot be used stops start-up with one line naming the variable (``tandem``
# prints ImproperlyConfigured without a traceback); checks that need the apps loaded (backends
# that must import, the fallback secret key under --deploy) are system checks in
# ``tandem/core/checks.py``.
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    text = value.strip().lower()
    if text not in _TRUE | _FALSE:
        raise ImproperlyConfigured(
            f"{name} must be on or off (1/0, true/false, yes/no, on/off), not {value!r}."
        )
    return text in _TRUE


def env_int(name: str, default: int, *, minimum: int | None = None, why: str = "") -> int:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {value!r}.") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}{why}, not {number}.")
    return number


def env_float(name: str, default: float, *, above: float | None = None) -> float:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}.") from None
    if above is not None and not number > above:
        raise ImproperlyConfigured(f"{name} must be a number above {above}, not {value!r}.")
    return number


def env_choice(name: str, default: str, choices: set[str], what: str) -> str:
    value = env_str(name, default).strip()
    if value.upper() not in choices:
        listed = ", ".join(sorted(choices))
        raise ImproperlyConfigured(f"{name} must be a {what} ({listed}), not {value!r}.")
    return value.upper()


def env_time_zone(name: str, default: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = env_str(name, default).strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name} must be a time zone name such as America/New_York, not {value!r}."
        ) from None
    return value


def env_backend(name: str, default: str) -> str:
    """A backend's dotted path whose module can be found. (Whether the class imports is a
    system check; this one is needed before the checks run, because some backends, the task
    queue's, are loaded while Django starts.)"""
    from importlib.util import find_spec

    value = env_str(name, default).strip()
    module = value.rpartition(".")[0]
    try:
        found = bool(module) and find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise ImproperlyConfigured(
            f"{name}={value!r} cannot be imported (no module {module or value!r})."
        )
    return value


def sqlite_options() -> dict[str, object]:
    """The connection options every SQLite database runs with, whether named by
    ``TANDEM_SQLITE_PATH`` or by a ``sqlite:///`` ``DATABASE_URL``.

    secure_delete overwrites freed pages, so a shredded key leaves no bytes.
    journal_mode=DELETE, chosen over WAL on purpose: a -wal file keeps old page images
    (deleted rows, superseded wrapped keys) until its frames happen to be overwritten, and
    file-level copies take it along; the rollback journal exists only while a write
    transaction runs and is removed at commit, so at rest the database is one file whose
    freed space secure_delete has zeroed. The price is that readers wait for a committing
    writer: busy_timeout makes them (and other writers) wait instead of failing, and
    ``BEGIN IMMEDIATE`` takes the write lock when a transaction starts, so a transaction
    that read first never has to upgrade its lock, which SQLite refuses at once with
    "database is locked" (no busy wait) when another writer holds it.
    """
    return {
        "init_command": (
            "PRAGMA secure_delete=ON; PRAGMA journal_mode=DELETE; "
            "PRAGMA foreign_keys=ON; PRAGMA busy_timeout=30000;"
        ),
        # Python's own wait, used before init_command has run; the same 30 seconds.
        "timeout": 30,
        "transaction_mode": "IMMEDIATE",
    }


def database_from_url(url: str) -> dict[str, object]:
    """PostgreSQL or SQLite from ``DATABASE_URL``; anything else stops start-up. The message
    names the scheme only, never the address (it may hold a password)."""
    scheme = url.split("://", 1)[0] if "://" in url else "(none)"
    try:
        config = dict(dj_database_url.parse(url, conn_max_age=60))
    except (ValueError, KeyError):
        config = {}
    if config.get("ENGINE") not in _DATABASE_ENGINES:
        raise ImproperlyConfigured(
            f"DATABASE_URL must be a postgres:// or sqlite:/// address, not one with the "
            f"scheme {scheme!r}."
        )
    if config["ENGINE"] == "django.db.backends.sqlite3":
        # Without these a sqlite:/// address ran with none of them: no secure deletion, and
        # deferred transactions that failed with "database is locked" under load.
        given: dict[str, object] = dict(config.get("OPTIONS") or {})  # type: ignore[call-overload]
        config["OPTIONS"] = {**sqlite_options(), **given}
        config["CONN_MAX_AGE"] = 0
    return config


_DATABASE_ENGINES = {"django.db.backends.postgresql", "django.db.backends.sqlite3"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


VAR_DIR = Path(env_str("TANDEM_VAR_DIR", str(BASE_DIR / "var")))
DEMO_MODE = env_bool("TANDEM_DEMO")
DEBUG = env_bool("TANDEM_DEBUG")
# Plain HTTP is allowed only for the local demo and the test suite.
INSECURE_HTTP = DEMO_MODE or env_bool("TANDEM_INSECURE_HTTP")

#: Used only without TANDEM_SECRET_KEY in demo, debug or plain-HTTP test runs.
INSECURE_FALLBACK_SECRET_KEY = "insecure-demo-key-" + "x" * 40  # noqa: S105 - demo and tests only
SECRET_KEY = env_str("TANDEM_SECRET_KEY")
if not SECRET_KEY:
    if not (DEMO_MODE or DEBUG or INSECURE_HTTP):
        raise ImproperlyConfigured("Set TANDEM_SECRET_KEY (50+ random characters) in production.")
    SECRET_KEY = INSECURE_FALLBACK_SECRET_KEY  # `check --deploy` warns about it

ALLOWED_HOSTS = env_list("TANDEM_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
CSRF_TRUSTED_ORIGINS = env_list("TANDEM_CSRF_TRUSTED_ORIGINS")
SITE_URL = env_str("TANDEM_SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_htmx",
    "django_tasks",
    "django_tasks_db",
    "tandem.core",
    "tandem.audit",
    "tandem.agencies",
    "tandem.accounts",
    "tandem.notifications",
    "tandem.readiness",
    "tandem.support",
    "tandem.recovery",
    "tandem.reports",
]

MIDDLEWARE = [
    "tandem.core.middleware.CookielessPathsMiddleware",
    "tandem.core.middleware.PermissionsPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tandem.core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "tandem.accounts.middleware.SessionPolicyMiddleware",
    "tandem.accounts.middleware.RequireVerifiedMiddleware",
    "tandem.accounts.middleware.PasswordResetRequiredMiddleware",
    "tandem.core.middleware.AgencyLocaleMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "tandem.core.middleware.NoStoreMiddleware",
]

ROOT_URLCONF = "tandem.urls"
WSGI_APPLICATION = "tandem.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tandem" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            # Every template has the shared helpers (the |when date filter, tel_href...).
            "builtins": ["tandem.core.templatetags.tandem_ui"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tandem.core.context_processors.shell",
            ],
        },
    }
]

# Every form: phone fields as type=tel, autocomplete chosen by field (tandem/core/forms.py).
FORM_RENDERER = "tandem.core.forms.TandemFormRenderer"

# --- Database -------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url(DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env_str("TANDEM_SQLITE_PATH", str(VAR_DIR / "tandem.sqlite3")),
            "OPTIONS": sqlite_options(),
        }
    }
# A read replica for list pages and report counting (tandem.core.db_router; README).
if env_str("TANDEM_REPLICA_DATABASE_URL"):
    DATABASES["replica"] = {
        **database_from_url(env_str("TANDEM_REPLICA_DATABASE_URL")),
        "TEST": {"MIRROR": "default"},
    }
DATABASE_ROUTERS = ["tandem.core.db_router.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Authentication (CJIS Security Policy 5.6) ------------------------------------------
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "core:home"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 8},
    },
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "tandem.accounts.passwords.BreachedPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Session times are stored in 5-minute buckets (see tandem.accounts.sessions), so a session
# limit below one bucket could not be kept and is refused.
TANDEM_SESSION_GRANULARITY_SECONDS = 5 * 60
_BUCKET = f" (sessions are timed in {TANDEM_SESSION_GRANULARITY_SECONDS}-second steps)"
TANDEM_LOCKOUT_ATTEMPTS = env_int("TANDEM_LOCKOUT_ATTEMPTS", 5, minimum=1)
TANDEM_IDLE_TIMEOUT_SECONDS = env_int(
    "TANDEM_IDLE_TIMEOUT_SECONDS", 30 * 60, minimum=TANDEM_SESSION_GRANULARITY_SECONDS, why=_BUCKET
)
TANDEM_ABSOLUTE_TIMEOUT_SECONDS = env_int(
    "TANDEM_ABSOLUTE_TIMEOUT_SECONDS",
    12 * 60 * 60,
    minimum=TANDEM_SESSION_GRANULARITY_SECONDS,
    why=_BUCKET,
)
TANDEM_INACTIVE_ACCOUNT_DAYS = env_int("TANDEM_INACTIVE_ACCOUNT_DAYS", 90, minimum=1)
# New backup codes need a sign-in this recent, else the password and app code again.
TANDEM_REAUTH_SECONDS = env_int("TANDEM_REAUTH_SECONDS", 10 * 60, minimum=0)
OTP_TOTP_ISSUER = env_str("TANDEM_TOTP_ISSUER", "Tandem")

# --- Sessions, cookies, transport --------------------------------------------------------
# Database sessions whose stored times are coarse (see tandem.accounts.sessions).
SESSION_ENGINE = "tandem.accounts.sessions"
# Differential privacy: the total epsilon an agency may spend on noisy public releases.
TANDEM_REPORTS_EPSILON_BUDGET = env_float("TANDEM_REPORTS_EPSILON_BUDGET", 10.0, above=0)
SESSION_COOKIE_AGE = TANDEM_ABSOLUTE_TIMEOUT_SECONDS
# The peer-support help pages: served with the browser's cookies ignored and none set, so
# asking for help never touches a session (tandem.core.middleware.CookielessPathsMiddleware).
TANDEM_COOKIELESS_PATH_PREFIXES = ["/support/intake/"]
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not INSECURE_HTTP
CSRF_COOKIE_SECURE = not INSECURE_HTTP
CSRF_COOKIE_HTTPONLY = True
SECURE_SSL_REDIRECT = not INSECURE_HTTP and env_bool("TANDEM_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = 0 if INSECURE_HTTP else env_int("TANDEM_HSTS_SECONDS", 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_PROXY = env_bool("TANDEM_BEHIND_PROXY")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("TANDEM_MAX_UPLOAD_BYTES", 5 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

from csp.constants import NONE, SELF  # noqa: E402

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
    }
}

# --- Encryption at rest -----------------------------------------------------------------
# Master key(s): TANDEM_MASTER_KEYS="id:base64key,..." (first one encrypts) or a key file.
TANDEM_MASTER_KEYS = env_str("TANDEM_MASTER_KEYS")
TANDEM_MASTER_KEY_FILE = env_str("TANDEM_MASTER_KEY_FILE", str(VAR_DIR / "master.keys"))
# Epoch keys (core/epochs.py): peer-support data keys are also wrapped under a short-lived key
# kept in this directory, one file per epoch, destroyed after two periods. Never back it up.
TANDEM_EPOCH_KEY_DIR = env_str("TANDEM_EPOCH_KEY_DIR", str(VAR_DIR / "epoch-keys"))
TANDEM_EPOCH_HOURS = env_int("TANDEM_EPOCH_HOURS", 6)

# --- Audit trail ------------------------------------------------------------------------
# The key that authenticates every audit event ("id:base64key" lines, mode 0600, outside the
# database; `tandem audit keygen`), where signed checkpoints of each chain head are appended,
# and optionally a syslog destination for them ("/dev/log" or "host:port").
TANDEM_AUDIT_KEY_FILE = env_str("TANDEM_AUDIT_KEY_FILE", str(VAR_DIR / "audit.key"))
TANDEM_AUDIT_CHECKPOINT_FILE = env_str(
    "TANDEM_AUDIT_CHECKPOINT_FILE", str(VAR_DIR / "audit-checkpoints.jsonl")
)
TANDEM_AUDIT_SYSLOG = env_str("TANDEM_AUDIT_SYSLOG")

# --- Notifications ----------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "TANDEM_EMAIL_BACKEND",
    "tandem.core.notifications.ConsoleEmailBackend"
    if (DEMO_MODE or DEBUG)
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("TANDEM_EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("TANDEM_EMAIL_PORT", 587, minimum=1)
EMAIL_HOST_USER = env_str("TANDEM_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("TANDEM_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("TANDEM_EMAIL_TLS", True)
DEFAULT_FROM_EMAIL = env_str("TANDEM_FROM_EMAIL", "Tandem <no-reply@tandem.invalid>")
EMAIL_TIMEOUT = env_int("TANDEM_EMAIL_TIMEOUT", 30, minimum=1)
# Operators who receive (scrubbed) error reports by e-mail: TANDEM_ADMINS="ops@example.org,..."
ADMINS = [("Tandem operators", address) for address in env_list("TANDEM_ADMINS")]
SERVER_EMAIL = env_str("TANDEM_SERVER_EMAIL", DEFAULT_FROM_EMAIL)
TANDEM_SMS_BACKEND = env_str("TANDEM_SMS_BACKEND", "tandem.core.sms.ConsoleSmsBackend")
TANDEM_SMS_HTTP_URL = env_str("TANDEM_SMS_HTTP_URL")
TANDEM_SMS_HTTP_TOKEN = env_str("TANDEM_SMS_HTTP_TOKEN")
TANDEM_SMS_FROM = env_str("TANDEM_SMS_FROM")

TASKS = {
    "default": {
        "BACKEND": env_backend("TANDEM_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}
# A worker renews its heartbeat this often while it runs; a job still running under a worker
# silent for longer than the lease is put back in the queue (the worker was killed).
WORKER_HEARTBEAT_SECONDS = env_int("TANDEM_WORKER_HEARTBEAT_SECONDS", 30)
JOB_LEASE_SECONDS = env_int("TANDEM_JOB_LEASE_SECONDS", 120)
if not 0 < WORKER_HEARTBEAT_SECONDS * 2 <= JOB_LEASE_SECONDS:
    raise ImproperlyConfigured(
        "TANDEM_JOB_LEASE_SECONDS must be at least twice TANDEM_WORKER_HEARTBEAT_SECONDS "
        f"(now {JOB_LEASE_SECONDS} and {WORKER_HEARTBEAT_SECONDS})."
    )

# --- Static files, media ----------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "tandem" / "static"]
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = True

LANGUAGE_CODE = "en-us"
# One date/time format per context, in the agency's locale (tandem/core/when.py; Django's
# own format modules in tandem/formats/<locale>/ are built from the same table).
LANGUAGES = [("en-us", "English (United States)"), ("en-gb", "English (United Kingdom)")]
FORMAT_MODULE_PATH = ["tandem.formats"]
TIME_ZONE = env_time_zone("TANDEM_TIME_ZONE", "America/New_York")
USE_I18N = True
USE_TZ = True

# --- Logging: structured, and never request bodies or form values -------------------------
LOG_LEVEL = env_choice(
    "TANDEM_LOG_LEVEL", "INFO", {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}, "log level"
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"scrub": {"()": "tandem.core.logging.ScrubFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(levelname)s %(name)s %(message)s",
            "timestamp": "time",  # ISO 8601 in UTC
            "rename_fields": {"levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["scrub"],
        },
        "mail_admins": {
            "class": "tandem.core.logging.ScrubbingAdminEmailHandler",
            "level": "ERROR",
            "filters": ["scrub"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {
            "handlers": ["console", "mail_admins"],
            "level": "ERROR",
            "propagate": False,
        },
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "django.security": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        # WeasyPrint reports every layout step at INFO; only its warnings belong in the log.
        "weasyprint": {"handlers": ["console"], "level": "WARNING", "propagate": False},
        "fontTools": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "tandem.core.logging.ScrubbingExceptionReporterFilter"

# =========================================================================================
# --- Agency API, single sign-on (OIDC) and SCIM (issue 16) -------------------------------
# Kept together at the end so it merges cleanly; every value comes from the environment.
# =========================================================================================
INSTALLED_APPS += ["rest_framework", "drf_spectacular", "tandem.api"]
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["tandem.api.auth.TokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["tandem.api.auth.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "tandem.api.schema.ProblemAutoSchema",
    "EXCEPTION_HANDLER": "tandem.api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_VERSIONING_CLASS": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Tandem API",
    "DESCRIPTION": "Members and units, the peer supporters' roster, who is on call now, "
    "readiness, peer recovery records and published reports, for the agency's own systems.",
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "ContactKindEnum": "tandem.recovery.vocab.ContactKind",
        "UnitKindEnum": "tandem.agencies.models.UnitKind",
        "RunKindEnum": "tandem.reports.models.RunKind",
        "MemberCategoryEnum": "tandem.agencies.models.MemberCategory",
        "ResourceCategoryEnum": "tandem.recovery.vocab.ResourceCategory",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "tandem.api.schema.positive_ids",
        "tandem.api.schema.add_links",
    ],
}
# Calls per API client, e.g. "600/min" (answers 429 with Retry-After beyond it).
TANDEM_API_RATE = env_str("TANDEM_API_RATE", "600/min")
