"""The register import's check and apply: dry run of a workbook, then the all-or-nothing import.

Usable without HTTP (a CLI can call it)::

    result = check_workbook(village, open("huji.xlsx", "rb"))   # reads only, writes nothing
    if result.ok:
        app.tabular.write_checked(lambda: check_workbook(village, data),   # re-check inside the write
                                  lambda r: apply_import(village, r),      # transaction; one commit
                                  refusals=(RegistryError, IdNumberInvalid),
                                  changed_meanwhile=MSG_CHANGED_MEANWHILE)

The format (columns, labels, messages) is import_format.py; opening the workbook within the
hostile-file limits, the cell cleaning and the problem list are app.tabular.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import warnings
from dataclasses import dataclass, field
from typing import IO, Any, Callable

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.cell.read_only import EMPTY_CELL

from ..audit.services import record
from ..db import local_today
from ..extensions import db
from ..forms import parse_date
from ..tabular import (
    HEADER_SEARCH_ROWS,
    MAX_COLUMNS,
    MAX_SCANNED_ROWS,
    MSG_DUPLICATE_COLUMN,
    MSG_MISSING_COLUMN,
    Bad,
    Formula,
    Problem,
    cell_value,
    clean_cell,
    number_text,
    open_workbook,
    sheet_rows,
    sort_problems,
)
from ..text import FULLWIDTH_DIGITS
from .identity import IdNumberInvalid, birth_date_from_id, id_hmac, normalize_id_number, sex_from_id
from .import_format import (
    COLUMNS,
    COL_ADDRESS,
    COL_BIRTH,
    COL_GROUP,
    COL_ID,
    COL_NAME,
    COL_NUMBER,
    COL_PHONE,
    COL_RELATION,
    COL_SEX,
    COL_TAGS,
    MAX_LEN,
    MAX_PEOPLE,
    MSG_BAD_DATE,
    MSG_BAD_NUMBER,
    MSG_BAD_PHONE,
    MSG_BAD_RELATION,
    MSG_BAD_SEX,
    MSG_CONFLICT,
    MSG_FUTURE_DATE,
    MSG_GROUP_INACTIVE,
    MSG_ID_AS_NUMBER,
    MSG_ID_DUPLICATE,
    MSG_ID_EXISTS,
    MSG_ID_MASKED,
    MSG_MISSING_NAME,
    MSG_MISSING_NUMBER,
    MSG_MISSING_RELATION,
    MSG_NO_GROUPS,
    MSG_NO_HEAD,
    MSG_NO_HEADER,
    MSG_NO_ROWS,
    MSG_NO_SHEET,
    MSG_NUMBER_AS_NUMBER,
    MSG_NUMBER_EXISTS,
    MSG_PHONE_AS_NUMBER,
    MSG_TOO_MANY_PEOPLE,
    MSG_TOO_MANY_ROWS,
    MSG_TWO_HEADS,
    MSG_UNKNOWN_GROUP,
    MSG_UNKNOWN_TAG,
    NUMBER_RE,
    PHONE_RE,
    RELATION_BY_LABEL,
    RELATION_LABELS,
    REQUIRED_COLUMNS,
    SEX_BY_LABEL,
    SHEET_NAME,
    TAG_BY_LABEL,
    TAG_SPLIT_RE,
)
from .models import HOUSEHOLD_TAGS, Household, Person, Relation, Village, VillagerGroup
from .services import NewHousehold, PersonData, bulk_create_households

@dataclass
class PersonPlan:
    row: int
    data: PersonData


@dataclass
class HouseholdPlan:
    number: str
    row: int
    group_id: int | None = None
    group_name: str | None = None
    address: str | None = None
    tags: list[str] = field(default_factory=list)
    head: PersonPlan | None = None
    members: list[PersonPlan] = field(default_factory=list)

    @property
    def people(self) -> list[PersonPlan]:
        return ([self.head] if self.head else []) + self.members


@dataclass
class ImportResult:
    """What a dry run found: the households to create, or the problems that stop the import."""

    households: list[HouseholdPlan]
    problems: list[Problem]
    sha256: str
    rows: int = 0
    #: what the confirmation needs to check again, kept while the file is clean (staging_copy): the header
    #: row's number, the recognised columns, and (row number, their raw values) of every non-empty row
    header_row: int = 0
    columns: list[str] = field(default_factory=list)
    kept: list[tuple[int, list[Any]]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.households)

    @property
    def people_count(self) -> int:
        return sum(len(h.people) for h in self.households)


@dataclass(frozen=True)
class ImportSummary:
    households: int
    people: int


# --- reading cells ---------------------------------------------------------------------------------

def _is_blank(cell: Any) -> bool:
    v = cell.value
    return v is None or (isinstance(v, str) and not v.strip())


def _plain(cell: Any) -> Any:
    """The cell's value as Python data; formula cells stay their literal text ("=1+2"), never evaluated."""
    v = cell_value(cell)
    if isinstance(v, Formula):
        return v.text
    if isinstance(v, Bad):
        raise v
    return v


