"""Background jobs (X-8): django-tasks on the database back end, plus periodic housekeeping.

* **Queued jobs** are ordinary ``django_tasks`` tasks (``@task`` in the app that owns them,
  e.g. ``tandem.notifications.tasks.deliver_notification``). ``Task.enqueue()`` writes a row
  in the database, inside the caller's transaction, so a job exists exactly when the change
  that asked for it was committed, and it survives any restart of the worker. Job arguments
  are stored in plain text: pass ids, never names, phone numbers or free text.
* **Periodic jobs** are listed in ``PERIODIC`` as ``(interval, "dotted.path.to.callable")``.
  Apps add theirs with ``register_periodic()`` (from ``AppConfig.ready``) or by listing them
  here. Callables take no arguments and are imported only when due, so a broken import is
  logged and skipped instead of stopping the worker. When each job last ran is kept in the
  database (``PeriodicRun``); a conditional UPDATE claims a due run, so a job runs once per
  interval however many workers there are and however often they restart.
* ``tandem worker`` (``tandem.core.management.commands.worker``) runs both, and writes a
  heartbeat that ``/health/`` reports. The heartbeat is also the worker's *lease* on the jobs it
  has claimed: a thread renews it while a job runs, and a job still ``RUNNING`` under a worker
  whose heartbeat is older than ``TANDEM_JOB_LEASE_SECONDS`` (the worker was killed, its machine
  lost power) is put back in the queue by any other worker (``jobs_reclaim_orphaned``). Jobs
  are therefore run *at least once*: every task must be safe to run again (notifications claim
  their delivery row first, so a second run of a finished delivery does nothing).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from types import FrameType
from typing import Any

from django.conf import settings
from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import Max
from django.db.utils import OperationalError
from django.utils import timezone
from django.utils.crypto import get_random_string
from django.utils.module_loading import import_string

logger = logging.getLogger("tandem.worker")

EPOCH_CHECK_INTERVAL = timedelta(minutes=10)

PERIODIC: list[tuple[timedelta, str]] = [
    (timedelta(days=1), "tandem.accounts.services.disable_inactive_accounts"),
    (timedelta(days=1), "tandem.core.jobs.prune_finished_tasks"),
    (timedelta(minutes=10), "tandem.notifications.services.deliveries_resume_stalled"),
    # Checks every 10 minutes; rotates when the newest epoch is TANDEM_EPOCH_HOURS old. A
    # shredded peer-support key is useless everywhere within 2 x (period + this interval).
    (EPOCH_CHECK_INTERVAL, "tandem.core.epochs.epoch_rotate_if_due"),
]

# A failed periodic job is tried again after this long (or its own interval, if shorter).
PERIODIC_RETRY_AFTER = timedelta(minutes=15)
# Finished job rows (with their arguments and tracebacks) are kept this long.
FINISHED_TASK_RETENTION = timedelta(days=30)
HEARTBEAT_RETENTION = timedelta(days=7)
PERIODIC_CHECK_EVERY_SECONDS = 30.0

_reported_import_failures: set[str] = set()


def heartbeat_every_seconds() -> float:
    """How often a worker renews its heartbeat (and so its lease on the job it runs)."""
    return float(getattr(settings, "WORKER_HEARTBEAT_SECONDS", 30))


def job_lease() -> timedelta:
    """A worker whose heartbeat is older than this is taken for dead."""
    return timedelta(seconds=float(getattr(settings, "JOB_LEASE_SECONDS", 120)))


def register_periodic(interval: timedelta, dotted_path: str) -> None:
    """Schedule ``dotted_path`` (a no-argument callable) every ``interval``; idempotent."""
    if interval <= timedelta(0):
        raise ValueError("A periodic job needs a positive interval.")
    for index, (_, path) in enumerate(PERIODIC):
        if path == dotted_path:
            PERIODIC[index] = (interval, dotted_path)
            return
    PERIODIC.append((interval, dotted_path))


def _resolve(dotted_path: str) -> Callable[[], Any] | None:
    try:
        func: Callable[[], Any] = import_string(dotted_path)
    except ImportError:
        if dotted_path not in _reported_import_failures:
            _reported_import_failures.add(dotted_path)
            logger.error("periodic job cannot be imported", extra={"job": dotted_path})
        return None
    return func


def _claim(dotted_path: str, interval: timedelta, now: datetime) -> bool:
    """Move ``next_run_at`` forward if the job is due; True for the one worker that did."""
    from tandem.core.models import PeriodicRun

    if not PeriodicRun.objects.filter(name=dotted_path).exists():
        try:
            with transaction.atomic():
                PeriodicRun.objects.create(name=dotted_path, next_run_at=now)
        except IntegrityError:
            pass  # another worker created it a moment ago
    claimed = PeriodicRun.objects.filter(name=dotted_path, next_run_at__lte=now).update(
        next_run_at=now + interval, last_started_at=now
    )
    return claimed == 1


def _finish(dotted_path: str, interval: timedelta, started: datetime, error: str) -> None:
    from tandem.core.models import PeriodicRun

    changes: dict[str, Any] = {"last_finished_at": timezone.now(), "last_error": error}
    if error:
        changes["next_run_at"] = started + min(interval, PERIODIC_RETRY_AFTER)
    PeriodicRun.objects.filter(name=dotted_path).update(**changes)


def run_due_periodic(now: datetime | None = None) -> list[str]:
    """Run every periodic job that is due and not claimed by another worker."""
    ran: list[str] = []
    for interval, dotted_path in list(PERIODIC):
        func = _resolve(dotted_path)
        started = now or timezone.now()
        if func is None or not _claim(dotted_path, interval, started):
            continue
        clock = time.monotonic()
        error = ""
        try:
            func()
        except Exception as exc:
            error = type(exc).__name__
            logger.exception("periodic job failed", extra={"job": dotted_path})
        _finish(dotted_path, interval, started, error)
        duration_ms = round((time.monotonic() - clock) * 1000)
        logger.info(
            "periodic job ran",
            extra={"job": dotted_path, "duration_ms": duration_ms, "ok": not error},
        )
        ran.append(dotted_path)
    return ran


def heartbeat(worker_id: str, started_at: datetime) -> None:
    from tandem.core.models import WorkerHeartbeat

    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"seen_at": timezone.now(), "started_at": started_at, "pid": os.getpid()},
    )


def last_heartbeat_at() -> datetime | None:
    from tandem.core.models import WorkerHeartbeat

    latest: datetime | None = WorkerHeartbeat.objects.aggregate(latest=Max("seen_at"))["latest"]
    return latest


def jobs_reclaim_orphaned(now: datetime | None = None) -> int:
    """Put back in the queue every job still ``RUNNING`` under a worker that stopped beating.

    A worker killed mid-job (``kill -9``, a lost machine) never marks its job finished; without
    this, the job would stay ``RUNNING`` for ever and never be done. The update is conditional
    on the job's status and worker list, so when two workers reclaim at once only one does.
    """
    from django_tasks_db.models import DBTaskResult

    from tandem.core.models import WorkerHeartbeat

    now = now or timezone.now()
    alive = set(
        WorkerHeartbeat.objects.filter(seen_at__gte=now - job_lease()).values_list(
            "worker_id", flat=True
        )
    )
    reclaimed = 0
    for job in DBTaskResult.objects.running().only("id", "worker_ids", "started_at"):
        owner = job.worker_ids[-1] if job.worker_ids else None
        if owner in alive or (job.started_at and job.started_at >= now - job_lease()):
            continue
        reclaimed += DBTaskResult.objects.filter(
            pk=job.pk, status="RUNNING", worker_ids=job.worker_ids
        ).update(status="READY", started_at=None)
    if reclaimed:
        logger.warning("jobs of a dead worker put back in the queue", extra={"jobs": reclaimed})
    return reclaimed


def prune_finished_tasks() -> int:
    """Delete finished job rows and old heartbeats (their arguments are no longer needed)."""
    from django_tasks_db.models import DBTaskResult

    from tandem.core.models import WorkerHeartbeat

    now = timezone.now()
    deleted, _ = (
        DBTaskResult.objects.finished()
        .filter(finished_at__lt=now - FINISHED_TASK_RETENTION)
        .delete()
    )
    WorkerHeartbeat.objects.filter(seen_at__lt=now - HEARTBEAT_RETENTION).delete()
    return deleted


class JobRunner:
    """The loop behind ``tandem worker``: heartbeat, periodic jobs, then queued jobs.

    Queued jobs are claimed exactly as django-tasks-db's own ``db_worker`` claims them (row
    lock with SKIP LOCKED, exclusive transaction on SQLite) and run by its ``Worker.run_task``,
    which records success or failure on the job row.
    """

    def __init__(
        self,
        *,
        queue_names: list[str] | None = None,
        interval: float = 2.0,
        worker_id: str | None = None,
        backend_name: str = "default",
        periodic: bool = True,
    ) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        self.queue_names = queue_names or ["*"]
        self.interval = interval
        self.worker_id = worker_id or get_random_string(32)
        self.backend_name = backend_name
        self.periodic = periodic
        self.started_at = timezone.now()
        self.tasks_run = 0
        self._last_heartbeat = float("-inf")
        self._last_periodic = float("-inf")
        self._wake = threading.Event()
        self._beating = threading.Event()
        self.worker = Worker(
            queue_names=self.queue_names,
            interval=interval,
            batch=True,
            backend_name=backend_name,
            startup_delay=False,
            max_tasks=None,
            worker_id=self.worker_id,
            excluded_queue_names=[],
        )

    @property
    def running(self) -> bool:
        return bool(self.worker.running)

    def _ready_tasks(self) -> Any:
        from django_tasks_db.models import DBTaskResult

        tasks = DBTaskResult.objects.ready().filter(backend_name=self.backend_name)
        if "*" not in self.queue_names:
            tasks = tasks.filter(queue_name__in=self.queue_names)
        return tasks

    def claim_next(self) -> Any:
        from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

        tasks = self._ready_tasks()
        try:
            with exclusive_transaction(tasks.db):
                task_result = tasks.get_locked()
                if task_result is not None:
                    task_result.claim(self.worker_id)
                return task_result
        except OperationalError as exc:
            if is_locked_database_exception(exc):
                return None
            raise

    def run_queued(self, max_tasks: int | None = None) -> int:
        """Run ready jobs until none is left (or ``max_tasks`` ran); returns how many ran."""
        count = 0
        while self.running and (max_tasks is None or count < max_tasks):
            task_result = self.claim_next()
            if task_result is None:
                break
            self.worker.run_task(task_result)
            count += 1
            self.tasks_run += 1
            self.beat()
        return count

    def beat(self, force: bool = False) -> None:
        if force or time.monotonic() - self._last_heartbeat >= heartbeat_every_seconds():
            heartbeat(self.worker_id, self.started_at)
            self._last_heartbeat = time.monotonic()

    def _beat_in_background(self) -> None:
        """Renew the heartbeat while a long job runs, on the thread's own connection."""
        try:
            while not self._beating.wait(heartbeat_every_seconds()):
                try:
                    heartbeat(self.worker_id, self.started_at)
                except Exception:
                    logger.exception("worker heartbeat failed")
        finally:
            connection.close()

    def housekeeping(self, force: bool = False) -> list[str]:
        if not self.periodic:
            return []
        if force or time.monotonic() - self._last_periodic >= PERIODIC_CHECK_EVERY_SECONDS:
            self._last_periodic = time.monotonic()
            jobs_reclaim_orphaned()
            return run_due_periodic()
        return []

    def run_once(self, max_tasks: int | None = None) -> int:
        """One pass: heartbeat, due periodic jobs, then the queue. For ``--once`` and tests."""
        self.beat(force=True)
        self.housekeeping(force=True)
        return self.run_queued(max_tasks=max_tasks)

    def stop(self, signum: int = 0, frame: FrameType | None = None) -> None:
        """First SIGTERM/SIGINT: finish the current job, then exit. Second one: exit now."""
        if not self.worker.running:
            self._set_signals(signal.SIG_DFL)
            sys.exit(1)
        logger.warning("worker stopping after the current job", extra={"signal": signum})
        self.worker.running = False
        self._wake.set()

    def _set_signals(self, handler: Any) -> None:
        for name in ("SIGINT", "SIGTERM", "SIGQUIT"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), handler)

    def run_forever(self) -> None:
        self._set_signals(self.stop)
        logger.info(
            "worker started",
            extra={"worker_id": self.worker_id, "queues": ",".join(self.queue_names)},
        )
        self.beat(force=True)
        beater = threading.Thread(target=self._beat_in_background, daemon=True)
        beater.start()
        try:
            self._loop()
        finally:
            self._beating.set()
            beater.join(timeout=5)

    def _loop(self) -> None:
        while self.running:
            close_old_connections()
            self.beat()
            self.housekeeping()
            ran = self.run_queued()
            close_old_connections()
            if self.running and not ran:
                self._wake.wait(self.interval)
        logger.info(
            "worker stopped", extra={"worker_id": self.worker_id, "jobs_run": self.tasks_run}
        )
