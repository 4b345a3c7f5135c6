"""``tandem serve``: the web server and a job worker together, for the demo and small sites.

Production runs gunicorn and ``tandem worker`` as two services (see README); this command
starts both so ``make demo`` is one step, and stops the worker when the server stops.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve Tandem with gunicorn and run a job worker beside it."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--addr", default="127.0.0.1:8000")
        parser.add_argument("--workers", type=int, default=2)
        parser.add_argument("--no-worker", action="store_true", help="Do not start a job worker.")

    def handle(self, *args: Any, **options: Any) -> None:
        call_command("collectstatic", interactive=False, verbosity=0)
        worker = None
        if not options["no_worker"]:
            worker = subprocess.Popen([sys.executable, "-m", "tandem.cli", "worker"])  # noqa: S603
        self.stdout.write(f"Tandem is serving on http://{options['addr']}  (Ctrl-C to stop)")
        try:
            subprocess.run(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "tandem.wsgi:application",
                    "--bind",
                    options["addr"],
                    "--workers",
                    str(options["workers"]),
                    "--threads",
                    "4",
                ],
                check=False,
            )
        except KeyboardInterrupt:
            pass
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=10)
