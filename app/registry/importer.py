"""Excel import and export of the register: template, dry run, all-or-nothing import, masked export.

Usable without HTTP (a CLI can call it)::

    result = check_workbook(village, open("huji.xlsx", "rb"))   # reads only, writes nothing
    if result.ok:
        begin_write()
        result = check_workbook(village, ...)                      # re-check inside the write transaction
        apply_import(village, result)                              # flushes; the caller commits once
        db.session.commit()

Column headers, relation/sex/tag labels and the 说明 sheet are Chinese *data* (the file format clerks
exchange), not interface text; every problem message is a gettext msgid (docs/ecosystem.md trap 3 for
numeric ID cells, docs/reliability.md §3.4 for text and T14 for formula injection on export).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import re
import secrets
import time
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterator

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.cell.read_only import EMPTY_CELL
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ..audit.services import record
from ..db import local_today
from ..extensions import db
from ..forms import parse_date
from ..text import FULLWIDTH_DIGITS, TextRejected, clean_text
from .identity import IdNumberInvalid, birth_date_from_id, id_hmac, normalize_id_number, sex_from_id
from .models import HOUSEHOLD_TAGS, Household, Person, Relation, Village, VillagerGroup
from .services import NewHousehold, PersonData, bulk_create_households

# --- the file format (Chinese data, not UI text) ---------------------------------------------------

SHEET_NAME = "户籍导入"
HELP_SHEET_NAME = "说明"

COL_NUMBER = "户号"
COL_GROUP = "村民小组"
COL_ADDRESS = "地址"
COL_TAGS = "户标签"
COL_NAME = "姓名"
COL_RELATION = "与户主关系"
COL_SEX = "性别"
COL_BIRTH = "出生日期"
COL_ID = "身份证号"
COL_PHONE = "联系电话"
COL_STATUS = "状态"
COL_HOUSEHOLD_STATUS = "户状态"

COLUMNS = (COL_NUMBER, COL_GROUP, COL_ADDRESS, COL_TAGS, COL_NAME, COL_RELATION, COL_SEX, COL_BIRTH,
           COL_ID, COL_PHONE)
REQUIRED_COLUMNS = (COL_NUMBER, COL_NAME, COL_RELATION)
EXPORT_COLUMNS = COLUMNS + (COL_STATUS, COL_HOUSEHOLD_STATUS)
#: columns the template formats as text, so Excel keeps leading zeros and all 18 ID characters
TEXT_COLUMNS = (COL_NUMBER, COL_ID, COL_PHONE)
TEMPLATE_ROWS = 2000

#: relation code → the label used in the file (the order of models.Relation)
RELATION_LABELS = {
    Relation.HEAD.value: "户主", Relation.SPOUSE.value: "配偶", Relation.CHILD.value: "子女",
    Relation.PARENT.value: "父母", Relation.GRANDCHILD.value: "孙子女", Relation.GRANDPARENT.value: "祖父母",
    Relation.SIBLING.value: "兄弟姐妹", Relation.CHILD_IN_LAW.value: "女婿儿媳", Relation.OTHER.value: "其他",
}
#: what clerks write in 户口簿-style registers (GB/T 4761 家庭关系 wording) → relation code
RELATION_ALIASES = {
    "本人": "head",
    "夫": "spouse", "妻": "spouse", "丈夫": "spouse", "妻子": "spouse",
    "子": "child", "女": "child", "儿子": "child", "女儿": "child", "长子": "child", "次子": "child",
    "三子": "child", "长女": "child", "次女": "child", "三女": "child", "独生子": "child", "独生女": "child",
    "养子": "child", "养女": "child", "继子": "child", "继女": "child",
    "父亲": "parent", "母亲": "parent", "父": "parent", "母": "parent", "公公": "parent", "婆婆": "parent",
    "岳父": "parent", "岳母": "parent", "继父": "parent", "继母": "parent",
    "孙子": "grandchild", "孙女": "grandchild", "外孙": "grandchild", "外孙子": "grandchild",
    "外孙女": "grandchild",
    "祖父": "grandparent", "祖母": "grandparent", "外祖父": "grandparent", "外祖母": "grandparent",
    "爷爷": "grandparent", "奶奶": "grandparent", "外公": "grandparent", "外婆": "grandparent",
    "兄": "sibling", "弟": "sibling", "姐": "sibling", "妹": "sibling", "哥哥": "sibling", "弟弟": "sibling",
    "姐姐": "sibling", "妹妹": "sibling",
    "女婿": "child_in_law", "儿媳": "child_in_law", "儿媳妇": "child_in_law",
    "其它": "other",
}
RELATION_BY_LABEL = {**{label: code for code, label in RELATION_LABELS.items()}, **RELATION_ALIASES,
                     **{r.value: r.value for r in Relation}}
SEX_LABELS = {"male": "男", "female": "女"}
SEX_BY_LABEL = {"男": "male", "女": "female", "男性": "male", "女性": "female", "male": "male", "female": "female"}
TAG_BY_LABEL = {**{label: code for code, label in HOUSEHOLD_TAGS.items()}, **{c: c for c in HOUSEHOLD_TAGS}}
TAG_SPLIT_RE = re.compile(r"[、,，;；\s]+")
PERSON_STATUS_LABELS = {"alive": "在户", "deceased": "已故", "moved": "已迁出"}
HOUSEHOLD_STATUS_LABELS = {"active": "正常", "moved_away": "已迁出", "split": "已分户", "merged": "已合户"}

NUMBER_RE = re.compile(r"[0-9A-Za-z\u4e00-\u9fff][0-9A-Za-z\u4e00-\u9fff_-]{0,31}")
PHONE_RE = re.compile(r"\+?[0-9][0-9 -]{4,19}")
MAX_LEN = {COL_NUMBER: 32, COL_GROUP: 64, COL_ADDRESS: 200, COL_TAGS: 200, COL_NAME: 64, COL_RELATION: 16,
           COL_SEX: 8, COL_BIRTH: 32, COL_ID: 24, COL_PHONE: 20}

# --- limits against hostile files (docs/reliability.md T15) ----------------------------------------

MAX_ZIP_ENTRIES = 2000
MAX_UNCOMPRESSED_BYTES = 200 * 1024 * 1024
MAX_COLUMNS = 64
HEADER_SEARCH_ROWS = 10
MAX_SCANNED_ROWS = 100_000
MAX_PEOPLE = 20_000
XLSX_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# --- messages (gettext msgids; the report shows them row by row) -----------------------------------


def N_(message: str) -> str:
    """Mark a msgid for extraction (a default pybabel keyword); translate later with _l(msgid, **params)."""
    return message


MSG_NOT_XLSX = N_("This file is not an Excel workbook (.xlsx). Open it in Excel or WPS, choose "
                  "'Save as' → 'Excel Workbook (*.xlsx)', and upload the saved file.")
MSG_XLS = N_("This is an old Excel 97–2003 file (.xls) or a password-protected workbook, which cannot be "
             "read. Open it in Excel or WPS, remove any password, save it as 'Excel Workbook (*.xlsx)' "
             "and upload that file.")
MSG_UNREADABLE = N_("The Excel file could not be read; it may be damaged. Open it in Excel or WPS, save it "
                    "again as .xlsx and upload it again.")
MSG_TOO_BIG_INSIDE = N_("The workbook is too large to check. Split the register into several files.")
MSG_NO_SHEET = N_("The workbook has no worksheet.")
MSG_NO_HEADER = N_("No row with the column headers of the template (户号, 姓名, 与户主关系 …) was found "
                   "at the top of the sheet. Download the template and copy the data into it.")
MSG_MISSING_COLUMN = N_("The column %(column)s is missing from the header row.")
MSG_DUPLICATE_COLUMN = N_("The column %(column)s appears twice in the header row.")
MSG_TOO_MANY_ROWS = N_("The sheet has more than %(max)s rows; split the register into several files.")
MSG_NO_ROWS = N_("The file has no rows to import.")
MSG_EXCEL_ERROR = N_("The cell shows the Excel error %(value)s instead of a value.")
MSG_TOO_LONG = N_("Too long: at most %(max)s characters are allowed, this has %(n)s.")
MSG_MISSING_NUMBER = N_("The household number (户号) is empty. Fill it in on every row of the household "
                        "(do not merge cells); rows with the same 户号 form one household.")
MSG_BAD_NUMBER = N_("A household number is 1 to 32 letters, digits, - or _.")
MSG_NUMBER_AS_NUMBER = N_("The household number was typed as a number (%(value)s), which Excel may have "
                          "changed. Format the 户号 column as text and type the number again.")
MSG_NUMBER_EXISTS = N_("Household number %(number)s is already in use in this village.")
MSG_UNKNOWN_GROUP = N_("This village has no villager group named %(name)s. Existing groups: %(groups)s.")
MSG_NO_GROUPS = N_("This village has no villager groups yet; add them under Groups first, or leave "
                   "the column empty.")
MSG_GROUP_INACTIVE = N_("The villager group %(name)s is no longer in use.")
MSG_CONFLICT = N_("Household %(number)s: row %(row)s gives a different value (%(value)s). Give the same "
                  "value on every row of the household, or fill it in on one row only.")
MSG_UNKNOWN_TAG = N_("Unknown tag %(tag)s. Allowed tags: %(allowed)s, separated by 、 or a comma.")
MSG_MISSING_NAME = N_("The name is missing.")
MSG_MISSING_RELATION = N_("The relation to the head is missing (户主 for the head of the household).")
MSG_BAD_RELATION = N_("Unknown relation %(value)s. Allowed: %(allowed)s.")
MSG_NO_HEAD = N_("Household %(number)s has no head: exactly one person must have 户主 as relation.")
MSG_TWO_HEADS = N_("Household %(number)s has more than one head (rows %(rows)s): only one person can be 户主.")
MSG_BAD_SEX = N_("Unknown sex %(value)s. Write 男 or 女.")
MSG_BAD_DATE = N_("%(value)s is not a date. Write it like 2026-01-31, or use an Excel date cell.")
MSG_FUTURE_DATE = N_("The birth date %(value)s lies in the future.")
MSG_ID_AS_NUMBER = N_("The ID number was typed as a number (%(value)s), so Excel has already lost its last "
                      "digits. Format the 身份证号 column as text (设置单元格格式 → 文本) and type the numbers "
                      "again.")
MSG_ID_MASKED = N_("This ID number is masked with * (for example copied from an export). Enter the full "
                   "number or leave the cell empty.")
MSG_ID_DUPLICATE = N_("This ID number also appears in row %(row)s.")
MSG_ID_EXISTS = N_("This ID number is already registered in this village for %(name)s "
                   "(household %(number)s).")
MSG_BAD_PHONE = N_("Please enter a phone number of digits only, e.g. 13800138000.")
MSG_PHONE_AS_NUMBER = N_("The phone number was typed as a number (%(value)s), which loses leading zeros. "
                         "Format the 联系电话 column as text and type the number again.")
MSG_TOO_MANY_PEOPLE = N_("The file has more than %(max)s people; split the register into several files.")
MSG_CHANGED_MEANWHILE = N_("The register was changed by someone else while importing; nothing was imported. "
                           "Please check the file again.")


class ImportFileError(ValueError):
    """The upload cannot be read as an .xlsx workbook at all; the message says what to do."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the file: Excel row number (None for the whole file), column header, message.

    `message` is a lazy gettext string; render `text` (a plain str, escaped by Jinja), never the lazy
    string itself: flask_babel's LazyString has an ``__html__`` that bypasses autoescaping.
    """

    row: int | None
    column: str | None
    message: Any

    @property
    def text(self) -> str:
        return str(self.message)


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

class _Bad(Exception):
    """A cell value that cannot be used; carries the message for the report."""

    def __init__(self, message: Any):
        super().__init__(message)
        self.message = message


def _is_blank(cell: Any) -> bool:
    v = cell.value
    return v is None or (isinstance(v, str) and not v.strip())


def _plain(cell: Any) -> Any:
    """The cell's value as Python data; formula cells stay their literal text ("=1+2"), never evaluated."""
    v = cell.value
    if v is None:
        return None
    if cell.data_type == "f":
        return str(getattr(v, "text", v) or "")  # ArrayFormula / DataTableFormula carry .text
    if cell.data_type == "e":
        raise _Bad(_l(MSG_EXCEL_ERROR, value=str(v)))
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    return v


