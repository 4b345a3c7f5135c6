"""The readiness gates other programs read (issue: team readiness, point 4).

- Peer support: only designated, compliant supporters appear on the roster and on call.
  ``peer_support_ready_users(agency)`` is the queryset to filter by; it is one indexed join.
- Recovery: criminal justice information only for sworn users whose gate is open.

Gates are written only by ``gate_update`` (below), which readiness services call after
every change a gate depends on; each change is audited in the same transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.readiness.models import Gate

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency


def peer_support_ready_users(agency: Agency, at: datetime | None = None) -> Any:
    """Users of ``agency`` who may be on the peer-support roster and on call at ``at``."""
    from tandem.accounts.models import User

    ready = Gate.objects.filter(agency=agency).peer_support_open(at).values("user_id")
    return User.objects.filter(agency=agency, is_active=True, pk__in=ready)


#: What to ``select_related`` from a user so ``peer_support_ready_loaded`` asks nothing more.
READY_RELATED = "readiness_gate"


def peer_support_ready_loaded(user: User, agency: Agency, at: datetime | None = None) -> bool:
    """Whether ``user`` is among ``peer_support_ready_users(agency, at)``, decided from the
    user's row and the gate loaded with it (``select_related(READY_RELATED)``), without a
    query of its own: on call now reads its few people and their gates in the query that
    finds them. The gate is read if it was not loaded."""
    if user.agency_id != agency.pk or not user.is_active:
        return False
    gate = user.readiness_gate if hasattr(user, READY_RELATED) else None
    return gate is not None and gate.agency_id == agency.pk and gate.peer_support_open_at(at)


def is_peer_support_ready(user: User, at: datetime | None = None) -> bool:
    gate = gate_for(user)
    return bool(gate and gate.peer_support_open_at(at))


def has_cji_access(user: User, at: datetime | None = None) -> bool:
    """Sworn, with an open CJI gate. Civilians (a PRS included) never pass."""
    member = getattr(user, "member", None)
    if member is None or not member.is_sworn:
        return False
    gate = Gate.objects.filter(user_id=user.pk).first()
    return bool(gate and gate.cji_open_at(at))


def gate_for(user: User) -> Gate | None:
    if user is None or user.pk is None:
        return None
    return Gate.objects.filter(user_id=user.pk).first()


@transaction.atomic
def gate_update(
    *,
    user: User,
    peer_support: bool,
    cji: bool,
    peer_support_until: datetime | None = None,
    cji_until: datetime | None = None,
    reasons: list[str] | None = None,
    acting_user: User | None = None,
    cause: str = "",
    standing: tuple[str, date | None] | None = None,
) -> Gate:
    """Set a person's gates; audit when anything changed. Returns the gate.

    ``standing`` is the person's compliance level and earliest due date, stored beside the
    gate for the home page's counts (left as it is when not given). It derives from the
    audited history, so a change of standing alone is saved without an audit entry."""
    state = {
        "peer_support": peer_support,
        "peer_support_until": peer_support_until,
        "cji": cji,
        "cji_until": cji_until,
        "reasons": list(reasons or []),
    }
    gate = Gate.objects.select_for_update().filter(user_id=user.pk).first()
    if gate is not None and gate.as_state() == state:
        if standing is not None and (gate.compliance, gate.next_due_on) != standing:
            gate.compliance, gate.next_due_on = standing
            gate.save(update_fields=["compliance", "next_due_on"])
        return gate
    before = gate.as_state() if gate else None
    if gate is None:
        gate = Gate(user=user, agency_id=user.home_agency_id)
    for key, value in state.items():
        setattr(gate, key, value)
    if standing is not None:
        gate.compliance, gate.next_due_on = standing
    gate.changed_at = timezone.now()
    gate.save()
    audit_record(
        action="readiness.gate_changed",
        actor=acting_user,
        agency_id=user.agency_id,
        obj=user,
        detail={
            "peer_support": peer_support,
            "cji": cji,
            "was_peer_support": before["peer_support"] if before else None,
            "was_cji": before["cji"] if before else None,
            "cause": cause,
        },
    )
    return gate
