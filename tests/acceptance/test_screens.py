"""Every screen works for the person in front of it (issue 14): policy-aware forms, the
right keyboard and autofill, an error summary after a failed submit, normalised tel: links."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.timezone import now as timezone_now

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.core.templatetags.tandem_ui import tel_href
from tandem.support import services, vocab
from tandem.support.models import SupportRequest
from tests.conftest import sign_in

pytestmark = pytest.mark.django_db


def set_channels(agency: Agency, *channels: str) -> None:
    policy = dict(agency.policy)
    policy["eligibility"] = {**policy["eligibility"], "channels": list(channels)}
    agency.policy = policy
    agency.save(update_fields=["policy"])


def caller(**values: Any) -> dict[str, str]:
    return {
        "idempotency_key": "k-1",
        "name": "Caller Name",
        "phone": "+1 (555) 010-0166",
        "contact_method": "phone",
        "urgency": "now",
        "best_time": "any",
        **values,
    }


def test_dispatcher_is_told_what_to_do_when_the_policy_takes_nothing_through_dispatch(
    agency: Agency, cast: dict[str, User]
) -> None:
    dispatcher = sign_in(Client(), cast["dispatcher"])  # Colorado Springs: no dispatch
    page = dispatcher.get(reverse("support:on_behalf_new"))
    text = page.content.decode()
    assert page.status_code == 200
    assert "<form" not in text.split("<main", 1)[1]
    assert "takes no requests through dispatch" in text
    assert "a colleague refers them confidentially" in text.lower()
    on_call = dispatcher.get(reverse("support:on_call_now")).content.decode()
    assert "Request support for a caller</a>" not in on_call
    assert "What to tell a caller who asks for peer support" in on_call


def test_dispatcher_with_one_channel_sends_for_the_caller_without_choosing_it(
    agency: Agency, cast: dict[str, User]
) -> None:
    set_channels(agency, "self_request", "dispatch")
    dispatcher = sign_in(Client(), cast["dispatcher"])
    page = dispatcher.get(reverse("support:on_behalf_new")).content.decode()
    assert "How should the supporter reach the caller?" in page
    assert page.index("Name of the caller") < page.index("Phone of the caller")
    assert "reach you" not in page
    assert 'type="hidden" name="channel" value="dispatch"' in page
    assert "How this request came in: Through dispatch" in page
    sent = dispatcher.post(reverse("support:on_behalf_new"), caller(channel="dispatch"))
    assert sent.status_code == 200
    assert "Receipt" in sent.content.decode()
    assert SupportRequest.objects.get().channel == vocab.Channel.DISPATCH
    on_call = dispatcher.get(reverse("support:on_call_now")).content.decode()
    assert "Request support for a caller</a>" in on_call


def test_phone_fields_bring_up_the_number_pad_and_never_autofill_someone_elses_details(
    agency: Agency, cast: dict[str, User]
) -> None:
    set_channels(agency, "self_request", "dispatch")
    page = (
        sign_in(Client(), cast["dispatcher"]).get(reverse("support:on_behalf_new")).content.decode()
    )
    phone = re.search(r'<input[^>]*name="phone"[^>]*>', page)
    assert phone is not None
    assert 'type="tel"' in phone.group(0)
    assert 'autocomplete="off"' in phone.group(0)  # the caller's phone, not the dispatcher's


def test_the_person_asking_for_themselves_gets_their_own_details_filled_in(
    agency: Agency, cast: dict[str, User]
) -> None:
    token = services.intake_link_rotate(acting_user=cast["coordinator"], agency=agency)
    page = Client().get(reverse("support:intake", args=[token])).content.decode()
    phone = re.search(r'<input[^>]*name="phone"[^>]*>', page)
    assert phone is not None
    assert 'type="tel"' in phone.group(0)
    assert 'autocomplete="tel"' in phone.group(0)
    assert re.search(r'<input[^>]*name="email"[^>]*autocomplete="email"', page)


def test_a_failed_submit_shows_a_summary_linking_to_each_field(
    agency: Agency, cast: dict[str, User]
) -> None:
    set_channels(agency, "self_request", "dispatch")
    failed = sign_in(Client(), cast["dispatcher"]).post(
        reverse("support:on_behalf_new"), caller(name="", phone="", channel="dispatch")
    )
    assert failed.status_code == 400
    page = failed.content.decode()
    summary = page.split('class="error-summary"', 1)[1].split("</div>", 1)[0]
    assert 'tabindex="-1"' in page.split('class="error-summary"', 1)[1][:200]
    assert 'href="#id_name"' in summary
    assert 'href="#id_phone"' in summary
    assert "2 problems" in summary
    assert page.index("error-summary") < page.index('name="name"')


def test_the_intake_page_names_only_the_ways_the_policy_takes_requests(
    agency: Agency, cast: dict[str, User]
) -> None:
    set_channels(agency, "proactive_referral", "critical_incident")  # nobody asks directly
    token = services.intake_link_rotate(acting_user=cast["coordinator"], agency=agency)
    page = Client().get(reverse("support:intake", args=[token])).content.decode()
    assert "dispatch" not in page.lower()
    assert "a colleague refers them confidentially" in page.lower()


def test_members_only_help_page_says_it_takes_no_requests_from_families(
    agency: Agency, cast: dict[str, User]
) -> None:
    token = services.intake_link_rotate(acting_user=cast["coordinator"], agency=agency)
    page = Client().get(reverse("support:intake", args=[token])).content.decode()
    assert "it takes no requests from their families" in page
    assert "family member" not in page.split("it takes no requests from their families", 1)[1]


def test_the_help_page_says_call_911_before_the_form(agency: Agency, cast: dict[str, User]) -> None:
    token = services.intake_link_rotate(acting_user=cast["coordinator"], agency=agency)
    page = Client().get(reverse("support:intake", args=[token])).content.decode()
    assert "If you are in danger right now, call 911." in page.split("<form", 1)[0]


@pytest.mark.parametrize(
    ("shown", "href"),
    [
        ("+1 (555) 010-0166", "tel:+15550100166"),
        ("555.010.0166", "tel:5550100166"),
        ("  719 444-7000 ", "tel:7194447000"),
    ],
)
def test_tel_links_carry_digits_only(shown: str, href: str) -> None:
    assert tel_href(shown) == href


def test_sergeant_screens_speak_plain_words(agency: Agency, cast: dict[str, User]) -> None:
    from tandem.agencies.forms import PolicyTextForm
    from tandem.audit.forms import EventFilterForm
    from tandem.reports.disclosure import Table
    from tandem.reports.forms import PeriodForm

    forms = (PolicyTextForm(), EventFilterForm(), PeriodForm(may_publish=True))
    labels = [str(f.label) for form in forms for f in form.fields.values()]
    for jargon in ("epsilon", "TOML", "Object id", "Small-cell"):
        assert not any(jargon.lower() in label.lower() for label in labels), jargon
    table = Table(
        name="t",
        title="Contacts by length",
        measure="contacts",
        row_dim="duration_bucket",
        rows=[("a", "A")],
        counts=[[3]],
    )
    assert table.row_dim_label == "Length of contact"


def test_get_support_and_peer_support_are_two_differently_named_pages(
    agency: Agency, cast: dict[str, User]
) -> None:
    supporter = sign_in(Client(), cast["supporter"])
    directory = supporter.get(reverse("support:directory")).content.decode()
    workspace = supporter.get(reverse("support:workspace")).content.decode()
    assert "<h1>Get support</h1>" in directory
    assert "<h1>Peer support</h1>" in workspace


def test_availability_offers_only_the_change_that_makes_sense(
    agency: Agency, cast: dict[str, User]
) -> None:
    supporter = sign_in(Client(), cast["supporter"])
    page = supporter.get(reverse("support:workspace")).content.decode()
    assert "You are <strong>available</strong>" in page
    assert "I am available again" not in page
    assert "Take time off" in page
    supporter.post(
        reverse("support:availability"), {"action": "unavailable", "until": "2099-01-01T08:00"}
    )
    page = supporter.get(reverse("support:workspace")).content.decode()
    assert "unavailable until" in page
    assert "I am available again" in page
    assert ">Take time off<" not in page


def test_coordinator_home_lists_what_needs_attention_without_identities(
    agency: Agency, cast: dict[str, User]
) -> None:
    services.request_create(
        acting_user=None,
        agency=agency,
        idempotency_key="home-1",
        channel=vocab.Channel.SELF_REQUEST,
        urgency=vocab.Urgency.NOW,
        contact_method=vocab.ContactMethod.PHONE,
        requester={
            "kind": "member",
            "member_id": cast["member"].member_id,
            "name": cast["member"].get_full_name(),
            "phone": "555-0199",
        },
    )
    page = sign_in(Client(), cast["coordinator"]).get("/").content.decode()
    attention = page.split("Needs attention now", 1)[1].split("</section>", 1)[0]
    assert "1 request waiting for a supporter, the longest for less than an hour" in attention
    assert "in on-call coverage in the next 14 days" in attention
    assert cast["member"].get_full_name() not in page
    assert "555-0199" not in page
    member_home = sign_in(Client(), cast["member"]).get("/").content.decode()
    assert "Nothing needs your attention now." in member_home


def _ask(agency: Agency, key: str, urgency: str) -> SupportRequest:
    request, _receipt = services.request_create(
        acting_user=None,
        agency=agency,
        idempotency_key=key,
        channel=vocab.Channel.SELF_REQUEST,
        urgency=urgency,
        contact_method=vocab.ContactMethod.PHONE,
        requester={"kind": "member", "name": "Someone", "phone": "555-0142"},
    )
    return request


def test_an_accepted_request_no_longer_counts_as_waiting_on_the_coordinators_home(
    agency: Agency, cast: dict[str, User]
) -> None:
    first = _ask(agency, "wait-1", vocab.Urgency.NOW)
    _ask(agency, "wait-2", vocab.Urgency.NOW)
    coordinator = sign_in(Client(), cast["coordinator"])
    assert "2 requests waiting for a supporter" in coordinator.get("/").content.decode()
    offered = User.objects.get(pk=first.offers.get(active=True).user_id)
    services.request_accept(acting_user=offered, request=first)
    page = coordinator.get("/").content.decode()
    assert "1 request waiting for a supporter" in page


def test_a_supporter_sees_the_most_urgent_requests_offered_first(
    agency: Agency, cast: dict[str, User]
) -> None:
    """A "This week" and a "Today" request that came in first do not push a "Now" request
    below them (on a phone, below the fold)."""
    for key, urgency in (
        ("o-1", vocab.Urgency.THIS_WEEK),
        ("o-2", vocab.Urgency.TODAY),
        ("o-3", vocab.Urgency.NOW),
    ):
        _ask(agency, key, urgency)
    offered = {
        o.user_id for r in SupportRequest.objects.all() for o in r.offers.filter(active=True)
    }
    assert len(offered) == 1, "the three requests are offered to the same first supporter"
    page = sign_in(Client(), User.objects.get(pk=offered.pop())).get(reverse("support:workspace"))
    body = page.content.decode()
    assert body.index("· Now</h3>") < body.index("· Today</h3>") < body.index("· This week</h3>")


def _home_queries(client: Client) -> list[str]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        assert client.get("/").status_code == 200
    return [q["sql"] for q in captured.captured_queries]


def test_coordinator_home_reads_coverage_gaps_from_a_snapshot_that_changes_invalidate(
    agency: Agency, cast: dict[str, User], django_assert_num_queries: Any
) -> None:
    from tandem.support.models import CoverageSnapshot
    from tandem.support.oncall import coverage_gaps
    from tests.peer_support.support import make_supporter, rotation

    coordinator = sign_in(Client(), cast["coordinator"])
    first = coordinator.get("/").content.decode()
    assert "2 gaps in on-call coverage in the next 14 days" in first  # nobody on either layer
    assert CoverageSnapshot.objects.filter(agency=agency).exists()
    # A warm home reads one row for coverage, never the rota, whatever its size.
    with django_assert_num_queries(1):
        coverage_gaps(agency)
    warm = _home_queries(coordinator)
    assert not [q for q in warm if "support_rotation" in q or "support_override" in q]
    # Putting people on call deletes the snapshot at once: the next load shows the change.
    people = [make_supporter(agency, f"sup{n}") for n in range(6)]
    rotation(agency, cast["coordinator"], "primary", people[:3])
    assert not CoverageSnapshot.objects.filter(agency=agency).exists()
    second = coordinator.get("/").content.decode()
    assert "1 gap in on-call coverage in the next 14 days" in second
    rotation(agency, cast["coordinator"], "backup", people[3:])
    assert "in on-call coverage" not in coordinator.get("/").content.decode()
    # The roster grew from nothing to two rotations of three: a warm home costs the same.
    assert len(_home_queries(coordinator)) == len(warm)
    # Availability is a change too: the only backup left leaves a gap.
    from tandem.support import services as support

    for person in people[3:]:
        support.availability_set(
            acting_user=person,
            profile=support.profile_for(person),
            until=timezone_now() + timedelta(days=30),
        )
    assert "1 gap in on-call coverage" in coordinator.get("/").content.decode()


def test_aro_home_shows_todays_visits_waiting_for_a_safety_assessment(
    agency: Agency, cast: dict[str, User]
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tandem.recovery import services as recovery

    client = recovery.client_create(
        acting_user=cast["aro"],
        data={"first_name": "Jamie", "last_name": "Rivera", "phone": "(540) 555-0199"},
    )
    begin = timezone.now() + timedelta(minutes=30)
    recovery.planned_create(
        acting_user=cast["aro"],
        client=client,
        kind="field",
        starts_at=begin,
        ends_at=begin + timedelta(hours=1),
        aro=cast["aro"],
        prs=cast["prs"],
        with_prs=True,
    )
    page = sign_in(Client(), cast["aro"]).get("/").content.decode()
    assert "1 visit today needs your safety assessment" in page
    prs_page = sign_in(Client(), cast["prs"]).get("/").content.decode()
    assert "needs your safety assessment" not in prs_page


def test_client_page_puts_the_summary_first_and_pages_a_long_timeline(
    agency: Agency, cast: dict[str, User]
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from tandem.recovery import services as recovery
    from tandem.recovery.models import Resource

    client = recovery.client_create(
        acting_user=cast["aro"],
        data={"first_name": "Jamie", "last_name": "Rivera", "phone": "(540) 555-0199"},
    )
    now = timezone.now()
    client.__class__.objects.filter(pk=client.pk).update(created_at=now - timedelta(days=30))
    client.refresh_from_db()
    for days in range(14):
        recovery.contact_create(
            acting_user=cast["prs"],
            client=client,
            data={
                "kind": "phone",
                "occurred_at": now - timedelta(days=days, hours=1),
                "duration_minutes": 10 + days,
                "prs_present": True,
                "location_type": "phone",
                "services": [],
                "outcome": "engaged",
            },
        )
    resource = Resource.objects.create(
        agency=agency, name="Valley Outpatient", category="treatment_outpatient"
    )
    recovery.referral_create(
        acting_user=cast["aro"],
        client=client,
        resource=resource,
        follow_up_on=timezone.localdate() + timedelta(days=2),
    )
    # The next visit is the earliest one still to come or under way; a cancelled one is not.
    visits = [
        recovery.planned_create(
            acting_user=cast["aro"],
            client=client,
            kind=kind,
            starts_at=now + timedelta(days=days),
            ends_at=now + timedelta(days=days, hours=1),
            aro=cast["aro"],
            prs=cast["prs"],
            with_prs=False,
        )
        for kind, days in (("office", 1), ("field", 3), ("office", 5), ("field", -2))
    ]
    recovery.planned_cancel(acting_user=cast["aro"], planned=visits[0])
    url = reverse("recovery:client_detail", args=[client.pk])
    aro = sign_in(Client(), cast["aro"])
    page = aro.get(url).content.decode()
    main = page.split("<main", 1)[1]
    next_visit = reverse("recovery:planned_detail", args=[visits[1].pk])
    assert f'<dt>Next visit</dt><dd><a href="{next_visit}">Field' in main
    # What the person at the door needs comes before every folded section.
    glance = main.index("At a glance")
    assert main.index("Log a contact") < glance < main.index('<details class="fold"')
    summary = main[glance:].split("</section>", 1)[0]
    assert 'href="tel:5405550199"' in summary
    assert "Valley Outpatient" in summary  # the follow-up due this week
    assert "None in force" in summary
    # Each folded section says what it holds.
    assert 'Referrals <span class="count">(1)</span>' in main
    assert 'Timeline <span class="count">(19 entries)</span>' in main  # 14 + 1 + 4 visits
    first = re.findall(r"<li><span class=\"muted\">", main.split('id="timeline"', 1)[1])
    assert len(first) == 10
    assert "Entries 1–10 of 19" in main
    assert "?timeline=2#timeline" in main
    older = aro.get(url, {"timeline": "2"}).content.decode().split('id="timeline"', 1)[1]
    assert len(re.findall(r"<li><span class=\"muted\">", older)) == 9
    assert 'id="timeline" open' in aro.get(url, {"timeline": "2"}).content.decode()
    # A change made in a section brings the reader back to that section.
    answer = aro.post(reverse("recovery:stage_create", args=[client.pk]), {"stage": "preparation"})
    assert answer["Location"] == f"{url}#stages"


# --- Accessible documents ------------------------------------------------------------------


def _pdf(data: bytes) -> Any:
    import io

    from pypdf import PdfReader

    assert data.startswith(b"%PDF")
    return PdfReader(io.BytesIO(data))


def test_roster_poster_is_a_tagged_letter_pdf_with_language_and_real_text(
    agency: Agency, cast: dict[str, User]
) -> None:
    response = sign_in(Client(), cast["member"]).get(reverse("support:poster_pdf"))
    assert response["Content-Type"] == "application/pdf"
    pdf = _pdf(response.content)
    catalog = pdf.trailer["/Root"]
    assert bool(catalog["/MarkInfo"]["/Marked"])
    assert "/StructTreeRoot" in catalog
    assert catalog["/Lang"] == "en-US"
    box = pdf.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (612, 792)  # US Letter
    text = pdf.pages[0].extract_text()
    assert "Peer support team" in text
    assert "Call any of us, at any hour." in text


def test_the_paper_size_follows_the_agency_policy(agency: Agency) -> None:
    from tandem.core.pdf import Document

    policy = dict(agency.policy)
    policy["paper"] = "a4"
    agency.policy = policy
    agency.save(update_fields=["policy"])
    box = _pdf(Document(agency=agency, title="Roster").bytes()).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)  # A4


def test_an_all_withheld_chart_leaves_one_line_and_no_gap(agency: Agency) -> None:
    from tandem.core.pdf import Document
    from tandem.reports.charts import bar_chart

    doc = Document(agency=agency, title="Monthly report")
    doc.heading("Contacts")
    series = [("Sworn", None), ("Civilian", None)]
    doc.chart("Contacts by length", bar_chart("Contacts by length", series), withheld=True)
    doc.chart("Contacts by unit", bar_chart("Contacts by unit", [("North", 12)]))
    html = doc.html()
    assert "Every figure of this chart is withheld" in html
    assert html.count("<svg") == 1
    assert "<figure><h3>Contacts by unit</h3>" in html  # the title stays with its chart
    text = "\n".join(p.extract_text() for p in _pdf(doc.bytes()).pages)
    assert "Every figure of this chart is withheld" in text


def test_dates_and_times_share_one_format_per_context_in_each_locale() -> None:
    from datetime import UTC, date, datetime, time

    from django.template import Context, Template
    from django.utils import translation

    moment = datetime(2026, 11, 30, 10, 51, 7, tzinfo=UTC)
    template = Template(
        "{{ day }}|{{ day|when }}|{{ day|when:'short_date' }}|{{ moment|when:'short_datetime' }}"
        "|{{ moment|when:'datetime' }}|{{ moment|when:'time' }}|{{ day|when:'month' }}"
        "|{{ moment|when:'exact' }}|{{ nothing|when|default:'—' }}|{{ handoff|when:'time' }}"
    )
    context = Context(
        {"day": date(2026, 12, 10), "moment": moment, "nothing": None, "handoff": time(7, 0)}
    )
    us = template.render(context).split("|")
    # The agency's time zone (America/New_York) and a 24-hour clock in both locales.
    assert us == [
        "Thu, Dec 10, 2026",
        "Thu, Dec 10, 2026",
        "Thu, Dec 10",
        "Mon, Nov 30, 05:51",
        "Mon, Nov 30, 2026, 05:51",
        "05:51",
        "December 2026",
        "2026-11-30 05:51:07",
        "—",
        "07:00",
    ]
    with translation.override("en-gb"):
        gb = template.render(context).split("|")
    assert gb == [
        "Thu 10 Dec 2026",
        "Thu 10 Dec 2026",
        "Thu 10 Dec",
        "Mon 30 Nov, 05:51",
        "Mon 30 Nov 2026, 05:51",
        "05:51",
        "December 2026",
        "2026-11-30 05:51:07",
        "—",
        "07:00",
    ]


def test_times_are_shown_in_the_agencys_own_time_zone(
    agency: Agency, cast: dict[str, User]
) -> None:
    """A dispatcher in Denver reads the time in Denver, whatever the server's time zone."""
    import time_machine

    moment = datetime(2026, 11, 30, 18, 6, tzinfo=UTC)  # 11:06 in Denver, 13:06 in New York
    agency.time_zone = "America/Denver"
    agency.save(update_fields=["time_zone"])
    with time_machine.travel(moment, tick=False):
        page = sign_in(Client(), cast["dispatcher"]).get(reverse("support:on_call_now"))
    assert re.search(r"As of [A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2}, 11:06\.", page.content.decode())


