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

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from tandem.core.jobs import JobRunner, heartbeat, jobs_reclaim_orphaned
from tandem.core.models import WorkerHeartbeat
from tests.helpers import ROOT, child_database, child_env, django_output, run_tandem, wait_for
from tests.jobs_fixture import note_start_and_finish


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
    env = child_env(
        TANDEM_VAR_DIR=str(tmp_path / "var"),
        TANDEM_WORKER_HEARTBEAT_SECONDS="1",
        TANDEM_JOB_LEASE_SECONDS="3",
        PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    )
    return child_database(env, tmp_path / "crash.sqlite3")


@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_job_leaves_nothing_running_and_the_job_finishes_once(
    tmp_path: Path,
) -> None:
    env = _env(tmp_path)
    if connection.vendor == "sqlite":
        assert run_tandem(env, "migrate", "--noinput", "-v0", timeout=300).returncode == 0
    marker = tmp_path / "marker"
    job_id = django_output(
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
        assert wait_for(lambda: marker.exists(), 60, step=0.2), "the worker never started the job"
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=30)
    status = (
        "from django_tasks_db.models import DBTaskResult as R\n"
        f"print(R.objects.get(pk={job_id!r}).status)"
    )
    assert django_output(env, status) == "RUNNING"  # the dead worker's claim is still there

    time.sleep(4)  # the lease (3 s) runs out
    done = run_tandem(env, "worker", "--once", timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert django_output(env, status) == "SUCCESSFUL"
    assert marker.read_text().splitlines() == ["started", "started", "finished"]
    left = django_output(
        env,
        "import json; from django_tasks_db.models import DBTaskResult as R\n"
        "print(json.dumps(list(R.objects.filter(status='RUNNING').values_list('id', flat=True))))",
    )
    assert json.loads(left) == []
