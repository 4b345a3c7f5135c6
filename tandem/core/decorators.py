"""View markers read by ``RequireVerifiedMiddleware``: everything else needs a full sign-in."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


def public(view: F) -> F:
    """Reachable without signing in (sign-in pages, health check, secret-link pages)."""
    view.tandem_public = True  # type: ignore[attr-defined]
    return view


def signin_step(view: F) -> F:
    """Reachable half-way through sign-in: password accepted, MFA or banner still pending."""
    view.tandem_signin_step = True  # type: ignore[attr-defined]
    return view
