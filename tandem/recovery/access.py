"""Who may reach which recovery record. Only the program (ARO, PRS, CRT supervisor) opens
clients; the compartment of criminal justice information additionally needs a sworn user
with an open CJI gate. Every helper answers ``Http404`` for "missing" and "not allowed"."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Model
from django.http import Http404

from tandem.agencies.access import one_or_404, require_role
from tandem.agencies.models import PEER_RECOVERY, Agency, Role
from tandem.readiness.gates import has_cji_access
from tandem.recovery.models import (
    Client,
    ClientMerge,
    Consent,
    Contact,
    Disclosure,
    Goal,
    ImportBatch,
    MatchCandidate,
    PersonnelEvaluation,
    PlannedContact,
    Referral,
    Resource,
    StatementRequest,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User

#: The program: the only people who search or open recovery clients (PR-1).
PROGRAM = (Role.ARO, Role.PRS, Role.CRT_SUPERVISOR)
#: Sworn program roles: set safety flags, record safety assessments, may hold CJI access.
SWORN_PROGRAM = (Role.ARO, Role.CRT_SUPERVISOR)
#: Who decides public statements (000 D.5).
CHIEF = (Role.CHIEF,)
STATEMENT_READERS = (*PROGRAM, Role.CHIEF)


def _recovery_role(user: User, *roles: str) -> Agency:
    """The user's agency when they hold one of ``roles`` and it runs peer recovery (the
    screens and the API alike), else ``Http404``."""
    agency = require_role(user, *roles)
    if not agency.runs(PEER_RECOVERY):
        raise Http404
    return agency


def require_program(user: User) -> Agency:
    return _recovery_role(user, *PROGRAM)


def require_sworn_program(user: User) -> Agency:
    agency = _recovery_role(user, *SWORN_PROGRAM)
    member = getattr(user, "member", None)
    if member is None or not member.is_sworn:
        raise Http404
    return agency


def is_sworn_program(user: User) -> bool:
    """A sworn officer holding a sworn program role (sets flags, records safety checks)."""
    member = getattr(user, "member", None)
    return bool(user.has_role(*SWORN_PROGRAM) and member is not None and member.is_sworn)


def can_read_cji(user: User) -> bool:
    """Sworn program staff whose CJI gate is open (P2, PR-7)."""
    return bool(user.has_role(*SWORN_PROGRAM) and has_cji_access(user))


def _get(model: type[Model], agency: Agency, pk: int | str, *related: str) -> Any:
    return one_or_404(model._default_manager.select_related(*related), pk, agency=agency)


def get_client_for_user(user: User, pk: int | str, *, write: bool) -> Client:
    """A record merged into another is read-only (its page points at the survivor): work
    added to it would count the person twice and vanish from the survivor's history."""
    agency = require_program(user)
    client: Client = _get(Client, agency, pk, "data_key", "aro", "prs")
    if write and client.merged_into_id:
        raise Http404
    return client


def get_cji_client_for_user(user: User, pk: int | str, *, write: bool) -> Client:
    """The client, for the CJI compartment: sworn program staff with an open gate only."""
    require_sworn_program(user)
    if not can_read_cji(user):
        raise Http404
    return get_client_for_user(user, pk, write=write)


def get_flags_client_for_user(user: User, pk: int | str, *, write: bool) -> Client:
    """Safety flags are set by sworn program staff; everyone in the program reads them."""
    if write:
        require_sworn_program(user)
    return get_client_for_user(user, pk, write=write)


def get_contact_for_user(user: User, pk: int | str) -> Contact:
    contact: Contact = _get(Contact, require_program(user), pk, "data_key", "client")
    return contact


def get_planned_for_user(user: User, pk: int | str) -> PlannedContact:
    planned: PlannedContact = _get(PlannedContact, require_program(user), pk, "client")
    return planned


def get_goal_for_user(user: User, pk: int | str) -> Goal:
    goal: Goal = _get(Goal, require_program(user), pk, "data_key", "client")
    return goal


def get_resource_for_user(user: User, pk: int | str) -> Resource:
    resource: Resource = _get(Resource, require_program(user), pk)
    return resource


def get_referral_for_user(user: User, pk: int | str) -> Referral:
    referral: Referral = _get(Referral, require_program(user), pk, "data_key", "client", "resource")
    return referral


def get_consent_for_user(user: User, pk: int | str) -> Consent:
    consent: Consent = _get(Consent, require_program(user), pk, "data_key", "client", "recipient")
    return consent


def get_disclosure_for_user(user: User, pk: int | str) -> Disclosure:
    disclosure: Disclosure = _get(
        Disclosure, require_program(user), pk, "data_key", "client", "recipient", "consent"
    )
    return disclosure


def get_statement_for_user(user: User, pk: int | str, *, write: bool) -> StatementRequest:
    agency = _recovery_role(user, *(CHIEF if write else STATEMENT_READERS))
    statement: StatementRequest = _get(StatementRequest, agency, pk, "requested_by")
    return statement


def get_candidate_for_user(user: User, pk: int | str) -> MatchCandidate:
    """A pair proposed by the linkage scan: the program reviews it (both are its clients)."""
    candidate: MatchCandidate = _get(MatchCandidate, require_program(user), pk, "left", "right")
    return candidate


def get_merge_for_user(user: User, pk: int | str) -> ClientMerge:
    merge: ClientMerge = _get(ClientMerge, require_program(user), pk, "survivor", "absorbed")
    return merge


def get_import_for_user(user: User, pk: int | str) -> ImportBatch:
    batch: ImportBatch = _get(ImportBatch, require_program(user), pk, "data_key")
    return batch


#: Who evaluates the program's staff each year (OO 2-78 E): their supervisor and the Chief.
EVALUATORS = (Role.CRT_SUPERVISOR, Role.CHIEF)


def require_evaluator(user: User) -> Agency:
    return _recovery_role(user, *EVALUATORS)


#: Whose own evaluation a person may open (OO 2-78 E.1–2 evaluates the ARO and the PRS).
EVALUATED = (Role.ARO, Role.PRS)


def get_evaluation_for_user(user: User, pk: int | str, *, write: bool) -> PersonnelEvaluation:
    """A personnel evaluation: the evaluators of the agency read it; the person evaluated
    reads it and (``write``) acknowledges it. Anyone else gets ``Http404``."""
    agency = _recovery_role(user, *EVALUATORS, *EVALUATED)
    found: PersonnelEvaluation = one_or_404(
        PersonnelEvaluation.objects.select_related("data_key", "person", "evaluator"),
        pk,
        agency=agency,
    )
    mine = found.person_id == user.pk
    if write and not mine:
        raise Http404
    if not mine and not user.has_role(*EVALUATORS):
        raise Http404
    return found
