"""Peer recovery, clients: registry, duplicates, encryption at rest, optimistic locking."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tandem.readiness.gates import gate_update
from tandem.recovery.models import (
    Client,
)
from tests.conftest import make_user
from tests.recovery.support import browser, client_post, new_client, raw_rows

# ========================================================================================
# 1. Clients: registry, duplicates, encryption at rest, optimistic locking
# ========================================================================================


def test_a_client_the_prs_or_aro_adds_starts_on_their_own_caseload(cast: dict[str, Any]) -> None:
    import re

    for role in ("prs", "aro"):
        page = browser(cast[role]).get(reverse("recovery:client_create")).content.decode()
        chosen = re.search(rf'<select name="{role}".*?</select>', page, re.S)
        assert chosen is not None
        assert f'value="{cast[role].pk}" selected' in chosen.group(0)
        other = "aro" if role == "prs" else "prs"
        left = re.search(rf'<select name="{other}".*?</select>', page, re.S)
        assert left is not None
        assert " selected" not in left.group(0).split("</option>", 1)[1]


def test_program_staff_add_a_client_and_find_them_by_name_alias_phone_or_birth_date(
    cast: dict[str, Any],
) -> None:
    prs = browser(cast["prs"])
    response = prs.post(
        reverse("recovery:client_create"),
        client_post(aliases="JR, Jimmy", aro=cast["aro"].pk, prs=cast["prs"].pk),
    )
    assert response.status_code == 302
    client = Client.objects.get()
    assert client.aro == cast["aro"]
    assert client.prs == cast["prs"]
    assert client.phone_digits == "5405550199"
    for query in ("rivera", "Jimmy", "555-0199", "1990-04-05", "jamie riv"):
        page = prs.get(reverse("recovery:client_list"), {"q": query})
        assert "Jamie Rivera" in page.content.decode(), query
    assert (
        "Jamie Rivera"
        not in prs.get(reverse("recovery:client_list"), {"q": "nobody-like-this"}).content.decode()
    )


def test_sensitive_client_details_are_ciphertext_in_the_database(cast: dict[str, Any]) -> None:
    new_client(
        cast["aro"], address="77 Secret Lane", notes="Relapsed in March", substances=["stimulants"]
    )
    raw = raw_rows("recovery_client")
    assert "Jamie" in raw  # searchable identity stays queryable
    for secret in ("77 Secret Lane", "Relapsed in March", "stimulants"):
        assert secret not in raw


def test_a_date_of_birth_in_the_future_is_refused_with_a_clear_message(
    cast: dict[str, Any],
) -> None:
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    response = browser(cast["aro"]).post(
        reverse("recovery:client_create"), client_post(date_of_birth=future)
    )
    assert response.status_code == 400
    assert "cannot be in the future" in response.content.decode()
    assert not Client.objects.exists()


def test_likely_duplicates_appear_while_typing_and_block_the_submit_until_confirmed(
    cast: dict[str, Any],
) -> None:
    existing = new_client(cast["aro"], first_name="Jamie", last_name="Rivera", aliases="Jay")
    aro = browser(cast["aro"])
    partial = aro.get(
        reverse("recovery:client_duplicates"),
        {"first_name": "Jaime", "last_name": "Riviera", "date_of_birth": "1990-04-05", "phone": ""},
        HTTP_HX_REQUEST="true",
    )
    body = partial.content.decode()
    assert "Possibly already in the registry" in body
    assert reverse("recovery:client_detail", args=[existing.pk]) in body
    assert "Date of birth: the same" in body
    # Swapped day and month, same phone, different spelling: still found.
    swapped = aro.get(
        reverse("recovery:client_duplicates"),
        {
            "first_name": "Jamie",
            "last_name": "Rivera",
            "date_of_birth": "1990-05-04",
            "phone": "540 555 0199",
        },
    )
    assert "day and month swapped" in swapped.content.decode()
    unrelated = aro.get(
        reverse("recovery:client_duplicates"), {"first_name": "Zed", "last_name": "Quorum"}
    )
    assert "Possibly" not in unrelated.content.decode()

    refused = aro.post(
        reverse("recovery:client_create"), client_post(first_name="Jaime", idempotency_key="dup-1")
    )
    assert refused.status_code == 400
    assert "may already be in the registry" in refused.content.decode()
    assert Client.objects.count() == 1
    accepted = aro.post(
        reverse("recovery:client_create"),
        client_post(first_name="Jaime", idempotency_key="dup-1", confirm_new="1"),
    )
    assert accepted.status_code == 302
    assert Client.objects.count() == 2


def test_a_double_submit_creates_one_client(cast: dict[str, Any]) -> None:
    aro = browser(cast["aro"])
    for _ in range(2):
        aro.post(reverse("recovery:client_create"), client_post(idempotency_key="same-key"))
    assert Client.objects.count() == 1


def test_a_stale_client_form_is_refused_and_keeps_the_users_input(cast: dict[str, Any]) -> None:
    client = new_client(cast["aro"])
    aro, prs = browser(cast["aro"]), browser(cast["prs"])
    url = reverse("recovery:client_edit", args=[client.pk])
    first = prs.post(url, client_post(phone="540-555-1111", version=client.version))
    assert first.status_code == 302
    stale = aro.post(url, client_post(phone="540-555-2222", version=client.version))
    assert stale.status_code == 409
    body = stale.content.decode()
    assert "Someone else saved this record" in body
    assert "540-555-2222" in body  # the user's input is still in the form
    client.refresh_from_db()
    assert client.phone == "540-555-1111"
    assert client.version == 2


def test_a_photo_is_stored_encrypted_and_served_only_to_the_program(cast: dict[str, Any]) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.helpers import PNG

    aro = browser(cast["aro"])
    upload = SimpleUploadedFile("me.png", PNG, content_type="image/png")
    aro.post(reverse("recovery:client_create"), client_post(photo=upload))
    client = Client.objects.get()
    photo_url = reverse("recovery:client_photo", args=[client.pk])
    assert aro.get(photo_url).content == PNG
    assert browser(cast["chief"]).get(photo_url).status_code == 404
    bad = SimpleUploadedFile("x.png", b"not an image", content_type="image/png")
    response = aro.post(
        reverse("recovery:client_create"),
        client_post(
            photo=bad,
            idempotency_key="k2",
            first_name="Other",
            last_name="Person",
            date_of_birth="1970-01-01",
            phone="",
        ),
    )
    assert "must be a PNG or JPEG" in response.content.decode()


def test_nobody_outside_the_program_searches_recovery_clients(
    agency: Any, cast: dict[str, Any]
) -> None:
    new_client(cast["aro"])
    sworn_outsider = make_user(agency, "patrolofficer", "member", sworn=True)
    gate_update(user=sworn_outsider, peer_support=False, cji=True)
    for user in (
        sworn_outsider,
        cast["chief"],
        cast["administrator"],
        cast["supervisor"],
        cast["auditor"],
    ):
        session = browser(user)
        assert session.get(reverse("recovery:client_list"), {"q": "Rivera"}).status_code == 404
        assert (
            session.get(
                reverse("recovery:client_duplicates"),
                {"first_name": "Jamie", "last_name": "Rivera"},
            ).status_code
            == 404
        )
