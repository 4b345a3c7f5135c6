"""Writing the audit trail. Every sensitive read and write calls ``audit_record`` inside the
same transaction as the change it describes, so either both are stored or neither is.
``audit_purge`` is the retention purge: the only way events ever leave the table.

Each agency has its own chain (``models.py``); appending locks only that chain, so two
agencies' audited writes never wait on each other.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core import mail
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from tandem.audit.actions import is_known_action
from tandem.audit.keys import audit_keys
from tandem.audit.models import (
    DEPLOYMENT_CHAIN,
    GENESIS_HASH,
    MIN_RETENTION_DAYS,
    AuditCheckpoint,
    AuditEvent,
    Outcome,
    chain_for,
)
from tandem.core.http import client_ip

if TYPE_CHECKING:
    from tandem.accounts.models import User

logger = logging.getLogger("tandem.audit")

# Namespace of the per-chain advisory locks on PostgreSQL (two-key form: namespace, chain).
_CHAIN_LOCK_NAMESPACE = 714_621


class UnknownAuditAction(ValueError):
    """An action missing from ``tandem.audit.actions.ACTIONS``."""


def _lock_chain(chain: int) -> None:
    """Serialise appends to one chain only. SQLite: transactions begin IMMEDIATE (settings),
    so writers are serialised already."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_CHAIN_LOCK_NAMESPACE, chain % 2**31]
            )


def _chain_head(chain: int) -> tuple[int, str]:
    """The seq and hash the next event of ``chain`` follows. After a purge that removed
    every event of the chain it continues from the purge checkpoint."""
    last = AuditEvent.objects.filter(chain=chain).order_by("-seq").only("seq", "hash").first()
    if last is not None:
        return last.seq, last.hash
    checkpoint = AuditCheckpoint.objects.filter(chain=chain).order_by("-through_seq").first()
    if checkpoint is not None:
        return checkpoint.through_seq, checkpoint.through_hash
    return 0, GENESIS_HASH


def _check_action(action: str) -> None:
    if is_known_action(action):
        return
    if settings.DEBUG or hasattr(mail, "outbox"):  # DEBUG, or Django's test environment
        raise UnknownAuditAction(
            f"Audit action {action!r} is not in tandem/audit/actions.py; add it there."
        )
    logger.warning("unknown audit action recorded", extra={"action": action})


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    agency_id: int | None = None,
    object_type: str = "",
    object_id: Any = "",
    outcome: str = Outcome.SUCCESS,
    purpose: str = "",
    request: HttpRequest | None = None,
    detail: dict[str, Any] | None = None,
    obj: Any = None,
) -> AuditEvent:
    """Append one event to its agency's chain (the deployment chain without an agency).

    ``obj`` (a model instance) fills ``object_type`` with its ``app_label.ModelName`` and
    ``object_id`` with its pk; without ``agency_id`` the event goes to ``obj``'s agency, else
    to the actor's. ``detail`` must hold ids and categories, never names or
    contact details of a peer-support requester."""
    _check_action(action)
    if obj is not None:
        object_type = object_type or obj._meta.label
        object_id = object_id if object_id not in (None, "") else obj.pk
    if agency_id is None and obj is not None:
        agency_id = getattr(obj, "agency_id", None)
    if agency_id is None:
        agency_id = getattr(actor, "agency_id", None) if actor is not None else None
    chain = chain_for(agency_id)
    ring = audit_keys()
    # No savepoint: inside a service's transaction a failed audit write must fail the change
    # anyway, and two round trips fewer per audited write.
    with transaction.atomic(savepoint=False):
        _lock_chain(chain)
        head_seq, head_hash = _chain_head(chain)
        event = AuditEvent(
            agency_id=agency_id,
            chain=chain,
            seq=head_seq + 1,
            key_id=ring.current_id,
            actor_id=getattr(actor, "pk", None) if actor is not None else None,
            actor_label=(getattr(actor, "username", "") or "")[:150] if actor else "",
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id not in (None, "") else "",
            occurred_at=timezone.now(),
            ip_address=client_ip(request),
            outcome=outcome,
            purpose=purpose[:200],
            detail=detail or {},
            prev_hash=head_hash,
        )
        event.hash = event.compute_hash(event.prev_hash)
        event.save(force_insert=True)
    return event


def _policy_days(policy: Any) -> int:
    value = (policy or {}).get("retention", {}).get("audit_days")
    if isinstance(value, int) and not isinstance(value, bool):
        return max(MIN_RETENTION_DAYS, value)
    return MIN_RETENTION_DAYS


