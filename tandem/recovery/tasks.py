"""Queued jobs of the recovery app. Arguments are ids only: job rows are plain text."""

from __future__ import annotations

from django_tasks import task

from tandem.recovery.services import (
    import_check_execute,
    import_commit_execute,
    match_run_execute,
)


@task()
def run_match(run_id: int) -> int:
    return match_run_execute(run_id=run_id).pairs


@task()
def run_import_check(batch_id: int) -> int:
    return import_check_execute(batch_id=batch_id)


@task()
def run_import_commit(batch_id: int, user_id: int) -> int:
    return import_commit_execute(batch_id=batch_id, user_id=user_id)
