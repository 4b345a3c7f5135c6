"""Readiness, agreements and e-signature: acceptance tests from the user's side."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.audit.models import AuditEvent
from tandem.readiness import services
from tandem.readiness.compliance import (
    Facts,
    evaluate,
)
from tandem.readiness.gates import (
    is_peer_support_ready,
)
from tandem.readiness.models import (
    AgreementDocument,
    Gate,
    Signature,
)
from tests.conftest import PASSWORD
from tests.helpers import code_for
from tests.readiness.support import CS, at, make_ready, psp_facts


def publish(coordinator: User, body: str) -> AgreementDocument:
    """The confidentiality agreement with ``body``, published by ``coordinator``."""
    return services.agreement_publish(
        acting_user=coordinator, kind="confidentiality", title="Confidentiality", body=body
    )


def sign_with(
    user: User,
    document: AgreementDocument,
    *,
    typed_name: str = "Supporter Tester",
    password: str = PASSWORD,
    code: str | None = None,
) -> Signature:
    """``user`` signs ``document``: the typed name, the password and a code (the one their
    app shows now unless told)."""
    return services.agreement_sign(
        acting_user=user,
        document=document,
        typed_name=typed_name,
        password=password,
        code=code_for(user) if code is None else code,
    )


# ========================================================================================
# 5. Agreements and e-signature
# ========================================================================================


@pytest.mark.django_db
def test_signing_needs_the_typed_name_the_password_and_a_current_code(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter = cast["supporter"]
    document = publish(
        cast["coordinator"], "What I hear stays with me, within the policy's limits."
    )
    url = reverse("readiness:agreement_sign", args=[document.pk])
    client = signed_in(supporter)
    base = {"typed_name": "Supporter Tester", "password": PASSWORD}
    wrong_name = client.post(
        url, {**base, "typed_name": "Someone Else", "code": code_for(supporter)}
    )
    assert wrong_name.status_code == 400
    assert b"Type your full name" in wrong_name.content
    wrong_password = client.post(url, {**base, "password": "nope", "code": code_for(supporter)})
    assert b"password is not correct" in wrong_password.content
    wrong_code = client.post(
        url, {**base, "code": "000000" if code_for(supporter) != "000000" else "111111"}
    )
    assert wrong_code.status_code == 400
    backup = client.post(url, {**base, "code": "abcd-efgh"})
    assert b"backup codes cannot be used to sign" in backup.content
    assert not Signature.objects.exists()
    assert AuditEvent.objects.filter(action="readiness.signature_refused").count() == 3
    # django-otp slows down guessing after a wrong code: the person tries again later.
    with time_machine.travel(timezone.now() + timedelta(seconds=65), tick=False):
        ok = client.post(url, {**base, "code": code_for(supporter)})
    assert ok.status_code == 302
    signature = Signature.objects.get(user=supporter)
    assert signature.content_hash == document.content_hash
    assert signature.reauthenticated_with == "password+totp"
    assert signature.typed_name == "Supporter Tester"
    assert signature.signed_at is not None
    event = AuditEvent.objects.filter(action="readiness.agreement_signed").last()
    assert event is not None
    assert event.detail["hash"] == document.content_hash


@pytest.mark.django_db
def test_wrong_passwords_and_codes_at_signing_count_toward_the_account_lockout(
    agency: Any, cast: dict[str, User]
) -> None:
    supporter = cast["supporter"]
    document = publish(cast["coordinator"], "What I hear stays with me.")
    for _ in range(4):
        with pytest.raises(ValidationError, match="password is not correct"):
            sign_with(supporter, document, password="guess")
    with pytest.raises(ValidationError, match="code"):
        sign_with(supporter, document, code="abcd-efgh")
    supporter.refresh_from_db()
    assert supporter.failed_attempts == 5
    assert supporter.is_locked
    assert AuditEvent.objects.filter(action="account.locked").count() == 1
    # Locked: even the right password and code are refused.
    with pytest.raises(ValidationError, match="locked"):
        sign_with(supporter, document)
    assert not Signature.objects.exists()


@pytest.mark.django_db
def test_the_same_code_cannot_sign_twice(agency: Any, cast: dict[str, User]) -> None:
    supporter = cast["supporter"]
    code = code_for(supporter)
    first = services.agreement_publish(
        acting_user=cast["coordinator"], kind="confidentiality", title="A", body="Text one"
    )
    sign_with(supporter, first, typed_name="supporter tester", code=code)
    nda = services.agreement_publish(
        acting_user=cast["coordinator"], kind="policy", title="Policy", body="I read the policy."
    )
    with pytest.raises(ValidationError, match="already been used"):
        sign_with(supporter, nda, code=code)


@pytest.mark.django_db
def test_an_outdated_version_cannot_be_signed(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter = cast["supporter"]
    v1 = services.agreement_publish(
        acting_user=cast["coordinator"], kind="nda", title="NDA", body="Version one"
    )
    v2 = services.agreement_publish(
        acting_user=cast["coordinator"], kind="nda", title="NDA", body="Version two, amended"
    )
    assert (v1.version, v2.version) == (1, 2)
    assert v1.content_hash != v2.content_hash
    same = services.agreement_publish(
        acting_user=cast["coordinator"], kind="nda", title="NDA", body="Version two, amended"
    )
    assert same.pk == v2.pk  # republishing the same text adds no version
    with pytest.raises(ValidationError, match="has been replaced"):
        sign_with(supporter, v1)
    page = signed_in(supporter).get(reverse("readiness:agreement_sign", args=[v1.pk]))
    assert b"This version has been replaced" in page.content
    assert not Signature.objects.exists()


def test_a_signature_on_a_replaced_version_stops_counting_when_the_new_one_is_out() -> None:
    base = psp_facts()
    facts = Facts(
        programs=base.programs,
        designations=base.designations,
        attendance=base.attendance,
        checks=base.checks,
        lapsed=(("confidentiality", date(2026, 1, 3), date(2026, 3, 1)),),
    )
    assert evaluate(facts, CS, date(2026, 2, 1)).level == "compliant"  # history holds
    later = evaluate(facts, CS, date(2026, 3, 2))
    assert later.level == "not_compliant"
    assert (
        "Peer support: a new version of the confidentiality agreement must be signed"
        in later.reasons
    )


@pytest.mark.django_db
def test_publishing_a_new_version_requires_signing_again(
    agency: Any, cast: dict[str, User], signed_in: Any
) -> None:
    supporter = cast["supporter"]
    with time_machine.travel(at(2026, 2, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9))
        assert is_peer_support_ready(supporter)
        v1 = Signature.objects.get(user=supporter).document
        v2 = publish(cast["coordinator"], "Amended text.")
        assert not is_peer_support_ready(supporter)  # at once, not at the nightly run
        assert any(
            "new version of the confidentiality agreement" in r
            for r in Gate.objects.get(user=supporter).reasons
        )
        page = signed_in(cast["coordinator"]).get(reverse("readiness:person", args=[supporter.pk]))
        assert b"replaced by version 2" in page.content
        # The write itself re-checks the version under a lock.
        with pytest.raises(ValidationError, match="has been replaced"):
            services._signature_write(
                acting_user=supporter, document=v1, typed_name="Supporter Tester"
            )
    with time_machine.travel(at(2026, 2, 10, 13), tick=False):
        sign_with(supporter, v2)
        assert is_peer_support_ready(supporter)


@pytest.mark.django_db
def test_the_annual_policy_review_reminds_the_coordinator(
    agency: Any, cast: dict[str, User]
) -> None:
    from tandem.notifications.models import Delivery

    with time_machine.travel(at(2026, 1, 15), tick=False):
        services.policy_review_record(acting_user=cast["coordinator"])
    assert services.policy_review_due(agency) == date(2027, 1, 15)
    with time_machine.travel(at(2026, 11, 1), tick=False):
        services.reminders_send()
        assert not Delivery.objects.filter(recipient_user=cast["coordinator"]).exists()
    with time_machine.travel(at(2026, 12, 20), tick=False):
        services.reminders_send()
        services.reminders_send()
        sent = Delivery.objects.filter(
            recipient_user=cast["coordinator"], kind="readiness.reminder"
        )
        assert sent.count() == 1


@pytest.mark.django_db
def test_people_are_reminded_once_before_a_due_date(agency: Any, cast: dict[str, User]) -> None:
    from tandem.notifications.models import Delivery

    supporter = cast["supporter"]
    with time_machine.travel(at(2026, 1, 10), tick=False):
        make_ready(agency, cast, supporter, trained=at(2026, 1, 5, 9))
        services.policy_review_record(acting_user=cast["coordinator"])
    with time_machine.travel(at(2026, 6, 10), tick=False):  # ongoing training due 30 Jun
        assert services.reminders_send() == 1
        assert services.reminders_send() == 0
    mine = Delivery.objects.filter(recipient_user=supporter)
    assert mine.count() == 1
    assert mine.get().kind == "readiness.reminder"