def test_each_agency_sees_dates_in_its_own_locale(
    agency: Agency, other_agency: Agency, cast: dict[str, User], stranger: User
) -> None:
    import html

    from tandem.core.pdf import Document

    # The other agency's administrator writes the locale into its policy (agency keeps the
    # US default).
    admin = sign_in(Client(), stranger)
    text = html.unescape(
        re.search(
            r'<textarea name="policy_text"[^>]*>(.*?)</textarea>',
            admin.get(reverse("agencies:policy")).content.decode(),
            re.S,
        ).group(1)
    )
    text = re.sub(r"(?m)^locale = .*\n", "", text)
    saved = admin.post(
        reverse("agencies:policy"), {"action": "save", "policy_text": f'locale = "en-GB"\n{text}'}
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    other_agency.refresh_from_db()
    assert other_agency.policy["locale"] == "en-GB"
    us_page = sign_in(Client(), cast["dispatcher"]).get(reverse("support:on_call_now"))
    gb_page = sign_in(Client(), stranger).get(reverse("support:on_call_now"))
    us_text, gb_text = us_page.content.decode(), gb_page.content.decode()
    assert re.search(r"As of [A-Z][a-z]{2}, [A-Z][a-z]{2} \d{1,2}, \d\d:\d\d\.", us_text)
    assert re.search(r"As of [A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2}, \d\d:\d\d\.", gb_text)
    assert '<html lang="en-us">' in us_text
    assert '<html lang="en-gb">' in gb_text
    # Documents follow the agency they are made for, in language and dates alike.
    gb_doc = Document(agency=other_agency, title="Roster").html()
    assert '<html lang="en-GB">' in gb_doc
    assert re.search(r"made [A-Z][a-z]{2} \d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d", gb_doc)
    assert '<html lang="en-US">' in Document(agency=agency, title="Roster").html()


def test_templates_write_dates_only_through_the_when_filter() -> None:
    """No template spells a date pattern: display dates go through ``|when`` (the agency's
    locale); only ISO values inside links (``|date:'Y-m-d'``, ``|date:'Y-m'``) remain."""
    from pathlib import Path

    import tandem

    root = Path(tandem.__file__).parent
    offenders = []
    for path in root.rglob("*.html"):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            for match in re.finditer(r"\|(date|time)\b(:(\S+?))?(?=[\s|}%])", line):
                if match.group(1) == "date" and match.group(3) in ("'Y-m-d'", "'Y-m'"):
                    continue
                offenders.append(f"{path.relative_to(root)}:{number}: {match.group(0)}")
    assert not offenders, "\n".join(offenders)


# Lists: a prompt instead of "---------", and the only choice chosen (one helper in core).


def _unit_form(agency: Agency, *, required: bool = True, **kwargs: Any) -> Any:
    from django import forms

    from tandem.agencies.models import Unit

    class UnitForm(forms.Form):
        unit = forms.ModelChoiceField(
            queryset=Unit.objects.filter(agency=agency), required=required
        )
        kind = forms.ChoiceField(choices=[("", "---------"), ("unit", "Unit")], required=required)
        shift = forms.ChoiceField(choices=[("", "---------"), ("day", "Day"), ("night", "Night")])
        scope = forms.ChoiceField(choices=[("", "All units"), ("mine", "Mine")], required=False)

    return UnitForm(**kwargs)


def _selected(html: str) -> list[str]:
    return re.findall(r'<option value="([^"]*)"[^>]*selected', html)


def test_every_list_prompts_choose_instead_of_dashes_and_keeps_the_forms_own_wording(
    agency: Agency,
) -> None:
    from tandem.agencies.models import Unit

    Unit.objects.create(agency=agency, code="N", name="North")
    Unit.objects.create(agency=agency, code="S", name="South")
    html = str(_unit_form(agency))
    assert "---------" not in html
    assert html.count("Choose…") == 3  # unit, kind, shift
    assert html.count('<option value="" selected>Choose…</option>') == 2  # kind: one choice
    assert '<option value="" selected>All units</option>' in html  # the form's own label
    assert _selected(str(_unit_form(agency)["unit"])) == [""]  # two units: nothing chosen


def test_a_required_list_with_one_real_choice_comes_with_it_chosen(agency: Agency) -> None:
    from tandem.agencies.models import Unit

    north = Unit.objects.create(agency=agency, code="N", name="North")
    form = _unit_form(agency)
    assert _selected(str(form["unit"])) == [str(north.pk)]
    assert _selected(str(form["kind"])) == ["unit"]
    assert _selected(str(form["shift"])) == [""]  # two choices: the person chooses
    optional = _unit_form(agency, required=False)
    assert _selected(str(optional["unit"])) == [""]  # optional: nothing chosen for them
    assert _selected(str(optional["kind"])) == [""]
    # An initial value the view gave, or what the person sent, is never replaced.
    other = Unit.objects.create(agency=agency, code="S", name="South")
    Unit.objects.filter(pk=north.pk).delete()
    assert _selected(str(_unit_form(agency, initial={"kind": ""})["unit"])) == [str(other.pk)]
    sent = _unit_form(agency, data={"unit": "", "kind": "", "shift": "day"})
    assert not sent.is_valid()
    assert set(sent.errors) == {"unit", "kind"}
    assert _selected(str(sent["unit"])) == [""]
    Unit.objects.all().delete()
    assert _selected(str(_unit_form(agency)["unit"])) == [""]  # none: the prompt


def test_a_one_choice_list_costs_at_most_one_short_query(agency: Agency) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tandem.agencies.models import Unit

    for i in range(30):
        Unit.objects.create(agency=agency, code=f"U{i}", name=f"Unit {i}")
    form = _unit_form(agency)
    with CaptureQueriesContext(connection) as queries:
        assert form["unit"].initial is None
    assert len(queries) == 1
    assert "LIMIT 2" in queries[0]["sql"]


def test_the_coordinator_planning_a_session_gets_the_only_active_course_chosen(
    agency: Agency, cast: dict[str, User]
) -> None:
    from tandem.readiness.models import Course

    coordinator = sign_in(Client(), cast["coordinator"])
    coordinator.get(reverse("readiness:sessions"))  # the policy's catalogue is in place
    only = Course.objects.filter(agency=agency, active=True).first()
    assert only is not None
    Course.objects.filter(agency=agency).exclude(pk=only.pk).update(active=False)
    page = coordinator.get(reverse("readiness:sessions")).content.decode()
    assert "---------" not in page
    select = re.search(r'<select name="course".*?</select>', page, re.S)
    assert select, "no course list"
    assert _selected(select.group(0)) == [str(only.pk)]
    assert "Choose…" in select.group(0)
    Course.objects.filter(agency=agency).update(active=True)
    page = coordinator.get(reverse("readiness:sessions")).content.decode()
    select = re.search(r'<select name="course".*?</select>', page, re.S)
    assert select
    assert _selected(select.group(0)) == [""]


def test_team_member_page_puts_the_removal_form_in_its_own_column_and_the_reason_under_reason(
    agency: Agency, cast: dict[str, User]
) -> None:
    from tandem.readiness import services as readiness
    from tandem.readiness.models import Designation
    from tests.readiness.support import make_ready

    supporter = cast["supporter"]
    make_ready(agency, cast, supporter, trained=timezone_now() - timedelta(days=30))
    first = Designation.objects.get(user=supporter)
    readiness.designation_remove(
        acting_user=cast["coordinator"], designation=first, reason="breach"
    )
    current = readiness.designation_grant(acting_user=cast["chief"], user=supporter, program="psp")
    first.refresh_from_db()
    page = (
        sign_in(Client(), cast["coordinator"])
        .get(reverse("readiness:person", args=[supporter.pk]))
        .content.decode()
    )
    table = re.search(r'<h2 id="designation-h">.*?</table>', page, re.S)
    assert table
    headers = re.findall(r'<th scope="col">([^<]+)</th>', table.group(0))
    assert headers == ["Program", "Designated", "By", "Removed", "Reason", "Action"]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table.group(0).split("<tbody>")[1], re.S):
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        assert len(cells) == len(headers), cells
        rows["removed" if "Remove from the team" not in cells[5] else "current"] = cells
    removed, active = rows["removed"], rows["current"]
    assert cast["coordinator"].get_full_name() in removed[3]
    assert removed[4].strip() == first.get_removal_reason_display()
    assert "<form" not in removed[3] + removed[4] + removed[5]
    assert "On the team" in active[3]
    assert active[4].strip() == "—"
    assert reverse("readiness:designation_remove", args=[current.pk]) in active[5]
    # With nothing left to remove, no empty "Action" column.
    readiness.designation_remove(acting_user=cast["chief"], designation=current, reason="other")
    page = (
        sign_in(Client(), cast["coordinator"])
        .get(reverse("readiness:person", args=[supporter.pk]))
        .content.decode()
    )
    assert '<th scope="col">Action</th>' not in page
    assert "Remove from the team" not in page