def audit_retention_days(chain: int | None = None) -> int:
    """How long the events of ``chain`` are kept: its agency's ``retention.audit_days``,
    never less than 365 days. The deployment chain (and ``chain=None``) keeps the longest
    period of any agency."""
    from tandem.agencies.models import Agency

    if chain not in (None, DEPLOYMENT_CHAIN):
        policy = Agency.objects.filter(pk=chain).values_list("policy", flat=True).first()
        if policy is not None:
            return _policy_days(policy)
    days = MIN_RETENTION_DAYS
    for policy in Agency.objects.values_list("policy", flat=True):
        days = max(days, _policy_days(policy))
    return days


@dataclass(frozen=True)
class PurgeResult:
    retention_days: int
    cutoff: datetime
    deleted: int
    through_id: int | None
    dry_run: bool = False
    through_seq: int | None = None
    chain: int = DEPLOYMENT_CHAIN


def _delete_through(chain: int, through_seq: int) -> int:
    if connection.vendor == "postgresql":
        # A SECURITY DEFINER function owned by the audit tables' owner (migration 0004):
        # the application role needs no DELETE privilege on the audit table.
        with connection.cursor() as cursor:
            cursor.execute("SELECT tandem_audit_purge(%s, %s)", [chain, through_seq])
            return int(cursor.fetchone()[0])
    deleted, _ = AuditEvent.objects.filter(chain=chain, seq__lte=through_seq).delete()
    return deleted


def audit_chains() -> list[int]:
    """Every chain that has events or a purge checkpoint: the deployment chain and agencies."""
    from tandem.agencies.models import Agency

    chains = {DEPLOYMENT_CHAIN, *Agency.objects.values_list("pk", flat=True)}
    chains.update(AuditCheckpoint.objects.filter(chain__gte=0).values_list("chain", flat=True))
    return sorted(chains)


@transaction.atomic
def audit_purge_chain(
    *,
    chain: int,
    acting_user: User | None = None,
    request: HttpRequest | None = None,
    dry_run: bool = False,
) -> PurgeResult:
    """Delete one chain's events older than its retention period, from the chain's start.

    Only a contiguous run of the oldest events goes (everything before the first event that
    is still inside the retention period), so the rest of the chain stays linked. A purge
    checkpoint keeps the last purged seq and hash, and the purge records itself as an
    ``audit.purge`` event of the same chain naming them. The database triggers allow these
    deletes because every purged row is older than 365 days.
    """
    _lock_chain(chain)
    days = audit_retention_days(chain)
    now = timezone.now()
    cutoff = now - timedelta(days=days)
    events = AuditEvent.objects.filter(chain=chain)
    first_kept = (
        events.filter(occurred_at__gte=cutoff).order_by("seq").values_list("seq", flat=True)
    ).first()
    old = events if first_kept is None else events.filter(seq__lt=first_kept)
    last = old.order_by("-seq").only("id", "seq", "hash").first()
    if last is None or dry_run:
        count = old.count() if last is not None else 0
        return PurgeResult(
            days,
            cutoff,
            count,
            last.id if last else None,
            dry_run,
            last.seq if last else None,
            chain,
        )
    deleted = _delete_through(chain, last.seq)
    checkpoint = AuditCheckpoint.objects.create(
        chain=chain,
        through_seq=last.seq,
        through_id=last.id,
        through_hash=last.hash,
        deleted_count=deleted,
        cutoff=cutoff,
        created_at=now,
    )
    audit_record(
        action="audit.purge",
        actor=acting_user,
        agency_id=None if chain == DEPLOYMENT_CHAIN else chain,
        object_type="audit.AuditCheckpoint",
        object_id=checkpoint.pk,
        purpose=f"retention purge ({days} days)",
        request=request,
        detail={
            "through_seq": last.seq,
            "through_hash": last.hash,
            "deleted": deleted,
            "retention_days": days,
        },
    )
    return PurgeResult(days, cutoff, deleted, last.id, False, last.seq, chain)


def audit_purge(
    *, acting_user: User | None = None, request: HttpRequest | None = None, dry_run: bool = False
) -> PurgeResult:
    """Purge every chain under its own agency's retention; the result sums them up (the
    longest retention of any chain, the total deleted, the deployment chain's last seq)."""
    results = [
        audit_purge_chain(chain=chain, acting_user=acting_user, request=request, dry_run=dry_run)
        for chain in audit_chains()
    ]
    deployment = results[0]
    longest = max(results, key=lambda r: r.retention_days)
    return PurgeResult(
        retention_days=longest.retention_days,
        cutoff=longest.cutoff,
        deleted=sum(r.deleted for r in results),
        through_id=deployment.through_id,
        dry_run=dry_run,
        through_seq=deployment.through_seq,
    )
