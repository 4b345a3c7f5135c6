"""Requests: creation and routing.

Part of ``tandem.support.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from tandem.accounts.models import User, users_with_role
from tandem.agencies.models import Agency, Member, Role
from tandem.audit.services import audit_record
from tandem.core.notifications import notify
from tandem.support import vocab
from tandem.support.models import (
    CriticalIncident,
    FollowUpReminder,
    RequestOffer,
    SupporterProfile,
    SupportRequest,
    UsageRecord,
)
from tandem.support.oncall import Schedule

from .common import ACCEPTED_BY_ANOTHER, FINISHED_STATUSES, USAGE_LIST_FIELDS
from .limits import _duty_renotify
from .profiles import profile_for

# --- Requests: creation and routing -------------------------------------------------------


def _channel_allowed(agency: Agency, channel: str, requester_kind: str) -> None:
    eligibility = agency.policy_model().eligibility
    if channel not in eligibility.channels:
        raise ValidationError("This agency does not take peer-support requests this way.")
    if requester_kind not in vocab.RequesterKind.values:
        raise ValidationError(
            "Say who asks: a member, a family member, a retiree or another agency."
        )
    allowed: dict[str, bool] = {
        vocab.RequesterKind.MEMBER: eligibility.members,
        vocab.RequesterKind.FAMILY: eligibility.families,
        vocab.RequesterKind.RETIREE: eligibility.retirees,
        vocab.RequesterKind.OTHER_AGENCY: eligibility.other_agencies,
    }
    if not allowed.get(requester_kind, False):
        raise ValidationError("This agency's peer-support program does not serve this group.")


def member_by_number(agency: Agency, employee_number: str) -> Member | None:
    number = (employee_number or "").strip()
    if not number:
        return None
    return Member.objects.filter(agency=agency, employee_number__iexact=number).first()


def status_code_digest(code: str) -> str:
    """What a request keeps of its status code: a one-way digest (the help page issues
    codes of 192 random bits, so a plain hash cannot be reversed by search)."""
    return hashlib.sha256(f"psp.status:{code}".encode()).hexdigest()


def receipt_digest(code: str) -> str:
    """What a request made for someone keeps of the receipt its sender holds."""
    return hashlib.sha256(f"psp.receipt:{code}".encode()).hexdigest()


#: What the holder of a receipt is told, by request status: never who, never the step.
RECEIPT_ANSWERS = {
    vocab.RequestStatus.ROUTING: "Looking for a supporter",
    vocab.RequestStatus.ACCEPTED: "A supporter accepted it",
    vocab.RequestStatus.IN_CONTACT: "A supporter accepted it",
    vocab.RequestStatus.CLOSED: "Closed",
    vocab.RequestStatus.EXPIRED: "Closed",
    vocab.RequestStatus.WITHDRAWN: "Closed",
}

#: The same answer as a word a program reads (the API): routing, accepted or closed.
RECEIPT_STATES = {
    vocab.RequestStatus.ROUTING: "routing",
    vocab.RequestStatus.ACCEPTED: "accepted",
    vocab.RequestStatus.IN_CONTACT: "accepted",
    vocab.RequestStatus.CLOSED: "closed",
    vocab.RequestStatus.EXPIRED: "closed",
    vocab.RequestStatus.WITHDRAWN: "closed",
}


def _derived_receipt(salt: str, value: str) -> str:
    mac = salted_hmac(salt, value, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(mac[:24]).decode()


def api_receipt(client_id: int, idempotency_key: str) -> str:
    """The receipt an API client is given for a request it sent: derived under the server's
    secret from the client and its idempotency key, so a retry of the same call gets the
    same receipt back while nothing stored (the request keeps only ``receipt_digest`` and a
    key derived from the receipt) gives it away, however guessable the caller's key."""
    return _derived_receipt("psp.api-receipt", f"{client_id}:{idempotency_key}")


def screen_receipt(user_id: int, form_key: str) -> str:
    """The receipt the "request for someone" screen shows its sender: derived under the
    server's secret from the sender's account and the form's idempotency key, as
    :func:`api_receipt` is, so a double submit shows the same receipt and a key the browser
    chose itself (posted by hand: ``1``) never becomes a receipt anyone could guess."""
    return _derived_receipt("psp.screen-receipt", f"{user_id}:{form_key}")


