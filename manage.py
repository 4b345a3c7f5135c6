#!/usr/bin/env python
"""Django's command-line utility; `tandem` is the same thing, installed as a console script."""

import sys

from tandem.cli import main

if __name__ == "__main__":
    sys.exit(main())
