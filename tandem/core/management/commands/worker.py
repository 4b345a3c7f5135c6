"""``tandem worker``: run queued jobs and periodic housekeeping (X-8).

Jobs live in the database (django-tasks-db), so stopping or restarting the worker loses
nothing: a new worker picks up whatever is still queued. Run one or more workers next to the
web server; periodic jobs run once per interval however many workers there are.

    tandem worker                 # run until SIGTERM / Ctrl+C (finishes the current job)
    tandem worker --once          # one pass: due periodic jobs, then every ready job; exit
"""

from __future__ import annotations

from argparse import ArgumentParser, ArgumentTypeError
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from tandem.core.jobs import JobRunner


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ArgumentTypeError("must be a number greater than zero")
    return number


def _positive_int(value: str) -> int:
    number = int(value)
    if number <= 0:
        raise ArgumentTypeError("must be a whole number greater than zero")
    return number


class Command(BaseCommand):
    help = "Run queued jobs and periodic housekeeping (notifications, account expiry, ...)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--queue-name",
            default="*",
            help="Queues to process, comma-separated; '*' for all (default: %(default)s).",
        )
        parser.add_argument(
            "--interval",
            type=_positive_float,
            default=2.0,
            help="Seconds to wait when the queue is empty (default: %(default)s).",
        )
        parser.add_argument(
            "--once",
            "--batch",
            action="store_true",
            dest="once",
            help="Run due periodic jobs and every ready job once, then exit.",
        )
        parser.add_argument(
            "--max-tasks",
            type=_positive_int,
            default=None,
            help="With --once: stop after this many jobs.",
        )
        parser.add_argument(
            "--no-periodic",
            action="store_false",
            dest="periodic",
            help="Only run queued jobs; leave periodic housekeeping to other workers.",
        )
        parser.add_argument(
            "--worker-id",
            default=None,
            help="Unique id of this worker (default: random).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = options["worker_id"]
        if worker_id is not None and not 0 < len(worker_id) <= 64:
            raise CommandError("--worker-id must be 1 to 64 characters.")
        runner = JobRunner(
            queue_names=[q.strip() for q in options["queue_name"].split(",") if q.strip()],
            interval=options["interval"],
            worker_id=worker_id,
            periodic=options["periodic"],
        )
        if options["once"]:
            count = runner.run_once(max_tasks=options["max_tasks"])
            if options["verbosity"] > 0:
                self.stdout.write(f"Ran {count} queued job(s).")
            return
        runner.run_forever()
