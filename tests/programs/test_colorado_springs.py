"""Programs, Colorado Springs GO 702, end to end from the users' side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit.models import AuditEvent
from tests.conftest import sign_in
from tests.programs.support import sign_in_from_the_demo_listing, text

# ========================================================================================
# 6. Colorado Springs GO 702
# ========================================================================================


def test_colorado_springs_story_breach_reports_and_the_six_month_rule(demo: Any) -> None:
    from tandem.notifications.models import PeerSupportDelivery
    from tandem.readiness.models import AgreementDocument
    from tandem.support.models import BreachReport

    agency, people = demo("demo")
    assert agency.preset == "colorado-springs"
    supporter = sign_in_from_the_demo_listing("supporter")
    # .46 where it binds: the supporter's own page and the confidentiality agreement.
    workspace = text(supporter.get(reverse("support:workspace")))
    assert "for 6 months after your last contact" in workspace
    agreement = AgreementDocument.objects.filter(agency=agency, kind="confidentiality").last()
    signed_page = text(supporter.get(reverse("readiness:agreement_sign", args=[agreement.pk])))
    assert "for 6 months after your last contact" in signed_page
    assert "GO 702" in signed_page

    # .38: a breach reaches the Wellness Unit Sergeant and the psychologist at once ...
    reported = supporter.post(
        reverse("support:breach_new"),
        {"kind": "overheard", "occurred_on": timezone.localdate().isoformat()},
    )
    assert reported.status_code == 302
    report = BreachReport.objects.get(agency=agency)
    # Peer-support messages keep their recipient sealed until sent.
    told = {
        User.objects.get(pk=d.recipient_data["user_id"]).username
        for d in PeerSupportDelivery.objects.filter(kind="psp.breach")
    }
    assert {"coordinator", "psychologist"} <= told
    # ... on a screen of theirs, where each acknowledges it.
    for username in ("coordinator", "psychologist"):
        reader = sign_in_from_the_demo_listing(username)
        page = text(reader.get(reverse("support:breach_list")))
        assert "Conversation overheard" in page
        assert "1 report waiting for your acknowledgement" in page
        reader.post(reverse("support:breach_acknowledge", args=[report.pk]))
        page = text(reader.get(reverse("support:breach_list")))
        assert "You acknowledged it" in page
    assert report.acknowledgements.count() == 2
    assert AuditEvent.objects.filter(action="psp.breach.acknowledged").count() == 2
    # Nobody else reads breach reports (the supporter who reported included).
    assert supporter.get(reverse("support:breach_list")).status_code == 404
    chief = sign_in_from_the_demo_listing("chief")
    assert chief.post(reverse("support:breach_acknowledge", args=[report.pk])).status_code == 404


def _labels_about_the_person(page: str) -> list[str]:
    """Every label, legend, hint and lede of the form on a page, tags stripped."""
    import re

    main = page.split("<main", 1)[1]
    found = re.findall(
        r"<(?:label|legend|p|div)[^>]*(?:class=\"(?:lede|hint|helptext)\")?[^>]*>"
        r"(.*?)</(?:label|legend|p|div)>",
        main,
        flags=re.S,
    )
    return [re.sub(r"<[^>]+>", " ", f).strip() for f in found]


def _speaks_of_someone_else(page: str, *, allowed: tuple[str, ...] = ()) -> None:
    import re

    for words in _labels_about_the_person(page):
        if any(a in words for a in allowed):
            continue
        assert not re.search(r"\b(you|your|yours|yourself)\b", words, flags=re.I), words


def test_dispatch_sees_what_became_of_a_request_it_sent_and_never_who(demo: Any) -> None:
    """Dispatch (18.107 B.1.b: PCS contacts a team member) holds a receipt; GO 702's
    coordinator, asking for someone after a critical incident, holds one too. The forms
    speak of the caller or the person, never "you"."""
    from tandem.support import services as support
    from tandem.support.models import SupportRequest

    agency, people = demo("columbus")
    waiting = SupportRequest.objects.filter(agency=agency)  # the demo's own waiting request
    before = list(waiting.values_list("pk", flat=True))
    dispatcher = sign_in_from_the_demo_listing("columbus-dispatcher")
    on_call = text(dispatcher.get(reverse("support:on_call_now")))
    assert "What became of a request" in on_call
    form_page = dispatcher.get(reverse("support:on_behalf_new"))
    _speaks_of_someone_else(text(form_page))
    assert "How should the supporter reach the caller?" in text(form_page)
    key = form_page.context["form"].initial["idempotency_key"]
    call = {
        "idempotency_key": key,
        "name": "Casey Caller",
        "phone": "+1 614 555 0199",
        "contact_method": "phone",
        "urgency": "now",
        "best_time": "any",
        "channel": "dispatch",
    }
    sent = dispatcher.post(reverse("support:on_behalf_new"), call)
    assert sent.status_code == 200
    receipt = sent.context["receipt"]
    assert receipt in text(sent)
    assert key not in text(sent)  # the receipt is derived under the server's secret
    assert "reach the caller" in text(sent)
    again = dispatcher.post(reverse("support:on_behalf_new"), call)  # a double click
    assert receipt in text(again)
    assert waiting.exclude(pk__in=before).count() == 1
    request = waiting.exclude(pk__in=before).get()
    kept = (request.idempotency_key, request.receipt_digest)
    assert key not in kept  # only digests kept
    assert receipt not in kept

    def where(code: str = receipt) -> str:
        return text(dispatcher.post(reverse("support:receipt"), {"code": code}))

    assert "Looking for a supporter" in where()
    supporter_user = request.offers.filter(active=True).first().user
    support.request_accept(acting_user=supporter_user, request=request)
    page = where()
    assert "A supporter accepted it" in page
    assert supporter_user.get_full_name() not in page
    from tandem.support.models import SupporterProfile

    assert SupporterProfile.objects.get(user=supporter_user).display_name not in page
    request.refresh_from_db()
    support.request_close(
        acting_user=supporter_user,
        request=request,
        usage={
            "member_category": "sworn",
            "incident_type": "work_stress",
            "intervention_type": "phone",
            "duration_bucket": "15_60",
            "gender": "male",
        },
    )
    assert "Closed" in where()
    with time_machine.travel(timezone.now() + timedelta(days=1, hours=1)):
        support.publish_finished_requests()
    assert "No request has this receipt now" in where()
    assert "No request has this receipt now" in where("x" * 40)
    # A receipt is only for those who may ask for someone; others get the one answer.
    member = sign_in(Client(), people["member"])
    assert member.post(reverse("support:receipt"), {"code": receipt}).status_code == 404

    # Colorado Springs: no dispatch channel; the coordinator asks for the person.
    cs, cs_people = demo("demo")
    coordinator = sign_in_from_the_demo_listing("coordinator")
    page = text(coordinator.get(reverse("support:on_behalf_new")))
    _speaks_of_someone_else(page)
    assert "How should the supporter reach the person?" in page
    cs_dispatcher = sign_in_from_the_demo_listing("dispatcher")
    none = text(cs_dispatcher.get(reverse("support:on_behalf_new")))
    assert "Tell the caller so" in none
    # The help page's referral form speaks of the person referred; only the referrer's own
    # (optional) part says "you".
    from tandem.support import access as support_access

    referral = text(
        Client().get(
            reverse("support:intake", args=[support_access.help_pass_for(cs)]) + "?for=colleague"
        )
    )
    assert "Refer a colleague" in referral
    _speaks_of_someone_else(
        referral,
        allowed=(
            "You (optional)",
            "Your name",
            "Your phone",
            "Asking for yourself",
            "Seen only by the coordinator",
            "Already asked",
            "Names and contact details",
            "No address",
        ),
    )