def help_idempotency_key(code: str) -> str:
    """The help page's idempotency key: derived from the status code, never equal to it or
    to its status digest, so the stored key does not give the code away."""
    return hashlib.sha256(f"psp.submit:{code}".encode()).hexdigest()


@transaction.atomic
def request_create(
    *,
    acting_user: User | None,
    agency: Agency,
    idempotency_key: str,
    channel: str,
    urgency: str,
    contact_method: str,
    requester: dict[str, Any],
    best_time: str = vocab.BestTime.ANY,
    topic: str = "",
    chosen_supporter: SupporterProfile | None = None,
    incident: CriticalIncident | None = None,
    preferences: dict[str, Any] | None = None,
    referrer: dict[str, Any] | None = None,
    status_digest: str = "",
    receipt: str = "",
) -> tuple[SupportRequest, bool]:
    """Create and route a request; returns ``(request, created)``. A second submit of the
    same form (same idempotency key) returns the existing request instead of making another.
    Nothing here reads the acting user's account into the request: a member's own request
    comes through the help page with ``acting_user=None`` whether or not they are signed in,
    and ``status_digest`` (see ``status_code_digest``) is how they find it again; a request
    made for someone keeps the digest of ``receipt``, the secret its sender holds."""
    if not idempotency_key or len(idempotency_key) > 64:
        raise ValidationError("The form expired. Please reload the page and send it again.")
    _channel_allowed(agency, channel, str(requester.get("kind", "member")))
    existing = SupportRequest.objects.filter(agency=agency, idempotency_key=idempotency_key)
    found = existing.first()
    if found is not None:
        return found, False
    if chosen_supporter is not None and chosen_supporter.agency_id != agency.pk:
        raise ValidationError("Choose a supporter from the roster.")
    now = timezone.now()
    request = SupportRequest(  # type: ignore[misc]  # encrypted JSON takes dicts
        agency=agency,
        idempotency_key=idempotency_key,
        channel=channel,
        urgency=urgency,
        contact_method=contact_method,
        best_time=best_time,
        topic=topic,
        chosen_supporter=chosen_supporter,
        incident=incident,
        requester=requester,
        preferences=preferences or {},
        referrer=referrer or None,
        status_digest=status_digest,
        receipt_digest=receipt_digest(receipt) if receipt else "",
        timing={"created": now.isoformat(), "step_started": now.isoformat()},
    )
    # No actor: for a self-request the actor is the requester, for a referral the referrer
    # whose identity is the coordinator's alone. The event says only that a request came
    # in, on which day, and it is written by the daily batch among everyone else's.
    _ledger(request, "psp.request.created", now=now, channel=channel, urgency=urgency)
    try:
        with transaction.atomic():
            request.save()
    except IntegrityError:
        return SupportRequest.objects.get(agency=agency, idempotency_key=idempotency_key), False
    _route(request, now, start=0)
    return request, True


def _steps(agency: Agency) -> list[Any]:
    return list(agency.policy_model().escalation.steps)


class _Conflicts:
    """Who must not be offered a request: the requester, their chain of command in either
    direction, supporters involved in the same incident, and anyone who recused."""

    def __init__(self, request: SupportRequest) -> None:
        data = request.requester_data
        self.requester_user_id = data.get("user_id")
        member_id = data.get("member_id")
        self.member = (
            Member.objects.select_related("supervisor").filter(pk=member_id).first()
            if member_id
            else None
        )
        self.chain_up = {m.pk for m in self.member.supervisor_chain()} if self.member else set()
        self.recused = set(
            request.offers.exclude(recused_reason="").values_list("user_id", flat=True)
        )
        self.involved = (
            set(request.incident.involved_supporters.values_list("user_id", flat=True))
            if request.incident is not None
            else set()
        )

    def excludes(self, user: User) -> bool:
        if user.pk == self.requester_user_id or user.pk in self.recused or user.pk in self.involved:
            return True
        if self.member is None or user.member_id is None:
            return False
        if user.member_id == self.member.pk or user.member_id in self.chain_up:
            return True
        candidate = Member.objects.filter(pk=user.member_id).first()
        return bool(candidate and any(m.pk == self.member.pk for m in candidate.supervisor_chain()))


