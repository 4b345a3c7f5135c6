"""Deconfliction: registry-wide matching, merge and unmerge (PR-2, issue 13).

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from tandem.audit.services import audit_record
from tandem.recovery import vocab
from tandem.recovery.models import (
    CLIENT_RECORDS,
    Client,
    ClientMerge,
    Consent,
    MatchCandidate,
    MatchRun,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency
from .clients import _check_client, _name_key, digits_of
from .common import CLIENT_FIELDS, _lock_client

# --- Deconfliction: registry-wide matching, merge and unmerge (PR-2, issue 13) ------------

#: Fields a merge may take from the absorbed record (chosen one by one on the merge screen):
#: every field a client record holds.
MERGE_FIELDS = CLIENT_FIELDS


def client_record(client: Client) -> dict[str, Any]:
    """The client as the linkage model compares it."""
    from tandem.recovery import linkage

    return linkage.record_of(
        uid=client.pk,
        first_name=client.first_name,
        last_name=client.last_name,
        aliases=client.aliases,
        date_of_birth=client.date_of_birth,
        phone=client.phone,
        address=client.address or "",
        substances=client.substances or [],
    )


def registry(agency: Agency) -> QuerySet[Client]:
    """The clients that count: every record not merged into another."""
    return Client.objects.filter(agency=agency, merged_into__isnull=True)


def match_model(agency: Agency) -> dict[str, Any]:
    """The agency's latest trained model, or the priors before the first scan."""
    from tandem.recovery import linkage

    run = (
        MatchRun.objects.filter(agency=agency, status=vocab.MatchRunStatus.DONE)
        .exclude(model={})
        .only("model")
        .first()
    )
    return run.model if run is not None else linkage.prior_model()


@transaction.atomic
def match_run_request(*, acting_user: User) -> MatchRun:
    """Ask for a scan of the whole registry now (the worker runs it)."""
    from tandem.recovery.tasks import run_match

    agency = acting_user.home_agency
    pending = MatchRun.objects.filter(agency=agency, status=vocab.MatchRunStatus.QUEUED).first()
    if pending is not None:
        return pending
    run = MatchRun.objects.create(
        agency=agency, trigger=vocab.MatchTrigger.ON_DEMAND, requested_by=acting_user
    )
    audit_record(
        action="recovery.match_run_request",
        actor=acting_user,
        obj=run,
    )
    transaction.on_commit(lambda: run_match.enqueue(run.pk))
    return run


def match_run_execute(*, run_id: int) -> MatchRun:
    """Score every blocked pair of the agency's registry with its stored model, or with one
    trained on the registry now when the stored one no longer fits (:func:`_stored_model`),
    and store the candidates at or above the agency's review threshold with their
    explanation. Decisions already taken
    on a pair (not the same person, merged) are kept; stale open pairs are dropped."""
    from tandem.recovery import linkage

    run = MatchRun.objects.select_related("agency").get(pk=run_id)
    policy = run.agency.policy_model().recovery
    clients = list(registry(run.agency).select_related("data_key"))
    records = [client_record(c) for c in clients]
    try:
        stored = _stored_model(run, len(records))
        model = stored or {**linkage.train(records), "trained_at": timezone.now().isoformat()}
        pairs = linkage.predict(records, model, threshold=policy.review_threshold)
    except Exception as exc:  # noqa: BLE001 - recorded on the run, shown on the page
        run.status, run.error = vocab.MatchRunStatus.FAILED, type(exc).__name__[:200]
        run.finished_at = timezone.now()
        run.save(update_fields=["status", "error", "finished_at"])
        return run
    with transaction.atomic():
        _store_candidates(run, pairs)
        run.status, run.finished_at = vocab.MatchRunStatus.DONE, timezone.now()
        run.records, run.pairs, run.model = len(records), len(pairs), model
        run.estimated = bool(model.get("estimated"))
        run.save(update_fields=["status", "finished_at", "records", "pairs", "model", "estimated"])
        audit_record(
            action="recovery.match_run",
            actor=None,
            obj=run,
            detail={"records": len(records), "pairs": len(pairs), "trained": stored is None},
        )
    return run


#: A scan (nightly or on demand) reuses the agency's stored model while the registry has not
#: grown or shrunk by more than this share since the model was trained...
RETRAIN_AFTER_CHANGE = 0.2
#: ... and the model is younger than this: the nightly scan re-estimates at least once a week
#: even on a registry whose size holds steady (who is in it still changes).
RETRAIN_AFTER = timedelta(days=7)