def _number_text(v: float | int) -> str:
    if isinstance(v, float) and v.is_integer() and abs(v) < 2**53:
        v = int(v)
    return str(v) if isinstance(v, int) else f"{v:.15g}"


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
        v = _number_text(v)
    try:
        s = clean_text(str(v))
    except TextRejected as e:
        raise _Bad(e.args[0]) from None
    if not s:
        return None
    if len(s) > MAX_LEN[column]:
        raise _Bad(_l(MSG_TOO_LONG, max=MAX_LEN[column], n=len(s)))
    return s


def _number(cell: Any) -> str | None:
    v = _plain(cell)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        if isinstance(v, float) and not (v.is_integer() and 0 <= v < 1e15):
            raise _Bad(_l(MSG_NUMBER_AS_NUMBER, value=_number_text(v)))
        v = int(v)
        if v < 0:
            raise _Bad(_l(MSG_BAD_NUMBER))
        return str(v)
    s = _text(cell, COL_NUMBER)
    if s is None:
        return None
    s = s.translate(FULLWIDTH_DIGITS)
    if not NUMBER_RE.fullmatch(s):
        raise _Bad(_l(MSG_BAD_NUMBER))
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
            s = _number_text(v)
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
            raise _Bad(_l(MSG_BAD_DATE, value=s)) from None
    if d.year < 1880:
        raise _Bad(_l(MSG_BAD_DATE, value=d.isoformat()))
    if d > local_today():
        raise _Bad(_l(MSG_FUTURE_DATE, value=d.isoformat()))
    return d


