"""Project and set-up: acceptance tests from the user's side."""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from typing import Any

import pytest
from django.test import Client, override_settings

from tests.conftest import sign_in
from tests.helpers import python_output, run_tandem

pytestmark = pytest.mark.django_db


# ========================================================================================
# 1. Project and set-up
# Project set-up (point 1): settings, the console command, production checks, headers.
# ========================================================================================


def production_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("TANDEM_") and k not in {"DJANGO_ALLOW_ASYNC_UNSAFE", "DATABASE_URL"}
    }
    env.update(
        TANDEM_SECRET_KEY=secrets.token_urlsafe(60),
        TANDEM_ALLOWED_HOSTS="tandem.example.org",
        TANDEM_VAR_DIR=str(tmp_path),
        TANDEM_MASTER_KEYS="k1:" + "A" * 43 + "=",
        # Checkpoints also go where the database administrators cannot write.
        TANDEM_AUDIT_SYSLOG="127.0.0.1:514",
    )
    audit_key = tmp_path / "audit.key"  # the default TANDEM_AUDIT_KEY_FILE under the var dir
    if not audit_key.exists():
        audit_key.write_text(f"ak1:{base64.b64encode(os.urandom(32)).decode()}\n")
        audit_key.chmod(0o600)
    return env


def test_check_deploy_reports_nothing_with_production_variables(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    result = run_tandem(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_check_deploy_warns_when_audit_checkpoints_stay_in_a_local_file(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["TANDEM_AUDIT_SYSLOG"]
    result = run_tandem(env, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode != 0
    assert "tandem.audit.W001" in result.stdout + result.stderr
    assert "TANDEM_AUDIT_SYSLOG" in result.stdout + result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = production_env(tmp_path)
    del env["TANDEM_SECRET_KEY"]
    result = run_tandem(env, "check")
    assert result.returncode != 0
    assert "TANDEM_SECRET_KEY" in result.stderr


def test_database_url_selects_postgresql_and_default_is_sqlite_under_var(tmp_path: Path) -> None:
    probe = (
        "from django.conf import settings; import django; django.setup();"
        "print(settings.DATABASES['default']['ENGINE'], settings.DATABASES['default']['NAME'])"
    )
    env = production_env(tmp_path)
    env["DJANGO_SETTINGS_MODULE"] = "tandem.settings"
    env.pop("DATABASE_URL", None)
    sqlite = python_output(env, "-c", probe)
    assert "sqlite3" in sqlite
    assert str(tmp_path) in sqlite
    env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/tandem_example"
    pg = python_output(env, "-c", probe)
    assert "postgresql" in pg
    assert "tandem_example" in pg


def test_signed_in_pages_are_never_cached_and_carry_a_content_security_policy(
    cast: dict[str, Any],
) -> None:
    response = sign_in(Client(), cast["member"]).get("/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "default-src 'self'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_stylesheet_and_scripts_are_served_without_signing_in(db: Any) -> None:
    for asset in ("tandem/tandem.css", "tandem/htmx.min.js", "tandem/tandem.js"):
        response = Client().get(f"/static/{asset}")
        assert response.status_code == 200, asset


@override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_SSL_REDIRECT=False)
def test_https_responses_carry_hsts(db: Any) -> None:
    response = Client().get("/health/", secure=True)
    assert "max-age=31536000" in response["Strict-Transport-Security"]


@override_settings(SESSION_COOKIE_SECURE=True, CSRF_COOKIE_SECURE=True)
def test_cookies_are_secure_and_http_only_in_production(cast: dict[str, Any]) -> None:
    client = sign_in(Client(), cast["member"])
    response = client.get("/", secure=True)
    assert response.status_code == 200
    cookie = client.cookies["sessionid"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