def chosen_supporter_excluded(request: SupportRequest) -> bool:
    """True when the supporter the requester chose was left out for a conflict (computed
    on demand for the requester's own status page; nothing about it is stored)."""
    chosen = request.chosen_supporter
    return chosen is not None and _Conflicts(request).excludes(chosen.user)


def _matches(profile: SupporterProfile, preferences: dict[str, Any]) -> bool:
    if preferences.get("affiliation") and profile.affiliation != preferences["affiliation"]:
        return False
    if preferences.get("gender") and profile.gender != preferences["gender"]:
        return False
    if preferences.get("specialty") and preferences["specialty"] not in profile.specialties:
        return False
    return not (preferences.get("language") and preferences["language"] not in profile.languages)


def _step_candidates(
    request: SupportRequest, target: str, now: datetime, schedule: Schedule, conflicts: _Conflicts
) -> list[Any]:
    agency = request.agency
    users: list[Any] = []
    if target == "chosen_supporter":
        chosen = request.chosen_supporter
        if chosen is not None:
            if chosen.is_available_at(now) and schedule.is_ready(chosen):
                users = [chosen.user]
        elif request.preference_data:
            ready = (
                SupporterProfile.objects.ready(agency, now).available_at(now).select_related("user")
            )
            users = [p.user for p in ready if _matches(p, request.preference_data)]
            users = [u for u in users if not conflicts.excludes(u)][:3]
    elif target in ("primary_on_call", "backup_on_call"):
        layer = vocab.Layer.PRIMARY if target == "primary_on_call" else vocab.Layer.BACKUP
        supporter = schedule.covering(layer, now)
        users = [supporter.user] if supporter is not None else []
    else:
        role = Role.COORDINATOR if target == "coordinator" else Role.PSYCHOLOGIST
        users = list(users_with_role(agency, [role]).select_related("member"))
    return [u for u in users if not conflicts.excludes(u)]


def _route(request: SupportRequest, now: datetime, *, start: int) -> None:
    """Offer the request at the first step from ``start`` that has someone to offer it to."""
    steps = _steps(request.agency)
    schedule = Schedule(request.agency)
    conflicts = _Conflicts(request)
    request.offers.filter(active=True).update(active=False)
    for index in range(start, len(steps)):
        users = _step_candidates(request, steps[index].target, now, schedule, conflicts)
        if users:
            _offer(request, index, users, now, kind="psp.request.assigned")
            return
    # Nobody left in the chain: alert every coordinator and psychologist not left out,
    # and keep doing so every time the last step times out, until someone accepts. When
    # even they are all left out, no offer is made: the request waits at the last step
    # (tried again at each timeout) and the dispatchers' "on call now" page counts it.
    last = len(steps) - 1
    fallback = [
        u
        for u in users_with_role(request.agency, [Role.COORDINATOR, Role.PSYCHOLOGIST])
        if not conflicts.excludes(u)
    ]
    _offer(request, last, fallback, now, kind="psp.escalation")


def _offer(
    request: SupportRequest, index: int, users: Iterable[Any], now: datetime, *, kind: str
) -> None:
    request.step = index
    request.set_moment("step_started", now)
    # Which step, whom and how many would show who was left out (and so who asked).
    _ledger(request, "psp.request.offered", now=now)
    request.save(update_fields=["step", "timing", "ledger"])
    targets = list(users)
    RequestOffer.objects.bulk_create(
        RequestOffer(
            request=request,
            user=u,
            step=index,
            offered_at=now.replace(minute=0, second=0, microsecond=0),
        )
        for u in targets
    )
    for user in targets:
        notify(kind=kind, recipient_user=user, agency=request.agency)


