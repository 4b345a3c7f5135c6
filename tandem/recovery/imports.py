"""Spreadsheet import of existing client lists and contact logs (X-11, issue 13).

Reading (``read_sheet``) turns the uploaded bytes into a header and rows of text, or a
:class:`SheetError` whose messages name the row (as the spreadsheet numbers it: the header
is row 1). ``plan`` is the dry run: with the column mapping and the vocabulary mapping the
user chose, every row is checked and — for client lists — matched against the registry and
against the earlier rows of the same file with the agency's linkage model. Nothing here
writes; ``services.import_commit`` runs the same plan again inside one transaction.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone
from rapidfuzz import process

from tandem.recovery import vocab

if TYPE_CHECKING:
    from tandem.agencies.models import Agency

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
MAX_MESSAGES = 200

#: Target fields per kind of file: (name, label, required).
CLIENT_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("first_name", "First name", True),
    ("last_name", "Last name", True),
    ("aliases", "Also known as", False),
    ("date_of_birth", "Date of birth", False),
    ("phone", "Phone", False),
    ("address", "Address", False),
    ("gender", "Gender", False),
    ("race", "Race", False),
    ("ethnicity", "Ethnicity", False),
    ("substances", "Substances", False),
    ("status", "Status", False),
)
CONTACT_FIELDS: tuple[tuple[str, str, bool], ...] = (
    ("first_name", "Client first name", True),
    ("last_name", "Client last name", True),
    ("date_of_birth", "Client date of birth", False),
    ("occurred_at", "Date of the contact", True),
    ("kind", "Kind of contact", True),
    ("outcome", "Outcome", True),
    ("location_type", "Location", False),
    ("duration_minutes", "Minutes", False),
)
FIELDS = {"clients": CLIENT_FIELDS, "contacts": CONTACT_FIELDS}
#: Closed vocabularies: the file's own words are mapped onto these.
VOCABULARIES: dict[str, Any] = {
    "gender": vocab.Gender,
    "race": vocab.Race,
    "ethnicity": vocab.Ethnicity,
    "substances": vocab.Substance,
    "status": vocab.ClientStatus,
    "kind": vocab.ContactKind,
    "outcome": vocab.ContactOutcome,
    "location_type": vocab.LocationType,
}
#: Header words that suggest a field (compared after normalising).
SYNONYMS = {
    "first_name": ("first name", "first", "given name", "forename", "fname"),
    "last_name": ("last name", "last", "surname", "family name", "lname"),
    "aliases": ("aliases", "alias", "aka", "also known as", "nickname"),
    "date_of_birth": ("date of birth", "dob", "birth date", "birthdate", "born"),
    "phone": ("phone", "telephone", "phone number", "mobile", "cell"),
    "address": ("address", "street address", "home address"),
    "gender": ("gender", "sex"),
    "race": ("race",),
    "ethnicity": ("ethnicity", "hispanic"),
    "substances": ("substances", "substance", "drugs", "drug of choice", "primary substance"),
    "status": ("status", "client status"),
    "occurred_at": ("date", "contact date", "date of contact", "when", "occurred"),
    "kind": ("kind", "type", "contact type"),
    "outcome": ("outcome", "result"),
    "location_type": ("location", "place", "location type"),
    "duration_minutes": ("minutes", "duration", "length"),
}
DATE_FORMATS = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%d.%m.%Y", "%Y/%m/%d", "%b %d %Y")


class SheetError(ValueError):
    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("; ".join(messages))


def _norm(text: str) -> str:
    return " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split())


def _decode(data: bytes) -> str:
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        # Excel's "Unicode text": UTF-16 with its byte-order mark.
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise SheetError(
                ["The file says it is UTF-16 text but is not; save it again as CSV UTF-8."]
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SheetError(
            [
                f"Row {line}: the file is not UTF-8 text (a byte at position {exc.start} is not"
                ' valid). Save it from your spreadsheet as "CSV UTF-8" and upload it again.'
            ]
        ) from None


def _read_csv(data: bytes) -> list[list[str]]:
    text = _decode(data)
    if "\x00" in text:
        raise SheetError(["This is not a CSV file: it holds binary data."])
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    try:
        return [row for row in csv.reader(io.StringIO(text, newline=""), dialect) if row]
    except csv.Error as exc:
        raise SheetError([f"The CSV file cannot be read: {exc}."]) from None


def _cell(value: Any) -> str:
    from openpyxl.worksheet.formula import ArrayFormula, DataTableFormula

    if value is None:
        return ""
    if isinstance(value, ArrayFormula):  # an array formula: its text, caught as a formula
        text = str(value.text or "")
        return text if text.startswith("=") else f"={text}"
    if isinstance(value, DataTableFormula):
        return "=TABLE()"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise SheetError(["This XLSX file cannot be opened; save it again from Excel."]) from None
    sheet = book.worksheets[0]
    rows: list[list[str]] = []
    for values in sheet.iter_rows(values_only=True):
        if len(rows) > MAX_ROWS + 1:
            break
        row = [_cell(v) for v in values]
        while row and row[-1] == "":
            row.pop()
        if row:
            rows.append(row)
    book.close()
    return rows


def read_sheet(name: str, data: bytes) -> tuple[list[str], list[list[str]]]:
    """The header and the rows of an uploaded CSV or XLSX file, as text."""
    lower = name.lower()
    if len(data) > MAX_BYTES:
        raise SheetError([f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB."])
    if lower.endswith(".xlsx") and data[:2] == b"PK":
        rows = _read_xlsx(data)
    elif lower.endswith(".csv") and data[:2] != b"PK":
        rows = _read_csv(data)
    else:
        raise SheetError(["Upload a CSV (.csv) or Excel (.xlsx) file; this file is neither."])
    if not rows:
        raise SheetError(["The file is empty."])
    header = [h.strip() for h in rows[0]]
    # Spreadsheets often save empty columns after the last one: drop them while empty.
    while (
        header
        and not header[-1]
        and not any(len(row) >= len(header) and row[len(header) - 1].strip() for row in rows[1:])
    ):
        header.pop()
    problems = []
    seen: dict[str, int] = {}
    for index, title in enumerate(header, start=1):
        if not title:
            problems.append(f"Row 1: column {index} has no heading.")
        elif _norm(title) in seen:
            problems.append(
                f'Row 1: the heading "{title}" appears twice (columns {seen[_norm(title)]} and'
                f" {index}); rename one."
            )
        else:
            seen[_norm(title)] = index
    if len(rows) - 1 > MAX_ROWS:
        problems.append(f"The file has more than {MAX_ROWS:,} rows; split it.")
        raise SheetError(problems)
    extra = [
        number
        for number, row in enumerate(rows[1:], start=2)
        if any(cell.strip() for cell in row[len(header) :])
    ]
    for number in extra[:MAX_MESSAGES]:
        problems.append(
            f"Row {number}: more values than headings ({len(header)}); a comma inside a value"
            " (an address?) must be in quotes, or the column needs a heading."
        )
    if len(extra) > MAX_MESSAGES:
        problems.append(f"… and {len(extra) - MAX_MESSAGES} more rows like that.")
    if problems:
        raise SheetError(problems)
    body = [row[: len(header)] + [""] * (len(header) - len(row)) for row in rows[1:]]
    return header, body


def suggest_mapping(kind: str, header: list[str]) -> dict[str, str]:
    """field -> the file's column whose heading suggests it (or nothing)."""
    mapping = {}
    normalised = {_norm(h): h for h in header}
    for name, _, _ in FIELDS[kind]:
        for word in SYNONYMS.get(name, ()):
            if word in normalised:
                mapping[name] = normalised[word]
                break
    return mapping


