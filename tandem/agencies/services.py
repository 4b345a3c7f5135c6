"""Writes for agencies, their policy, units and members. Each one is atomic and records its
audit event in the same transaction; views, commands and the demo loader all call these.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from tandem.agencies.logos import clean_logo
from tandem.agencies.models import Agency, Member, MemberCategory, RosterUpload, Unit, UnitKind
from tandem.agencies.presets import Policy, PolicyError, load_preset, validate_policy
from tandem.agencies.roster import (
    COMPARED,
    RosterError,
    RosterPlan,
    RosterRow,
    roster_digest,
    roster_plan,
)
from tandem.audit.services import audit_record

if TYPE_CHECKING:
    from tandem.accounts.models import User

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
MEMBER_FIELDS = ("employee_number", *COMPARED)


# ---------------------------------------------------------------------------------------
# Agencies and their policy
# ---------------------------------------------------------------------------------------


@transaction.atomic
def agency_create(
    *,
    slug: str,
    name: str,
    preset: str,
    short_name: str = "",
    time_zone: str = "America/New_York",
    acting_user: User | None = None,
) -> Agency:
    """A new agency whose policy is a copy of ``preset``. Raises ``ValidationError``."""
    slug = slug.strip().lower()
    name = name.strip()
    if not SLUG_RE.match(slug):
        raise ValidationError(
            "The slug must be 2–63 lowercase letters, digits or hyphens, starting with a "
            "letter or digit."
        )
    if not name:
        raise ValidationError("The agency needs a name.")
    if Agency.objects.filter(slug=slug).exists():
        raise ValidationError(f"An agency with the slug '{slug}' already exists.")
    try:
        policy = load_preset(preset)
    except PolicyError as exc:
        raise ValidationError(str(exc)) from None
    agency = Agency.objects.create(
        slug=slug,
        name=name,
        short_name=short_name.strip(),
        preset=preset,
        policy=policy.model_dump(mode="json"),
        time_zone=time_zone,
        intake_token=secrets.token_urlsafe(32),
    )
    audit_record(
        action="agency.create",
        actor=acting_user,
        agency_id=agency.pk,
        obj=agency,
        detail={"preset": preset, "slug": slug},
    )
    return agency


def _changed_sections(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    return sorted(key for key in set(old) | set(new) if old.get(key) != new.get(key))


@transaction.atomic
def agency_policy_update(
    *,
    acting_user: User,
    agency: Agency,
    policy_data: dict[str, Any] | Policy,
    preset: str | None = None,
    request: HttpRequest | None = None,
) -> Agency:
    """Replace the agency's policy after validating it (``PolicyError`` names the bad key
    and nothing is changed). ``preset`` records a reset to a shipped preset."""
    policy = policy_data if isinstance(policy_data, Policy) else validate_policy(policy_data)
    new = policy.model_dump(mode="json")
    agency = Agency.objects.select_for_update().get(pk=agency.pk)
    changed = _changed_sections(agency.policy or {}, new)
    agency.policy = new
    fields = ["policy"]
    if preset is not None:
        agency.preset = preset
        fields.append("preset")
    agency.save(update_fields=fields)
    audit_record(
        action="policy.reset" if preset is not None else "policy.update",
        actor=acting_user,
        agency_id=agency.pk,
        obj=agency,
        request=request,
        detail={"sections": changed, **({"preset": preset} if preset else {})},
    )
    # Every gate follows the new rules in this same transaction (issue 12, item 3): no one
    # stays on call under rules they no longer meet until the nightly job.
    from tandem.readiness.services import agency_recompute

    agency_recompute(agency=agency, acting_user=acting_user, cause="policy")
    return agency


def agency_policy_reset(
    *, acting_user: User, agency: Agency, preset: str, request: HttpRequest | None = None
) -> Agency:
    """Replace the agency's policy with a fresh copy of a shipped preset."""
    return agency_policy_update(
        acting_user=acting_user,
        agency=agency,
        policy_data=load_preset(preset),
        preset=preset,
        request=request,
    )


@transaction.atomic
def agency_logo_update(
    *,
    acting_user: User,
    agency: Agency,
    content: bytes,
    filename: str = "",
    request: HttpRequest | None = None,
) -> Agency:
    """Store an uploaded logo under a fresh name: a PNG or JPEG re-encoded as a clean PNG,
    or a checked SVG (see ``agencies.logos.clean_logo``). ``ValidationError`` if unusable."""
    logo = clean_logo(content, filename)
    agency = Agency.objects.select_for_update().get(pk=agency.pk)
    old = agency.logo.name if agency.logo else ""
    name = f"{agency.slug}-{secrets.token_hex(8)}.{logo.extension}"
    agency.logo.save(name, ContentFile(logo.content), save=False)
    agency.save(update_fields=["logo"])
    if old:
        transaction.on_commit(lambda: agency.logo.storage.delete(old))
    audit_record(
        action="agency.logo",
        actor=acting_user,
        agency_id=agency.pk,
        obj=agency,
        request=request,
        detail={"bytes": len(logo.content), "type": logo.extension},
    )
    return agency


