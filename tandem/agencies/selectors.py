"""Reads for the agency screens: each list is one or two queries however long it is."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from tandem.agencies.models import Agency, Member, Unit


@dataclass(frozen=True)
class MemberFilters:
    q: str = ""
    unit: int | None = None
    category: str = ""
    active: str = "yes"  # "yes", "no" or "" (all)


def member_list(agency: Agency, filters: MemberFilters) -> QuerySet[Member]:
    qs = Member.objects.filter(agency=agency).search(filters.q)
    if filters.unit is not None:
        qs = qs.filter(unit_id=filters.unit)
    if filters.category:
        qs = qs.filter(category=filters.category)
    if filters.active == "yes":
        qs = qs.filter(active=True)
    elif filters.active == "no":
        qs = qs.filter(active=False)
    return qs.select_related("unit", "supervisor").order_by(*MEMBER_ORDER)


# The directory's order, ending with the key so keyset pages are exact.
MEMBER_ORDER = ("last_name", "first_name", "employee_number", "pk")


@dataclass(frozen=True)
class UnitNode:
    unit: Unit
    depth: int
    path: str


def unit_tree(agency: Agency) -> list[UnitNode]:
    """Every unit of the agency, parents before children, with its depth (one query)."""
    units = list(Unit.objects.filter(agency=agency).order_by("name"))
    children: dict[int | None, list[Unit]] = {}
    for unit in units:
        children.setdefault(unit.parent_id, []).append(unit)
    out: list[UnitNode] = []
    seen: set[int] = set()

    def walk(parent: int | None, depth: int, trail: list[str]) -> None:
        for unit in children.get(parent, []):
            if unit.pk in seen:
                continue
            seen.add(unit.pk)
            path = [*trail, unit.name]
            out.append(UnitNode(unit=unit, depth=depth, path=" › ".join(path)))
            walk(unit.pk, depth + 1, path)

    walk(None, 0, [])
    return out


def agencies_for_operator() -> QuerySet[Agency]:
    """Every agency with how many active accounts it has (no names: the operator manages
    the deployment, not the agencies' people)."""
    from django.db.models import Count, Q

    return Agency.objects.annotate(
        accounts=Count("users", filter=Q(users__is_active=True))
    ).order_by("name")


def units(agency: Agency) -> QuerySet[Unit]:
    return Unit.objects.filter(agency=agency)


def unit_by_code(agency: Agency, code: str) -> Unit | None:
    return Unit.objects.filter(agency=agency, code=code).first() if code else None


def unit_or_none(agency: Agency, pk: int) -> Unit | None:
    return Unit.objects.filter(agency=agency, pk=pk).first()


def members(agency: Agency) -> QuerySet[Member]:
    """Every member of the agency with unit and supervisor (the API's list)."""
    return Member.objects.filter(agency=agency).select_related("unit", "supervisor")


def units_with_parent(agency: Agency) -> QuerySet[Unit]:
    return units(agency).select_related("parent")