def _id_number(cell: Any) -> str | None:
    v = _plain(cell)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        # docs/ecosystem.md trap 3: Excel keeps 15 significant digits, an 18-digit number is already damaged
        raise _Bad(_l(MSG_ID_AS_NUMBER, value=f"{v:.15g}" if isinstance(v, float) else str(v)))
    s = _text(cell, COL_ID)
    if s is None:
        return None
    if "*" in s or "＊" in s:
        raise _Bad(_l(MSG_ID_MASKED))
    try:
        return normalize_id_number(s)
    except IdNumberInvalid as e:
        raise _Bad(e.args[0]) from None


def _phone(cell: Any) -> str | None:
    v = _plain(cell)
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        s = _number_text(v)
        # a mobile number survives being typed as a number; anything else may have lost a leading 0
        if re.fullmatch(r"1[0-9]{10}", s):
            return s
        raise _Bad(_l(MSG_PHONE_AS_NUMBER, value=s))
    s = _text(cell, COL_PHONE)
    if s is None:
        return None
    s = s.translate(FULLWIDTH_DIGITS).strip()
    if not PHONE_RE.fullmatch(s):
        raise _Bad(_l(MSG_BAD_PHONE))
    return s


def _lookup(cell: Any, column: str, table: dict[str, str], message: str, allowed: str) -> str | None:
    s = _text(cell, column)
    if s is None:
        return None
    code = table.get(s) or table.get(s.lower())
    if code is None:
        raise _Bad(_l(message, value=s, allowed=allowed))
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
            raise _Bad(_l(MSG_UNKNOWN_TAG, tag=part, allowed="、".join(HOUSEHOLD_TAGS.values())))
        if code not in codes:
            codes.append(code)
    return [c for c in HOUSEHOLD_TAGS if c in codes]