# ---------------------------------------------------------------------------------------
# Units
# ---------------------------------------------------------------------------------------


def _check_unit_parent(agency: Agency, unit: Unit | None, parent: Unit | None) -> None:
    if parent is None:
        return
    if parent.agency_id != agency.pk:
        raise ValidationError("The parent unit is not part of this agency.")
    if (
        unit is not None
        and unit.pk is not None
        and (parent.pk == unit.pk or any(a.pk == unit.pk for a in parent.ancestors()))
    ):
        raise ValidationError("A unit cannot be placed inside itself or one of its sub-units.")


def _check_unit_code(agency: Agency, code: str, unit: Unit | None) -> str:
    code = code.strip()
    if not code:
        raise ValidationError("The unit needs a code.")
    clash = Unit.objects.filter(agency=agency, code__iexact=code)
    if unit is not None and unit.pk is not None:
        clash = clash.exclude(pk=unit.pk)
    if clash.exists():
        raise ValidationError(f"Another unit already has the code '{code}'.")
    return code


@transaction.atomic
def unit_create(
    *,
    acting_user: User,
    agency: Agency,
    code: str,
    name: str,
    kind: str = UnitKind.UNIT,
    parent: Unit | None = None,
    request: HttpRequest | None = None,
) -> Unit:
    code = _check_unit_code(agency, code, None)
    _check_unit_parent(agency, None, parent)
    if kind not in UnitKind.values:
        raise ValidationError(f"'{kind}' is not a kind of unit.")
    unit = Unit.objects.create(
        agency=agency, code=code, name=name.strip(), kind=kind, parent=parent
    )
    audit_record(
        action="unit.create",
        actor=acting_user,
        agency_id=agency.pk,
        obj=unit,
        request=request,
        detail={"code": code},
    )
    return unit


@transaction.atomic
def unit_update(
    *,
    acting_user: User,
    unit: Unit,
    code: str,
    name: str,
    kind: str,
    parent: Unit | None,
    request: HttpRequest | None = None,
) -> Unit:
    agency = unit.agency
    unit.code = _check_unit_code(agency, code, unit)
    _check_unit_parent(agency, unit, parent)
    if kind not in UnitKind.values:
        raise ValidationError(f"'{kind}' is not a kind of unit.")
    unit.name = name.strip()
    unit.kind = kind
    unit.parent = parent
    unit.save(update_fields=["code", "name", "kind", "parent"])
    audit_record(
        action="unit.update",
        actor=acting_user,
        agency_id=agency.pk,
        obj=unit,
        request=request,
        detail={"code": unit.code},
    )
    return unit


@transaction.atomic
def unit_delete(*, acting_user: User, unit: Unit, request: HttpRequest | None = None) -> None:
    """Remove an empty unit (no sub-units, no members, active or not)."""
    if unit.children.exists() or unit.members.exists():
        raise ValidationError("Only a unit without sub-units and members can be removed.")
    unit_id, agency_id, code = unit.pk, unit.agency_id, unit.code
    unit.delete()
    audit_record(
        action="unit.delete",
        actor=acting_user,
        agency_id=agency_id,
        object_type="unit",
        object_id=unit_id,
        request=request,
        detail={"code": code},
    )


# ---------------------------------------------------------------------------------------
# Members
# ---------------------------------------------------------------------------------------


def _clean_member(agency: Agency, member: Member) -> None:
    member.employee_number = member.employee_number.strip()
    member.first_name = member.first_name.strip()
    member.last_name = member.last_name.strip()
    if not member.employee_number:
        raise ValidationError("The member needs an employee number.")
    if not (member.first_name and member.last_name):
        raise ValidationError("The member needs a first and a last name.")
    if member.category not in MemberCategory.values:
        raise ValidationError(
            f"Category '{member.category}' is not one of {', '.join(MemberCategory.values)}."
        )
    if member.email:
        validate_email(member.email)
    if member.unit is not None and member.unit.agency_id != agency.pk:
        raise ValidationError("The unit is not part of this agency.")
    clash = Member.objects.filter(agency=agency, employee_number=member.employee_number)
    if member.pk is not None:
        clash = clash.exclude(pk=member.pk)
    if clash.exists():
        raise ValidationError(f"Employee number '{member.employee_number}' is already in use.")
    _check_supervisor(agency, member, member.supervisor)