def _text(cell: Any, column: str) -> str | None:
    """Clean single-line text (NFC, trimmed, no control/bidi/zero-width characters) or None when empty."""
    v = _plain(cell)
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        v = v.date().isoformat() if v.time() == dt.time() else v.isoformat(sep=" ")
    elif isinstance(v, (dt.date, dt.time, dt.timedelta)):
        v = str(v)
    elif isinstance(v, (int, float)):
        v = number_text(v)
    return clean_cell(str(v), MAX_LEN[column])


def _number(cell: Any) -> str | None:
    v = _plain(cell)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if isinstance(v, float) and not (v.is_integer() and 0 <= v < 1e15):
            raise Bad(_l(MSG_NUMBER_AS_NUMBER, value=number_text(v)))
        v = int(v)
        if v < 0:
            raise Bad(_l(MSG_BAD_NUMBER))
        return str(v)
    s = _text(cell, COL_NUMBER)
    if s is None:
        return None
    s = s.translate(FULLWIDTH_DIGITS)
    if not NUMBER_RE.fullmatch(s):
        raise Bad(_l(MSG_BAD_NUMBER))
    return s


def _date(cell: Any) -> dt.date | None:
    v = _plain(cell)
    if v is None:
        return None
    if isinstance(v, dt.datetime):
        d = v.date()
    elif isinstance(v, dt.date):
        d = v
    else:
        if isinstance(v, (int, float)):
            s = number_text(v)
        else:
            s = _text(cell, COL_BIRTH)
            if s is None:
                return None
        s8 = s.translate(FULLWIDTH_DIGITS)
        try:
            if re.fullmatch(r"[0-9]{8}", s8):
                d = dt.date(int(s8[:4]), int(s8[4:6]), int(s8[6:]))
                if d.year < 1880:
                    raise ValueError(s)
            else:
                d = parse_date(s)
        except ValueError:
            raise Bad(_l(MSG_BAD_DATE, value=s)) from None
    if d.year < 1880:
        raise Bad(_l(MSG_BAD_DATE, value=d.isoformat()))
    if d > local_today():
        raise Bad(_l(MSG_FUTURE_DATE, value=d.isoformat()))
    return d


def _id_number(cell: Any) -> str | None:
    v = _plain(cell)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        # docs/architecture.md, "Input and files": Excel keeps 15 significant digits, an 18-digit number is already damaged
        raise Bad(_l(MSG_ID_AS_NUMBER, value=f"{v:.15g}" if isinstance(v, float) else str(v)))
    s = _text(cell, COL_ID)
    if s is None:
        return None
    if "*" in s or "＊" in s:
        raise Bad(_l(MSG_ID_MASKED))
    try:
        return normalize_id_number(s)
    except IdNumberInvalid as e:
        raise Bad(e.args[0]) from None


def _phone(cell: Any) -> str | None:
    v = _plain(cell)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        s = number_text(v)
        # a mobile number survives being typed as a number; anything else may have lost a leading 0
        if re.fullmatch(r"1[0-9]{10}", s):
            return s
        raise Bad(_l(MSG_PHONE_AS_NUMBER, value=s))
    s = _text(cell, COL_PHONE)
    if s is None:
        return None
    s = s.translate(FULLWIDTH_DIGITS).strip()
    if not PHONE_RE.fullmatch(s):
        raise Bad(_l(MSG_BAD_PHONE))
    return s


def _lookup(cell: Any, column: str, table: dict[str, str], message: str, allowed: str) -> str | None:
    s = _text(cell, column)
    if s is None:
        return None
    code = table.get(s) or table.get(s.lower())
    if code is None:
        raise Bad(_l(message, value=s, allowed=allowed))
    return code


