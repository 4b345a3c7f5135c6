from __future__ import annotations

from django import template

from tandem.agencies.presets import choice_label as _choice_label

register = template.Library()


@register.filter
def choice_label(value: str) -> str:
    """Readable name of a policy closed-list value (``self_request`` → "Member asks …")."""
    return _choice_label(str(value))


@register.filter
def role_title(agency: object, role: str) -> str:
    title_for = getattr(agency, "title_for", None)
    return str(title_for(role)) if title_for else role


@register.filter
def role_label(value: str) -> str:
    """The generic name of a role (``aro`` → "Addiction Response Officer")."""
    from tandem.agencies.models import Role

    try:
        return str(Role(value).label)
    except ValueError:
        return str(value)


@register.filter
def absence_limit_words(limit: int) -> str:
    """``0`` → "no unexcused absence", ``1`` → "at most one …", ``3`` → "at most 3 …"."""
    from tandem.readiness.compliance import absence_limit_words as words

    return words(int(limit))


@register.filter
def every_months(months: int) -> str:
    from tandem.readiness.compliance import every_months_words

    return every_months_words(int(months))


@register.filter
def count_of(number: int, noun: str) -> str:
    """A policy figure with its unit, right for 0, 1 and many: ``1|count_of:"hour"`` →
    "1 hour", ``48|count_of:"hour"`` → "48 hours"."""
    from tandem.readiness.compliance import count_words

    return count_words(int(number), str(noun))


@register.filter
def relationship_rule(agency: object) -> str:
    """The policy's relationship rule in words (GO 702 .46), or "" when it sets none."""
    policy_model = getattr(agency, "policy_model", None)
    if policy_model is None:
        return ""
    months = int(policy_model().conduct.relationship_cooldown_months)
    if months <= 0:
        return ""
    span = "one month" if months == 1 else f"{months} months"
    return (
        f"No personal or romantic relationship with anyone you supported, during the "
        f"support and for {span} after your last contact with them."
    )
