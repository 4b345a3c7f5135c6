"""Course catalogue.

Part of ``tandem.readiness.services``, whose ``__init__`` re-exports every public name."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from tandem.audit.services import audit_record
from tandem.readiness import compliance
from tandem.readiness.models import (
    Course,
    CourseKind,
    course_programs_run,
)

if TYPE_CHECKING:
    from tandem.accounts.models import User
    from tandem.agencies.models import Agency
    from tandem.agencies.presets import Policy


# ---------------------------------------------------------------------------------------
# Course catalogue
# ---------------------------------------------------------------------------------------

#: The seeds' curricula beyond the agency's own initial topics.
JOPLIN_TOPICS = [
    "Stress awareness",
    "Secondary trauma",
    "Referrals",
    "Crisis intervention",
    "De-escalation",
]
CJIS_TOPICS = [
    "CJIS security awareness (CHRI, NCIC, state network)",
    "Confidentiality of law enforcement information",
]


def _catalogue(policy: Policy) -> list[dict[str, Any]]:
    reference = policy.document.reference
    return [
        {
            "code": "psp-initial",
            "title": "Initial peer support training",
            "kind": CourseKind.INITIAL,
            "program": "psp",
            "topics": list(policy.training.initial_topics),
            "source": reference,
        },
        {
            "code": "psp-essentials",
            "title": "Peer support essentials (in-service)",
            "kind": CourseKind.ONGOING,
            "program": "psp",
            "topics": JOPLIN_TOPICS,
            "source": "Joplin PD SOG 2-13 IV.A.2",
        },
        {
            "code": "psp-ongoing",
            "title": "Quarterly peer support training",
            "kind": CourseKind.ONGOING,
            "program": "psp",
            "topics": [],
            "source": reference,
        },
        {
            "code": "prp-core",
            "title": "Peer recovery core training",
            "kind": CourseKind.INITIAL,
            "program": "prp",
            "topics": list(compliance.PRP_INITIAL_TOPICS),
            "source": "West Virginia PNP program description",
        },
        {
            "code": "prp-ongoing",
            "title": "Peer recovery in-service",
            "kind": CourseKind.ONGOING,
            "program": "prp",
            "topics": [],
            "source": reference,
        },
        {
            "code": "cjis-awareness",
            "title": "CJIS security awareness",
            "kind": CourseKind.CJIS,
            "program": "all",
            "topics": CJIS_TOPICS,
            "source": "FBI CJIS Security Policy; Winchester OO 2-78 IV.D",
        },
        {
            "code": "monthly-meeting",
            "title": "Monthly team meeting",
            "kind": CourseKind.MEETING,
            "program": "psp",
            "topics": [],
            "source": reference,
        },
        {
            "code": "clinical-supervision",
            "title": "Clinical supervision",
            "kind": CourseKind.SUPERVISION,
            "program": "psp",
            "topics": [],
            "source": reference,
        },
    ]


@transaction.atomic
def catalogue_seed(*, agency: Agency, acting_user: User | None = None) -> int:
    """Create the preset's courses the agency does not have yet; returns how many."""
    created = 0
    wanted = course_programs_run(agency)
    for spec in _catalogue(agency.policy_model()):
        if spec["program"] not in wanted:
            continue  # a course of a program the agency does not run
        code = spec.pop("code")
        _, made = Course.objects.get_or_create(agency=agency, code=code, defaults=spec)
        created += int(made)
    if created:
        audit_record(
            action="readiness.catalogue_seeded",
            actor=acting_user,
            agency_id=agency.pk,
            obj=agency,
            detail={"created": created},
        )
    return created
