"""Spreadsheet import (X-11, issue 13).

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.recovery import vocab
from tandem.recovery.models import (
    Client,
    ImportBatch,
    MatchCandidate,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
from .clients import client_create
from .contacts import contact_create
from .outreach import _shred_all

# --- Spreadsheet import (X-11, issue 13) ---------------------------------------------------


@transaction.atomic
def import_upload(*, acting_user: User, kind: str, filename: str, data: bytes) -> ImportBatch:
    """Keep an uploaded CSV/XLSX (sealed) for mapping and the dry run; ``SheetError`` with
    row-numbered messages when it cannot be read. Nothing reaches the registry."""
    from tandem.recovery import imports

    if kind not in vocab.ImportKind.values:
        raise ValidationError("Choose what the file holds.")
    header, rows = imports.read_sheet(filename, data)
    batch = ImportBatch(
        agency=acting_user.agency,
        kind=kind,
        filename=filename[:200],
        mapping=imports.suggest_mapping(kind, header),
        created_by=acting_user,
    )
    batch.header, batch.rows = header, rows
    batch.save()
    audit_record(
        action="recovery.import_upload",
        actor=acting_user,
        obj=batch,
        detail={"kind": kind, "rows": len(rows)},
    )
    return batch


@transaction.atomic
def import_map(
    *,
    acting_user: User,
    batch: ImportBatch,
    mapping: dict[str, str],
    values: dict[str, dict[str, str]],
) -> ImportBatch:
    """Save the column and vocabulary mapping the user chose."""
    from tandem.recovery import imports

    if batch.committed_at is not None:
        raise ValidationError("This file was already imported.")
    known = {name for name, _, _ in imports.FIELDS[batch.kind]}
    batch.mapping = {k: v for k, v in mapping.items() if k in known and v in batch.header}
    batch.values = {
        name: {w: c for w, c in words.items() if c in imports.VOCABULARIES[name].values}
        for name, words in values.items()
        if name in imports.VOCABULARIES
    }
    batch.dry_run = {}
    batch.save(update_fields=["mapping", "values", "dry_run"])
    return batch


#: Files up to this many rows are checked and imported while the person waits; larger ones
#: (up to ``imports.MAX_ROWS``) by the worker, so no request runs into a timeout and the
#: upload, kept sealed on the batch, is never lost.
IMPORT_INLINE_ROWS = 5_000


def _summary(plan: Any) -> dict[str, Any]:
    """What the dry run shows, kept on the batch: the counts, the messages and the rows
    that are not simply new (at most 200)."""
    shown = [r for r in plan.rows if r.outcome != "new"][:200]
    return {
        "counts": plan.counts,
        "messages": plan.messages,
        "rows": [
            {
                "number": r.number,
                "outcome": r.outcome,
                "client_id": r.client_id,
                "same_as_row": r.same_as_row,
                "probability": r.probability,
                "reasons": r.reasons,
                "errors": r.errors,
            }
            for r in shown
        ],
    }


def import_dry_run(*, acting_user: User, batch: ImportBatch) -> ImportBatch:
    """Run the dry run now (a small file) or ask the worker to (a large one)."""
    from tandem.recovery.tasks import run_import_check

    if len(batch.rows) <= IMPORT_INLINE_ROWS:
        batch.dry_run, batch.job_state = _summary(import_plan(batch)), ""
        batch.save(update_fields=["dry_run", "job_state"])
        return batch
    with transaction.atomic():
        batch.job_state, batch.dry_run = vocab.ImportJob.CHECKING, {}
        batch.save(update_fields=["job_state", "dry_run"])
        transaction.on_commit(lambda: run_import_check.enqueue(batch.pk))
    return batch


def import_check_execute(*, batch_id: int) -> int:
    """The worker's dry run of a large file."""
    batch = ImportBatch.objects.select_related("data_key", "agency").get(pk=batch_id)
    if batch.committed_at is not None:
        return 0
    batch.dry_run, batch.job_state = _summary(import_plan(batch)), ""
    batch.save(update_fields=["dry_run", "job_state"])
    return len(batch.rows)


def import_commit_request(*, acting_user: User, batch: ImportBatch) -> dict[str, int] | None:
    """Import a small file now (its counts), or hand a large one to the worker (None)."""
    from tandem.recovery.tasks import run_import_commit

    if len(batch.rows) <= IMPORT_INLINE_ROWS:
        return import_commit(acting_user=acting_user, batch=batch)
    if batch.committed_at is not None:
        raise ValidationError("This file was already imported.")
    if batch.job_state in (vocab.ImportJob.CHECKING, vocab.ImportJob.IMPORTING):
        raise ValidationError("Wait for the work on this file to finish.")
    with transaction.atomic():
        batch.job_state, batch.job_errors = vocab.ImportJob.IMPORTING, []
        batch.save(update_fields=["job_state", "job_errors"])
        user_id = acting_user.pk
        transaction.on_commit(lambda: run_import_commit.enqueue(batch.pk, user_id))
    return None