# --- reading the workbook --------------------------------------------------------------------------

def _open(data: bytes):
    """Open the bytes as a read-only workbook after cheap checks against non-xlsx files and zip bombs."""
    if data[:8] == OLE2_MAGIC:
        raise ImportFileError(_l(MSG_XLS))
    if data[:4] != XLSX_MAGIC:
        raise ImportFileError(_l(MSG_NOT_XLSX))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise ImportFileError(_l(MSG_NOT_XLSX)) from None
    if "[Content_Types].xml" not in names or not any(n.startswith("xl/") for n in names):
        raise ImportFileError(_l(MSG_NOT_XLSX))
    if len(infos) > MAX_ZIP_ENTRIES or sum(i.file_size for i in infos) > MAX_UNCOMPRESSED_BYTES:
        raise ImportFileError(_l(MSG_TOO_BIG_INSIDE))
    try:
        # data_only=False: a formula cell comes back as its text, so "=1+2" is kept literally
        return load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
    except Exception:  # openpyxl raises many types for malformed parts; all mean "cannot read"
        raise ImportFileError(_l(MSG_UNREADABLE)) from None


def _rows(ws: Any, min_row: int, max_row: int | None, max_col: int) -> Iterator[tuple]:
    """Rows of cells, turning any parse error of a damaged sheet into ImportFileError."""
    it = ws.iter_rows(min_row=min_row, max_row=max_row, max_col=max_col)
    while True:
        try:
            row = next(it)
        except StopIteration:
            return
        except Exception:
            raise ImportFileError(_l(MSG_UNREADABLE)) from None
        yield row


