"""Readiness, home page counts from the stored standing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.readiness import compliance, services
from tandem.readiness.models import (
    Gate,
)
from tests.conftest import make_user
from tests.readiness.support import at, attend, make_ready

# ========================================================================================
# Home page counts from the stored standing
# ========================================================================================


def _evaluated(agency: Any, now: datetime) -> tuple[int, int]:
    """The home page's two counts by evaluating every team member's rules in Python."""
    from tandem.readiness.selectors import team_people

    today = timezone.localdate(now)
    statuses = compliance.statuses_for(agency, team_people(agency), now).values()
    lapsed = sum(1 for s in statuses if s.level == compliance.NOT_COMPLIANT)
    due = sum(
        1
        for s in statuses
        if s.level != compliance.NOT_COMPLIANT
        and any((d.on.year, d.on.month) == (today.year, today.month) for d in s.due)
    )
    return lapsed, due


def _home_counts(client: Client) -> tuple[int, int, int]:
    """(not compliant, falling out this month, queries) as the coordinator's home page says."""
    import re

    with CaptureQueriesContext(connection) as queries:
        page = client.get(reverse("core:home")).content.decode()
    text = " ".join(page.split())
    lapsed = re.search(r"(\d+) team members? (?:is|are) not compliant", text)
    due = re.search(r"(\d+) team members? falls? out of compliance this month", text)
    return (int(lapsed.group(1)) if lapsed else 0, int(due.group(1)) if due else 0, len(queries))


@pytest.mark.django_db
def test_the_home_page_counts_compliance_from_the_gates_in_step_with_the_rules(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    from tandem.agencies.services import agency_policy_update
    from tandem.readiness.attention import counts

    coordinator = cast["coordinator"]
    extra = [make_user(agency, f"peer{n}", "supporter") for n in range(4)]
    first, second, third = cast["supporter"], extra[0], extra[1]
    with time_machine.travel(at(2026, 1, 10), tick=False):
        home = signed_in(coordinator)
        services.agency_recompute(agency=agency)  # every team member has a gate
        for person in (first, second, third):
            make_ready(agency, cast, person, trained=at(2026, 1, 5, 9))
        attend(agency, coordinator, third, "monthly-meeting", at(2026, 1, 8, 9), "unexcused")
        # Not designated: the ARO, the PRS and two supporters; one absence is allowed.
        assert _evaluated(agency, timezone.now()) == (4, 0)
        _home_counts(home)  # the first load computes the coverage snapshot
        lapsed, due, few_queries = _home_counts(home)
        assert (lapsed, due) == (4, 0)

        # Policy change: no unexcused absence allowed any more.
        policy = agency.policy_model().model_dump(mode="json")
        policy["training"]["unexcused_absence_limit"] = 0
        agency_policy_update(acting_user=cast["administrator"], agency=agency, policy_data=policy)
        agency.refresh_from_db()
        assert _evaluated(agency, timezone.now()) == (5, 0)
        assert _home_counts(home)[:2] == (5, 0)

    # Ongoing training is due by 30 June: two fall out this month unless they catch up.
    with time_machine.travel(at(2026, 6, 10), tick=False):
        home = signed_in(coordinator)
        assert _evaluated(agency, timezone.now()) == (5, 2)
        assert _home_counts(home)[:2] == (5, 2)
        attend(agency, coordinator, first, "psp-ongoing", at(2026, 6, 5, 9))  # training
        assert _evaluated(agency, timezone.now()) == (5, 1)
        assert _home_counts(home)[:2] == (5, 1)

    # 1 July, before the daily job: the untrained one is not compliant at once.
    with time_machine.travel(at(2026, 7, 1, 0), tick=False):
        now = timezone.now()
        home = signed_in(coordinator)
        assert _evaluated(agency, now) == (6, 0)
        assert counts(coordinator, now) == (6, 0)
        assert _home_counts(home)[:2] == (6, 0)
        services.recompute_everyone()
        assert Gate.objects.get(user=second).compliance == compliance.NOT_COMPLIANT
        assert _home_counts(home)[:2] == (6, 0)

        # The count is one query whatever the size of the team.
        for n in range(20):  # on the team, not yet designated
            services.person_recompute(user=make_user(agency, f"more{n}", "supporter"))
        assert _evaluated(agency, now) == (26, 0)
        _home_counts(home)  # the first load after the team changed refreshes coverage gaps
        lapsed, due, many_queries = _home_counts(home)
        assert (lapsed, due) == (26, 0)
        assert many_queries == few_queries == 12  # with the breach and offer counts
        with CaptureQueriesContext(connection) as queries:
            assert counts(coordinator, now) == (26, 0)
        assert len(queries) == 1


@pytest.mark.django_db
def test_team_members_without_a_stored_standing_are_still_counted(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    """Right after the upgrade that added the standing, before the daily recompute."""
    from tandem.readiness.attention import counts

    with time_machine.travel(at(2026, 1, 10), tick=False):
        make_ready(agency, cast, cast["supporter"], trained=at(2026, 1, 5, 9))
        Gate.objects.update(compliance="", next_due_on=None)
        assert counts(cast["coordinator"], timezone.now()) == (2, 0)  # the ARO and the PRS
        assert _evaluated(agency, timezone.now()) == (2, 0)


@pytest.mark.django_db
def test_only_team_members_without_a_stored_standing_are_evaluated(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    """One newcomer without a gate does not make the page evaluate the whole team: the
    others' stored standing is counted as it is, the newcomer's rules are evaluated."""
    from tandem.readiness.attention import counts

    with time_machine.travel(at(2026, 1, 10), tick=False):
        make_ready(agency, cast, cast["supporter"], trained=at(2026, 1, 5, 9))
        services.recompute_everyone()
        before = counts(cast["coordinator"], timezone.now())
        assert before == _evaluated(agency, timezone.now())
        # A stored standing the rules would not give now: only the stored one can count it.
        Gate.objects.filter(user=cast["supporter"]).update(compliance=compliance.NOT_COMPLIANT)
        newcomer = make_user(agency, "newcomer", "supporter")  # no gate yet: not compliant
        assert not Gate.objects.filter(user=newcomer).exists()
        assert counts(cast["coordinator"], timezone.now()) == (before[0] + 2, before[1])