def _choices(name: str) -> list[tuple[str, str]]:
    return list(VOCABULARIES[name].choices)


def suggest_value(name: str, raw: str) -> str:
    """The closest value of the closed list for the file's word (label or code), or ""."""
    word = _norm(raw)
    if not word:
        return ""
    options = {_norm(label): value for value, label in _choices(name)}
    options.update({_norm(value): value for value, _ in _choices(name)})
    found = process.extractOne(word, list(options), score_cutoff=60)
    return options[found[0]] if found else ""


# --- The dry run ------------------------------------------------------------------------------


@dataclass
class PlannedRow:
    number: int  # as the spreadsheet numbers it (the header is row 1)
    data: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    outcome: str = "new"  # new | matched | uncertain | invalid
    client_id: int | None = None  # the registry client it matches (or may match)
    same_as_row: int | None = None  # an earlier row of the file it matches
    probability: float = 0.0
    explanation: list[dict[str, Any]] = field(default_factory=list)

    @property
    def reasons(self) -> list[str]:
        return [f"{f['label']}: {f['level']}" for f in self.explanation if f["weight"] > 0]


@dataclass
class Plan:
    kind: str
    rows: list[PlannedRow]

    def count(self, outcome: str) -> int:
        return sum(1 for r in self.rows if r.outcome == outcome)

    @property
    def counts(self) -> dict[str, int]:
        return {o: self.count(o) for o in ("new", "matched", "uncertain", "invalid")}

    @property
    def messages(self) -> list[str]:
        found = [m for r in self.rows for m in r.errors]
        if len(found) > MAX_MESSAGES:
            return [*found[:MAX_MESSAGES], f"… and {len(found) - MAX_MESSAGES} more."]
        return found


