"""Template helpers for the readiness screens."""

from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def holds(user: Any, roles: str) -> bool:
    """``{% if request.user|holds:"coordinator,chief" %}`` — menus only; views check access."""
    has_role = getattr(user, "has_role", None)
    return bool(has_role and has_role(*[r.strip() for r in roles.split(",")]))
