"""``tandem serve``: the web server and a job worker together, for the demo and small sites.

Production runs gunicorn and ``tandem worker`` as two services (see README); this command
starts both so ``make demo`` is one step, and stops the worker when the server stops.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any, NoReturn

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
        children: list[subprocess.Popen[bytes]] = []

        def stop(signum: int, frame: Any) -> NoReturn:
            raise SystemExit(0)

        # `kill` (SIGTERM) must stop the server and the worker too, not only Ctrl-C.
        signal.signal(signal.SIGTERM, stop)
        try:
            if not options["no_worker"]:
                children.append(subprocess.Popen([sys.executable, "-m", "tandem.cli", "worker"]))  # noqa: S603
            server = subprocess.Popen(  # noqa: S603
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--config",
                    "python:tandem.gunicorn_conf",
                    "tandem.wsgi:application",
                    "--bind",
                    options["addr"],
                    "--workers",
                    str(options["workers"]),
                    "--threads",
                    "4",
                ]
            )
            children.append(server)
            self.stdout.write(f"Tandem is serving on http://{options['addr']}  (Ctrl-C to stop)")
            server.wait()
        except KeyboardInterrupt:
            pass
        finally:
            for child in children:
                if child.poll() is None:
                    child.terminate()
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    child.kill()
