"""Peer support, contact and close (PS-5, PS-6, P1): acceptance tests from the user's side."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.core.models import DataKey
from tandem.support import services
from tandem.support.models import FollowUpReminder, SupportRequest, UsageRecord
from tests.conftest import sign_in
from tests.peer_support.support import (
    T0,
    _accepted,
    ask,
    help_data,
    help_url,
    publish,
    set_policy,
    status_page,
)

pytestmark = pytest.mark.django_db


CLOCK_START = T0  # where the shared ``clock`` fixture stops time


# ========================================================================================
# 6. Contact and close (PS-5, PS-6, P1)
# ========================================================================================


def test_first_contact_needs_the_limits_of_confidentiality_notice(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    request = _accepted(cast, team)
    client = sign_in(Client(), team["pia"])
    page = client.get(reverse("support:request_detail", args=[request.pk])).content.decode()
    assert "Threats to others" in page
    refused = client.post(reverse("support:request_contact", args=[request.pk]), follow=True)
    assert "limits of confidentiality" in refused.content.decode()
    clock.shift(timedelta(minutes=7))
    client.post(reverse("support:request_contact", args=[request.pk]), {"notice_given": "on"})
    request.refresh_from_db()
    assert request.onset_notice_given
    assert request.status == "in_contact"


def test_closing_writes_only_the_policy_fields_and_shreds_the_identity(
    cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    request = _accepted(cast, team, topic="grief")
    clock.shift(timedelta(minutes=3))
    services.request_contact(acting_user=team["pia"], request=request, notice_given=True)
    client = sign_in(Client(), team["pia"])
    form = client.get(reverse("support:request_close", args=[request.pk])).context["form"]
    assert set(form.fields) == {
        "gender",
        "member_category",
        "duration_bucket",
        "services",
        "follow_up_on",
    }  # the Colorado Springs usage form
    response = client.post(
        reverse("support:request_close", args=[request.pk]),
        {
            "gender": "male",
            "member_category": "sworn",
            "duration_bucket": "15_60",
            "services": ["listening", "referral"],
            "incident_type": "deadly_force",
            "follow_up_on": "2026-03-09",
        },
    )
    assert response.status_code == 302
    assert SupportRequest.objects.get(pk=request.pk).is_shredded  # identity gone at once
    assert not UsageRecord.objects.exists()  # the record waits for the daily batch
    publish()
    record = UsageRecord.objects.get()
    assert record.outcome == "closed"
    assert record.supporter.user == team["pia"]
    assert record.incident_type == ""  # not collected by this preset, so not kept
    assert record.channel == ""  # nor is the activation channel
    assert record.services == ["listening", "referral"]
    assert (record.topic, record.urgency) == ("", "")  # not collected by this preset either
    assert record.seconds_to_contact == 180
    assert record.seconds_to_ack == 0
    assert not SupportRequest.objects.filter(pk=request.pk).exists()  # shredded, then gone
    assert DataKey.objects.get(pk=request.data_key_id).wrapped_key is None
    reminder = FollowUpReminder.objects.get()
    assert re.fullmatch(r"[A-Z2-9]{8}", reminder.code)
    assert client.get(reverse("support:request_detail", args=[request.pk])).status_code == 404


def test_another_preset_collects_other_fields(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    set_policy(
        agency,
        "usage_form",
        fields=["incident_type", "intervention_type", "activation_channel", "follow_up"],
    )
    request = _accepted(cast, team)
    form = (
        sign_in(Client(), team["pia"])
        .get(reverse("support:request_close", args=[request.pk]))
        .context["form"]
    )
    assert set(form.fields) == {"incident_type", "intervention_type", "follow_up", "follow_up_on"}
    with pytest.raises(ValidationError, match="incident type"):
        services.request_close(acting_user=team["pia"], request=request, usage={})
    services.request_close(
        acting_user=team["pia"],
        request=request,
        usage={
            "incident_type": "traumatic_call",
            "intervention_type": "phone",
            "follow_up": True,
            "gender": "female",
        },
    )
    publish()
    record = UsageRecord.objects.get()
    assert record.channel == "self_request"
    assert record.incident_type == "traumatic_call"
    assert record.follow_up is True
    assert record.gender == ""


def test_closing_needs_the_collected_fields_and_only_the_owner_can_close(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    request = _accepted(cast, team)
    client = sign_in(Client(), team["pia"])
    missing = client.post(reverse("support:request_close", args=[request.pk]), {})
    assert missing.status_code == 400
    assert b"This field is required" in missing.content
    with pytest.raises(ValidationError, match="Only the supporter who accepted"):
        services.request_close(acting_user=team["ben"], request=request, usage={})
    assert (
        sign_in(Client(), team["ben"])
        .get(reverse("support:request_close", args=[request.pk]))
        .status_code
        == 404
    )
    assert UsageRecord.objects.count() == 0
    assert not SupportRequest.objects.get().is_shredded


def test_open_requests_past_the_limit_expire_and_count_as_closed_by_expiry(
    agency: Agency, cast: dict[str, User], team: dict[str, User], clock: Any
) -> None:
    accepted = _accepted(cast, team)
    waiting = ask(cast["chief"], key="chief")
    clock.shift(timedelta(hours=71))
    assert services.expire_open_requests() == 0
    clock.shift(timedelta(hours=1))
    assert services.expire_open_requests() == 1  # unacknowledged after expiry_hours (72)
    assert not SupportRequest.objects.get(pk=waiting.pk).is_open
    assert DataKey.objects.get(pk=waiting.data_key_id).wrapped_key is None
    clock.shift(timedelta(days=27))
    assert services.expire_open_requests() == 1  # open 30 days (retention.open_request_days)
    publish()
    assert not SupportRequest.objects.exists()
    assert DataKey.objects.get(pk=accepted.data_key_id).wrapped_key is None
    outcomes = sorted(UsageRecord.objects.values_list("outcome", flat=True))
    assert outcomes == ["expired", "expired"]


def test_member_withdraws_their_request_and_its_identity_is_erased(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    client = Client()
    client.post(help_url(agency), help_data("leave"))
    request = SupportRequest.objects.get()
    unticked = status_page(client, "leave", action="withdraw", confirm="")
    assert "Tick the box to confirm: withdrawing cannot be undone." in unticked
    assert "withdrawn" not in unticked
    assert SupportRequest.objects.get(pk=request.pk).requester is not None
    assert "withdrawn and its details erased" in status_page(client, "leave", action="withdraw")
    assert DataKey.objects.get(pk=request.data_key_id).wrapped_key is None
    assert SupportRequest.objects.get(pk=request.pk).requester is None
    publish()
    assert not SupportRequest.objects.filter(pk=request.pk).exists()
    assert UsageRecord.objects.count() == 0
