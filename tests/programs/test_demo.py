"""Programs, the demo: one agency per preset, tried from the sign-in page."""

from __future__ import annotations

import random
from typing import Any

import pytest
from django.core.exceptions import ValidationError
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


def test_an_agency_without_peer_recovery_has_no_recovery_accounts_or_roles_to_give(
    demo: Any,
) -> None:
    """Columbus runs peer support only: its demo lists no ARO, PRS or CRT supervisor to sign
    in as (they would reach no page), the administrator's role pickers do not offer those
    roles, and a grant posted by hand is refused, while the readiness team is the peer
    supporters."""
    from tandem.accounts.models import RoleAssignment, RoleRequest
    from tandem.accounts.services import role_grant_propose
    from tandem.core.demo import signin_listing
    from tandem.readiness.selectors import team_people
    from tests.conftest import sign_in

    agency, users = demo("columbus")
    assert {"aro", "prs", "crt_supervisor"}.isdisjoint(users)
    listed = {a["username"] for entry in signin_listing() for a in entry["accounts"]}
    assert not any(name.endswith(("aro", "prs", "crt-supervisor")) for name in listed)
    assert users["supporter"] in set(team_people(agency))

    admin = sign_in(Client(), users["administrator"])
    member = users["member"]
    for url in (reverse("accounts:user_create"), reverse("accounts:user_detail", args=[member.pk])):
        page = admin.get(url).content.decode()
        assert 'value="supporter"' in page
        for role in ("aro", "prs", "crt_supervisor"):
            assert f'value="{role}"' not in page
    response = admin.post(
        reverse("accounts:user_role_grant", args=[member.pk]), {"role": "aro"}, follow=True
    )
    assert "Choose a role from the list." in text(response)
    assert not RoleAssignment.objects.filter(user=member, role="aro").exists()
    assert not RoleRequest.objects.filter(user=member, role="aro").exists()
    with pytest.raises(ValidationError, match="does not run the program"):
        role_grant_propose(acting_user=users["administrator"], user=member, role="prs")


def test_an_agency_running_both_programs_offers_every_role(demo: Any) -> None:
    from tests.conftest import sign_in

    _agency, users = demo("winchester")
    assert {"aro", "prs", "crt_supervisor", "supporter"} <= set(users)
    admin = sign_in(Client(), users["administrator"])
    page = admin.get(reverse("accounts:user_create")).content.decode()
    for role in ("aro", "prs", "crt_supervisor", "supporter", "coordinator"):
        assert f'value="{role}"' in page


def test_an_agency_without_peer_recovery_designates_and_recruits_for_peer_support_only(
    demo: Any,
) -> None:
    """Columbus's chief designates, and its coordinator announces vacancies, for peer support
    only, and trains for it: the pickers offer nothing else, a peer-recovery value posted by
    hand is refused with a message, changing nothing, and no peer-recovery course is listed."""
    from tandem.readiness.models import Designation, Vacancy
    from tandem.readiness.services import designation_grant
    from tests.conftest import sign_in

    _agency, users = demo("columbus")
    supporter = users["supporter"]
    chief = sign_in(Client(), users["chief"])
    page = chief.get(reverse("readiness:person", args=[supporter.pk])).content.decode()
    assert '<option value="psp">' in page
    assert 'value="prp"' not in page
    response = chief.post(
        reverse("readiness:designate", args=[supporter.pk]), {"program": "prp"}, follow=True
    )
    assert "Choose the program." in text(response)
    with pytest.raises(ValidationError, match="does not run this program"):
        designation_grant(acting_user=users["chief"], user=supporter, program="prp")
    assert not Designation.objects.filter(user=supporter, program="prp").exists()

    coordinator = sign_in(Client(), users["coordinator"])
    form = coordinator.get(reverse("readiness:vacancy_create")).content.decode()
    assert 'value="psp"' in form
    assert 'value="prp"' not in form
    response = coordinator.post(
        reverse("readiness:vacancy_create"), {"program": "prp", "title": "Recovery team"}
    )
    assert response.status_code == 400
    assert not Vacancy.objects.filter(title="Recovery team").exists()
    sessions = text(coordinator.get(reverse("readiness:sessions")))
    assert "Quarterly peer support training" in sessions
    assert "Peer recovery" not in sessions


def test_removing_someone_from_the_team_asks_for_the_reason_first(demo: Any) -> None:
    """No reason is preselected: a removal posted without one is refused and the person
    stays on the team."""
    from tandem.readiness.models import Designation
    from tests.conftest import sign_in

    _agency, users = demo("columbus")
    designation = Designation.objects.get(user=users["supporter"], removed_on__isnull=True)
    chief = sign_in(Client(), users["chief"])
    page = chief.get(reverse("readiness:person", args=[users["supporter"].pk])).content.decode()
    assert '<option value="">Choose a reason</option>' in page
    response = chief.post(
        reverse("readiness:designation_remove", args=[designation.pk]), {"reason": ""}, follow=True
    )
    assert "Choose the reason for the removal." in text(response)
    designation.refresh_from_db()
    assert designation.removed_on is None


def test_the_policy_summary_speaks_of_the_programs_the_agency_runs(demo: Any) -> None:
    """Columbus's administrator reads a summary of peer support only: no recovery titles,
    retention or field-contact checklist (the full policy text below still has every key)."""
    from tests.conftest import sign_in

    _agency, users = demo("columbus")
    page = text(sign_in(Client(), users["administrator"]).get(reverse("agencies:policy")))
    summary = page.split("Summary", 1)[1].split("Sources", 1)[0]
    assert "Programs run: peer support." in summary
    assert "Who may ask for peer support" in summary
    for recovery in ("Addiction Response Officer", "Recovery field contacts", "Recovery program"):
        assert recovery not in summary
