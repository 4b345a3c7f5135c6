"""Helpers shared by the peer-support tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tandem.accounts.models import User
from tandem.agencies.models import Agency
from tandem.notifications.models import PeerSupportDelivery
from tandem.readiness.gates import gate_update
from tandem.support import access as support_access
from tandem.support import services, vocab
from tandem.support.models import (
    RequestOffer,
    SupportRequest,
)
from tests.authz_support import requester_of
from tests.conftest import make_user

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday, noon UTC


def set_policy(agency: Agency, section: str, **values: Any) -> None:
    policy = dict(agency.policy)
    policy[section] = {**policy[section], **values}
    agency.policy = policy
    agency.save(update_fields=["policy"])


def open_everything(agency: Agency) -> None:
    """A policy taking every channel and every group (the seeds differ; tests need all)."""
    set_policy(
        agency,
        "eligibility",
        families=True,
        retirees=True,
        other_agencies=True,
        channels=list(vocab.Channel.values),
    )


def make_supporter(
    agency: Agency,
    username: str,
    *,
    phone: str = "",
    sworn: bool = True,
    ready: bool = True,
    **profile: Any,
) -> User:
    user = make_user(agency, username, "supporter", sworn=sworn)
    user.phone = phone or f"+1 555 01{abs(hash(username)) % 100:02d}"
    user.save(update_fields=["phone"])
    gate_update(user=user, peer_support=ready, cji=False)
    item = services.profile_for(user)
    for name, value in profile.items():
        setattr(item, name, value)
    item.save()
    return user


def rotation(
    agency: Agency,
    coordinator: User,
    layer: str,
    people: list[User],
    *,
    starts_on: date = date(2026, 3, 1),
    hours: int = 24,
    handoff: time = time(7, 0),
) -> Any:
    return services.rotation_save(
        acting_user=coordinator,
        agency=agency,
        rotation=None,
        participants=[services.profile_for(u) for u in people],
        name=f"{layer} rota",
        layer=layer,
        starts_on=starts_on,
        handoff_time=handoff,
        shift_hours=hours,
    )


def ask(user: User, key: str = "", **values: Any) -> SupportRequest:
    values.setdefault("urgency", vocab.Urgency.NOW)
    values.setdefault("contact_method", vocab.ContactMethod.PHONE)
    requester = {**requester_of(user), "phone": values.pop("phone", "555-0199")}
    request, _ = services.request_create(
        acting_user=None,
        agency=user.agency,
        idempotency_key=key or f"k-{user.pk}-{key}",
        channel=values.pop("channel", vocab.Channel.SELF_REQUEST),
        requester=requester,
        **values,
    )
    return request


def help_url(agency: Agency, **query: str) -> str:
    """The help page as "Get support" inside Tandem links to it (a help pass)."""
    url = reverse("support:intake", args=[support_access.help_pass_for(agency)])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def help_data(code: str = "", **values: Any) -> dict[str, Any]:
    """A filled help-page form: a member asking for themselves, to be phoned now."""
    return {
        "code": (code or "c").ljust(32, "x"),
        "requester_kind": "member",
        "contact_method": "phone",
        "phone": "+1 555 0177",
        "urgency": "now",
        "best_time": "any",
        **values,
    }


def status_page(client: Client, code: str, **extra: str) -> str:
    """The status page for ``code``; ``action="withdraw"`` ticks the confirmation too, as
    the person must (pass ``confirm=""`` to leave it unticked)."""
    if extra.get("action") == "withdraw":
        extra.setdefault("confirm", "yes")
    return client.post(
        reverse("support:help_status"), {"code": code.ljust(32, "x"), **extra}
    ).content.decode()


def offered_to(request: SupportRequest) -> set[str]:
    return set(
        RequestOffer.objects.filter(request=request, active=True).values_list(
            "user__username", flat=True
        )
    )


def publish() -> int:
    """Run the daily batch as it runs the next day: finished requests become usage records
    and lifecycle audit events, written in a shuffled order, and their rows are deleted."""
    return services.publish_finished_requests(timezone.now() + timedelta(days=1))


def deliveries(kind: str, user: User | None = None) -> list[PeerSupportDelivery]:
    """Queued peer-support messages of ``kind`` (to ``user``: read from the sealed
    recipient, as only the sender can)."""
    rows = PeerSupportDelivery.objects.select_related("data_key").filter(kind=kind)
    return [d for d in rows if user is None or d.recipient_data.get("user_id") == user.pk]


def _accepted(cast: dict[str, User], team: dict[str, User], **kw: Any) -> SupportRequest:
    request = ask(cast["member"], **kw)
    return services.request_accept(acting_user=team["pia"], request=request)