def import_commit_execute(*, batch_id: int, user_id: int) -> int:
    """The worker's import of a large file: all or nothing, as on the page; a refusal is
    kept on the batch with its row-numbered messages."""
    from tandem.accounts.models import User

    batch = ImportBatch.objects.select_related("data_key", "agency").get(pk=batch_id)
    user = User.objects.get(pk=user_id)
    try:
        counts = import_commit(acting_user=user, batch=batch)
    except ValidationError as exc:
        batch.job_state, batch.job_errors = vocab.ImportJob.FAILED, exc.messages[:200]
        batch.save(update_fields=["job_state", "job_errors"])
        return 0
    ImportBatch.objects.filter(pk=batch.pk).update(job_state="")
    return sum(counts.values())


def import_plan(batch: ImportBatch) -> Any:
    from tandem.recovery import imports

    return imports.plan(
        agency=batch.agency,
        kind=batch.kind,
        header=batch.header,
        rows=batch.rows,
        mapping=batch.mapping,
        values=batch.values,
    )


@transaction.atomic
def import_commit(*, acting_user: User, batch: ImportBatch) -> dict[str, int]:
    """All or nothing: with any invalid row nothing is written. New rows become clients;
    rows matching a client already in the registry (or an earlier row) are not added
    twice; uncertain rows are added and proposed as a pair on the Deconflict page. Contact
    logs are recorded on the client each row matches."""
    batch = ImportBatch.objects.select_for_update(of=("self",)).get(pk=batch.pk)
    if batch.committed_at is not None:
        raise ValidationError("This file was already imported.")
    plan = import_plan(batch)
    if plan.count("invalid"):
        raise ValidationError(
            [f"Nothing was imported: {plan.count('invalid')} row(s) need fixing.", *plan.messages]
        )
    made: dict[int, int] = {}  # row number -> client id, for rows matched within the file
    for row in plan.rows:
        if batch.kind == vocab.ImportKind.CONTACTS:
            try:
                _import_contact(acting_user, row)
            except ValidationError as exc:
                raise ValidationError(
                    [f"Nothing was imported. Row {row.number}: {m}" for m in exc.messages]
                ) from None
        elif row.outcome in ("new", "uncertain"):
            made[row.number] = _import_client(acting_user, batch, row, made).pk
        elif row.same_as_row:
            made[row.number] = made.get(row.same_as_row, 0)
        else:
            made[row.number] = row.client_id
    batch.committed_at, batch.result = timezone.now(), plan.counts
    batch.save(update_fields=["committed_at", "result"])
    audit_record(
        action="recovery.import_commit",
        actor=acting_user,
        obj=batch,
        detail={"kind": batch.kind, **plan.counts},
    )
    counts: dict[str, int] = plan.counts
    return counts


def import_batches_purge(days: int = 7) -> int:
    """Forget uploaded spreadsheets a week after upload, imported or not (they hold
    identities; the imported rows live on in the registry)."""
    cutoff = timezone.now() - timedelta(days=days)
    stale = ImportBatch.objects.filter(created_at__lt=cutoff).select_related("data_key")
    count = 0
    for batch in stale:
        with transaction.atomic():
            _shred_all([batch], "import kept 7 days")
            batch.delete()
            count += 1
    return count


def _import_client(acting_user: User, batch: ImportBatch, row: Any, made: dict[int, int]) -> Client:
    client = client_create(
        acting_user=acting_user,
        data=row.data,
        idempotency_key=f"import-{batch.pk}-{row.number}",
    )
    other = made.get(row.same_as_row, 0) if row.same_as_row else row.client_id
    if row.outcome == "uncertain" and other:
        left, right = sorted((client.pk, other))
        MatchCandidate.objects.create(
            agency=client.agency,
            left_id=left,
            right_id=right,
            probability=row.probability,
            match_weight=0.0,
            explanation=row.explanation,
        )
    return client


def _import_contact(acting_user: User, row: Any) -> None:
    client = Client.objects.select_related("data_key").get(pk=row.client_id)
    moment = timezone.make_aware(datetime.combine(row.data["occurred_at"], datetime.min.time()))
    contact_create(
        acting_user=acting_user,
        client=client,
        data={
            "kind": row.data["kind"],
            # A day without a time: noon, or now for a contact logged today before noon.
            "occurred_at": min(moment + timedelta(hours=12), timezone.now()),
            "duration_minutes": row.data.get("duration_minutes", 0),
            "location_type": row.data.get("location_type") or vocab.LocationType.OTHER,
            "services": [],
            "outcome": row.data["outcome"],
        },
    )