def _tags(cell: Any) -> list[str] | None:
    s = _text(cell, COL_TAGS)
    if s is None:
        return None
    codes: list[str] = []
    for part in TAG_SPLIT_RE.split(s):
        if not part:
            continue
        code = TAG_BY_LABEL.get(part)
        if code is None:
            raise Bad(_l(MSG_UNKNOWN_TAG, tag=part, allowed="、".join(HOUSEHOLD_TAGS.values())))
        if code not in codes:
            codes.append(code)
    return [c for c in HOUSEHOLD_TAGS if c in codes]


# --- reading the workbook --------------------------------------------------------------------------

def _header_name(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    return value.strip().strip("*＊").strip()


def _find_header(ws: Any) -> tuple[int, dict[str, int], list[Problem]] | None:
    """Find the header row near the top (a title row above it is common): row, column positions, problems."""
    for rowno, cells in enumerate(sheet_rows(ws, 1, HEADER_SEARCH_ROWS, MAX_COLUMNS), start=1):
        positions: dict[str, int] = {}
        problems: list[Problem] = []
        for idx, header_cell in enumerate(cells):
            name = _header_name(header_cell.value)
            if name in COLUMNS:
                if name in positions:
                    problems.append(Problem(rowno, name, _l(MSG_DUPLICATE_COLUMN, column=name)))
                positions.setdefault(name, idx)
        if len(positions) >= 2:
            return rowno, positions, problems
    return None


def _village_state(village: Village) -> tuple[dict[str, VillagerGroup], set[str], dict[str, tuple[str, str]]]:
    """Groups by name, household numbers in use, and registered ID hashes: one query each."""
    groups = {g.name: g for g in db.session.scalars(
        sa.select(VillagerGroup).where(VillagerGroup.village_id == village.id))}
    numbers = set(db.session.scalars(sa.select(Household.number).where(Household.village_id == village.id)))
    known = {digest: (name, number) for digest, name, number in db.session.execute(
        sa.select(Person.id_hmac, Person.name, Household.number)
        .join(Household, Person.household_id == Household.id)
        .where(Person.village_id == village.id, Person.id_hmac.is_not(None)))}
    return groups, numbers, known


def check_workbook(village: Village, fileobj: IO[bytes] | bytes) -> ImportResult:
    """Dry run: read and validate the whole file against the village's register; write nothing.

    :raises ImportFileError: the upload is not a readable .xlsx workbook.
    :returns: the households to create, or every problem found (row by row).
    """
    data = fileobj if isinstance(fileobj, bytes) else fileobj.read()
    with warnings.catch_warnings():
        # openpyxl warns about unsupported extensions and out-of-range dates; neither concerns the clerk
        warnings.simplefilter("ignore")
        wb = open_workbook(data)  # a refused file (a bomb) costs its limit checks only, not a hash too
        try:
            return _check(village, wb, hashlib.sha256(data).hexdigest())
        finally:
            wb.close()


def _read_row(cell: Callable[[str], Any], relation_allowed: str
              ) -> tuple[dict[str, Any], list[tuple[str, Any]]]:
    """Read one row's columns; return the values (None where empty or bad) and (column, message) problems."""
    readers: tuple[tuple[str, Callable[[Any], Any]], ...] = (
        (COL_NUMBER, _number),
        (COL_GROUP, lambda c: _text(c, COL_GROUP)),
        (COL_ADDRESS, lambda c: _text(c, COL_ADDRESS)),
        (COL_TAGS, _tags),
        (COL_NAME, lambda c: _text(c, COL_NAME)),
        (COL_RELATION,
         lambda c: _lookup(c, COL_RELATION, RELATION_BY_LABEL, MSG_BAD_RELATION, relation_allowed)),
        (COL_SEX, lambda c: _lookup(c, COL_SEX, SEX_BY_LABEL, MSG_BAD_SEX, "男、女")),
        (COL_BIRTH, _date),
        (COL_ID, _id_number),
        (COL_PHONE, _phone),
    )
    values: dict[str, Any] = {}
    bad: list[tuple[str, Any]] = []
    for name, reader in readers:
        try:
            values[name] = reader(cell(name))
        except Bad as e:
            values[name] = None
            bad.append((name, e.message))
    return values, bad


def _check(village: Village, wb: Any, digest: str) -> ImportResult:
    def fail(message: str) -> ImportResult:
        return ImportResult([], [Problem(None, None, _l(message))], digest)

    sheets = wb.worksheets
    if not sheets:
        return fail(MSG_NO_SHEET)
    # the 户籍导入 sheet first, then the others: the first one with a header row near the top is read
    found = None
    for ws in sorted(sheets, key=lambda s: s.title != SHEET_NAME):
        ws.reset_dimensions()  # do not trust the stored size: some programs write a wrong <dimension>
        found = _find_header(ws)
        if found is not None:
            break
    if found is None:
        return fail(MSG_NO_HEADER)
    header_row, positions, problems = found
    problems += [Problem(header_row, name, _l(MSG_MISSING_COLUMN, column=name))
                 for name in REQUIRED_COLUMNS if name not in positions]
    if problems:
        return ImportResult([], problems, digest)

    groups, numbers_in_use, known_ids = _village_state(village)
    households: dict[str, HouseholdPlan] = {}
    head_rows: dict[str, list[int]] = {}
    #: households where some relation could not be read, so "no head" would only add noise
    unsure_head: set[str] = set()
    seen_ids: dict[str, int] = {}
    #: (household number, column) → (row, value): the first non-empty household-level value
    first_value: dict[tuple[str, str], tuple[int, Any]] = {}
    width = max(positions.values()) + 1
    relation_allowed = "、".join(RELATION_LABELS.values())
    rows_read = 0
    columns = [name for name in COLUMNS if name in positions]
    kept: list[tuple[int, list[Any]]] = []

    for rowno, cells in enumerate(sheet_rows(ws, header_row + 1, None, width), start=header_row + 1):
        if rowno > MAX_SCANNED_ROWS:
            problems.append(Problem(None, None, _l(MSG_TOO_MANY_ROWS, max=MAX_SCANNED_ROWS)))
            break

        def cell(name: str) -> Any:
            i = positions.get(name)
            return cells[i] if i is not None and i < len(cells) else EMPTY_CELL  # noqa: B023  (used in this turn only)

        if all(_is_blank(cell(name)) for name in positions):
            continue  # empty rows are skipped
        rows_read += 1
        if rows_read > MAX_PEOPLE:
            problems.append(Problem(None, None, _l(MSG_TOO_MANY_PEOPLE, max=MAX_PEOPLE)))
            break

        if not problems:  # a file with problems is not staged: keep nothing of it
            kept.append((rowno, [cell(name).value for name in columns]))
        values, bad = _read_row(cell, relation_allowed)
        problems += [Problem(rowno, name, message) for name, message in bad]
        bad_columns = {name for name, _ in bad}
        for name, message in ((COL_NUMBER, MSG_MISSING_NUMBER), (COL_NAME, MSG_MISSING_NAME),
                              (COL_RELATION, MSG_MISSING_RELATION)):
            if values[name] is None and name not in bad_columns:
                problems.append(Problem(rowno, name, _l(message)))
                bad_columns.add(name)
        number, relation = values[COL_NUMBER], values[COL_RELATION]
        if number is None:
            continue

        hh = households.get(number)
        if hh is None:
            hh = households[number] = HouseholdPlan(number=number, row=rowno)
            if number in numbers_in_use:
                problems.append(Problem(rowno, COL_NUMBER, _l(MSG_NUMBER_EXISTS, number=number)))
        if relation is None:
            unsure_head.add(number)
        elif relation == Relation.HEAD.value:
            head_rows.setdefault(number, []).append(rowno)

        # household-level columns: the first non-empty value counts, later rows must agree
        for name in (COL_GROUP, COL_ADDRESS, COL_TAGS):
            value = values[name]
            if not value:
                continue
            first = first_value.get((number, name))
            if first is not None:
                if first[1] != value:
                    shown = "、".join(HOUSEHOLD_TAGS[t] for t in first[1]) if name == COL_TAGS else first[1]
                    problems.append(Problem(rowno, name, _l(MSG_CONFLICT, number=number, row=first[0],
                                                            value=shown)))
                continue
            first_value[(number, name)] = (rowno, value)
            if name == COL_ADDRESS:
                hh.address = value
            elif name == COL_TAGS:
                hh.tags = value
            else:
                group = groups.get(value)
                if group is None:
                    in_use = sorted(n for n, gr in groups.items() if gr.active)
                    problems.append(Problem(rowno, name, _l(MSG_UNKNOWN_GROUP, name=value,
                                                            groups="、".join(in_use))
                                            if in_use else _l(MSG_NO_GROUPS)))
                elif not group.active:
                    problems.append(Problem(rowno, name, _l(MSG_GROUP_INACTIVE, name=value)))
                else:
                    hh.group_id, hh.group_name = group.id, group.name

        id_number = values[COL_ID]
        if id_number is not None:
            if id_number in seen_ids:
                problems.append(Problem(rowno, COL_ID, _l(MSG_ID_DUPLICATE, row=seen_ids[id_number])))
                bad_columns.add(COL_ID)
            else:
                seen_ids[id_number] = rowno
                clash = known_ids.get(id_hmac(id_number))
                if clash is not None:
                    problems.append(Problem(rowno, COL_ID, _l(MSG_ID_EXISTS, name=clash[0], number=clash[1])))
                    bad_columns.add(COL_ID)

        if bad_columns:
            continue  # the file will not be imported; keep reading only to report every problem
        birth, sex = values[COL_BIRTH], values[COL_SEX]
        if id_number is not None:
            birth = birth or birth_date_from_id(id_number)
            sex = sex or sex_from_id(id_number)
        plan = PersonPlan(rowno, PersonData(name=values[COL_NAME], relation=relation, sex=sex,
                                            birth_date=birth, phone=values[COL_PHONE], id_number=id_number))
        if relation == Relation.HEAD.value:
            hh.head = hh.head or plan
        else:
            hh.members.append(plan)

    for number, hh in households.items():
        rows = head_rows.get(number, [])
        if len(rows) > 1:
            listed = "、".join(str(r) for r in rows)
            problems += [Problem(r, COL_RELATION, _l(MSG_TWO_HEADS, number=number, rows=listed))
                         for r in rows[1:]]
        elif not rows and number not in unsure_head:
            problems.append(Problem(hh.row, COL_RELATION, _l(MSG_NO_HEAD, number=number)))

    if not households and not problems:
        problems.append(Problem(None, None, _l(MSG_NO_ROWS)))
    sort_problems(problems, COLUMNS)
    return ImportResult(list(households.values()), problems, digest, rows_read, header_row, columns,
                        kept if not problems else [])


def staging_copy(result: ImportResult) -> bytes:
    """A workbook of only what the confirmation checks again: the recognised columns of the non-empty rows,
    each on its row number (so a problem found at confirmation names the row of the person's file).

    Staged instead of the upload, which may hold other sheets and columns (notes, bank accounts) that
    nobody imports, and whose ID numbers would otherwise wait on disk with them (docs/architecture.md).
    """
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET_NAME)
    row = 1
    for rowno, values in [(result.header_row, list(result.columns)), *result.kept]:
        while row < rowno:
            ws.append([])
            row += 1
        ws.append(values)
        row += 1
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def apply_import(village: Village, result: ImportResult) -> ImportSummary:
    """Create every household and person of a clean dry run in one bulk register call.

    bulk_create_households writes what create_household and add_person would, row for row, in a few
    statements per table instead of ~27 per household (2,000 households: about a minute before).
    Flushes and never commits: the caller runs the dry run it passes in inside the same write
    transaction and commits once (app.tabular.write_checked), so the import is all rows or none.
    """
    if not result.ok:
        raise ValueError("apply_import needs a dry run without problems")
    groups = {g.id: g for g in db.session.scalars(
        sa.select(VillagerGroup).where(VillagerGroup.village_id == village.id))}
    new = []
    for plan in result.households:
        assert plan.head is not None  # noqa: S101  (narrows the type: every planned household has a head)
        new.append(NewHousehold(number=plan.number, head=plan.head.data,
                                members=[m.data for m in plan.members],
                                group=groups.get(plan.group_id) if plan.group_id else None,
                                address=plan.address, tags=plan.tags))
    households, people = bulk_create_households(village, new)
    summary = ImportSummary(households=households, people=people)
    record("registry.import", village, village_id=village.id,
           details={"households": summary.households, "people": summary.people, "rows": result.rows,
                    "sha256": result.sha256})
    return summary