def _check_supervisor(agency: Agency, member: Member, supervisor: Member | None) -> None:
    if supervisor is None:
        return
    if supervisor.agency_id != agency.pk:
        raise ValidationError("The supervisor is not part of this agency.")
    if member.pk is not None and (
        supervisor.pk == member.pk or any(s.pk == member.pk for s in supervisor.supervisor_chain())
    ):
        raise ValidationError("That supervisor would make the chain of command loop.")


@transaction.atomic
def member_create(
    *, acting_user: User, agency: Agency, request: HttpRequest | None = None, **values: Any
) -> Member:
    """A new roster member; ``values`` are Member fields (see ``MEMBER_FIELDS``)."""
    unknown = set(values) - set(MEMBER_FIELDS)
    if unknown:
        raise TypeError(f"unknown member fields: {', '.join(sorted(unknown))}")
    member = Member(agency=agency, **values)
    _clean_member(agency, member)
    member.save()
    audit_record(
        action="member.create",
        actor=acting_user,
        agency_id=agency.pk,
        obj=member,
        request=request,
    )
    return member


@transaction.atomic
def member_update(
    *, acting_user: User, member: Member, request: HttpRequest | None = None, **values: Any
) -> Member:
    """Change roster fields; a change of ``active`` is audited as (de)activation."""
    unknown = set(values) - set(MEMBER_FIELDS)
    if unknown:
        raise TypeError(f"unknown member fields: {', '.join(sorted(unknown))}")
    before = {f: getattr(member, f) for f in values}
    for field, value in values.items():
        setattr(member, field, value)
    _clean_member(member.agency, member)
    changed = sorted(f for f in values if before[f] != getattr(member, f))
    if not changed:
        return member
    member.save(update_fields=[*changed, "updated_at"])
    action = "member.update"
    if "active" in changed:
        action = "member.activate" if member.active else "member.deactivate"
    audit_record(
        action=action,
        actor=acting_user,
        agency_id=member.agency_id,
        obj=member,
        request=request,
        detail={"fields": changed},
    )
    if "active" in changed and not member.active:
        _deactivate_accounts_of_departed(acting_user, [member.pk], request)
    return member


def member_deactivate(
    *, acting_user: User, member: Member, request: HttpRequest | None = None
) -> Member:
    return member_update(acting_user=acting_user, member=member, request=request, active=False)


# ---------------------------------------------------------------------------------------
# HR roster import (dry run in ``agencies.roster``; these two write)
# ---------------------------------------------------------------------------------------

ROSTER_STAGE_TTL = timedelta(hours=1)


@transaction.atomic
def roster_upload_stage(
    *,
    acting_user: User | None,
    agency: Agency,
    data: bytes,
    filename: str = "",
    request: HttpRequest | None = None,
) -> tuple[RosterUpload, RosterPlan]:
    """Check a roster file and keep it on the server for confirmation. Raises
    ``RosterError`` (and stores nothing) when the file cannot be imported."""
    plan = roster_plan(agency, data)
    roster_uploads_purge()
    upload = RosterUpload.objects.create(
        agency=agency,
        uploaded_by=acting_user if getattr(acting_user, "pk", None) else None,
        digest=plan.digest,
        filename=filename[:200],
        content=data,
    )
    audit_record(
        action="member.import_preview",
        actor=acting_user,
        agency_id=agency.pk,
        obj=upload,
        request=request,
        detail=_plan_counts(plan),
    )
    return upload, plan


def roster_uploads_purge() -> int:
    """Delete staged roster files older than ``ROSTER_STAGE_TTL`` (they hold HR contact
    data); safe to run from a scheduled job. Returns how many were removed."""
    deleted, _ = RosterUpload.objects.filter(
        created_at__lt=timezone.now() - ROSTER_STAGE_TTL
    ).delete()
    return deleted


def _plan_counts(plan: RosterPlan) -> dict[str, Any]:
    return {
        "rows": len(plan.rows),
        "added": len(plan.added),
        "changed": len(plan.changed),
        "deactivated": len(plan.deactivated),
        "digest": plan.digest[:16],
    }


def _member_values(row: RosterRow, units: dict[str, Unit]) -> dict[str, Any]:
    return {
        "first_name": row.first_name,
        "last_name": row.last_name,
        "rank_title": row.rank_title,
        "category": row.category,
        "unit": units.get(row.unit_code.lower()) if row.unit_code else None,
        "phone": row.phone,
        "email": row.email,
        "active": True,
    }


