"""Readiness, selection: acceptance tests from the user's side."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.presets import load_preset
from tandem.readiness import services
from tandem.readiness.gates import (
    is_peer_support_ready,
)
from tandem.readiness.models import (
    Application,
    ApplicationStatus,
    Designation,
)
from tests.readiness.support import at, attend, make_ready, sign

# ========================================================================================
# 1. Selection
# ========================================================================================


@pytest.mark.django_db
def test_selection_from_vacancy_to_designation_follows_the_policy(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    coordinator, chief, psychologist = cast["coordinator"], cast["chief"], cast["psychologist"]
    applicant = cast["member"]
    with time_machine.travel(at(2026, 2, 1), tick=False):
        vacancy = services.vacancy_create(
            acting_user=coordinator, program="psp", title="Peer supporter"
        )
        # Every member sees it.
        page = signed_in(cast["nobody"]).get(reverse("readiness:vacancies"))
        assert b"Peer supporter" in page.content
        client = signed_in(applicant)
        response = client.post(
            reverse("readiness:apply", args=[vacancy.pk]),
            {"letter": "I have ten years on patrol and want to help."},
        )
        application = Application.objects.get(applicant=applicant)
        assert response.status_code == 302
        client.post(reverse("readiness:apply", args=[vacancy.pk]), {"letter": "Again"})
        assert Application.objects.filter(applicant=applicant).count() == 1  # double submit
        page = client.get(reverse("readiness:application", args=[application.pk]))
        assert b"Received, waiting for the interview" in page.content

        services.application_interview(
            acting_user=psychologist,
            application=application,
            outcome="recommended",
            interviewed_on=date(2026, 2, 1),
        )
        application.refresh_from_db()
        with pytest.raises(ValidationError, match="not complete yet") as refused:
            services.application_decide(acting_user=chief, application=application, approve=True)
        assert "Initial training completed" in str(refused.value)
        assert not Designation.objects.filter(user=applicant).exists()

        make_ready(agency, cast, applicant, trained=at(2026, 1, 20, 9), designate=False)
        application.refresh_from_db()
        response = signed_in(chief).post(
            reverse("readiness:application_decide", args=[application.pk]),
            {"decision": "approve", "version": application.version},
        )
        assert response.status_code == 302
        application.refresh_from_db()
        assert application.status == ApplicationStatus.APPROVED
        designation = Designation.objects.get(user=applicant)
        assert designation.designated_by == chief
        assert designation.designated_on == date(2026, 2, 1)
        assert is_peer_support_ready(applicant)
        page = client.get(reverse("readiness:application", args=[application.pk]))
        assert b"Approved and designated" in page.content


@pytest.mark.django_db
def test_a_chief_may_not_approve_their_own_application(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    chief = cast["chief"]
    vacancy = services.vacancy_create(
        acting_user=cast["coordinator"], program="psp", title="Peer supporter"
    )
    application = services.application_submit(
        acting_user=chief, vacancy=vacancy, letter="I would like to serve."
    )
    with pytest.raises(ValidationError, match="cannot decide your own application"):
        services.application_decide(acting_user=chief, application=application, approve=True)
    response = signed_in(chief).post(
        reverse("readiness:application_decide", args=[application.pk]),
        {"decision": "approve", "version": application.version},
        follow=True,
    )
    assert b"cannot decide your own application" in response.content
    application.refresh_from_db()
    assert application.status == ApplicationStatus.SUBMITTED
    assert not Designation.objects.filter(user=chief).exists()


@pytest.mark.django_db
def test_initial_training_must_be_complete_before_designation(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter = cast["supporter"]
    url = reverse("readiness:designate", args=[supporter.pk])
    refused = signed_in(cast["chief"]).post(url, {"program": "psp"}, follow=True)
    assert b"Initial training must be complete before designation" in refused.content
    assert not Designation.objects.exists()
    with time_machine.travel(at(2026, 3, 2), tick=False):
        attend(agency, cast["coordinator"], supporter, "psp-initial", at(2026, 3, 1, 9))
        services.check_record(
            acting_user=cast["coordinator"],
            user=supporter,
            checked_on=date(2026, 3, 1),
            result="cleared",
            renewal_due=date(2028, 3, 1),
        )
        sign(supporter, "confidentiality")
        response = signed_in(cast["chief"]).post(url, {"program": "psp"}, follow=True)
        assert b"Officially designated from today" in response.content
    designation = Designation.objects.get(user=supporter)
    assert designation.designated_on == date(2026, 3, 2)
    assert designation.designated_by == cast["chief"]
    with pytest.raises(ValidationError, match="cannot designate yourself"):
        services.designation_grant(acting_user=cast["chief"], user=cast["chief"], program="psp")


@pytest.mark.django_db
def test_direct_designation_follows_the_preset_steps_and_needs_the_team_role(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter, dispatcher, chief = cast["supporter"], cast["dispatcher"], cast["chief"]
    with time_machine.travel(at(2026, 3, 2), tick=False):
        attend(agency, cast["coordinator"], supporter, "psp-initial", at(2026, 3, 1, 9))
        # Trained, but neither vetted nor signed: the preset's steps are not complete.
        with pytest.raises(ValidationError, match="not complete yet") as refused:
            services.designation_grant(acting_user=chief, user=supporter, program="psp")
        assert "Background vetting" in str(refused.value)
        assert "Confidentiality agreement" in str(refused.value)
        # Someone without the team's role is never designated to it (a dispatcher here).
        make_ready(agency, cast, dispatcher, trained=at(2026, 3, 1, 9), designate=False)
        with pytest.raises(ValidationError, match="peer supporter role"):
            services.designation_grant(acting_user=chief, user=dispatcher, program="psp")
        response = signed_in(chief).post(
            reverse("readiness:designate", args=[dispatcher.pk]), {"program": "psp"}
        )
        assert response.status_code == 404  # not a team member: not a readiness person
        with pytest.raises(ValidationError, match="peer recovery"):
            services.designation_grant(acting_user=chief, user=supporter, program="prp")
        assert not Designation.objects.exists()
    # A preset whose selection starts with an application (Columbus: letter of request and
    # the psychologist's interview) designates only by deciding that application.
    agency.policy = load_preset("columbus").model_dump(mode="json")
    agency.save(update_fields=["policy"])
    supporter.agency.refresh_from_db()
    with pytest.raises(ValidationError, match="decide their application"):
        services.designation_grant(acting_user=chief, user=supporter, program="psp")


@pytest.mark.django_db
def test_a_closed_vacancy_takes_no_more_applications(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    vacancy = services.vacancy_create(
        acting_user=cast["coordinator"], program="prp", title="Peer recovery specialist"
    )
    client = signed_in(cast["coordinator"])
    client.post(reverse("readiness:vacancy_close", args=[vacancy.pk]))
    vacancy.refresh_from_db()
    assert vacancy.closed_at is not None
    member = signed_in(cast["member"])
    assert member.get(reverse("readiness:apply", args=[vacancy.pk])).status_code == 404
    assert b"Peer recovery specialist" not in member.get(reverse("readiness:vacancies")).content
    with pytest.raises(ValidationError, match="closed"):
        services.application_submit(acting_user=cast["member"], vacancy=vacancy, letter="Hi")


@pytest.mark.django_db
def test_a_stale_decision_form_is_refused(agency: Any, cast: dict[str, User]) -> None:
    vacancy = services.vacancy_create(
        acting_user=cast["coordinator"], program="psp", title="Peer supporter"
    )
    application = services.application_submit(
        acting_user=cast["member"], vacancy=vacancy, letter="Please consider me."
    )
    old_version = application.version
    services.application_interview(
        acting_user=cast["psychologist"],
        application=application,
        outcome="not_recommended",
        interviewed_on=timezone.localdate(),
    )
    with pytest.raises(ValidationError, match="Someone else changed"):
        services.application_decide(
            acting_user=cast["chief"], application=application, approve=False, version=old_version
        )


@pytest.mark.django_db
def test_interview_keeps_the_outcome_only(agency: Any, cast: dict[str, User]) -> None:
    fields = {f.name for f in Application._meta.get_fields()}
    assert {"interview_outcome", "interviewed_on", "interviewed_by"} <= fields
    assert not any("note" in f or "comment" in f for f in fields)
