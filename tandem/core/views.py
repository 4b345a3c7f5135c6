from __future__ import annotations

from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from tandem.accounts.http import AuthenticatedHttpRequest
from tandem.core.attention import attention_for
from tandem.core.decorators import public
from tandem.core.jobs import last_heartbeat_at


@require_GET
def home(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    roles = [user.agency.title_for(r) for r in sorted(user.role_set())] if user.agency else []
    attention = attention_for(user, timezone.now())
    return render(request, "core/home.html", {"roles": roles, "attention": attention})


@public
@never_cache
@require_GET
def live(request: HttpRequest) -> HttpResponse:
    """Liveness probe: the process answers (no database work)."""
    return HttpResponse("ok", content_type="text/plain")


# A worker writes a heartbeat at least every 30 seconds while it runs.
WORKER_STALE_AFTER_SECONDS = 300


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any database failure means "unhealthy"
        return False
    return True


def _migrations_applied() -> bool:
    try:
        executor = MigrationExecutor(connection)
        return not executor.migration_plan(executor.loader.graph.leaf_nodes())
    except Exception:
        return False


def _worker_heartbeat_age() -> int | None:
    try:
        seen = last_heartbeat_at()
    except Exception:
        return None
    return None if seen is None else max(0, int((timezone.now() - seen).total_seconds()))


def _worker_state(age: int | None) -> str:
    if age is None:
        return "missing"
    return "ok" if age <= WORKER_STALE_AFTER_SECONDS else "stale"


@public
@never_cache
@require_GET
def health(request: HttpRequest) -> HttpResponse:
    """For load balancers and operators. 503 when the database does not answer or migrations
    are pending; 200 otherwise, with "degraded" when no worker has been seen lately (the site
    still serves, but notifications and housekeeping wait). Names no versions, hosts or data.
    """
    if not _database_answers():
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    migrations_ok = _migrations_applied()
    age = _worker_heartbeat_age()
    worker = _worker_state(age)
    status = "error" if not migrations_ok else ("ok" if worker == "ok" else "degraded")
    body = {
        "status": status,
        "database": "ok",
        "migrations": "ok" if migrations_ok else "pending",
        "worker": worker,
        "worker_heartbeat_age_seconds": age,
    }
    return JsonResponse(body, status=200 if migrations_ok else 503)


@public
def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """The one answer for "missing" and "not allowed" (the API's own answer, problem
    details, is chosen in ``tandem/urls.py``: core does not import the API)."""
    return render(request, "404.html", status=404)