def _header_name(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    return value.strip().strip("*＊").strip()


def _find_header(ws: Any) -> tuple[int, dict[str, int], list[Problem]] | None:
    """Find the header row near the top (a title row above it is common): row, column positions, problems."""
    for rowno, cells in enumerate(_rows(ws, 1, HEADER_SEARCH_ROWS, MAX_COLUMNS), start=1):
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
    digest = hashlib.sha256(data).hexdigest()
    with warnings.catch_warnings():
        # openpyxl warns about unsupported extensions and out-of-range dates; neither concerns the clerk
        warnings.simplefilter("ignore")
        wb = _open(data)
        try:
            return _check(village, wb, digest)
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
        except _Bad as e:
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

    for rowno, cells in enumerate(_rows(ws, header_row + 1, None, width), start=header_row + 1):
        if rowno > MAX_SCANNED_ROWS:
            problems.append(Problem(None, None, _l(MSG_TOO_MANY_ROWS, max=MAX_SCANNED_ROWS)))
            break

        def cell(name: str) -> Any:
            i = positions.get(name)
            return cells[i] if i is not None and i < len(cells) else EMPTY_CELL

        if all(_is_blank(cell(name)) for name in positions):
            continue  # empty rows are skipped
        rows_read += 1
        if rows_read > MAX_PEOPLE:
            problems.append(Problem(None, None, _l(MSG_TOO_MANY_PEOPLE, max=MAX_PEOPLE)))
            break

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
    order = {name: i for i, name in enumerate(COLUMNS)}
    problems.sort(key=lambda p: (p.row or 0, order.get(p.column or "", -1)))
    return ImportResult(list(households.values()), problems, digest, rows_read)


def apply_import(village: Village, result: ImportResult) -> ImportSummary:
    """Create every household and person of a clean dry run in one bulk register call.

    bulk_create_households writes what create_household and add_person would, row for row, in a few
    statements per table instead of ~27 per household (2,000 households: about a minute before).
    Flushes and never commits: the caller starts the write transaction (begin_write) before the dry run
    it passes in, and commits once, so the import is all rows or none.
    """
    if not result.ok:
        raise ValueError("apply_import needs a dry run without problems")
    groups = {g.id: g for g in db.session.scalars(
        sa.select(VillagerGroup).where(VillagerGroup.village_id == village.id))}
    new = []
    for plan in result.households:
        assert plan.head is not None
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


# --- the template ----------------------------------------------------------------------------------

_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
_WIDTHS = {COL_NUMBER: 10, COL_GROUP: 12, COL_ADDRESS: 28, COL_TAGS: 18, COL_NAME: 10, COL_RELATION: 12,
           COL_SEX: 6, COL_BIRTH: 12, COL_ID: 22, COL_PHONE: 15, COL_STATUS: 8, COL_HOUSEHOLD_STATUS: 8}


def _help_rows(groups: list[str]) -> list[tuple[str, str, str, str]]:
    tags = "、".join(HOUSEHOLD_TAGS.values())
    relations = "、".join(RELATION_LABELS.values())
    group_text = "、".join(groups) if groups else "（本村尚未建立村民小组，可留空）"
    return [
        ("列名", "必填", "说明", "可填写的值 / 示例"),
        (COL_NUMBER, "是", "每行一人；同一户的每一行都填写相同的户号（不要合并单元格）。户号在本村内不能与已登记的户重复。"
                          "此列为文本格式，可保留开头的 0。", "1–32 个字母、数字、- 或 _，例如 001、3-12"),
        (COL_GROUP, "否", "必须与系统中本村村民小组的名称完全一致；同一户填写一次即可，填写多次时必须相同。",
         f"本村现有小组：{group_text}"),
        (COL_ADDRESS, "否", "同一户填写一次即可，最多 200 字。", "例如 一组 18 号"),
        (COL_TAGS, "否", "同一户填写一次即可；多个标签用“、”或逗号分隔。", tags),
        (COL_NAME, "是", "最多 64 字。", "例如 张三丰"),
        (COL_RELATION, "是", "每户必须有且只有一人填写“户主”。", relations),
        (COL_SEX, "否", "不填时按身份证号推算。", "男、女"),
        (COL_BIRTH, "否", "不填时按身份证号推算。", "2026-01-31，或 Excel 日期单元格"),
        (COL_ID, "否", "18 位，最后一位可以是 X。此列已设为“文本”格式，请不要改成数字格式，"
                      "否则 Excel 会丢掉后几位数字。系统只保存加密摘要和打码后的号码。",
         "例如 440305198001010017"),
        (COL_PHONE, "否", "此列为文本格式。", "例如 13800138000"),
        ("", "", "", ""),
        ("导入步骤", "", "1. 填好“户籍导入”表后保存为 .xlsx；2. 在系统中选择文件并点“检查文件”，系统只检查、不保存；"
                     "3. 按提示改正所有问题后重新检查；4. 没有问题时点“确认导入”：全部导入，或者一条也不导入。", ""),
        ("空行", "", "空行会被跳过。", ""),
        ("公式", "", "公式不会被计算，会按原样当作文字保存。", ""),
    ]


def template_workbook(village: Village) -> bytes:
    """The import template: one sheet to fill in (text-formatted ID columns), one sheet of instructions."""
    groups = sorted(db.session.scalars(sa.select(VillagerGroup.name).where(
        VillagerGroup.village_id == village.id, VillagerGroup.active.is_(True))))
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET_NAME
    ws.append(list(COLUMNS))
    for idx, name in enumerate(COLUMNS, start=1):
        c = ws.cell(row=1, column=idx)
        c.font, c.fill = _HEADER_FONT, _HEADER_FILL
        letter = get_column_letter(idx)
        ws.column_dimensions[letter].width = _WIDTHS[name]
        fmt = "@" if name in TEXT_COLUMNS else ("yyyy-mm-dd" if name == COL_BIRTH else None)
        if fmt:
            for r in range(2, TEMPLATE_ROWS + 2):
                ws.cell(row=r, column=idx).number_format = fmt
    ws.freeze_panes = "A2"
    last = TEMPLATE_ROWS + 1
    for name, labels in ((COL_RELATION, RELATION_LABELS.values()), (COL_SEX, SEX_LABELS.values())):
        letter = get_column_letter(COLUMNS.index(name) + 1)
        dv = DataValidation(type="list", formula1='"' + ",".join(labels) + '"', allow_blank=True,
                            showErrorMessage=True, errorTitle=name, error="请从下拉列表中选择。")
        dv.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(dv)

    help_ws = wb.create_sheet(HELP_SHEET_NAME)
    for row in _help_rows(groups):
        help_ws.append(list(row))
    for c in help_ws[1]:
        c.font, c.fill = _HEADER_FONT, _HEADER_FILL
    for letter, width in (("A", 12), ("B", 6), ("C", 60), ("D", 48)):
        help_ws.column_dimensions[letter].width = width
    for row in help_ws.iter_rows(min_row=2):
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- export ----------------------------------------------------------------------------------------

_FORMULA_TRIGGERS = ("=", "+", "-", "@")


def excel_safe(value: Any) -> Any:
    """Neutralise spreadsheet formula injection (docs/reliability.md T14, ASVS 1.2.10).

    Text that starts with = + - @, a tab or a carriage return (also after leading whitespace) gets a
    leading apostrophe; numbers and dates stay as they are, so -50 stays a number.
    """
    if not isinstance(value, str):
        return value
    value = ILLEGAL_CHARACTERS_RE.sub("", value)
    if value and (value[0] in "\t\r\n" or value.lstrip()[:1] in _FORMULA_TRIGGERS):
        return "'" + value
    return value


def export_workbook(village: Village, *, full_phones: bool) -> tuple[bytes, ImportSummary]:
    """The village's whole register, one row per person: ID numbers masked, phones masked unless allowed."""
    from .identity import mask_phone

    stmt = (
        sa.select(Household.number, VillagerGroup.name, Household.address, Household.tags, Household.status,
                  Person.name, Person.relation, Person.sex, Person.birth_date, Person.id_masked, Person.phone,
                  Person.status, Household.id)
        .join(Household, Person.household_id == Household.id)
        .outerjoin(VillagerGroup, Household.group_id == VillagerGroup.id)
        .where(Person.village_id == village.id)
        .order_by(Household.number, Household.id, sa.case((Person.id == Household.head_id, 0), else_=1),
                  Person.id)
    )
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(SHEET_NAME)
    for idx, name in enumerate(EXPORT_COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(idx)].width = _WIDTHS[name]
    ws.freeze_panes = "A2"
    header = []
    for name in EXPORT_COLUMNS:
        c = WriteOnlyCell(ws, value=name)
        c.font, c.fill = _HEADER_FONT, _HEADER_FILL
        header.append(c)
    ws.append(header)
    households: set[int] = set()
    people = 0
    for (number, group, address, tags, hh_status, name, relation, sex, birth, id_masked, phone, status,
         hh_id) in db.session.execute(stmt):
        households.add(hh_id)
        people += 1
        tag_text = "、".join(HOUSEHOLD_TAGS.get(t, t) for t in (tags or "").split())
        shown_phone = (phone or "") if full_phones else mask_phone(phone)
        values = [number, group or "", address or "", tag_text, name, RELATION_LABELS.get(relation, relation),
                  SEX_LABELS.get(sex or "", ""), birth, id_masked or "", shown_phone,
                  PERSON_STATUS_LABELS.get(status, status), HOUSEHOLD_STATUS_LABELS.get(hh_status, hh_status)]
        row = []
        for col, value in zip(EXPORT_COLUMNS, values):
            c = WriteOnlyCell(ws, value=excel_safe(value))
            if col == COL_BIRTH and value is not None:
                c.number_format = "yyyy-mm-dd"
            elif col in TEXT_COLUMNS:
                c.number_format = "@"
            row.append(c)
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue(), ImportSummary(households=len(households), people=people)


# --- the checked file, kept between the dry run and the confirmation -------------------------------

TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{43}")
SHA256_RE = re.compile(r"[0-9a-f]{64}")
PENDING_MAX_AGE = 2 * 3600


def _upload_dir(instance_path: str) -> Path:
    path = Path(instance_path) / "imports"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def store_upload(instance_path: str, data: bytes, *, village_id: int, user_id: int | None) -> tuple[str, str]:
    """Keep a checked upload under a generated name (never the user's file name); return (token, sha256).

    The file holds full ID numbers: it is deleted after the import and purged when abandoned.
    """
    folder = _upload_dir(instance_path)
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(data).hexdigest()
    _write_private(folder / f"{token}.xlsx", data)
    meta = {"sha256": digest, "village_id": village_id, "user_id": user_id, "created": time.time()}
    _write_private(folder / f"{token}.json", json.dumps(meta).encode())
    return token, digest


def load_upload(instance_path: str, token: str | None, *, village_id: int, user_id: int | None,
                sha256: str | None) -> bytes | None:
    """The stored upload for this token, or None unless it is this village's and user's, fresh, unchanged."""
    if not token or not TOKEN_RE.fullmatch(token) or not sha256 or not SHA256_RE.fullmatch(sha256):
        return None
    folder = _upload_dir(instance_path)
    try:
        meta = json.loads((folder / f"{token}.json").read_text())
        data = (folder / f"{token}.xlsx").read_bytes()
    except (OSError, ValueError):
        return None
    if (meta.get("village_id") != village_id or meta.get("user_id") != user_id
            or meta.get("sha256") != sha256 or time.time() - float(meta.get("created", 0)) > PENDING_MAX_AGE
            or hashlib.sha256(data).hexdigest() != sha256):
        return None
    return data


def discard_upload(instance_path: str, token: str | None) -> None:
    """Delete a stored upload (after the import, or when it failed)."""
    if not token or not TOKEN_RE.fullmatch(token):
        return
    folder = _upload_dir(instance_path)
    for suffix in (".xlsx", ".json"):
        try:
            (folder / f"{token}{suffix}").unlink()
        except FileNotFoundError:
            pass


def purge_stale_uploads(instance_path: str, max_age: float = PENDING_MAX_AGE) -> int:
    """Delete checked uploads nobody confirmed within `max_age` seconds; return how many files went."""
    folder = _upload_dir(instance_path)
    cutoff = time.time() - max_age
    removed = 0
    for path in folder.iterdir():
        if path.suffix in (".xlsx", ".json") and TOKEN_RE.fullmatch(path.stem):
            try:
                if path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass
    return removed