def escalate_due(now: datetime | None = None) -> int:
    """Move every unacknowledged request whose step timed out to the next step; send
    unacknowledged emergency duty-to-report notices again. Runs every minute."""
    now = now or timezone.now()
    moved = 0
    routing = (
        SupportRequest.objects.select_related("agency")
        .filter(status=vocab.RequestStatus.ROUTING)
        .values_list("pk", flat=True)
    )
    for pk in list(routing):
        with transaction.atomic():
            request = (
                SupportRequest.objects.select_for_update(of=("self",))
                .select_related("agency", "data_key", "chosen_supporter__user", "incident")
                .filter(pk=pk, status=vocab.RequestStatus.ROUTING)
                .first()
            )
            if request is None:
                continue
            steps = _steps(request.agency)
            step = steps[min(request.step, len(steps) - 1)]
            started = request.step_started_at or now  # sealed: unsealed here, in memory
            if started + timedelta(minutes=step.timeout_minutes) > now:
                continue
            _route(request, now, start=request.step + 1)
            moved += 1
    moved += _duty_renotify(now)
    return moved


@transaction.atomic
def request_accept(*, acting_user: User, request: SupportRequest) -> SupportRequest:
    """The offered helper takes the request. Two helpers at the same second: the row lock
    lets one win; the other gets a clear message and changes nothing."""
    locked = (
        SupportRequest.objects.select_for_update(of=("self",))
        .select_related("data_key")
        .get(pk=request.pk)
    )
    if locked.status != vocab.RequestStatus.ROUTING:
        if locked.accepted_by is not None and locked.accepted_by.user_id == acting_user.pk:
            return locked
        raise ValidationError(ACCEPTED_BY_ANOTHER)
    if not locked.offers.filter(user=acting_user, active=True).exists():
        raise ValidationError("This request is no longer offered to you.")
    now = timezone.now()
    locked.status = vocab.RequestStatus.ACCEPTED
    locked.accepted_by = profile_for(acting_user)
    locked.set_moment("accepted", now)
    _ledger(locked, "psp.request.accepted", acting_user, now=now)
    locked.save(update_fields=["status", "accepted_by", "timing", "ledger"])
    locked.offers.filter(active=True).update(active=False)
    return locked


@transaction.atomic
def request_recuse(*, acting_user: User, request: SupportRequest, reason: str) -> None:
    """The helper steps aside (dual role, conflict of interest, other); routing goes on
    without them. Nobody is told why beyond the reason category."""
    if reason not in vocab.RecusalReason.values:
        raise ValidationError("Choose why you step aside.")
    locked = (
        SupportRequest.objects.select_for_update(of=("self",))
        .select_related("agency", "data_key", "chosen_supporter__user", "incident")
        .get(pk=request.pk)
    )
    if not locked.is_open:
        raise ValidationError("This request is already closed.")
    mine = locked.accepted_by is not None and locked.accepted_by.user_id == acting_user.pk
    offered = locked.offers.filter(user=acting_user, active=True).exists()
    if not (mine or offered):
        raise ValidationError("This request is no longer offered to you.")
    RequestOffer.objects.create(
        request=locked, user=acting_user, step=locked.step, active=False, recused_reason=reason
    )
    locked.offers.filter(user=acting_user, active=True).update(active=False)
    _ledger(locked, "psp.request.recused", acting_user, reason=reason)
    locked.save(update_fields=["ledger"])
    still_offered = locked.offers.filter(active=True).exists()
    if mine:
        locked.status = vocab.RequestStatus.ROUTING
        locked.accepted_by = None
        locked.set_moment("accepted", None)
        locked.set_moment("first_contact", None)
        locked.onset_notice_given = False
        locked.save(update_fields=["status", "accepted_by", "timing", "onset_notice_given"])
        _route(locked, timezone.now(), start=0)
    elif not still_offered:
        _route(locked, timezone.now(), start=locked.step)


def _own_open(acting_user: User, request: SupportRequest) -> SupportRequest:
    locked = (
        SupportRequest.objects.select_for_update(of=("self",))
        .select_related("agency", "data_key", "accepted_by")
        .get(pk=request.pk)
    )
    if not locked.is_open:
        raise ValidationError("This request is already closed.")
    if locked.accepted_by is None or locked.accepted_by.user_id != acting_user.pk:
        raise ValidationError("Only the supporter who accepted this request can do this.")
    return locked


