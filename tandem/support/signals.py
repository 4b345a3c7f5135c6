"""Keep the coordinator's coverage snapshot honest: whatever changes who can answer — a
rotation or its members, a swap or cover, availability, a readiness gate — deletes the
agency's ``CoverageSnapshot`` in the same transaction, so the next home page recomputes."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save


def _forget(agency_id: int | None) -> None:
    from tandem.support.models import CoverageSnapshot

    if agency_id is not None:
        CoverageSnapshot.objects.filter(agency_id=agency_id).delete()


def _changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    agency_id = getattr(instance, "agency_id", None)
    if agency_id is None and hasattr(instance, "rotation_id"):
        from tandem.support.models import Rotation

        agency_id = (
            Rotation.objects.filter(pk=instance.rotation_id)
            .values_list("agency_id", flat=True)
            .first()
        )
    _forget(agency_id)


def connect() -> None:
    from tandem.readiness.models import Gate
    from tandem.support.models import Override, Rotation, RotationMember, SupporterProfile

    for model in (Rotation, RotationMember, Override, SupporterProfile, Gate):
        post_save.connect(_changed, sender=model, dispatch_uid=f"coverage-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"coverage-del-{model.__name__}")
