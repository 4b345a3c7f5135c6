"""Programs, Joplin SOG 2-13 (selection by letter of request; no interview step)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tandem.readiness.gates import is_peer_support_ready
from tandem.readiness.models import Gate
from tests.programs.support import sign_in_from_the_demo_listing, text
from tests.readiness.support import attend, clear

# ========================================================================================
# 5. Joplin SOG 2-13 (selection by letter of request; no interview step)
# ========================================================================================


def test_joplin_story_letter_vetting_training_then_the_chief_designates(demo: Any) -> None:
    from tandem.readiness.models import Application, Vacancy

    agency, people = demo("joplin")
    applicant = people["member"]
    vacancy = Vacancy.objects.get(agency=agency, closed_at__isnull=True, program="psp")
    member = sign_in_from_the_demo_listing("joplin-member")
    member.post(
        reverse("readiness:apply", args=[vacancy.pk]),
        {"letter": "A letter of request to the Coordinator (SOG 2-13 IV.A.1)."},
    )
    application = Application.objects.get(applicant=applicant)
    chief = sign_in_from_the_demo_listing("joplin-chief")
    # Vetting and training come before the decision in SOG 2-13: refused until done.
    early = chief.post(
        reverse("readiness:application_decide", args=[application.pk]),
        {"decision": "approve", "version": application.version},
    )
    application.refresh_from_db()
    assert application.status != "approved", early.status_code
    clear(people["coordinator"], applicant, timezone.localdate(), days=700)
    attend(
        agency, people["coordinator"], applicant, "psp-initial", timezone.now() - timedelta(hours=3)
    )
    chief.post(
        reverse("readiness:application_decide", args=[application.pk]),
        {"decision": "approve", "version": application.version},
    )
    application.refresh_from_db()
    assert application.status == "approved"
    assert is_peer_support_ready(applicant), Gate.objects.get(user=applicant).reasons
    # IV.B.2: a supervisor finds how to reach the Coordinator, and nothing about on-call.
    from tandem.support.oncall import Schedule

    supervisor = sign_in_from_the_demo_listing("joplin-supervisor")
    home = text(supervisor.get(reverse("core:home")))
    assert "Activate peer support" in home
    page = text(supervisor.get(reverse("support:coordinator_contact")))
    coordinator = people["coordinator"]
    assert coordinator.get_full_name() in page
    assert coordinator.member.phone in page
    assert f"activates the team through the {agency.title_for('coordinator')}" in page
    on_call = Schedule(agency).shift_at("primary", timezone.now())
    assert on_call is not None
    assert on_call.supporter.display_name not in page
    assert supervisor.get(reverse("support:on_call_now")).status_code == 404


def test_joplin_takes_no_referral_of_a_colleague_and_says_so(demo: Any) -> None:
    """SOG 2-13 names no referral by a colleague: "Get support" offers none, and a referral
    link from elsewhere opens the page for asking for oneself with a notice, so a referrer
    does not fill in their own details believing they refer someone."""
    from django.test import Client

    from tandem.support import access as support_access

    agency, _people = demo("joplin")
    member = sign_in_from_the_demo_listing("joplin-member")
    directory = text(member.get(reverse("support:directory")))
    assert "Ask for support" in directory
    assert "Refer a colleague" not in directory
    url = reverse("support:intake", args=[support_access.help_pass_for(agency)])
    page = text(Client().get(url + "?for=colleague"))
    assert "takes no referrals of a colleague here" in page
    assert "This page is for asking for yourself" in page
    assert "Send the referral" not in page
    assert "takes no referrals" not in text(Client().get(url))