@transaction.atomic
def request_contact(
    *, acting_user: User, request: SupportRequest, notice_given: bool
) -> SupportRequest:
    """First contact: the supporter confirms the limits-of-confidentiality notice."""
    locked = _own_open(acting_user, request)
    if locked.agency.policy_model().confidentiality.inform_at_onset and not notice_given:
        raise ValidationError(
            "Confirm that you told the person the limits of confidentiality at the start."
        )
    if locked.first_contact_at is None:
        locked.set_moment("first_contact", timezone.now())
    locked.onset_notice_given = bool(notice_given)
    locked.status = vocab.RequestStatus.IN_CONTACT
    _ledger(locked, "psp.request.contacted", acting_user, notice_given=bool(notice_given))
    locked.save(update_fields=["timing", "onset_notice_given", "status", "ledger"])
    return locked


def _seconds(start: datetime | None, end: datetime | None) -> int | None:
    """Seconds from ``start`` to ``end`` rounded to whole minutes: an exact span would let
    a usage record be matched to the second a request was made."""
    if start is None or end is None:
        return None
    return max(round((end - start).total_seconds() / 60), 0) * 60


def _hour(moment: datetime | None) -> datetime | None:
    """``moment`` floored to the hour (usage records keep no finer time)."""
    if moment is None:
        return None
    return moment.replace(minute=0, second=0, microsecond=0)


def usage_fields(agency: Agency) -> list[str]:
    return list(agency.policy_model().usage_form.fields)


def _clean_usage(agency: Agency, usage: dict[str, Any]) -> dict[str, Any]:
    collected = set(usage_fields(agency))
    vocabularies = {
        "incident_type": vocab.IncidentType,
        "intervention_type": vocab.InterventionType,
        "member_category": vocab.MemberCategory,
        "gender": vocab.Gender,
        "duration_bucket": vocab.DurationBucket,
    }
    values: dict[str, Any] = {}
    for name, choices in vocabularies.items():
        value = usage.get(name) or ""
        if name in collected and value not in choices.values:
            raise ValidationError(f"Choose a value for “{name.replace('_', ' ')}”.")
        values[name] = value if name in collected else ""
    for name, list_choices in USAGE_LIST_FIELDS.items():
        items = list(usage.get(name) or [])
        if any(item not in list_choices.values for item in items):
            raise ValidationError(f"Unknown value in “{name.replace('_', ' ')}”.")
        values[name] = sorted(set(items)) if name in collected else []
    values["follow_up"] = bool(usage.get("follow_up")) if "follow_up" in collected else None
    return values


def _request_codes_kept(request: SupportRequest) -> dict[str, str]:
    """The request's activation channel, urgency and topic: each kept on the usage record
    only when the agency's usage form collects it, blank otherwise."""
    collected = set(usage_fields(request.agency))
    return {
        "channel": request.channel if "activation_channel" in collected else "",
        "urgency": request.urgency if "urgency" in collected else "",
        "topic": request.topic if "topic" in collected else "",
    }


@transaction.atomic
def request_close(
    *,
    acting_user: User,
    request: SupportRequest,
    usage: dict[str, Any],
    follow_up_on: date | None = None,
) -> None:
    """Shred the request's key (the identity of the person who asked is gone for good) and
    keep the usage record (only the fields the agency's preset collects) for the daily
    batch, which writes it among the others in a shuffled order."""
    locked = _own_open(acting_user, request)
    values = _clean_usage(locked.agency, usage)
    now = timezone.now()
    record = {
        "supporter_id": locked.accepted_by_id,
        "started_at": _hour(locked.first_contact_at or locked.accepted_at),
        "closed_at": _hour(now),
        "outcome": vocab.Outcome.CLOSED,
        **_request_codes_kept(locked),
        "seconds_to_ack": _seconds(locked.created_exact, locked.accepted_at),
        "seconds_to_contact": _seconds(locked.created_exact, locked.first_contact_at),
        **values,
    }
    if follow_up_on is not None and locked.accepted_by is not None:
        # Whose contact it is goes with the reminder, sealed under its own key, before the
        # request's key is shredded below; only the supporter's own page unseals it.
        who = locked.requester_data
        began = locked.first_contact_at or locked.accepted_at or now
        FollowUpReminder.objects.create(  # type: ignore[misc]  # encrypted JSON takes dicts
            supporter=locked.accepted_by,
            due_on=follow_up_on,
            about={
                "name": str(who.get("name") or ""),
                "phone": str(who.get("phone") or ""),
                "email": str(who.get("email") or ""),
                "contact_on": timezone.localdate(began).isoformat(),
            },
            created_at=now.replace(minute=0, second=0, microsecond=0),
        )
    _ledger(locked, "psp.request.closed", acting_user, now=now)
    _finish(locked, vocab.RequestStatus.CLOSED, "request closed", now, record)


