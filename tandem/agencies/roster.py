"""Reading an HR roster CSV and planning what importing it would change.

``roster_plan(agency, data)`` is the dry run: it parses the bytes, checks every row against
the file and the agency's roster, and returns what would be added, changed and deactivated
(active members missing from the file) — or the list of errors, each starting with the row
number as a spreadsheet shows it (the header is row 1). Nothing here writes; the import
itself (``services.roster_import_commit``) runs the same plan again inside its transaction.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from tandem.agencies.models import Agency, Member, MemberCategory, Unit

#: A member as HR names them, and their unit: the roster file's first columns and the API's.
MEMBER_FIELDS: tuple[str, ...] = (
    "employee_number",
    "first_name",
    "last_name",
    "rank_title",
    "category",
    "unit_code",
)
COLUMNS: tuple[str, ...] = (*MEMBER_FIELDS, "supervisor_employee_number", "phone", "email")
REQUIRED_COLUMNS: tuple[str, ...] = ("employee_number", "first_name", "last_name", "category")
COLUMN_HELP: dict[str, str] = {
    "employee_number": "Required. Unique per person; matches people already on the roster.",
    "first_name": "Required.",
    "last_name": "Required.",
    "rank_title": "Optional. Rank or job title.",
    "category": "Required. One of: sworn, civilian, volunteer.",
    "unit_code": "Optional. The code of a unit that already exists (see Units).",
    "supervisor_employee_number": "Optional. Must be in the file or on the roster.",
    "phone": "Optional.",
    "email": "Optional. A valid e-mail address.",
}
MAX_BYTES = 2 * 1024 * 1024
MAX_ROWS = 50_000
MAX_ERRORS = 200
LIMITS = {
    "employee_number": 32,
    "first_name": 100,
    "last_name": 100,
    "rank_title": 100,
    "phone": 32,
    "email": 254,
}
#: Fields compared between the file and the roster, as shown in the diff.
COMPARED = (
    "first_name",
    "last_name",
    "rank_title",
    "category",
    "unit",
    "supervisor",
    "phone",
    "email",
    "active",
)


class RosterError(ValueError):
    """The file cannot be imported; ``errors`` are human-readable and row-numbered."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass
class RosterRow:
    row: int
    employee_number: str
    first_name: str
    last_name: str
    rank_title: str
    category: str
    unit_code: str
    supervisor_employee_number: str
    phone: str
    email: str


@dataclass
class Change:
    row: RosterRow
    member: Member
    fields: list[tuple[str, str, str]]  # (field, before, after)


@dataclass
class RosterPlan:
    digest: str
    rows: list[RosterRow]
    added: list[RosterRow] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)
    deactivated: list[Member] = field(default_factory=list)
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed or self.deactivated)


def roster_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise RosterError(
            [
                f"The file is {len(data) / 1_048_576:.1f} MB; the limit is "
                f"{MAX_BYTES // 1_048_576} MB. Split it or remove unused columns."
            ]
        )
    if not data.strip():
        raise RosterError(["The file is empty."])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RosterError(
            [
                f"The file is not UTF-8 text (byte {exc.start + 1} cannot be read). Save it from "
                "your spreadsheet as “CSV UTF-8” and try again."
            ]
        ) from None
    if "\x00" in text:
        raise RosterError(["The file is not a CSV text file (it contains binary data)."])
    return text


