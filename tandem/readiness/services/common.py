"""Shared by the modules of this package.

Part of ``tandem.readiness.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

import logging
from decimal import Decimal

logger = logging.getLogger("tandem.readiness")

MAX_HOURS_PER_DAY = Decimal("24")