def vocabulary_values(
    kind: str, header: list[str], rows: list[list[str]], mapping: dict[str, str]
) -> dict[str, list[str]]:
    """The distinct words the file uses in each mapped closed-vocabulary column."""
    found: dict[str, list[str]] = {}
    for name, _, _ in FIELDS[kind]:
        column = mapping.get(name)
        if name not in VOCABULARIES or column not in header:
            continue
        index = header.index(column)
        words: dict[str, None] = {}
        for row in rows:
            for word in _split(name, row[index]):
                words.setdefault(word, None)
                if len(words) >= 50:
                    break
        found[name] = list(words)
    return found


def _split(name: str, raw: str) -> Iterable[str]:
    raw = raw.strip()
    if not raw:
        return []
    if name == "substances":
        return [w.strip() for w in raw.replace(";", ",").replace("/", ",").split(",") if w.strip()]
    return [raw]


def parse_date(raw: str) -> date | None:
    raw = raw.strip()
    for fmt in DATE_FORMATS:
        try:
            return datetime.strptime(raw, fmt).date()  # noqa: DTZ007 - a calendar date only
        except ValueError:
            continue
    with_time = raw.replace("T", " ")[:19]
    try:
        return datetime.fromisoformat(with_time).date()
    except ValueError:
        return None


LIMITS = {"first_name": 80, "last_name": 80, "aliases": 300, "phone": 32, "address": 300}


def _clean(
    kind: str,
    number: int,
    header: list[str],
    row: list[str],
    mapping: dict[str, str],
    values: dict[str, dict[str, str]],
) -> PlannedRow:
    planned = PlannedRow(number=number)
    today = timezone.localdate()  # the agency's day: the file's dates are its calendar dates
    for name, label, required in FIELDS[kind]:
        column = mapping.get(name)
        raw = row[header.index(column)].strip() if column in header else ""
        if raw.startswith("="):
            planned.errors.append(
                f'Row {number}, column "{column}": a formula ({raw[:30]}) is not imported;'
                " put the value itself in the cell."
            )
            continue
        if not raw:
            if required:
                planned.errors.append(f"Row {number}: {label.lower()} is missing.")
            continue
        if name in LIMITS and len(raw) > LIMITS[name]:
            planned.errors.append(
                f"Row {number}: {label.lower()} is longer than {LIMITS[name]} characters."
            )
        elif name in ("date_of_birth", "occurred_at"):
            parsed = parse_date(raw)
            if parsed is None:
                planned.errors.append(
                    f'Row {number}: {label.lower()} "{raw[:30]}" is not a date'
                    " (write it as YYYY-MM-DD, or MM/DD/YYYY)."
                )
            elif parsed > today:
                planned.errors.append(f"Row {number}: {label.lower()} is in the future.")
            else:
                planned.data[name] = parsed
        elif name == "duration_minutes":
            if not raw.isdigit() or int(raw) > 24 * 60:
                planned.errors.append(f'Row {number}: minutes "{raw[:10]}" is not a number.')
            else:
                planned.data[name] = int(raw)
        elif name in VOCABULARIES:
            codes = []
            for word in _split(name, raw):
                code = values.get(name, {}).get(word, suggest_value(name, word))
                if code not in VOCABULARIES[name].values:
                    planned.errors.append(
                        f'Row {number}: {label.lower()} "{word[:30]}" is not mapped to the list.'
                    )
                else:
                    codes.append(code)
            planned.data[name] = codes if name == "substances" else (codes or [""])[0]
        else:
            planned.data[name] = raw
    if planned.errors:
        planned.outcome = "invalid"
    return planned


