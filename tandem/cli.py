"""The ``tandem`` console command: Django's manage.py with Tandem's settings.

``tandem agency create --preset NAME``, ``tandem audit verify``, ``tandem keys rotate``,
``tandem worker``, ``tandem demo`` and ``tandem seed`` are ordinary management commands.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tandem.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(argv if argv is not None else sys.argv)
    except ImproperlyConfigured as exc:
        # A bad setting: one line that names it, not a traceback.
        sys.stderr.write(f"tandem: configuration error: {exc}\n")
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
