"""Programs, the demo: one agency per preset, tried from the sign-in page."""

from __future__ import annotations

import random
from typing import Any

from django.test import Client
from django.urls import reverse

from tests.programs.support import text

# ========================================================================================
# 2. The demo: one agency per preset, tried from the sign-in page
# ========================================================================================


def test_the_sign_in_page_lists_demo_agencies_only_in_demo_mode(demo: Any, settings: Any) -> None:
    demo("joplin")
    client = Client()
    client.post(reverse("accounts:banner"))
    page = text(client.get(reverse("accounts:login")))
    assert "Joplin Police Department (demo)" in page
    assert "joplin-coordinator" in page
    assert "Peer Support Coordinator" in page or "Coordinator" in page
    settings.DEMO_MODE = False
    page = text(client.get(reverse("accounts:login")))
    assert "joplin-coordinator" not in page
    assert "Demo agencies" not in page


def test_the_demo_leaves_a_request_waiting_for_the_coordinator_and_the_supporter(
    demo: Any,
) -> None:
    from tests.conftest import sign_in

    agency, users = demo("joplin")
    coordinator = text(sign_in(Client(), users["coordinator"]).get("/"))
    assert "1 request waiting for a supporter" in coordinator
    assert "Nothing needs your attention now." not in coordinator
    supporter = text(sign_in(Client(), users["supporter"]).get("/"))
    assert "1 request offered to you" in supporter
    assert users["member"].get_full_name() not in coordinator + supporter


def test_demo_and_synthetic_phone_numbers_have_ten_digits_as_a_phone_would_dial(
    demo: Any,
) -> None:
    from tandem.agencies.models import Member
    from tandem.core.synthetic import Generator
    from tandem.core.templatetags.tandem_ui import tel_href

    agency, _ = demo("joplin")
    phones = list(Member.objects.filter(agency=agency).values_list("phone", flat=True))
    assert phones
    assert all(len(tel_href(p).removeprefix("tel:")) == 10 for p in phones), phones[:3]
    gen = Generator(agency, random.Random(1))
    made = [gen.phone(n) for n in (0, 7, 4321, 98765)]
    assert all(len(tel_href(p).removeprefix("tel:")) == 10 for p in made), made
    assert len(set(made)) == len(made)


def test_an_agency_without_peer_recovery_offers_none_of_its_pages(demo: Any) -> None:
    """Joplin runs peer support only (its policy's ``programs``): the chief's menu and home
    cards name no recovery page, and every recovery address answers 404, whatever role."""
    from tandem.accounts.models import RoleAssignment
    from tests.conftest import sign_in

    agency, users = demo("joplin")
    assert agency.policy_model().programs == ["peer_support"]
    chief = users["chief"]
    client = sign_in(Client(), chief)
    home = text(client.get("/"))
    for label in ("Public statements", "Staff evaluation", "Caseload", "Visits"):
        assert label not in home
    assert "Readiness" in home
    assert client.get(reverse("recovery:statement_list")).status_code == 404
    assert client.get(reverse("recovery:personnel_evaluation")).status_code == 404
    RoleAssignment.objects.create(user=chief, agency=agency, role="aro")
    client = sign_in(Client(), chief)
    assert "Caseload" not in text(client.get("/"))
    assert client.get(reverse("recovery:caseload")).status_code == 404
    assert client.get(reverse("recovery:planned_list")).status_code == 404


def test_an_agency_with_peer_recovery_offers_the_chief_its_pages(demo: Any) -> None:
    from tests.conftest import sign_in

    _agency, users = demo("winchester")
    client = sign_in(Client(), users["chief"])
    assert "Public statements" in text(client.get("/"))
    assert client.get(reverse("recovery:statement_list")).status_code == 200


def test_the_readiness_team_holds_only_the_programs_the_agency_runs(demo: Any) -> None:
    """Columbus runs peer support only: its demo ARO and PRS accounts are on no team, so the
    coordinator's home counts nobody of a program the agency does not run."""
    from tandem.readiness.selectors import team_people
    from tests.conftest import sign_in

    agency, users = demo("columbus")
    team = set(team_people(agency))
    assert users["supporter"] in team
    assert users["aro"] not in team
    assert users["prs"] not in team
    client = sign_in(Client(), users["coordinator"])
    home = text(client.get("/"))
    assert "not compliant" not in home
    assert users["aro"].get_full_name() not in text(client.get(reverse("readiness:team")))
