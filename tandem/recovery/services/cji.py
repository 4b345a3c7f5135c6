"""The CJI compartment (P2, PR-7).

Part of ``tandem.recovery.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from tandem.audit.services import audit_record
from tandem.recovery import vocab
from tandem.recovery.access import can_read_cji
from tandem.recovery.models import (
    CJIEntry,
    Client,
    SwornNote,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User


# --- The CJI compartment (P2, PR-7) -------------------------------------------------------


def _require_cji(acting_user: User) -> None:
    if not can_read_cji(acting_user):
        raise ValidationError("Criminal justice information needs a current CJIS clearance.")


@transaction.atomic
def cji_read(
    *, acting_user: User, client: Client, purpose: str
) -> tuple[list[CJIEntry], list[SwornNote]]:
    """The client's CJI entries and sworn-only notes; the read is audited with its purpose."""
    _require_cji(acting_user)
    if len(purpose.strip()) < 5:
        raise ValidationError("State the purpose of this look-up before the entries are shown.")
    audit_record(
        action="recovery.cji_read",
        actor=acting_user,
        obj=client,
        purpose=purpose.strip()[:200],
    )
    entries = list(CJIEntry.objects.filter(client=client).select_related("data_key"))
    notes = list(SwornNote.objects.filter(client=client).select_related("data_key", "author"))
    return entries, notes


@transaction.atomic
def cji_entry_create(
    *, acting_user: User, client: Client, source: str, queried_on: date, purpose: str, summary: str
) -> CJIEntry:
    _require_cji(acting_user)
    if source not in vocab.CJISource.values:
        raise ValidationError("Choose the source from the list.")
    if queried_on > timezone.localdate():
        raise ValidationError("The query date cannot be in the future.")
    if not purpose.strip() or not summary.strip():
        raise ValidationError("Give the purpose of the query and a summary.")
    entry = CJIEntry.objects.create(
        agency=client.agency,
        client=client,
        source=source,
        queried_on=queried_on,
        purpose=purpose.strip(),
        summary=summary.strip(),
        recorded_by=acting_user,
    )
    audit_record(
        action="recovery.cji_create",
        actor=acting_user,
        obj=entry,
        detail={"client": client.pk, "source": source},
    )
    return entry


@transaction.atomic
def sworn_note_create(*, acting_user: User, client: Client, text: str) -> SwornNote:
    _require_cji(acting_user)
    if not text.strip():
        raise ValidationError("Write the note.")
    note = SwornNote.objects.create(
        agency=client.agency, client=client, text=text.strip(), author=acting_user
    )
    audit_record(
        action="recovery.sworn_note_create",
        actor=acting_user,
        obj=note,
        detail={"client": client.pk},
    )
    return note
