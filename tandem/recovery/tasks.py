"""Queued jobs of the recovery app. Arguments are ids only: job rows are plain text."""

from __future__ import annotations

from django_tasks import task

from tandem.recovery.services import match_run_execute


@task()
def run_match(run_id: int) -> int:
    return match_run_execute(run_id=run_id).pairs