def _finish(
    request: SupportRequest,
    status: str,
    reason: str,
    now: datetime,
    usage: dict[str, Any] | None = None,
) -> None:
    """Shred the request's key and delete its offers now; keep only what the daily batch
    publishes (lifecycle events by day, the usage record) until it deletes the row.

    The shredding is recorded by the batch too: an audit row at this moment would date a
    withdrawal to the second, right after the requester signed in."""
    key_id = request.data_key_id
    request.shred(reason=reason, audited=False)
    RequestOffer.objects.filter(request_id=request.pk).delete()
    if key_id is not None:
        _ledger(
            request,
            "crypto.shred",
            now=now,
            object_type="core.DataKey",
            object_id=str(key_id),
            purpose="psp.request",
        )
    request.status = status
    request.finished_on = timezone.localdate(now)
    request.usage = _jsonable(usage) if usage is not None else None
    # Nothing left that routing, choice or topic could tie back to the person who asked;
    # the idempotency key is replaced as if the row were gone.
    request.chosen_supporter = None
    request.incident = None
    request.accepted_by = None
    request.topic = ""
    request.step = 0
    request.onset_notice_given = False
    request.idempotency_key = f"finished:{uuid.uuid4().hex}"
    request.save(
        update_fields=[
            "status",
            "finished_on",
            "usage",
            "ledger",
            "chosen_supporter",
            "incident",
            "accepted_by",
            "topic",
            "step",
            "onset_notice_given",
            "idempotency_key",
        ]
    )


