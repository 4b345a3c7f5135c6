"""Peer support, roster and directory (PS-1): acceptance tests from the user's side."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tandem.accounts.models import User
from tandem.agencies.models import Agency, Unit
from tandem.readiness.gates import gate_update
from tandem.support import services
from tests.conftest import sign_in
from tests.peer_support.support import make_supporter

pytestmark = pytest.mark.django_db


# ========================================================================================
# 1. Roster and directory (PS-1)
# ========================================================================================


def test_directory_lists_only_designated_compliant_supporters_for_every_member(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    make_supporter(agency, "lapsed", ready=False, phone="+1 555 0999")
    page = sign_in(Client(), cast["nobody"]).get(reverse("support:directory"))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Pia Tester" in text
    assert "+1 555 0111" in text
    assert "Lapsed" not in text
    assert "0999" not in text
    gate_update(user=team["pia"], peer_support=False, cji=False)
    assert (
        "Pia Tester"
        not in sign_in(Client(), cast["member"]).get(reverse("support:directory")).content.decode()
    )


def test_directory_filters_by_specialty_language_and_affiliation(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), cast["member"])
    url = reverse("support:directory")
    assert "Ben Tester" not in client.get(url, {"specialty": "post_shooting"}).content.decode()
    assert "Pia Tester" in client.get(url, {"specialty": "post_shooting"}).content.decode()
    assert "Pia Tester" in client.get(url, {"language": "es"}).content.decode()
    civilians = client.get(url, {"affiliation": "civilian"}).content.decode()
    assert "Ben Tester" in civilians
    assert "Pia Tester" not in civilians


def test_roster_poster_per_unit_prints_and_downloads_as_pdf(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    district = Unit.objects.create(agency=agency, code="D1", name="District One")
    profile = services.profile_for(team["pia"])
    profile.unit = district
    profile.save()
    client = sign_in(Client(), cast["member"])
    page = client.get(reverse("support:poster"), {"unit": district.pk}).content.decode()
    assert "posted in District One" in page
    assert "Pia Tester" in page
    assert "Ben Tester" in page  # 18.107 B.1.a: the whole team is posted in every unit
    pdf = client.get(reverse("support:poster_pdf"), {"unit": district.pk})
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert client.get(reverse("support:poster"), {"unit": 999999}).status_code == 404


def test_supporter_edits_their_roster_entry_with_optimistic_locking(
    cast: dict[str, User], team: dict[str, User]
) -> None:
    client = sign_in(Client(), team["pia"])
    profile = services.profile_for(team["pia"])
    data = {
        "phone": "+1 555 0333",
        "affiliation": "sworn",
        "gender": "female",
        "specialties": ["grief"],
        "languages": ["en"],
        "introduction": "Ten years on patrol.",
        "version": profile.version,
    }
    assert client.post(reverse("support:profile_edit"), data).status_code == 302
    stale = client.post(reverse("support:profile_edit"), {**data, "phone": "+1 555 0444"})
    assert stale.status_code == 400
    assert "changed in another window" in stale.content.decode()
    profile.refresh_from_db()
    assert profile.phone == "+1 555 0333"
    assert profile.specialties == ["grief"]


def test_supporter_adds_an_optional_photo_checked_by_its_bytes(
    agency: Agency, cast: dict[str, User], team: dict[str, User]
) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.helpers import PNG

    client = sign_in(Client(), team["pia"])
    profile = services.profile_for(team["pia"])
    base = {
        "phone": "+1 555 0111",
        "affiliation": "sworn",
        "gender": "female",
        "version": profile.version,
    }
    fake = client.post(
        reverse("support:profile_edit"),
        {**base, "photo": SimpleUploadedFile("me.png", b"<script>", "image/png")},
    )
    assert fake.status_code == 400
    assert b"must be a PNG or JPEG" in fake.content
    client.post(
        reverse("support:profile_edit"),
        {**base, "photo": SimpleUploadedFile("me.png", PNG, "image/png")},
    )
    profile.refresh_from_db()
    url = reverse("support:photo", args=[profile.pk])
    shown = sign_in(Client(), cast["member"]).get(url)
    assert shown.status_code == 200
    assert shown["Content-Type"] == "image/png"
    assert (
        url in sign_in(Client(), cast["member"]).get(reverse("support:directory")).content.decode()
    )
    gate_update(user=team["pia"], peer_support=False, cji=False)
    assert sign_in(Client(), cast["member"]).get(url).status_code == 404
    client.post(
        reverse("support:profile_edit"), {**base, "version": profile.version, "remove_photo": "on"}
    )
    profile.refresh_from_db()
    assert not profile.photo
