"""Agreements (PS-13, PR-8).

Part of ``tandem.readiness.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

import hashlib
from datetime import date
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.readiness import compliance
from tandem.readiness.models import (
    AgreementDocument,
    AgreementKind,
    PolicyReview,
    Signature,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency
from .gates import person_recompute

# ---------------------------------------------------------------------------------------
# Agreements (PS-13, PR-8)
# ---------------------------------------------------------------------------------------


def content_hash(title: str, body: str) -> str:
    text = f"{title.strip()}\n\n{body.strip()}".replace("\r\n", "\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@transaction.atomic
def agreement_publish(*, acting_user: User, kind: str, title: str, body: str) -> AgreementDocument:
    """A new version of an agreement; earlier versions can no longer be signed."""
    if kind not in AgreementKind.values:
        raise ValidationError("Choose the kind of agreement.")
    if not title.strip() or not body.strip():
        raise ValidationError("The agreement needs a title and a text.")
    agency_id = acting_user.home_agency_id
    digest = content_hash(title, body)
    latest = (
        AgreementDocument.objects.select_for_update()
        .filter(agency_id=agency_id, kind=kind)
        .order_by("-version")
        .first()
    )
    if latest is not None and latest.content_hash == digest:
        return latest  # the same text again (or a double submit)
    document = AgreementDocument.objects.create(
        agency_id=agency_id,
        kind=kind,
        version=(latest.version + 1) if latest else 1,
        title=title.strip(),
        body=body.strip(),
        content_hash=digest,
        published_by=acting_user,
    )
    audit_record(
        action="readiness.agreement_published",
        actor=acting_user,
        agency_id=agency_id,
        obj=document,
        detail={"kind": kind, "version": document.version, "hash": digest},
    )
    if latest is not None:
        # Signatures on the replaced version stop counting now: whoever relied on one
        # must sign again, and their gates follow at once.
        from tandem.accounts.models import User

        signer_ids = Signature.objects.filter(
            document__agency_id=agency_id, document__kind=kind
        ).values("user_id")
        for signer in User.objects.filter(pk__in=signer_ids).select_related("agency", "member"):
            person_recompute(user=signer, acting_user=acting_user, cause="agreement_version")
    return document


def current_version(document: AgreementDocument) -> AgreementDocument | None:
    return (
        AgreementDocument.objects.filter(agency_id=document.agency_id, kind=document.kind)
        .order_by("-version")
        .first()
    )


LOCKED_MESSAGE = (
    "Your account is locked after too many wrong passwords or codes. "
    "Ask an administrator to unlock it."
)


def _names_match(typed: str, user: User) -> bool:
    def norm(text: str) -> str:
        return " ".join(text.split()).casefold()

    full = user.get_full_name()
    return bool(full.strip()) and norm(typed) == norm(full)


def agreement_sign(
    *, acting_user: User, document: AgreementDocument, typed_name: str, password: str, code: str
) -> Signature:
    """E-signature: the typed name must match the account, and the signer proves it is
    them again with their password and a current code from their authenticator app. The
    signature keeps the time and the hash of the exact version signed."""
    from tandem.accounts import mfa
    from tandem.accounts.services import signin_failed

    latest = current_version(document)
    if latest is None or latest.pk != document.pk:
        raise ValidationError(
            "This version of the agreement has been replaced. Please read and sign the "
            "current version."
        )
    existing = Signature.objects.filter(document=document, user=acting_user).first()
    if existing is not None:
        return existing
    if not _names_match(typed_name, acting_user):
        raise ValidationError(
            "Type your full name exactly as it appears on your account: "
            f"{acting_user.get_full_name()}."
        )
    acting_user.refresh_from_db(fields=["locked_at", "failed_attempts"])
    if acting_user.is_locked:
        raise ValidationError(LOCKED_MESSAGE)
    device = mfa.app_device(acting_user)
    password_ok = acting_user.check_password(password)
    result = mfa.check_totp(device, code) if (password_ok and device) else None
    if result is None or result.device is None:
        audit_record(
            action="readiness.signature_refused",
            actor=acting_user,
            agency_id=acting_user.agency_id,
            obj=document,
            detail={"password_ok": password_ok},
        )
        problem = (result.problem if result else None) or mfa.CodeProblem.WRONG
        # A wrong password or code here is a guess like any other: it counts toward the
        # account lockout exactly as at sign-in.
        locked = signin_failed(
            user=acting_user,
            stage="signature_password" if not password_ok else "signature_code",
            reason="wrong_password" if not password_ok else str(problem),
        )
        if locked:
            raise ValidationError(LOCKED_MESSAGE)
        if not password_ok:
            raise ValidationError("Your password is not correct.")
        if problem == mfa.CodeProblem.MALFORMED:
            raise ValidationError(
                "Enter the 6-digit code your authenticator app shows now "
                "(backup codes cannot be used to sign)."
            )
        raise ValidationError(mfa.PROBLEM_MESSAGES[problem])
    return _signature_write(acting_user=acting_user, document=document, typed_name=typed_name)


@transaction.atomic
def _signature_write(
    *, acting_user: User, document: AgreementDocument, typed_name: str
) -> Signature:
    # The same lock a new version's publication takes: the version signed is still current
    # when the signature is written.
    latest = (
        AgreementDocument.objects.select_for_update()
        .filter(agency_id=document.agency_id, kind=document.kind)
        .order_by("-version")
        .first()
    )
    if latest is None or latest.pk != document.pk:
        raise ValidationError(
            "This version of the agreement has been replaced. Please read and sign the "
            "current version."
        )
    try:
        with transaction.atomic():
            signature = Signature.objects.create(
                agency_id=document.agency_id,
                document=document,
                user=acting_user,
                typed_name=" ".join(typed_name.split()),
                content_hash=document.content_hash,
                reauthenticated_with="password+totp",
            )
    except IntegrityError:
        return Signature.objects.get(document=document, user=acting_user)
    audit_record(
        action="readiness.agreement_signed",
        actor=acting_user,
        agency_id=document.agency_id,
        obj=document,
        detail={"kind": document.kind, "version": document.version, "hash": document.content_hash},
    )
    person_recompute(user=acting_user, acting_user=acting_user, cause="agreement")
    return signature


@transaction.atomic
def policy_review_record(*, acting_user: User, reviewed_on: date | None = None) -> PolicyReview:
    day = reviewed_on or timezone.localdate()
    review, made = PolicyReview.objects.get_or_create(
        agency_id=acting_user.home_agency_id, reviewed_on=day, defaults={"reviewed_by": acting_user}
    )
    if made:
        audit_record(
            action="readiness.policy_reviewed",
            actor=acting_user,
            agency_id=acting_user.agency_id,
            object_type="agencies.Agency",
            object_id=acting_user.agency_id,
        )
    return review


def policy_review_due(agency: Agency) -> date:
    last = PolicyReview.objects.filter(agency=agency).aggregate(m=Max("reviewed_on"))["m"]
    start = last or timezone.localdate(agency.created_at)
    return compliance.add_months(start, agency.policy_model().document.review_months)