def _jsonable(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def _ledger(
    request: SupportRequest,
    action: str,
    actor: Any = None,
    *,
    now: datetime | None = None,
    object_type: str = "support.SupportRequest",
    object_id: str = "",
    **detail: Any,
) -> None:
    """Keep a lifecycle event for the daily batch (the caller saves ``ledger``). Only the
    day is kept, and an actor only when a supporter acts: never the requester."""
    entry = {
        "action": action,
        "actor_id": getattr(actor, "pk", None),
        "on": timezone.localdate(now or timezone.now()).isoformat(),
        "object_type": object_type,
        "object_id": object_id or str(request.pk),
        "detail": detail,
    }
    if entry in (request.ledger or []):
        return  # e.g. offered again at the last step: once a day says as much
    request.ledger = [*(request.ledger or []), entry]


@transaction.atomic
def request_withdraw(*, acting_user: User | None, request: SupportRequest) -> None:
    """The requester withdraws. Who may is decided before this is called, by the status
    code only its requester holds (``access.get_request_by_status_code``); ``acting_user``
    is None there, as the requester is never identified."""
    locked = (
        SupportRequest.objects.select_for_update(of=("self",))
        .select_related("data_key")
        .get(pk=request.pk)
    )
    if not locked.is_open or not locked.status_digest:
        raise ValidationError("This request is already closed.")
    # The requester acts here, so no event names the actor.
    now = timezone.now()
    _ledger(locked, "psp.request.withdrawn", now=now)
    _finish(locked, vocab.RequestStatus.WITHDRAWN, "request withdrawn", now)


def expire_open_requests(now: datetime | None = None) -> int:
    """Requests nobody acknowledged within ``requests.expiry_hours``, and any request still
    open after ``retention.open_request_days``, are shredded and counted as closed by
    expiry. Runs hourly. The hour a request came in is all the clear row says; the exact
    moment is unsealed here for the (few) candidates."""
    now = now or timezone.now()
    expired = 0
    for agency in Agency.objects.all():
        policy = agency.policy_model()
        unacknowledged = now - timedelta(hours=policy.requests.expiry_hours)
        too_old = now - timedelta(days=policy.retention.open_request_days)
        base = SupportRequest.objects.filter(agency=agency).select_related("data_key")
        due = [
            r.pk
            for r in base.filter(status=vocab.RequestStatus.ROUTING, created_at__lte=unacknowledged)
            if (r.created_exact or r.created_at) <= unacknowledged
        ]
        due += [
            r.pk
            for r in base.filter(status__in=vocab.OPEN_STATUSES, created_at__lte=too_old)
            if (r.created_exact or r.created_at) <= too_old
        ]
        for pk in dict.fromkeys(due):
            expired += _expire_one(pk, now)
    return expired


@transaction.atomic
def _expire_one(pk: uuid.UUID, now: datetime) -> int:
    request = (
        SupportRequest.objects.select_for_update(of=("self",))
        .select_related("data_key", "agency")
        .filter(pk=pk, status__in=vocab.OPEN_STATUSES)
        .first()
    )
    if request is None:
        return 0
    record = {
        "supporter_id": request.accepted_by_id,
        "started_at": _hour(request.first_contact_at),
        "closed_at": _hour(now),
        "outcome": vocab.Outcome.EXPIRED,
        **_request_codes_kept(request),
        "seconds_to_ack": _seconds(request.created_exact, request.accepted_at),
        "seconds_to_contact": _seconds(request.created_exact, request.first_contact_at),
    }
    _ledger(request, "psp.request.expired", now=now)
    _finish(request, vocab.RequestStatus.EXPIRED, "open request expired", now, record)
    return 1


def publish_finished_requests(now: datetime | None = None) -> int:
    """The daily batch: for every request that ended before today, write its usage record
    and its lifecycle audit events — all of them, of every request, in one shuffled order —
    then delete the request rows. Neither the audit trail's sequence nor the usage
    records' keys or places in the table follow the order in which things happened, and no
    event sits next to the sign-in of the person who asked. Returns the requests published.
    """
    today = timezone.localdate(now or timezone.now())
    with transaction.atomic():
        rows = list(
            SupportRequest.objects.select_for_update().filter(
                status__in=FINISHED_STATUSES, finished_on__lt=today
            )
        )
        writes: list[tuple[SupportRequest, dict[str, Any] | None]] = []
        for row in rows:
            if row.usage:
                writes.append((row, None))
            writes.extend((row, event) for event in row.ledger or [])
        secrets.SystemRandom().shuffle(writes)
        actor_ids = {e["actor_id"] for _, e in writes if e and e.get("actor_id")}
        actors = {u.pk: u for u in User.objects.filter(pk__in=actor_ids)}
        for row, event in writes:
            if event is None:
                _usage_record_write(row)
            else:
                audit_record(
                    action=event["action"],
                    actor=actors.get(int(event.get("actor_id") or 0)),
                    agency_id=row.agency_id,
                    object_type=event["object_type"],
                    object_id=event["object_id"],
                    detail={**(event.get("detail") or {}), "on": event["on"]},
                )
        SupportRequest.objects.filter(pk__in=[r.pk for r in rows]).delete()
    return len(rows)


def _usage_record_write(row: SupportRequest) -> UsageRecord:
    values = dict(row.usage or {})
    for name in ("started_at", "closed_at"):
        if values.get(name):
            values[name] = datetime.fromisoformat(values[name])
    return UsageRecord.objects.create(agency_id=row.agency_id, **values)


@transaction.atomic
def reminder_done(*, acting_user: User, reminder: FollowUpReminder) -> None:
    """Done: the reminder's key is shredded, so whose contact it was is gone for good."""
    reminder.done_at = timezone.now().replace(minute=0, second=0, microsecond=0)
    reminder.save(update_fields=["done_at"])
    reminder.shred(acting_user=acting_user, reason="follow-up done", audited=False)
    audit_record(
        action="psp.reminder.done",
        actor=acting_user,
        agency_id=reminder.supporter.agency_id,
        obj=reminder,
    )
