"""Authorization rows for the support app's URLs (see tests/authz.py)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone

from tests.authz import ACTION, EVERY_SIGNED_IN, Row, World, roles
from tests.helpers import PNG

HELPERS = roles("supporter", "coordinator", "psychologist")
COORDINATOR = roles("coordinator")
SUPPORTER = roles("supporter")
DUTY = roles("coordinator", "psychologist")
ON_CALL = roles("dispatcher", "coordinator", "supporter", "psychologist")


def _obj(name: str, key: str) -> Callable[[World], str]:
    return lambda w: reverse(f"support:{name}", args=[w.objects[key].pk])


ROWS: list[Row] = [
    Row("support:directory", EVERY_SIGNED_IN),
    Row("support:photo", EVERY_SIGNED_IN, _obj("photo", "psp_profile")),
    Row("support:poster", EVERY_SIGNED_IN),
    Row("support:poster_pdf", EVERY_SIGNED_IN),
    Row("support:on_behalf_new", roles("dispatcher", "coordinator")),
    Row("support:receipt", roles("dispatcher", "coordinator")),
    Row("support:on_call_now", ON_CALL),
    Row("support:workspace", HELPERS),
    Row("support:profile_edit", HELPERS),
    Row("support:availability", HELPERS, None, "post", ACTION),
    Row("support:feed_manage", HELPERS, None, "post", ACTION),
    Row("support:reminder_done", SUPPORTER, _obj("reminder_done", "psp_reminder"), "post", ACTION),
    Row("support:request_detail", SUPPORTER, _obj("request_detail", "psp_offered")),
    Row("support:request_accept", SUPPORTER, _obj("request_accept", "psp_offered"), "post", ACTION),
    Row("support:request_recuse", SUPPORTER, _obj("request_recuse", "psp_offered"), "post", ACTION),
    Row(
        "support:request_contact",
        SUPPORTER,
        _obj("request_contact", "psp_accepted"),
        "post",
        ACTION,
    ),
    Row("support:request_close", SUPPORTER, _obj("request_close", "psp_accepted")),
    Row("support:queue", COORDINATOR),
    Row("support:schedule", COORDINATOR),
    Row("support:rotation_new", COORDINATOR),
    Row("support:rotation_edit", COORDINATOR, _obj("rotation_edit", "psp_rotation")),
    Row("support:override_new", COORDINATOR, None, "post", ACTION),
    Row(
        "support:override_delete",
        COORDINATOR,
        _obj("override_delete", "psp_override"),
        "post",
        ACTION,
    ),
    Row("support:coverage", COORDINATOR),
    Row("support:intake_admin", COORDINATOR),
    Row("support:duty_new", SUPPORTER),
    Row("support:duty_list", DUTY),
    Row("support:duty_detail", DUTY, _obj("duty_detail", "psp_duty")),
    Row("support:duty_acknowledge", DUTY, _obj("duty_acknowledge", "psp_duty"), "post", ACTION),
    Row("support:consult_new", SUPPORTER),
    Row("support:consult_list", COORDINATOR),
    Row("support:breach_new", HELPERS),
    Row("support:coordinator_contact", EVERY_SIGNED_IN),
    # GO 702 .38: the roles the policy notifies (Alpha runs the Colorado Springs preset).
    Row("support:breach_list", roles("coordinator", "psychologist")),
    Row(
        "support:breach_acknowledge",
        roles("coordinator", "psychologist"),
        _obj("breach_acknowledge", "psp_breach"),
        "post",
        ACTION,
    ),
    Row("support:incident_list", COORDINATOR),
    Row("support:incident_detail", COORDINATOR, _obj("incident_detail", "psp_incident")),
    Row("support:mutual_aid", COORDINATOR),
]
# The help page (the agency's secret link or an in-app help pass), the status page (a
# request's secret status code) and each supporter's calendar feed (secret per-person link)
# are reached without an account by design: asking for support must not need one.
PUBLIC_BY_DESIGN: set[str] = {"support:intake", "support:help_status", "support:feed"}


def requester_of(user: Any) -> dict[str, Any]:
    """What the help page seals for a member asking for themselves: how to reach them and
    their member record (for the chain of command) — never their account."""
    return {
        "kind": "member",
        "member_id": user.member_id,
        "name": user.get_full_name() or user.username,
    }


def build_world(w: World) -> None:
    """Add the objects this app's parameterised URLs need to ``w.objects``."""
    from tandem.readiness.gates import gate_update
    from tandem.support import services, vocab
    from tandem.support.models import FollowUpReminder

    supporter = w.cast["supporter"]
    gate_update(user=supporter, peer_support=True, cji=False)
    profile = services.profile_for(supporter)
    services.profile_photo_set(acting_user=supporter, profile=profile, content=PNG, extension="png")
    w.objects["psp_profile"] = profile
    member = w.cast["member"]

    def ask(key: str) -> Any:
        request, _ = services.request_create(
            acting_user=None,
            agency=w.agency,
            idempotency_key=key,
            channel=vocab.Channel.SELF_REQUEST,
            urgency=vocab.Urgency.TODAY,
            contact_method=vocab.ContactMethod.PHONE,
            chosen_supporter=profile,
            requester={**requester_of(member), "phone": "555-0100"},
        )
        return request

    w.objects["psp_offered"] = ask("authz-offered")
    accepted = ask("authz-accepted")
    w.objects["psp_accepted"] = services.request_accept(acting_user=supporter, request=accepted)
    w.objects["psp_breach"] = services.breach_report(
        acting_user=supporter, kind="other", occurred_on=timezone.localdate()
    )
    w.objects["psp_reminder"] = FollowUpReminder.objects.create(
        supporter=profile, due_on=timezone.localdate() + timedelta(days=3)
    )
    w.objects["psp_rotation"] = services.rotation_save(
        acting_user=w.cast["coordinator"],
        agency=w.agency,
        rotation=None,
        participants=[profile],
        name="Primary",
        layer=vocab.Layer.PRIMARY,
        starts_on=timezone.localdate() - timedelta(days=1),
        shift_hours=168,
    )
    now = timezone.now()
    w.objects["psp_override"] = services.override_create(
        acting_user=w.cast["coordinator"],
        agency=w.agency,
        layer=vocab.Layer.PRIMARY,
        supporter=profile,
        starts_at=now + timedelta(days=1),
        ends_at=now + timedelta(days=2),
        reason="cover",
    )
    w.objects["psp_duty"] = services.duty_file(
        acting_user=supporter,
        category="threats_to_others",
        emergency=True,
        subject={"name": "Authz Subject"},
        self_disclosure_due=None,
    )
    w.objects["psp_incident"] = services.incident_create(
        acting_user=w.cast["coordinator"],
        agency=w.agency,
        kind="shooting",
        occurred_on=timezone.localdate(),
        members_affected=4,
    )
