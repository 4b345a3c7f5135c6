"""Nothing is lost to a crash: a job whose worker was killed (``kill -9``) goes back in the
queue once the worker's lease runs out, and another worker finishes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tandem.core.jobs import JobRunner, heartbeat, jobs_reclaim_orphaned
from tandem.core.models import WorkerHeartbeat
from tests.jobs_fixture import note_start_and_finish

ROOT = Path(__file__).resolve().parents[2]


def _claimed_job(worker_id: str, tmp_path: Path) -> DBTaskResult:
    result = note_start_and_finish.enqueue(str(tmp_path / "marker"), 0)
    job = DBTaskResult.objects.get(pk=result.id)
    job.claim(worker_id)
    return job


@pytest.mark.django_db
def test_job_of_a_worker_that_stopped_beating_goes_back_to_the_queue_and_runs(
    tmp_path: Path,
) -> None:
    started = timezone.now() - timedelta(minutes=30)
    heartbeat("dead-worker", started)
    WorkerHeartbeat.objects.filter(worker_id="dead-worker").update(
        seen_at=timezone.now() - timedelta(minutes=10)
    )
    job = _claimed_job("dead-worker", tmp_path)
    DBTaskResult.objects.filter(pk=job.pk).update(started_at=started)

    assert jobs_reclaim_orphaned() == 1
    assert DBTaskResult.objects.get(pk=job.pk).status == "READY"
    runner = JobRunner(periodic=False)
    assert runner.run_queued() == 1
    assert DBTaskResult.objects.get(pk=job.pk).status == "SUCCESSFUL"
    assert (tmp_path / "marker").read_text() == "started\nfinished\n"


@pytest.mark.django_db
def test_job_of_a_live_worker_is_left_alone(tmp_path: Path) -> None:
    heartbeat("live-worker", timezone.now())
    job = _claimed_job("live-worker", tmp_path)
    DBTaskResult.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))
    assert jobs_reclaim_orphaned() == 0
    assert DBTaskResult.objects.get(pk=job.pk).status == "RUNNING"


@pytest.mark.django_db
def test_a_job_is_reclaimed_once_however_many_workers_try(tmp_path: Path) -> None:
    job = _claimed_job("never-beat", tmp_path)
    DBTaskResult.objects.filter(pk=job.pk).update(started_at=timezone.now() - timedelta(hours=1))
    assert jobs_reclaim_orphaned() == 1
    assert jobs_reclaim_orphaned() == 0


# --- The real thing: kill -9 of a worker process in the middle of a job -------------------


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        TANDEM_INSECURE_HTTP="1",
        TANDEM_VAR_DIR=str(tmp_path / "var"),
        TANDEM_WORKER_HEARTBEAT_SECONDS="1",
        TANDEM_JOB_LEASE_SECONDS="3",
        PYTHONPATH=os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]),
    )
    if connection.vendor == "postgresql":
        s = connection.settings_dict
        env["DATABASE_URL"] = (
            f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
        )
    else:
        env["TANDEM_SQLITE_PATH"] = str(tmp_path / "crash.sqlite3")
    return env


def _python(env: dict[str, str], code: str) -> str:
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-c", "import django; django.setup()\n" + code],
        cwd=ROOT,
        env={**env, "DJANGO_SETTINGS_MODULE": "tandem.settings"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def _tandem(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "tandem.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _wait_for(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_job_leaves_nothing_running_and_the_job_finishes_once(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    if connection.vendor == "sqlite":
        assert _tandem(env, "migrate", "--noinput", "-v0").returncode == 0
    marker = tmp_path / "marker"
    job_id = _python(
        env,
        "from tests.jobs_fixture import note_start_and_finish as t\n"
        f"print(t.enqueue({str(marker)!r}, 120).id)",
    )
    worker = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "tandem.cli", "worker", "--interval", "0.2"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _wait_for(lambda: marker.exists(), 60), "the worker never started the job"
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    status = (
        "from django_tasks_db.models import DBTaskResult as R\n"
        f"print(R.objects.get(pk={job_id!r}).status)"
    )
    assert _python(env, status) == "RUNNING"  # the dead worker's claim is still there

    time.sleep(4)  # the lease (3 s) runs out
    done = _tandem(env, "worker", "--once")
    assert done.returncode == 0, done.stderr[-3000:]
    assert _python(env, status) == "SUCCESSFUL"
    assert marker.read_text().splitlines() == ["started", "started", "finished"]
    left = _python(
        env,
        "import json; from django_tasks_db.models import DBTaskResult as R\n"
        "print(json.dumps(list(R.objects.filter(status='RUNNING').values_list('id', flat=True))))",
    )
    assert json.loads(left) == []