def _apply_plan(agency: Agency, plan: RosterPlan) -> None:
    now = timezone.now()
    units = {u.code.lower(): u for u in Unit.objects.filter(agency=agency)}
    added = [
        Member(agency=agency, employee_number=row.employee_number, **_member_values(row, units))
        for row in plan.added
    ]
    Member.objects.bulk_create(added, batch_size=1000)
    changed = []
    for change in plan.changed:
        member = change.member
        for name, value in _member_values(change.row, units).items():
            setattr(member, name, value)
        member.updated_at = now
        changed.append(member)
    numbers = dict(Member.objects.filter(agency=agency).values_list("employee_number", "pk"))
    by_number = {m.employee_number: m for m in [*added, *changed]}
    rows = [*plan.added, *(c.row for c in plan.changed)]
    for row in rows:
        member = by_number[row.employee_number]
        member.pk = numbers[row.employee_number]
        sup = row.supervisor_employee_number
        member.supervisor_id = numbers[sup] if sup else None
    fields = [*COMPARED, "updated_at"]
    Member.objects.bulk_update(changed, fields, batch_size=500)
    Member.objects.bulk_update(added, ["supervisor"], batch_size=500)
    gone = [m.pk for m in plan.deactivated]
    for start in range(0, len(gone), 1000):
        Member.objects.filter(pk__in=gone[start : start + 1000]).update(
            active=False, updated_at=now
        )


def _deactivate_accounts_of_departed(
    acting_user: User | None, member_ids: list[int], request: HttpRequest | None
) -> None:
    """People who left the roster lose their Tandem account at once (sessions end too)."""
    from tandem.accounts.models import User
    from tandem.accounts.services import user_deactivate

    departed = User.objects.filter(member_id__in=member_ids, is_active=True)
    if acting_user is not None:
        departed = departed.exclude(pk=acting_user.pk)
    for user in departed:
        user_deactivate(
            acting_user=acting_user, user=user, reason="left the roster", request=request
        )


@transaction.atomic
def roster_import_commit(
    *,
    acting_user: User | None,
    agency: Agency,
    digest: str,
    request: HttpRequest | None = None,
) -> RosterPlan:
    """Import the staged file with this digest: all rows or none. The file is checked again
    against the roster as it is now; a second confirmation of the same upload is refused."""
    upload = (
        RosterUpload.objects.select_for_update()
        .filter(agency=agency, digest=digest, created_at__gte=timezone.now() - ROSTER_STAGE_TTL)
        .order_by("-id")
        .first()
    )
    if upload is None:
        raise RosterError(["The reviewed file has expired or was never uploaded; upload it again."])
    if upload.committed_at is not None:
        raise RosterError(["This file has already been imported."])
    plan = roster_plan(agency, bytes(upload.content))
    if plan.digest != digest:
        raise RosterError(["The stored file does not match the one reviewed; upload it again."])
    _apply_plan(agency, plan)
    _deactivate_accounts_of_departed(acting_user, [m.pk for m in plan.deactivated], request)
    upload.committed_at = timezone.now()
    upload.content = b""
    upload.save(update_fields=["committed_at", "content"])
    audit_record(
        action="member.import",
        actor=acting_user,
        agency_id=agency.pk,
        obj=upload,
        request=request,
        detail=_plan_counts(plan),
    )
    return plan


def roster_import_file(
    *, acting_user: User | None, agency: Agency, data: bytes, filename: str = ""
) -> RosterPlan:
    """Stage and import in one step (the ``tandem roster import --commit`` command)."""
    with transaction.atomic():
        roster_upload_stage(acting_user=acting_user, agency=agency, data=data, filename=filename)
        return roster_import_commit(
            acting_user=acting_user, agency=agency, digest=roster_digest(data)
        )


# ---------------------------------------------------------------------------------------
# A new agency with its first administrator (issue 12, item 1)
# ---------------------------------------------------------------------------------------


@transaction.atomic
def agency_create_with_administrator(
    *,
    acting_user: User | None,
    slug: str,
    name: str,
    preset: str,
    admin_username: str,
    admin_email: str = "",
    admin_first_name: str = "",
    admin_last_name: str = "",
    short_name: str = "",
    time_zone: str = "America/New_York",
    request: HttpRequest | None = None,
) -> tuple[Agency, Any]:
    """The agency and its first administrator, who has no password yet: hand them
    ``accounts.setup.setup_link(user)``. Both or neither are created."""
    from tandem.accounts.services import account_invite
    from tandem.agencies.models import Role

    agency = agency_create(
        slug=slug,
        name=name,
        preset=preset,
        short_name=short_name,
        time_zone=time_zone,
        acting_user=acting_user,
    )
    admin = account_invite(
        acting_user=acting_user,
        agency_id=agency.pk,
        username=admin_username,
        email=admin_email,
        first_name=admin_first_name,
        last_name=admin_last_name,
        roles=[Role.ADMINISTRATOR],
        request=request,
    )
    return agency, admin
