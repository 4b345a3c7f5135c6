"""Programs, Columbus Procedure 18.107, end to end from the users' side."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.readiness.gates import is_peer_support_ready
from tandem.readiness.models import Gate
from tests.conftest import sign_in
from tests.programs.support import sign_in_from_the_demo_listing, text
from tests.readiness.support import attend, clear

# ========================================================================================
# 4. Columbus Procedure 18.107
# ========================================================================================


def test_columbus_story_selection_then_training_posters_and_covers(demo: Any) -> None:
    agency, people = demo("columbus")
    # The policy page reads right for a zero limit (item 9).
    admin = sign_in_from_the_demo_listing("columbus-administrator")
    policy = text(admin.get(reverse("agencies:policy")))
    assert "no unexcused absence per calendar year" in policy
    assert "absencee" not in policy

    # Selection in the seed's order: a letter of request to the Coordinator (C.1.a) ...
    from tandem.readiness.models import Application, Vacancy

    vacancy = Vacancy.objects.get(agency=agency, closed_at__isnull=True, program="psp")
    applicant = people["member"]
    member = sign_in(Client(), applicant)
    sent = member.post(
        reverse("readiness:apply", args=[vacancy.pk]),
        {"letter": "Twelve years in patrol; I want to help colleagues."},
    )
    assert sent.status_code == 302
    application = Application.objects.get(applicant=applicant)
    # ... the Police Psychologist's interview (C.1.a.1) ...
    psychologist = sign_in_from_the_demo_listing("columbus-psychologist")
    psychologist.post(
        reverse("readiness:application_interview", args=[application.pk]),
        {
            "outcome": "recommended",
            "interviewed_on": timezone.localdate(),
            "version": application.version,
        },
    )
    application.refresh_from_db()
    assert application.interview_outcome == "recommended"
    # ... and the Chief approves the final selection before any training (C.1.a.1, D.1).
    chief = sign_in_from_the_demo_listing("columbus-chief")
    decided = chief.post(
        reverse("readiness:application_decide", args=[application.pk]),
        {"decision": "approve", "version": application.version},
    )
    assert decided.status_code == 302
    application.refresh_from_db()
    assert application.status == "approved"
    # Selected, but not serving until the in-service training is done.
    assert not is_peer_support_ready(applicant)
    assert any(
        "initial training not complete" in r for r in Gate.objects.get(user=applicant).reasons
    )
    attend(
        agency, people["coordinator"], applicant, "psp-initial", timezone.now() - timedelta(hours=3)
    )
    clear(people["coordinator"], applicant, timezone.localdate(), days=700)
    assert is_peer_support_ready(applicant), Gate.objects.get(user=applicant).reasons

    # Posters (B.1.a-b): every unit's poster lists the whole team, Communications and the
    # psychologist.
    from tandem.agencies.models import Unit
    from tandem.support.selectors import roster

    unit = Unit.objects.filter(agency=agency).order_by("code").last()
    poster = text(member.get(reverse("support:poster"), {"unit": unit.pk}))
    assert f"posted in {unit.name}" in poster
    team = list(roster(agency, {}))
    assert len(team) >= 2
    assert any(p.unit_id != unit.pk for p in team)
    for profile in team:  # the department-wide team, not only this unit's members
        assert profile.display_name in poster
    assert "Police Communications Section" in poster
    assert people["psychologist"].get_full_name() in poster
    pdf = member.get(reverse("support:poster_pdf"), {"unit": unit.pk})
    assert pdf.content.startswith(b"%PDF")

    # The cover form refuses one person as primary and backup at once (item 9).
    from tandem.support.oncall import Schedule

    now = timezone.now()
    primary = Schedule(agency).shift_at("primary", now)
    assert primary is not None
    coordinator = sign_in_from_the_demo_listing("columbus-coordinator")
    local = timezone.localtime(now + timedelta(hours=1))
    refused = coordinator.post(
        reverse("support:override_new"),
        {
            "layer": "backup",
            "supporter": primary.supporter.pk,
            "reason": "cover",
            "starts_at": local.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (local + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
        },
    )
    assert refused.status_code == 400
    assert "cannot be primary and backup at once" in text(refused)


def test_columbus_story_the_supporter_reads_who_asks_and_whose_follow_up_it_is(
    demo: Any,
) -> None:
    """18.107 A.1, B.1: "any Division employee or family member". The supporter reads that
    a family member asks — only on their own screens — and the follow-up they set says whose
    contact it is, sealed so that only they read it."""
    from django.db import connection

    from tandem.audit.models import AuditEvent as Event
    from tandem.core.models import DataKey
    from tandem.notifications.models import PeerSupportDelivery
    from tandem.support import access as support_access
    from tandem.support.models import FollowUpReminder, SupporterProfile, SupportRequest

    agency, people = demo("columbus")
    before = list(SupportRequest.objects.values_list("pk", flat=True))  # the demo's own
    profile = SupporterProfile.objects.get(user=people["supporter"])
    help_page = reverse("support:intake", args=[support_access.help_pass_for(agency)])
    asked = Client().post(
        help_page,
        {
            "code": "family-asks".ljust(32, "x"),
            "requester_kind": "family",
            "name": "Robin Quill",
            "phone": "+1 614 555 0142",
            "contact_method": "phone",
            "urgency": "today",
            "best_time": "evening",
            "chosen_supporter": profile.pk,
        },
    )
    assert asked.status_code == 200, text(asked)
    request = SupportRequest.objects.exclude(pk__in=before).get(agency=agency)
    supporter = sign_in_from_the_demo_listing("columbus-supporter")
    said = "A family member of a department member asks"
    workspace = text(supporter.get(reverse("support:workspace")))
    assert said in workspace
    assert "Member asks directly" not in workspace
    detail = text(supporter.get(reverse("support:request_detail", args=[request.pk])))
    assert said in detail
    supporter.post(reverse("support:request_accept", args=[request.pk]))
    accepted = text(supporter.get(reverse("support:request_detail", args=[request.pk])))
    assert said in accepted
    assert "Robin Quill" in accepted
    # Never in a message, never in the audit trail, never in the clear in the database.
    assert "family" not in str(
        list(Event.objects.filter(agency_id=agency.pk).values_list("detail", flat=True))
    )
    for delivery in PeerSupportDelivery.objects.all():
        assert "family" not in str(delivery.recipient_data)
    coordinator = sign_in_from_the_demo_listing("columbus-coordinator")
    assert said not in text(coordinator.get(reverse("support:queue")))

    supporter.post(reverse("support:request_contact", args=[request.pk]), {"notice_given": "on"})
    form = supporter.get(reverse("support:request_close", args=[request.pk])).context["form"]
    usage = {
        name: (field.choices[-1][0] if getattr(field, "choices", None) else "")
        for name, field in form.fields.items()
        if field.required
    }
    due = timezone.localdate() + timedelta(days=7)
    closed = supporter.post(
        reverse("support:request_close", args=[request.pk]),
        {**usage, "follow_up_on": due.isoformat()},
    )
    assert closed.status_code == 302, text(closed)
    assert SupportRequest.objects.get(pk=request.pk).is_shredded
    # The reminder says whose contact it is — on the supporter's own page only.
    workspace = text(supporter.get(reverse("support:workspace")))
    assert "Follow up with <strong>Robin Quill (+1 614 555 0142)</strong>" in workspace
    assert "Robin Quill" not in text(coordinator.get(reverse("support:workspace")))
    reminder = FollowUpReminder.objects.get(supporter=profile)
    assert reminder.data_key is not None
    assert reminder.data_key.purpose == "psp.reminder"
    with connection.cursor() as cursor:
        cursor.execute("SELECT about FROM support_followupreminder")
        (sealed,) = cursor.fetchone()
    assert "Robin" not in sealed
    assert sealed.startswith("v1:")
    # Done: the key is shredded and the words are gone for good.
    supporter.post(reverse("support:reminder_done", args=[reminder.pk]))
    reminder.refresh_from_db()
    assert reminder.done_at is not None
    assert DataKey.objects.get(pk=reminder.data_key_id).wrapped_key is None
    assert reminder.about is None
    assert "Robin Quill" not in text(supporter.get(reverse("support:workspace")))
