"""Gates.

Part of ``tandem.readiness.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import transaction

from tandem.readiness import compliance
from tandem.readiness.gates import gate_update
from tandem.readiness.models import (
    Gate,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency


# ---------------------------------------------------------------------------------------
# Gates
# ---------------------------------------------------------------------------------------


@transaction.atomic
def person_recompute(
    *, user: User, acting_user: User | None = None, cause: str = ""
) -> compliance.Status:
    """Recompute ``user``'s status now and write their gates (audited when they change)."""
    status = compliance.status_for(user)
    _gate_write(user=user, status=status, acting_user=acting_user, cause=cause)
    return status


@transaction.atomic
def agency_recompute(*, agency: Agency, acting_user: User | None = None, cause: str = "") -> int:
    """Recompute the gates of everyone in ``agency`` who has one or is on a team, in the
    caller's transaction: a policy change or reset takes effect before the next page.
    Facts are loaded for everyone at once (a fixed number of queries), then each gate is
    written only when it changed. Returns how many people were evaluated."""
    from tandem.accounts.models import User
    from tandem.readiness.selectors import team_people

    ids = set(team_people(agency).values_list("pk", flat=True))
    ids |= set(Gate.objects.filter(agency=agency).values_list("user_id", flat=True))
    people = list(User.objects.filter(pk__in=ids).select_related("agency", "member"))
    statuses = compliance.statuses_for(agency, people)
    for user in people:
        _gate_write(user=user, status=statuses[user.pk], acting_user=acting_user, cause=cause)
    return len(people)


def _gate_write(
    *, user: User, status: compliance.Status, acting_user: User | None, cause: str
) -> None:
    reasons = [] if status.peer_support else list(status.reasons)
    reasons += [f"Criminal justice information: {r}" for r in status.cji_reasons]
    gate_update(
        user=user,
        peer_support=status.peer_support,
        cji=status.cji,
        peer_support_until=compliance.start_of(status.peer_support_lapses_on),
        cji_until=compliance.start_of(status.cji_lapses_on),
        reasons=reasons,
        acting_user=acting_user,
        cause=cause,
        standing=(status.level, status.due[0].on if status.due else None),
    )


def recompute_everyone() -> int:
    """Daily job: dates pass (a quarter ends, a year begins, a check expires)."""
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency
    from tandem.readiness.selectors import team_people

    count = 0
    for agency in Agency.objects.all():
        ids = set(team_people(agency).values_list("pk", flat=True))
        ids |= set(Gate.objects.filter(agency=agency).values_list("user_id", flat=True))
        for user in User.objects.filter(pk__in=ids).select_related("agency", "member"):
            person_recompute(user=user, cause="daily")
            count += 1
    return count