def _record(planned: PlannedRow, uid: int) -> dict[str, Any]:
    from tandem.recovery import linkage

    data = planned.data
    return linkage.record_of(
        uid=uid,
        first_name=data.get("first_name", ""),
        last_name=data.get("last_name", ""),
        aliases=data.get("aliases", ""),
        date_of_birth=data.get("date_of_birth"),
        phone=data.get("phone", ""),
        address=data.get("address", ""),
        substances=data.get("substances") or [],
    )


def plan(
    *,
    agency: Agency,
    kind: str,
    header: list[str],
    rows: list[list[str]],
    mapping: dict[str, str],
    values: dict[str, dict[str, str]],
) -> Plan:
    """Check every row and match the valid ones (see the module's docstring)."""
    from tandem.recovery import linkage
    from tandem.recovery.services import client_record, match_model, registry

    planned = [
        _clean(kind, number, header, row, mapping, values)
        for number, row in enumerate(rows, start=2)
    ]
    valid = [p for p in planned if p.outcome != "invalid"]
    policy = agency.policy_model().recovery
    model = match_model(agency)
    existing = [client_record(c) for c in registry(agency).select_related("data_key")]
    by_uid = {-p.number: p for p in valid}
    records = [_record(p, -p.number) for p in valid]
    for pair in linkage.score(records, existing, model, threshold=policy.review_threshold):
        row = by_uid[pair.left]
        if pair.probability > row.probability:
            row.client_id, row.same_as_row = pair.right, None
            row.probability, row.explanation = pair.probability, pair.explanation()
    if kind == "clients":
        for pair in linkage.predict(records, model, threshold=policy.review_threshold):
            later, earlier = by_uid[pair.left], by_uid[pair.right]  # ids are -row numbers
            if pair.probability > later.probability:
                later.client_id, later.same_as_row = None, earlier.number
                later.probability, later.explanation = pair.probability, pair.explanation()
    for row in valid:
        if row.probability >= policy.match_threshold:
            row.outcome = "matched"
        elif row.probability >= policy.review_threshold:
            row.outcome = "uncertain"
    if kind == "contacts":
        registered = dict(
            registry(agency)
            .filter(pk__in=[r.client_id for r in valid if r.client_id])
            .values_list("pk", "created_at")
        )
        for row in valid:
            since = registered.get(row.client_id or 0)
            # The agency's calendar day the client was registered (as the contact form
            # checks it), not the UTC date, which is already tomorrow in the evening.
            registered_on = timezone.localdate(since) if since else None
            if (
                row.outcome == "matched"
                and registered_on
                and row.data["occurred_at"] < registered_on
            ):
                row.outcome = "invalid"
                row.errors.append(
                    f"Row {row.number}: the contact is dated before the client was registered"
                    f" ({registered_on.isoformat()})."
                )
            elif row.outcome != "matched":
                row.outcome = "invalid"
                row.errors.append(
                    f"Row {row.number}: no client in the registry surely matches"
                    f" {row.data.get('first_name', '')} {row.data.get('last_name', '')};"
                    " import or add the client first."
                )
    return Plan(kind=kind, rows=planned)
