"""A job for the crash tests: it notes each start and finish in a file, and on its first run
it sleeps long enough to be killed in the middle."""

from __future__ import annotations

import time
from pathlib import Path

from django_tasks import task


@task()
def note_start_and_finish(path: str, first_run_seconds: float) -> str:
    marker = Path(path)
    first = not marker.exists()
    with marker.open("a") as out:
        out.write("started\n")
    if first:
        time.sleep(first_run_seconds)
    with marker.open("a") as out:
        out.write("finished\n")
    return "ok"