def _stored_model(run: MatchRun, size: int) -> dict[str, Any] | None:
    """The model an earlier scan trained, while it still fits the registry: training (EM) is
    most of a scan's time and a registry's parameters (how often names or birthdays agree by
    chance, how often a duplicate's fields were mistyped) move slowly. ``None``: train anew."""
    from tandem.recovery import linkage

    model = match_model(run.agency)
    trained_on = int(model.get("trained_on", -1))
    if trained_on < 0:
        return None
    if not model.get("estimated"):
        # Priors: fine while the registry is still too small to estimate anything.
        return model if size < linkage.MIN_RECORDS_FOR_EM else None
    trained_at = parse_datetime(str(model.get("trained_at", "")))
    if trained_at is None or timezone.now() - trained_at >= RETRAIN_AFTER:
        return None
    if abs(size - trained_on) > RETRAIN_AFTER_CHANGE * trained_on:
        return None
    return model


def _store_candidates(run: MatchRun, pairs: list[Any]) -> None:
    existing = {
        (c.left_id, c.right_id): c for c in MatchCandidate.objects.filter(agency=run.agency)
    }
    now, seen = timezone.now(), set()
    for pair in pairs:
        key = (pair.left, pair.right)
        seen.add(key)
        candidate = existing.get(key) or MatchCandidate(
            agency=run.agency, left_id=pair.left, right_id=pair.right
        )
        candidate.probability, candidate.match_weight = pair.probability, pair.match_weight
        candidate.explanation, candidate.run, candidate.updated_at = (
            pair.explanation(),
            run,
            now,
        )
        candidate.save()
    stale = [c.pk for k, c in existing.items() if k not in seen and c.status == "open"]
    MatchCandidate.objects.filter(pk__in=stale).delete()


def match_scan_all() -> int:
    """The nightly scan of every agency that keeps a recovery registry."""
    from tandem.agencies.models import Agency

    scanned = 0
    for agency in Agency.objects.filter(pk__in=Client.objects.values("agency_id")):
        run = MatchRun.objects.create(agency=agency, trigger=vocab.MatchTrigger.NIGHTLY)
        match_run_execute(run_id=run.pk)
        scanned += 1
    return scanned


def candidate_view_log(*, acting_user: User, candidate: MatchCandidate) -> None:
    with transaction.atomic():
        audit_record(
            action="recovery.candidate_view",
            actor=acting_user,
            obj=candidate,
            detail={"left": candidate.left_id, "right": candidate.right_id},
        )


@transaction.atomic
def candidate_not_same(*, acting_user: User, candidate: MatchCandidate) -> MatchCandidate:
    """Remember that the two records are different people: never proposed again."""
    if candidate.status == vocab.CandidateStatus.MERGED:
        raise ValidationError("These records were merged; undo the merge first.")
    candidate.status = vocab.CandidateStatus.NOT_SAME
    candidate.decided_by, candidate.decided_at = acting_user, timezone.now()
    candidate.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        action="recovery.client_not_same",
        actor=acting_user,
        obj=candidate,
        detail={"left": candidate.left_id, "right": candidate.right_id},
    )
    return candidate


def _pair_candidate(a: Client, b: Client) -> MatchCandidate | None:
    left, right = sorted((a.pk, b.pk))
    return MatchCandidate.objects.filter(left_id=left, right_id=right).first()


def _value(client: Client, name: str) -> Any:
    if name in ("aro", "prs"):
        return getattr(client, f"{name}_id")
    value = getattr(client, name)
    return value.isoformat() if isinstance(value, date) else value


def _set_value(client: Client, name: str, value: Any) -> None:
    if name in ("aro", "prs"):
        setattr(client, f"{name}_id", value)
    elif name == "date_of_birth":
        client.date_of_birth = date.fromisoformat(value) if value else None
    else:
        setattr(client, name, value)


def _refresh_keys(client: Client) -> None:
    client.name_key = _name_key(client)
    client.phone_digits = digits_of(client.phone)
    client.version += 1
    client.updated_at = timezone.now()


