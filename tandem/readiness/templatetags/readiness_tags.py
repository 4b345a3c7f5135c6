"""Template helpers for the readiness screens."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import template

if TYPE_CHECKING:
    from tandem.accounts.models import User

register = template.Library()


@register.filter
def holds(user: User, roles: str) -> bool:
    """``{% if request.user|holds:"coordinator,chief" %}`` — menus only; views check access."""
    has_role = getattr(user, "has_role", None)
    return bool(has_role and has_role(*[r.strip() for r in roles.split(",")]))


@register.filter
def cji_state(gate: Any, person: User) -> str:
    """What a person's criminal-justice-information line says. Civilians (a PRS included)
    never read CJI (OO 2-78 IV.D; PR-7), so their page never says "open" or "cleared", even
    when their clearances are current: it says what they do receive."""
    member = getattr(person, "member", None)
    if member is None or not member.is_sworn:
        return "not for civilian staff (you see the safety flags the officer shares)"
    return "open" if gate is not None and gate.cji else "closed"
