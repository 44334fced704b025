"""Import of scheme items (积分细则) from .xlsx, .csv or a pasted table: dry run, then apply.

Usable without HTTP (the `flask points import-items` command does exactly this)::

    result = check_items(village, data, "xlsx")         # reads only, writes nothing
    if result.ok:                                       # re-check and apply in one write transaction
        done = app.tabular.write_checked(lambda: check_items(village, data, "xlsx"),
                                         lambda r: apply_items(village, r), refusals=(PointsError,),
                                         changed_meanwhile=MSG_CHANGED_MEANWHILE)

The format (Chinese column headers are *data*: the sheet clerks exchange, like the register's import):
类别, 加扣, 编号, 内容, 分值, 单位, 上限周期, 上限分值, 层级, 对象, 需要佐证, 依据条款. A file needs a header
row; pasted text (one item per line, cells split by tab or |) may have one or give the cells in this
order. Real schemes are messy, so "+2分", "扣5分", "2分/次", full-width digits and punctuation are read
where the meaning is plain; anything else is reported row by row with the column name. Every problem
message is a gettext msgid. Sniffing the input, the hostile-file limits, cell cleaning, the problem
list and the check → confirm flow are app.tabular's (the register import uses the same).
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
import warnings
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..audit.services import record
from ..extensions import db
from ..registry.models import Village
from ..rules.services import link_named_articles
from ..tabular import (
    HEADER_SEARCH_ROWS,
    MAX_COLUMNS,
    MAX_SCANNED_ROWS,
    MAX_TEXT_BYTES,
    MSG_DUPLICATE_COLUMN,
    MSG_MISSING_COLUMN,
    N_,
    Bad,
    Formula,
    ImportFileError,
    Problem,
    cell_value,
    clean_cell,
    csv_lines,
    decode_text,
    is_blank,
    number_text,
    open_workbook,
    pasted_lines,
    sheet_rows,
    sniff,
    sort_problems,
)
# named here by the views, the command line and the tests
from ..tabular.files import KINDS, MSG_FILE_TYPE, MSG_NOT_TEXT, kind_for_filename  # noqa: F401
from ..text import FULLWIDTH_DIGITS
from . import services as pts
from .queries import village_scheme
from .models import MAX_ITEM_POINTS, PointCategory, PointItem

# --- the format (Chinese data, not UI text) ---------------------------------------------------------

COL_CATEGORY = "类别"
COL_DIRECTION = "加扣"
COL_CODE = "编号"
COL_TEXT = "内容"
COL_POINTS = "分值"
COL_UNIT = "单位"
COL_CAP_PERIOD = "上限周期"
COL_CAP = "上限分值"
COL_LEVEL = "层级"
COL_APPLIES = "对象"
COL_EVIDENCE = "需要佐证"
COL_ARTICLE = "依据条款"

#: the columns in the order pasted text gives them when it has no header line
COLUMNS = (COL_CATEGORY, COL_DIRECTION, COL_CODE, COL_TEXT, COL_POINTS, COL_UNIT, COL_CAP_PERIOD, COL_CAP,
           COL_LEVEL, COL_APPLIES, COL_EVIDENCE, COL_ARTICLE)
REQUIRED_COLUMNS = (COL_CATEGORY, COL_CODE, COL_TEXT, COL_POINTS)
#: a pasted line without a header needs at least the cells up to 分值
MIN_CELLS = COLUMNS.index(COL_POINTS) + 1

#: other headers seen in village schemes (compared after NFKC, lower case, without spaces and "(分)")
HEADER_ALIASES = {
    COL_CATEGORY: ("分类", "类别名称", "积分类别", "项目类别", "category"),
    COL_DIRECTION: ("加分/扣分", "加/扣", "加减", "加扣分", "方向", "direction"),
    COL_CODE: ("项目编号", "代码", "代号", "code"),
    COL_TEXT: ("项目内容", "积分内容", "积分项目", "事项", "项目", "text"),
    COL_POINTS: ("分数", "积分", "分值标准", "计分标准", "points"),
    COL_UNIT: ("计分单位", "计分方式", "unit"),
    COL_CAP_PERIOD: ("封顶周期", "cap_period"),
    COL_CAP: ("上限", "封顶分值", "封顶", "cap_points", "cap"),
    COL_LEVEL: ("级别", "level"),
    COL_APPLIES: ("适用对象", "计分对象", "applies_to"),
    COL_EVIDENCE: ("佐证", "需佐证", "需要佐证材料", "佐证材料", "evidence", "evidence_required"),
    COL_ARTICLE: ("依据", "条款", "政策依据", "article", "article_ref"),
}

DIRECTION_LABELS = {"add": "加分", "deduct": "扣分"}
DIRECTION_BY_LABEL = {
    "加分": "add", "加": "add", "加分项": "add", "add": "add", "+": "add",
    "扣分": "deduct", "扣": "deduct", "扣分项": "deduct", "减分": "deduct", "减": "deduct", "deduct": "deduct",
    "-": "deduct", "−": "deduct",
}
UNIT_LABELS = {"per_event": "每次", "per_month": "每月", "per_quarter": "每季度", "tiered": "分档",
               "per_amount": "按金额"}
UNIT_BY_LABEL = {
    **{label: code for code, label in UNIT_LABELS.items()}, **{c: c for c in UNIT_LABELS},
    "次": "per_event", "按次": "per_event", "每月": "per_month", "按月": "per_month", "月": "per_month",
    "每季": "per_quarter", "按季度": "per_quarter", "按季": "per_quarter", "季度": "per_quarter",
    "分档计分": "tiered", "按档": "tiered", "金额": "per_amount",
}
#: "2分/次", "5分/月": the unit written after the points
UNIT_BY_SUFFIX = {"次": "per_event", "月": "per_month", "季度": "per_quarter", "季": "per_quarter"}
CAP_PERIOD_LABELS = {"none": "无", "month": "每月", "quarter": "每季度", "year": "每年"}
CAP_PERIOD_BY_LABEL = {
    **{label: code for code, label in CAP_PERIOD_LABELS.items()}, **{c: c for c in CAP_PERIOD_LABELS},
    "不限": "none", "无上限": "none", "不封顶": "none",
    "月": "month", "按月": "month", "季度": "quarter", "每季": "quarter", "按季度": "quarter",
    "年": "year", "按年": "year", "每年度": "year", "年度": "year", "全年": "year",
}
LEVEL_LABELS = {"village": "村级", "shared": "共享", "upper": "上级"}
LEVEL_BY_LABEL = {**{label: code for code, label in LEVEL_LABELS.items()}, **{c: c for c in LEVEL_LABELS},
                  "村": "village", "本村": "village"}
APPLIES_LABELS = {"person": "个人", "household": "家庭"}
APPLIES_BY_LABEL = {**{label: code for code, label in APPLIES_LABELS.items()},
                    **{c: c for c in APPLIES_LABELS},
                    "人": "person", "按人": "person", "户": "household", "按户": "household", "家庭户": "household"}
EVIDENCE_BY_LABEL = {
    **{v: True for v in ("是", "需要", "要", "有", "y", "yes", "true", "1", "√", "✓", "✔")},
    **{v: False for v in ("否", "不需要", "不要", "无", "n", "no", "false", "0", "×", "✗", "✘")},
}
#: what a table writes in an empty 上限 cell
NONE_MARKS = {"-", "—", "－", "–", "/", "／"}

MAX_LEN = {COL_CATEGORY: 64, COL_CODE: 32, COL_TEXT: 500, COL_ARTICLE: 200}
LOOKUP_MAX_LEN = 16
MAX_CAP_POINTS = MAX_ITEM_POINTS * 100
DEFAULT_SCHEME_NAME = "积分细则"
EXAMPLE_LINE = "公益服务 | 加分 | A01 | 参加村庄清洁日 | 2分/次 | 每次 | 每月 | 10 | 村级 | 个人 | 否 | 村规民约第五条"

# --- limits against hostile input (with app.tabular's: workbook size, rows, columns, text bytes) -----

MAX_ITEMS = 2000


MSG_TOO_BIG = N_("The file is too large to check. Split the items into several files.")
MSG_NO_HEADER = N_("No header row was found at the top of the sheet. The first row must name the columns: "
                   "类别, 加扣, 编号, 内容, 分值 (and optionally 单位, 上限周期, 上限分值, 层级, 对象, 需要佐证, "
                   "依据条款).")
MSG_NO_ITEMS = N_("There are no items to import.")
MSG_TOO_MANY = N_("At most %(max)s items can be imported at once; split the list.")
MSG_FEW_CELLS = N_("This line has too few cells (%(n)s). Give the cells in this order, separated by a tab "
                   "or |: "
                   "类别, 加扣, 编号, 内容, 分值, then optionally 单位, 上限周期, 上限分值, 层级, 对象, 需要佐证, "
                   "依据条款. Or paste the header line first.")
MSG_EXTRA_CELLS = N_("This line has %(n)s cells, more than the %(max)s columns of the format. Is there a "
                     "tab or | inside a cell?")
MSG_EXTRA_CELLS_HEADER = N_("This line has %(n)s cells, but the header line names only %(max)s. Is there a "
                            "tab "
                            "or | inside a cell, or a column without a name in the header line?")
MSG_FORMULA = N_("The cell holds a formula (%(value)s). Type the value itself instead.")
MSG_MISSING_CATEGORY = N_("The category (类别) is empty, and there is no row above to take it from.")
MSG_MISSING_CODE = N_("The item code (编号) is empty. Every item needs its own code, for example A01.")
MSG_MISSING_TEXT = N_("The item text (内容) is empty.")
MSG_MISSING_POINTS = N_("The points (分值) are empty.")
MSG_BAD_POINTS = N_("%(value)s is not a number of points. Write a whole number, for example 5, -5, +2分, "
                    "扣5分 or 2分/次.")
MSG_POINTS_RANGE = N_("%(value)s is out of range: an item gives 1 to %(max)s points, or deducts 1 to "
                      "%(max)s.")
MSG_POINTS_UNIT = N_("The points are written per %(per)s, but 单位 says %(unit)s. Make the two agree, or "
                     "leave 单位 empty.")
MSG_BAD_DIRECTION = N_("Unknown value %(value)s. Write 加分 or 扣分 (or leave it empty when the points carry "
                       "a sign, like -5).")
MSG_NO_DIRECTION = N_("It is not clear whether this item adds or deducts points. Write 加分 or 扣分 in 加扣, "
                      "or give the points a sign (+2 or -5).")
MSG_SIGN_CONFLICT = N_("The points %(value)s and 加扣 (%(direction)s) disagree: an item that adds has "
                       "positive points, an item that deducts has negative points.")
MSG_CATEGORY_EXISTS_OTHER = N_("The scheme already has the category %(name)s for %(direction)s items, but "
                               "this item is %(other)s. A category either adds or deducts points: put this "
                               "item in another category.")
MSG_CATEGORY_FILE_OTHER = N_("The category %(name)s holds %(direction)s items (row %(row)s), but this item "
                             "is %(other)s. A category either adds or deducts points: put this item in "
                             "another category.")
MSG_CODE_DUPLICATE = N_("Item code %(code)s also appears in row %(row)s. Every item needs its own code.")
MSG_CODE_EXISTS = N_("Item code %(code)s is already in the scheme (%(text)s). An import never changes "
                     "existing items: remove this row or give the item a new code.")
MSG_BAD_CHOICE = N_("Unknown value %(value)s. Allowed: %(allowed)s.")
MSG_BAD_CAP = N_("%(value)s is not a cap. Write a whole number of points from 1 to %(max)s, for example 20.")
MSG_CAP_NO_PERIOD = N_("A cap of %(n)s points is given but no cap period (上限周期). Write 每月, 每季度 or "
                       "每年, or leave the cap empty.")
MSG_PERIOD_NO_CAP = N_("The cap period is %(period)s, but the cap (上限分值) is empty. Give the most points "
                       "per period, or write 无 as the cap period.")
MSG_CHANGED_MEANWHILE = N_("The scheme was changed by someone else while importing; nothing was imported. "
                           "Please check the items again.")


# --- results ---------------------------------------------------------------------------------------

@dataclass
class ItemPlan:
    row: int
    category: str
    direction: str
    data: pts.ItemData


@dataclass
class CategoryPlan:
    name: str
    direction: str
    new: bool
    items: int = 0


@dataclass
class ItemImportResult:
    """What a dry run found: the items to create, or the problems that stop the import."""

    items: list[ItemPlan]
    problems: list[Problem]
    sha256: str
    categories: list[CategoryPlan] = field(default_factory=list)
    #: the village has no scheme yet: applying creates one named DEFAULT_SCHEME_NAME
    new_scheme: bool = False
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.items)

    @property
    def add_count(self) -> int:
        return sum(1 for i in self.items if i.direction == "add")

    @property
    def deduct_count(self) -> int:
        return sum(1 for i in self.items if i.direction == "deduct")

    @property
    def new_categories(self) -> list[CategoryPlan]:
        return [c for c in self.categories if c.new]


@dataclass(frozen=True)
class ItemImportSummary:
    add: int
    deduct: int
    categories: int
    new_categories: int
    scheme_created: bool

    @property
    def items(self) -> int:
        return self.add + self.deduct


# --- reading cells ---------------------------------------------------------------------------------

def _as_text(raw: Any, column: str, *, multiline: bool = False, max_len: int | None = None) -> str | None:
    """Clean text (NFC, trimmed, no control/bidi/zero-width characters), or None when empty."""
    if raw is None:
        return None
    if isinstance(raw, Formula):
        raise Bad(_l(MSG_FORMULA, value=raw.text[:40]))
    if isinstance(raw, (int, float)):
        raw = number_text(raw)
    return clean_cell(str(raw), max_len or MAX_LEN.get(column, LOOKUP_MAX_LEN), multiline=multiline)


def _fold(s: str) -> str:
    """A lookup key: full-width ASCII and spaces folded, lower case (only for matching fixed labels)."""
    return unicodedata.normalize("NFKC", s).replace(" ", "").lower()


def _lookup(raw: Any, column: str, table: dict[str, Any], labels: dict[str, str]) -> Any:
    s = _as_text(raw, column, max_len=64)
    if s is None:
        return None
    key = _fold(s)
    if key in table:
        return table[key]
    if s in table:
        return table[s]
    raise Bad(_l(MSG_BAD_CHOICE, value=s, allowed="、".join(labels.values())))


POINTS_RE = re.compile(
    r"(?:每(?P<per1>次|月|季度|季))?"
    r"(?P<sign>[+\-＋－−])?(?P<verb>加|扣|减)?"
    r"(?P<n>[0-9]+)分?"
    r"(?:[/／]每?(?P<per2>次|月|季度|季))?")


def _points(raw: Any) -> tuple[int, str | None, str | None] | None:
    """(points, direction the value itself says or None, unit it is written per or None)."""
    if raw is None:
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if isinstance(raw, float) and not raw.is_integer():
            raise Bad(_l(MSG_BAD_POINTS, value=number_text(raw)))
        if raw == 0 or abs(raw) > MAX_ITEM_POINTS:
            raise Bad(_l(MSG_POINTS_RANGE, value=number_text(raw), max=MAX_ITEM_POINTS))
        n = int(raw)
        return abs(n), ("deduct" if n < 0 else None), None
    s = _as_text(raw, COL_POINTS, max_len=32)
    if s is None:
        return None
    compact = re.sub(r"[ \u3000]+", "", s.translate(FULLWIDTH_DIGITS))
    m = POINTS_RE.fullmatch(compact)
    if m is None or (m["sign"] and m["verb"]) or (m["per1"] and m["per2"]):
        raise Bad(_l(MSG_BAD_POINTS, value=s))
    digits = m["n"].lstrip("0")
    if not digits or len(digits) > 6 or int(digits) > MAX_ITEM_POINTS:
        raise Bad(_l(MSG_POINTS_RANGE, value=s, max=MAX_ITEM_POINTS))
    mark = m["sign"] or m["verb"]
    direction = None if not mark else ("add" if mark in ("+", "＋", "加") else "deduct")
    per = m["per1"] or m["per2"]
    return int(digits), direction, UNIT_BY_SUFFIX[per] if per else None


def _cap(raw: Any) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        if not float(raw).is_integer() or not 1 <= raw <= MAX_CAP_POINTS:
            raise Bad(_l(MSG_BAD_CAP, value=number_text(raw), max=MAX_CAP_POINTS))
        return int(raw)
    s = _as_text(raw, COL_CAP, max_len=32)
    if s is None or s in NONE_MARKS:
        return None
    compact = re.sub(r"[ \u3000]+", "", s.translate(FULLWIDTH_DIGITS))
    m = re.fullmatch(r"([0-9]+)分?", compact)
    digits = m.group(1).lstrip("0") if m else ""
    if not digits or len(digits) > 6 or int(digits) > MAX_CAP_POINTS:
        raise Bad(_l(MSG_BAD_CAP, value=s, max=MAX_CAP_POINTS))
    return int(digits)


def _cap_period(raw: Any) -> str | None:
    if isinstance(raw, str) and raw.strip(" \u3000") in NONE_MARKS:
        return "none"
    return _lookup(raw, COL_CAP_PERIOD, CAP_PERIOD_BY_LABEL, CAP_PERIOD_LABELS)


# --- reading the input into rows -------------------------------------------------------------------

@dataclass
class _Row:
    number: int
    cells: dict[str, Any]
    #: a whole-row problem found while splitting (too few / too many cells)
    problem: Any = None


def _header_key(value: Any) -> str | None:
    """The column a header cell names, or None."""
    if not isinstance(value, str):
        return None
    s = _fold(value).strip("*").replace("\u3000", "")
    s = re.sub(r"\(.*\)$", "", s)  # 分值（分）
    for column in COLUMNS:
        if s == column or s in HEADER_ALIASES[column]:
            return column
    return None


def _header(cells: list[Any], row: int, minimum: int) -> tuple[dict[str, int], list[Problem]] | None:
    positions: dict[str, int] = {}
    problems: list[Problem] = []
    for idx, value in enumerate(cells[:MAX_COLUMNS]):
        name = _header_key(value)
        if name is None:
            continue
        if name in positions:
            problems.append(Problem(row, name, _l(MSG_DUPLICATE_COLUMN, column=name)))
        positions.setdefault(name, idx)
    if len(positions) < minimum:
        return None
    problems += [Problem(row, name, _l(MSG_MISSING_COLUMN, column=name))
                 for name in REQUIRED_COLUMNS if name not in positions]
    return positions, problems


def _pick(cells: list[Any], positions: dict[str, int]) -> dict[str, Any]:
    return {name: cells[i] if i < len(cells) else None for name, i in positions.items()}


def _table_rows(rows: Iterator[tuple[int, list[Any]]]) -> tuple[list[_Row], list[Problem]] | None:
    """Rows of a sheet or CSV: find the header near the top, then map every row by it (None: no header)."""
    buffered: list[tuple[int, list[Any]]] = []
    found = None
    for number, cells in rows:
        buffered.append((number, cells))
        found = _header(cells, number, 3)
        if found is not None or len(buffered) >= HEADER_SEARCH_ROWS:
            break
    if found is None:
        return None
    positions, problems = found
    if problems:
        return [], problems
    out: list[_Row] = []
    for number, cells in rows:
        if number > MAX_SCANNED_ROWS:
            return [], [Problem(None, None, _l(MSG_TOO_MANY, max=MAX_ITEMS))]
        if all(is_blank(c) for c in cells):
            continue
        out.append(_Row(number, _pick(cells, positions)))
        if len(out) > MAX_ITEMS:
            break
    return out, []


def _xlsx_value(cell: Any) -> Any:
    v = cell_value(cell)  # a formula stays a Formula (refused when read), an Excel error a Bad
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _xlsx_rows(data: bytes) -> tuple[list[_Row], list[Problem]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = open_workbook(data)
        try:
            for ws in wb.worksheets:
                ws.reset_dimensions()
                rows = ((n, [_xlsx_value(c) for c in cells])
                        for n, cells in enumerate(sheet_rows(ws, 1, None, MAX_COLUMNS), start=1))
                table = _table_rows(rows)
                if table is not None:
                    return table  # the first sheet with a header row near the top
            return [], [Problem(None, None, _l(MSG_NO_HEADER))]
        finally:
            wb.close()


def _csv_rows(text: str) -> tuple[list[_Row], list[Problem]]:
    return _table_rows(csv_lines(text)) or ([], [Problem(None, None, _l(MSG_NO_HEADER))])


def _text_rows(text: str) -> tuple[list[_Row], list[Problem]]:
    """Pasted lines: one item per line, cells split by tab or |; an optional header line first."""
    out: list[_Row] = []
    positions: dict[str, int] | None = None
    width = 0
    first = True
    for number, cells in pasted_lines(text):
        if first:
            first = False
            found = _header(cells, number, 2)
            if found is not None:
                positions, problems = found
                if problems:
                    return [], problems
                width = len(cells)
                continue
        if all(c is None for c in cells):
            continue
        if positions is not None:
            row = _Row(number, _pick(cells, positions))
            used = max(i for i, c in enumerate(cells) if c is not None) + 1
            if used > width:
                row.problem = _l(MSG_EXTRA_CELLS_HEADER, n=used, max=width)
            out.append(row)
        else:
            while len(cells) > len(COLUMNS) and cells[-1] is None:
                cells.pop()
            row = _Row(number, dict(zip(COLUMNS, cells)))
            if len(cells) < MIN_CELLS:
                row.problem = _l(MSG_FEW_CELLS, n=len(cells))
            elif len(cells) > len(COLUMNS):
                row.problem = _l(MSG_EXTRA_CELLS, n=len(cells), max=len(COLUMNS))
            out.append(row)
        if len(out) > MAX_ITEMS:
            break
    return out, []


def read_rows(data: bytes | str, kind: str) -> tuple[list[_Row], list[Problem]]:
    """Rows of the input (header mapped away), or the problems that stop reading it.

    :raises ImportFileError: the input cannot be read at all.
    """
    kind = sniff(data, kind)  # a workbook is recognised by its content whatever the kind says
    if kind == "xlsx":
        return _xlsx_rows(data)  # type: ignore[arg-type]
    text = data if isinstance(data, str) else decode_text(data, too_big=MSG_TOO_BIG)
    if len(text) > MAX_TEXT_BYTES:
        raise ImportFileError(_l(MSG_TOO_BIG))
    return _csv_rows(text) if kind == "csv" else _text_rows(text)


# --- the check -------------------------------------------------------------------------------------

@dataclass
class _Parsed:
    row: int
    category: str | None = None
    code: str | None = None
    text: str | None = None
    magnitude: int | None = None
    #: direction the row itself states (加扣 or the sign of the points), None if it says nothing
    hint: str | None = None
    unit: str = "per_event"
    cap_period: str = "none"
    cap_points: int | None = None
    level: str = "village"
    applies_to: str = "person"
    evidence: bool = False
    article: str | None = None
    bad: bool = False


def _fold_code(s: str) -> str:
    """Item codes: full-width letters and digits become ASCII (Ａ０１ is A01)."""
    return "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in s)


def _parse_row(raw: _Row, problems: list[Problem], last_category: list[Any]) -> _Parsed:
    out = _Parsed(raw.number)

    def bad(column: str | None, message: Any) -> None:
        problems.append(Problem(raw.number, column, message))
        out.bad = True

    if raw.problem is not None:
        bad(None, raw.problem)
        return out
    cells = raw.cells

    def read(column: str, reader):
        value = cells.get(column)
        if isinstance(value, Bad):
            bad(column, value.message)
            return None
        try:
            return reader(value)
        except Bad as e:
            bad(column, e.message)
            return None

    category = read(COL_CATEGORY, lambda v: _as_text(v, COL_CATEGORY))
    if category is None and not out.bad:
        if last_category[0] is None:
            bad(COL_CATEGORY, _l(MSG_MISSING_CATEGORY))
        elif last_category[0] is not False:
            category = last_category[0]  # an empty (merged) cell: the category of the row above
        else:
            out.bad = True  # the row above had a bad category: reported there
    elif out.bad:
        last_category[0] = False
    if category is not None:
        last_category[0] = category
    out.category = category

    before = len(problems)
    code = read(COL_CODE, lambda v: _as_text(v, COL_CODE))
    if code is None and len(problems) == before:
        bad(COL_CODE, _l(MSG_MISSING_CODE))
    out.code = _fold_code(code) if code else None

    before = len(problems)
    out.text = read(COL_TEXT, lambda v: _as_text(v, COL_TEXT, multiline=True))
    if out.text is None and len(problems) == before:
        bad(COL_TEXT, _l(MSG_MISSING_TEXT))

    column_direction = read(COL_DIRECTION, lambda v: _lookup(v, COL_DIRECTION, DIRECTION_BY_LABEL,
                                                             DIRECTION_LABELS))
    before = len(problems)
    parsed = read(COL_POINTS, _points)
    per = None
    if parsed is None:
        if len(problems) == before:
            bad(COL_POINTS, _l(MSG_MISSING_POINTS))
    else:
        out.magnitude, sign_direction, per = parsed
        if column_direction and sign_direction and column_direction != sign_direction:
            shown = _as_text(cells.get(COL_POINTS), COL_POINTS, max_len=32) or ""
            bad(COL_POINTS, _l(MSG_SIGN_CONFLICT, value=shown, direction=DIRECTION_LABELS[column_direction]))
        else:
            out.hint = column_direction or sign_direction
    if parsed is None and column_direction:
        out.hint = column_direction  # the points are wrong, but the row still says what its category does

    unit = read(COL_UNIT, lambda v: _lookup(v, COL_UNIT, UNIT_BY_LABEL, UNIT_LABELS))
    if unit and per and unit != per:
        bad(COL_POINTS, _l(MSG_POINTS_UNIT, per=UNIT_LABELS[per], unit=UNIT_LABELS[unit]))
    out.unit = unit or per or "per_event"

    cap_period = read(COL_CAP_PERIOD, _cap_period)
    before = len(problems)
    cap = read(COL_CAP, _cap)
    cap_ok = len(problems) == before
    if cap is not None and (cap_period or "none") == "none":
        bad(COL_CAP_PERIOD, _l(MSG_CAP_NO_PERIOD, n=cap))
    elif cap is None and cap_ok and cap_period not in (None, "none"):
        bad(COL_CAP, _l(MSG_PERIOD_NO_CAP, period=CAP_PERIOD_LABELS[cap_period]))
    out.cap_period, out.cap_points = cap_period or "none", cap

    out.level = read(COL_LEVEL, lambda v: _lookup(v, COL_LEVEL, LEVEL_BY_LABEL, LEVEL_LABELS)) or "village"
    out.applies_to = read(COL_APPLIES, lambda v: _lookup(v, COL_APPLIES, APPLIES_BY_LABEL,
                                                         APPLIES_LABELS)) or "person"
    evidence = read(COL_EVIDENCE, lambda v: _lookup(v, COL_EVIDENCE, EVIDENCE_BY_LABEL, {"y": "是", "n": "否"}))
    out.evidence = bool(evidence)
    out.article = read(COL_ARTICLE, lambda v: _as_text(v, COL_ARTICLE))
    return out


def check_items(village: Village, data: bytes | str, kind: str) -> ItemImportResult:
    """Dry run: read and validate every row against the village's scheme; write nothing.

    `kind` is xlsx, csv or text (the pasted format). A workbook is recognised by its content whatever
    the kind says.

    :raises ImportFileError: the input cannot be read at all.
    """
    # a refused file (a bomb) costs its limit checks only, not a hash too
    rows, problems = read_rows(data, kind)
    digest = hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()
    scheme = village_scheme(village.id)
    if problems:
        return ItemImportResult([], problems, digest, new_scheme=scheme is None)

    existing: dict[str, str] = {}
    codes: dict[str, str] = {}
    if scheme is not None:
        existing = dict(db.session.execute(sa.select(PointCategory.name, PointCategory.direction)
                                           .where(PointCategory.scheme_id == scheme.id)).all())
        codes = dict(db.session.execute(sa.select(PointItem.code, PointItem.text)
                                        .where(PointItem.scheme_id == scheme.id)).all())

    if len(rows) > MAX_ITEMS:
        problems.append(Problem(None, None, _l(MSG_TOO_MANY, max=MAX_ITEMS)))
        rows = rows[:MAX_ITEMS]
    last_category: list[Any] = [None]
    parsed = [_parse_row(r, problems, last_category) for r in rows]

    # category directions: an existing category keeps its own; a new one takes the first row that says
    directions: dict[str, tuple[str, int | None]] = {name: (d, None) for name, d in existing.items()}
    for p in parsed:
        if p.category and p.hint and p.category not in directions:
            directions[p.category] = (p.hint, p.row)

    seen_codes: dict[str, int] = {}
    plans: list[ItemPlan] = []
    for p in parsed:
        if p.code:
            if p.code in seen_codes:
                problems.append(Problem(p.row, COL_CODE, _l(MSG_CODE_DUPLICATE, code=p.code,
                                                            row=seen_codes[p.code])))
                p.bad = True
            else:
                seen_codes[p.code] = p.row
                if p.code in codes:
                    problems.append(Problem(p.row, COL_CODE, _l(MSG_CODE_EXISTS, code=p.code,
                                                                text=codes[p.code][:40])))
                    p.bad = True
        if not p.category:
            continue
        known = directions.get(p.category)
        if p.hint and known and known[0] != p.hint:
            if known[1] is None:
                message = _l(MSG_CATEGORY_EXISTS_OTHER, name=p.category, direction=DIRECTION_LABELS[known[0]],
                             other=DIRECTION_LABELS[p.hint])
            else:
                message = _l(MSG_CATEGORY_FILE_OTHER, name=p.category, direction=DIRECTION_LABELS[known[0]],
                             row=known[1], other=DIRECTION_LABELS[p.hint])
            problems.append(Problem(p.row, COL_CATEGORY, message))
            p.bad = True
            continue
        if known is None and p.magnitude is not None:
            problems.append(Problem(p.row, COL_DIRECTION, _l(MSG_NO_DIRECTION)))
            p.bad = True
            continue
        if p.bad or p.magnitude is None or known is None:
            continue
        direction = known[0]
        plans.append(ItemPlan(p.row, p.category, direction, pts.ItemData(
            code=p.code or "", text=p.text or "", points=p.magnitude if direction == "add" else -p.magnitude,
            unit=p.unit, cap_period=p.cap_period, cap_points=p.cap_points, level=p.level,
            applies_to=p.applies_to, evidence_required=p.evidence, article_ref=p.article)))

    categories: dict[str, CategoryPlan] = {}
    for plan in plans:
        cat = categories.get(plan.category)
        if cat is None:
            cat = categories[plan.category] = CategoryPlan(plan.category, plan.direction,
                                                           new=plan.category not in existing)
        cat.items += 1
    if not rows and not problems:
        problems.append(Problem(None, None, _l(MSG_NO_ITEMS)))
    sort_problems(problems, COLUMNS)
    if problems:
        plans, categories = [], {}
    return ItemImportResult(plans, problems, digest, list(categories.values()), new_scheme=scheme is None,
                            rows=len(rows))


def apply_items(village: Village, result: ItemImportResult) -> ItemImportSummary:
    """Create the scheme (when there is none), new categories and every item of a clean dry run.

    Flushes and never commits: the caller runs the dry run it passes in inside the same write
    transaction and commits once (app.tabular.write_checked), so the import is all rows or none.

    :raises PointsError: a service refused an item (the caller rolls back).
    """
    if not result.ok:
        raise ValueError("apply_items needs a dry run without problems")
    scheme = village_scheme(village.id)
    created = scheme is None
    if scheme is None:
        scheme = pts.create_scheme(village, DEFAULT_SCHEME_NAME)
    cats = {c.name: c for c in db.session.scalars(sa.select(PointCategory)
                                                  .where(PointCategory.scheme_id == scheme.id))}
    sort = max((c.sort for c in cats.values()), default=-1) + 1
    new_categories = linked = 0
    for plan in result.items:
        cat = cats.get(plan.category)
        if cat is None:
            cat = cats[plan.category] = pts.create_category(scheme, plan.category, plan.direction, sort=sort)
            sort += 1
            new_categories += 1
        elif cat.direction != plan.direction:
            raise pts.PointsError(_l(MSG_CHANGED_MEANWHILE))
        item = pts.create_item(cat, replace(plan.data))
        # the 依据 column names articles (村规民约第五条): the item cites those of the rules published now
        linked += link_named_articles(item, plan.data.article_ref)
    summary = ItemImportSummary(add=result.add_count, deduct=result.deduct_count,
                                categories=len(result.categories), new_categories=new_categories,
                                scheme_created=created)
    record("points.items_import", scheme, village_id=village.id,
           details={"add": summary.add, "deduct": summary.deduct, "categories": summary.categories,
                    "new_categories": new_categories, "scheme_created": created, "rows": result.rows,
                    "articles": linked, "sha256": result.sha256})
    return summary