def test_supporter_home_says_a_request_is_offered_to_them_until_they_answer_it(
    agency: Agency, cast: dict[str, User]
) -> None:
    from tests.peer_support.support import ask, make_supporter, offered_to, rotation

    helper = make_supporter(agency, "helper")
    rotation(agency, cast["coordinator"], "primary", [helper])
    home = sign_in(Client(), helper)
    assert "Nothing needs your attention now." in home.get("/").content.decode()
    request = ask(cast["member"], "offered-1")
    assert offered_to(request) == {"helper"}
    page = home.get("/").content.decode()
    attention = page.split("Needs attention now", 1)[1].split("</section>", 1)[0]
    assert "1 request offered to you, waiting for you to accept or step aside" in attention
    assert reverse("support:workspace") in attention
    assert cast["member"].get_full_name() not in page
    services.request_accept(acting_user=helper, request=request)
    assert "offered to you, waiting" not in home.get("/").content.decode()


def test_the_queue_says_less_than_an_hour_for_a_request_of_this_hour(
    agency: Agency, cast: dict[str, User]
) -> None:
    from tests.peer_support.support import ask

    ask(cast["member"], "queue-1")
    page = sign_in(Client(), cast["coordinator"]).get(reverse("support:queue")).content.decode()
    row = page.split("<tbody>", 1)[1].split("</tr>", 1)[0]
    assert "less than an hour" in row
    assert "minute" not in row
    after = page.split("</table>", 1)[1]  # not a dead end: where to go next
    assert reverse("support:on_call_now") in after
    assert reverse("support:on_behalf_new") in after


def test_a_breach_report_waits_on_each_readers_home_until_they_acknowledge_it(
    agency: Agency, cast: dict[str, User]
) -> None:
    from tandem.support.services import breach_acknowledge, breach_readers, breach_report

    readers = breach_readers(agency)
    assert readers
    report = breach_report(
        acting_user=cast["supporter"], kind="other", occurred_on=timezone.localdate()
    )
    reader = next(u for role, u in cast.items() if role in readers)
    home = sign_in(Client(), reader)
    page = home.get("/").content.decode()
    attention = page.split("Needs attention now", 1)[1].split("</section>", 1)[0]
    assert "1 breach report for you to acknowledge" in attention
    assert reverse("support:breach_list") in attention
    assert "breach report" not in sign_in(Client(), cast["member"]).get("/").content.decode()
    breach_acknowledge(acting_user=reader, report=report)
    assert "for you to acknowledge" not in home.get("/").content.decode()
