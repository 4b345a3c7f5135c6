"""Programs, browser stories: one per department, where a person clicks (Chromium)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.helpers import code_for

# ========================================================================================
# Browser stories: one per department, where a person clicks (Chromium, live server)
# ========================================================================================


def _browser_sign_in(page: Any, base: str, username: str) -> None:
    """Sign in as a newcomer does: the password read off the demo listing on the sign-in
    page, then the authenticator's current code."""
    page.goto(f"{base}/")
    page.get_by_role("button", name="I understand and agree").click()
    cells = page.locator("section.demo-accounts td code").all_inner_texts()
    password = cells[cells.index(username) + 1]
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Continue").click()
    device = TOTPDevice.objects.get(user__username=username, confirmed=True)
    page.locator("input[name=code]").fill(code_for(device))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/")


def _sign_out(page: Any) -> None:
    page.context.clear_cookies()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_columbus_a_family_member_asks_and_the_supporter_reads_who_and_follows_up(
    live_server: Any,
    demo: Any,
) -> None:
    from tandem.support.models import SupporterProfile
    from tests.browser import browser_page

    agency, people = demo("columbus")
    base = live_server.url
    from tandem.support import access as support_access

    help_page = reverse("support:intake", args=[support_access.help_pass_for(agency)])
    profile = SupporterProfile.objects.get(user=people["supporter"])
    with browser_page(viewport={"width": 390, "height": 844}) as page:  # a phone
        page.goto(f"{base}{help_page}")
        page.get_by_label(f"I am family of someone who works for {agency.name}").check()
        page.get_by_label("What should the supporter call you? (optional)").fill("Robin Quill")
        page.get_by_label("Phone").fill("+1 614 555 0142")
        page.locator("select[name=chosen_supporter]").select_option(str(profile.pk))
        page.get_by_role("button", name="Send my request").click()
        page.get_by_role("heading", name="Your status code").wait_for()

        _browser_sign_in(page, base, "columbus-supporter")
        page.goto(f"{base}{reverse('support:workspace')}")
        family = page.locator("article.card").filter(
            has_text="A family member of a department member asks"
        )
        family.first.wait_for()  # the demo leaves a member's request waiting beside it
        assert family.get_by_text("Member asks directly").count() == 0
        family.get_by_role("button", name="Accept request").click()
        page.get_by_text("Where it comes from:").wait_for()
        assert page.get_by_text("Robin Quill").count() == 1
        page.get_by_role("button", name="Record first contact").click()
        page.get_by_role("link", name="Close the request").click()
        for select in page.locator("form select[required]").all():
            select.select_option(index=1)
        due = timezone.localdate() + timedelta(days=7)
        page.get_by_label("Remind me on").fill(due.isoformat())
        page.get_by_role("button", name="Close").last.click()
        page.get_by_role("heading", name="Follow-up reminders").wait_for()
        page.get_by_text("Follow up with Robin Quill (+1 614 555 0142)").wait_for()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_colorado_springs_a_breach_is_reported_and_acknowledged_on_screen(
    live_server: Any,
    demo: Any,
) -> None:
    from tandem.support.models import BreachReport
    from tests.browser import browser_page

    agency, _ = demo("demo")
    base = live_server.url
    with browser_page() as page:
        _browser_sign_in(page, base, "supporter")
        page.goto(f"{base}{reverse('support:workspace')}")
        page.get_by_text("for 6 months after your last contact").wait_for()  # GO 702 .46
        page.get_by_role("link", name="Report a breach").click()
        page.get_by_label("What happened").select_option("overheard")
        page.get_by_label("When").fill(timezone.localdate().isoformat())
        page.get_by_role("button", name="Report").click()
        page.get_by_text("Reported to the Wellness Unit and the psychologist.").wait_for()
        _sign_out(page)

        _browser_sign_in(page, base, "coordinator")
        page.get_by_role("link", name="Breach reports").first.click()
        page.get_by_text("1 report waiting for your acknowledgement").wait_for()
        page.get_by_role("button", name="Acknowledge").click()
        page.get_by_text("You acknowledged it").wait_for()
    assert BreachReport.objects.get(agency=agency).acknowledgements.count() == 1


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_joplin_a_supervisor_finds_how_to_reach_the_coordinator(
    live_server: Any,
    demo: Any,
) -> None:
    from tests.browser import browser_page

    agency, people = demo("joplin")
    base = live_server.url
    coordinator = people["coordinator"]
    with browser_page(viewport={"width": 390, "height": 844}) as page:
        _browser_sign_in(page, base, "joplin-supervisor")
        page.get_by_role("link", name="Activate peer support").first.click()
        page.get_by_text(coordinator.get_full_name()).first.wait_for()
        assert page.get_by_role("link", name=coordinator.member.phone).count() >= 1
        assert page.get_by_text("On call now").count() == 0


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_winchester_the_evaluator_writes_feedback_and_the_prs_acknowledges_it(
    live_server: Any,
    demo: Any,
) -> None:
    from tandem.recovery.models import PersonnelEvaluation
    from tandem.reports.services import annual_year
    from tests.browser import browser_page

    agency, people = demo("winchester")
    base = live_server.url
    prs = people["prs"]
    year = annual_year(agency, "recovery")
    with browser_page() as page:
        _browser_sign_in(page, base, "winchester-crt-supervisor")
        page.goto(f"{base}{reverse('reports:index')}")
        page.get_by_role("link", name=f"Annual report {year}").first.click()
        page.wait_for_url(f"**start={year}-01**")
        page.goto(f"{base}{reverse('recovery:personnel_evaluation')}?year={year}")
        page.get_by_label(f"Feedback to {prs.get_full_name()}").fill(
            "Reliable follow-up calls all year. Next year: lead one outreach event."
        )
        page.get_by_role("button", name=f"Save the evaluation of {prs.get_full_name()}").click()
        page.get_by_text(f"Waiting for {prs.get_full_name()} to acknowledge it").wait_for()
        _sign_out(page)

        _browser_sign_in(page, base, "winchester-prs")
        page.get_by_role(
            "link", name="1 evaluation waiting for you to read and acknowledge"
        ).click()
        page.get_by_text("Reliable follow-up calls all year.").wait_for()
        page.get_by_label("Your response (optional)").fill("Thank you; agreed.")
        page.get_by_role("button", name=f"I have read my {year} evaluation").click()
        page.get_by_text("You acknowledged it on").wait_for()
        assert page.get_by_text("Criminal justice information: open").count() == 0
    assert PersonnelEvaluation.objects.get(person=prs).response == "Thank you; agreed."


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_west_virginia_the_peer_records_a_patrol_call_with_the_officers_check(
    live_server: Any,
    demo: Any,
) -> None:
    from tandem.agencies.models import Member
    from tandem.recovery.models import Client as RecoveryClient
    from tandem.recovery.models import PatrolCall
    from tests.browser import browser_page

    agency, people = demo("west-virginia")
    base = live_server.url
    client = RecoveryClient.objects.filter(agency=agency).first()
    officer = (
        Member.objects.filter(agency=agency, category="sworn")
        .exclude(pk=people["prs"].member_id)
        .first()
    )
    checklist = list(agency.policy_model().recovery.safety_checklist)
    with browser_page(viewport={"width": 390, "height": 844}) as page:
        _browser_sign_in(page, base, "wv-prs")
        page.goto(f"{base}{reverse('recovery:client_detail', args=[client.pk])}")
        page.get_by_role("link", name="Patrol call").click()
        page.get_by_label("Type of call").select_option("overdose")
        page.get_by_label("Officer on the call").select_option(str(officer.pk))
        for item in checklist:
            page.get_by_label(item, exact=True).check()
        page.get_by_label("Minutes").fill("20")
        page.get_by_label("Outcome").select_option("engaged")
        page.get_by_role("button", name="Record patrol call").click()
        page.get_by_text("The patrol call was recorded with the officer's safety check.").wait_for()
    call = PatrolCall.objects.get(contact__client=client)
    assert call.call_type == "overdose"
    assert all(call.safety_checklist[item] for item in checklist)