@transaction.atomic
def client_merge(
    *, acting_user: User, survivor: Client, absorbed: Client, take: Iterable[str] = ()
) -> ClientMerge:
    """Merge ``absorbed`` into ``survivor``: the survivor keeps its values except the fields
    in ``take``; everything that belonged to the absorbed record moves to the survivor; the
    absorbed record stays, pointing at the survivor. Consents signed for the absorbed record
    keep saying so and cover no disclosure about the survivor. Undone by ``client_unmerge``."""
    take = [f for f in MERGE_FIELDS if f in set(take)]
    if survivor.pk == absorbed.pk or survivor.agency_id != absorbed.agency_id:
        raise ValidationError("Choose two different records of your agency.")
    for pk in sorted((survivor.pk, absorbed.pk)):
        _lock_client(pk)
    survivor = Client.objects.select_related("data_key").get(pk=survivor.pk)
    absorbed = Client.objects.select_related("data_key").get(pk=absorbed.pk)
    if survivor.merged_into_id or absorbed.merged_into_id:
        raise ValidationError("One of these records was already merged into another.")
    candidate = _pair_candidate(survivor, absorbed)
    if candidate is not None and candidate.status == vocab.CandidateStatus.NOT_SAME:
        raise ValidationError("These records were marked as two different people.")
    changed = [*take, "safety_flags"]
    before = {name: _value(survivor, name) for name in changed}
    for name in take:
        _set_value(survivor, name, _value(absorbed, name))
    survivor.safety_flags = [
        f
        for f in vocab.SafetyFlag.values
        if f in set(survivor.safety_flags or []) | set(absorbed.safety_flags or [])
    ]
    _check_client(survivor)
    _refresh_keys(survivor)
    survivor.save()
    moved = _move_records(absorbed, survivor)
    merge = ClientMerge(
        agency=survivor.agency,
        survivor=survivor,
        absorbed=absorbed,
        candidate=candidate,
        taken=take,
        absorbed_status=absorbed.status,
        moved=moved,
        merged_by=acting_user,
    )
    merge.before, merge.after = before, {name: _value(survivor, name) for name in changed}
    merge.save()
    absorbed.merged_into, absorbed.status = survivor, vocab.ClientStatus.INACTIVE
    absorbed.version += 1
    absorbed.save(update_fields=["merged_into", "status", "version"])
    if merge.candidate is not None:
        merge.candidate.status = vocab.CandidateStatus.MERGED
        merge.candidate.decided_by, merge.candidate.decided_at = acting_user, timezone.now()
        merge.candidate.save(update_fields=["status", "decided_by", "decided_at"])
    counts = {name: len(pks) for name, pks in moved.items()}
    audit_record(
        action="recovery.client_merge",
        actor=acting_user,
        obj=merge,
        detail={"survivor": survivor.pk, "absorbed": absorbed.pk, "taken": take, "moved": counts},
    )
    return merge


def _move_records(source: Client, target: Client) -> dict[str, list[int]]:
    moved: dict[str, list[int]] = {}
    for model in CLIENT_RECORDS:
        rows = model._default_manager.filter(client=source)
        pks = sorted(rows.values_list("pk", flat=True))
        if not pks:
            continue
        moved[str(model._meta.model_name)] = pks
        if model is Consent:
            unsigned = Consent.objects.filter(pk__in=pks, signed_for__isnull=True)
            moved["consent_signed_for"] = sorted(unsigned.values_list("pk", flat=True))
            unsigned.update(signed_for=source)
        model._default_manager.filter(pk__in=pks).update(client=target)
    return moved


@transaction.atomic
def client_unmerge(*, acting_user: User, merge: ClientMerge) -> ClientMerge:
    """Undo a merge exactly: the records that moved go back, the absorbed record is itself
    again, and the survivor's fields return to their values before the merge — except a
    field somebody changed since, which keeps its newer value."""
    merge = ClientMerge.objects.select_related("data_key").get(pk=merge.pk)
    if merge.undone_at is not None:
        raise ValidationError("This merge was already undone.")
    for pk in sorted((merge.survivor_id, merge.absorbed_id)):
        _lock_client(pk)
    survivor = Client.objects.select_related("data_key").get(pk=merge.survivor_id)
    absorbed = Client.objects.select_related("data_key").get(pk=merge.absorbed_id)
    if survivor.merged_into_id:
        raise ValidationError("The surviving record was merged again since; undo that first.")
    kept = []
    for name, old in merge.before.items():
        if _value(survivor, name) == merge.after.get(name):
            _set_value(survivor, name, old)
        else:
            kept.append(name)
    _refresh_keys(survivor)
    survivor.save()
    for model in CLIENT_RECORDS:
        pks = merge.moved.get(str(model._meta.model_name), [])
        model._default_manager.filter(pk__in=pks, client=survivor).update(client=absorbed)
    Consent.objects.filter(pk__in=merge.moved.get("consent_signed_for", [])).update(signed_for=None)
    absorbed.merged_into, absorbed.status = None, merge.absorbed_status
    absorbed.version += 1
    absorbed.save(update_fields=["merged_into", "status", "version"])
    merge.undone_by, merge.undone_at = acting_user, timezone.now()
    merge.save(update_fields=["undone_by", "undone_at"])
    if merge.candidate_id:
        MatchCandidate.objects.filter(pk=merge.candidate_id).update(
            status=vocab.CandidateStatus.OPEN, decided_by=None, decided_at=None
        )
    audit_record(
        action="recovery.client_unmerge",
        actor=acting_user,
        obj=merge,
        detail={"survivor": survivor.pk, "absorbed": absorbed.pk, "kept_newer": kept},
    )
    return merge