def _header(raw: list[str]) -> list[str]:
    names = [h.strip().lower().replace(" ", "_") for h in raw]
    errors = []
    unknown = [h for h in names if h and h not in COLUMNS]
    if unknown:
        errors.append(
            f"Row 1: unknown column(s) {', '.join(repr(u) for u in unknown)}; "
            f"the columns are {', '.join(COLUMNS)}."
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        errors.append(f"Row 1: missing required column(s) {', '.join(missing)}.")
    repeated = sorted({h for h in names if h and names.count(h) > 1})
    if repeated:
        errors.append(f"Row 1: column(s) {', '.join(repeated)} appear more than once.")
    if errors:
        raise RosterError(errors)
    return names


def _row_errors(number: int, values: dict[str, str]) -> list[str]:
    errors = []
    for name in REQUIRED_COLUMNS:
        if not values[name]:
            errors.append(f"Row {number}: {name} is empty.")
    for name, limit in LIMITS.items():
        if len(values[name]) > limit:
            errors.append(f"Row {number}: {name} is longer than {limit} characters.")
    category = values["category"]
    if category and category not in MemberCategory.values:
        errors.append(
            f"Row {number}: category '{category}' is not one of {', '.join(MemberCategory.values)}."
        )
    if values["email"] and len(values["email"]) <= LIMITS["email"]:
        try:
            validate_email(values["email"])
        except ValidationError:
            errors.append(f"Row {number}: email '{values['email']}' is not a valid e-mail address.")
    if values["supervisor_employee_number"] and (
        values["supervisor_employee_number"] == values["employee_number"]
    ):
        errors.append(f"Row {number}: an employee cannot be their own supervisor.")
    return errors


def roster_parse(data: bytes) -> list[RosterRow]:
    """Rows of a roster file, or ``RosterError`` with every problem found (row-numbered)."""
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[RosterRow] = []
    errors: list[str] = []
    seen: dict[str, int] = {}
    try:
        names = _header(next(reader))
        for raw in reader:
            number = reader.line_num
            if not any(cell.strip() for cell in raw):
                continue
            if len(rows) >= MAX_ROWS:
                raise RosterError([f"The file has more than {MAX_ROWS:,} rows; split it."])
            if len(raw) != len(names):
                errors.append(
                    f"Row {number}: has {len(raw)} values but the header has {len(names)}."
                )
                continue
            values = dict.fromkeys(COLUMNS, "")
            values.update({n: v.strip() for n, v in zip(names, raw, strict=True) if n})
            values["category"] = values["category"].lower()
            errors.extend(_row_errors(number, values))
            number_ = values["employee_number"]
            if number_ in seen:
                errors.append(
                    f"Row {number}: employee number '{number_}' already appears in row "
                    f"{seen[number_]}."
                )
            elif number_:
                seen[number_] = number
            rows.append(RosterRow(row=number, **values))
            if len(errors) >= MAX_ERRORS:
                break
    except StopIteration:
        raise RosterError(["The file is empty."]) from None
    except csv.Error as exc:
        raise RosterError([f"Row {reader.line_num}: not valid CSV ({exc})."]) from None
    if errors:
        raise RosterError(errors[:MAX_ERRORS])
    if not rows:
        raise RosterError(["The file has a header but no rows."])
    return rows


def _cycle_errors(rows: list[RosterRow], roster: dict[str, Member]) -> list[str]:
    """Supervisor loops in the roster as it would be after the import."""
    boss: dict[str, str] = {
        number: m.supervisor.employee_number
        for number, m in roster.items()
        if m.supervisor is not None
    }
    in_file = {r.employee_number: r for r in rows}
    for number in in_file:
        boss.pop(number, None)
    boss.update(
        {
            r.employee_number: r.supervisor_employee_number
            for r in rows
            if r.supervisor_employee_number
        }
    )
    errors: list[str] = []
    reported: set[str] = set()
    for row in rows:
        path = [row.employee_number]
        node = boss.get(row.employee_number)
        while node is not None and node not in path and len(path) <= len(boss) + 1:
            path.append(node)
            node = boss.get(node)
        if node is not None and node in path:
            loop = path[path.index(node) :]
            if not reported.intersection(loop):
                reported.update(loop)
                first = min((in_file[n].row for n in loop if n in in_file), default=row.row)
                errors.append(f"Row {first}: supervisor chain loops: {' → '.join([*loop, node])}.")
    return errors


def _reference_errors(
    rows: list[RosterRow], roster: dict[str, Member], units: dict[str, Unit]
) -> tuple[list[str], list[str]]:
    errors: list[str] = []
    warnings: list[str] = []
    in_file = {r.employee_number for r in rows}
    for row in rows:
        if row.unit_code and row.unit_code.lower() not in units:
            errors.append(
                f"Row {row.row}: unit code '{row.unit_code}' is not a unit of this agency."
            )
        sup = row.supervisor_employee_number
        if sup and sup not in in_file:
            if sup not in roster:
                errors.append(
                    f"Row {row.row}: supervisor '{sup}' is not in the file or on the roster."
                )
            else:
                warnings.append(
                    f"Row {row.row}: supervisor '{sup}' is not in the file and will be "
                    "inactive after the import."
                )
    return errors, warnings


def _display(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def _differences(
    row: RosterRow, member: Member, units: dict[str, Unit]
) -> list[tuple[str, str, str]]:
    unit = units.get(row.unit_code.lower()) if row.unit_code else None
    now = {
        "first_name": row.first_name,
        "last_name": row.last_name,
        "rank_title": row.rank_title,
        "category": row.category,
        "unit": unit.code if unit else "",
        "supervisor": row.supervisor_employee_number,
        "phone": row.phone,
        "email": row.email,
        "active": True,
    }
    before = {
        "first_name": member.first_name,
        "last_name": member.last_name,
        "rank_title": member.rank_title,
        "category": member.category,
        "unit": member.unit.code if member.unit else "",
        "supervisor": member.supervisor.employee_number if member.supervisor else "",
        "phone": member.phone,
        "email": member.email,
        "active": member.active,
    }
    return [(f, _display(before[f]), _display(now[f])) for f in COMPARED if before[f] != now[f]]


def roster_plan(agency: Agency, data: bytes) -> RosterPlan:
    """The dry run: what importing ``data`` into ``agency`` would change."""
    rows = roster_parse(data)
    roster = {
        m.employee_number: m
        for m in Member.objects.filter(agency=agency).select_related("unit", "supervisor")
    }
    units = {u.code.lower(): u for u in Unit.objects.filter(agency=agency)}
    errors, warnings = _reference_errors(rows, roster, units)
    errors.extend(_cycle_errors(rows, roster))
    if errors:
        errors.sort(key=lambda e: int(e.split(":")[0].split()[1]) if e.startswith("Row ") else 0)
        raise RosterError(errors[:MAX_ERRORS])
    plan = RosterPlan(digest=roster_digest(data), rows=rows, warnings=warnings)
    for row in rows:
        member = roster.get(row.employee_number)
        if member is None:
            plan.added.append(row)
            continue
        diff = _differences(row, member, units)
        if diff:
            plan.changed.append(Change(row=row, member=member, fields=diff))
        else:
            plan.unchanged += 1
    in_file = {r.employee_number for r in rows}
    plan.deactivated = sorted(
        (m for n, m in roster.items() if m.active and n not in in_file),
        key=lambda m: (m.last_name, m.first_name, m.employee_number),
    )
    return plan
