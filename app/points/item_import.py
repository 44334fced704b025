"""Import of scheme items (积分细则) from .xlsx, .csv or a pasted table: dry run, then apply.

Usable without HTTP (the `flask points import-items` command does exactly this)::

    result = check_items(village, data, "xlsx")         # reads only, writes nothing
    if result.ok:                                       # re-check and apply in one write transaction
        done = app.tabular.write_checked(lambda: check_items(village, data, "xlsx"),
                                         lambda r: apply_items(village, r), refusals=(PointsError,),
                                         changed_meanwhile=MSG_CHANGED_MEANWHILE)

It takes a county's scoring annex (评价指标与赋分标准) as the village has it (docs/architecture.md,
"Points item import"): the header row may sit below a title and repeat per section, under the names
these tables use (信息属性 / 类别, 信息类别 / 领域, 信息层级, 评价标准 / 指标, 信用赋分 / 分值, 备注 …);
section rows (一、守信信息) give the direction or the category of the rows under them; a merged cell
(or, in pasted text, a row short of its leading cells: the web table had rowspan) gives its value to
every row it spans; items without a code are numbered per category; points such as +5, 扣10分,
-2分/次, +1至+10 (a range) or 降B级 (a judgement item, no automatic points) are read; caps and units
are read from the notes, and what a note says that is not understood is kept on the item as text.

A row that cannot be imported as it is is listed with the decision it needs; the clerk imports the
ready items now (the rest after editing: a row already in the scheme is skipped, not doubled), or
all or none (`partial`). Every problem message is a gettext msgid. Sniffing the input, the
hostile-file limits, cell cleaning, the problem list and the check → confirm flow are app.tabular's.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..audit.services import record
from ..extensions import db
from ..registry.models import Village
from ..rules.services import link_named_articles
from ..tabular import (
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
    merged_ranges,
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
from .models import MAX_ITEM_POINTS, PointCategory, PointItem
from .queries import village_scheme

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
COL_NOTE = "备注"
COL_CAP_GROUP = "共用上限"

#: the columns in the order pasted text gives them when it has no header line (备注 last, optional)
COLUMNS = (COL_CATEGORY, COL_DIRECTION, COL_CODE, COL_TEXT, COL_POINTS, COL_UNIT, COL_CAP_PERIOD, COL_CAP,
           COL_LEVEL, COL_APPLIES, COL_EVIDENCE, COL_ARTICLE, COL_NOTE, COL_CAP_GROUP)
REQUIRED_COLUMNS = (COL_TEXT, COL_POINTS)
#: a pasted line without a header needs at least the cells up to 分值
MIN_CELLS = COLUMNS.index(COL_POINTS) + 1

#: other headers seen in village schemes and county annexes (compared after NFKC, lower case, without
#: spaces, a trailing "(分)" and a trailing colon). 类别 names the category, or the direction when the
#: table has another category column (信息属性/类别 + 信息类别) or the cell holds 守信/失信 words.
HEADER_ALIASES = {
    COL_CATEGORY: ("分类", "类别名称", "积分类别", "项目类别", "信息类别", "领域", "评价领域", "指标类别",
                   "一级指标", "项目分类", "类型", "category"),
    COL_DIRECTION: ("加分/扣分", "加/扣", "加减", "加扣分", "方向", "信息属性", "属性", "性质", "奖惩",
                    "奖惩类别", "direction"),
    COL_CODE: ("项目编号", "代码", "代号", "指标编号", "编码", "code"),
    COL_TEXT: ("项目内容", "积分内容", "积分项目", "事项", "项目", "评价标准", "评分标准", "具体内容", "指标",
               "指标内容", "评价内容", "具体指标", "二级指标", "三级指标", "积分事项", "具体行为", "评价指标",
               "行为", "考核内容", "text"),
    COL_POINTS: ("分数", "积分", "分值标准", "计分标准", "信用赋分", "赋分", "赋分标准", "加减分", "加(扣)分",
                 "加(减)分", "积分分值", "赋分值", "得分", "评分", "积分标准", "评分分值", "points"),
    COL_UNIT: ("计分单位", "计分方式", "unit"),
    COL_CAP_PERIOD: ("封顶周期", "cap_period"),
    COL_CAP: ("上限", "封顶分值", "封顶", "cap_points", "cap"),
    COL_LEVEL: ("级别", "信息层级", "层级", "层次", "适用层级", "管理层级", "level"),
    COL_APPLIES: ("适用对象", "计分对象", "applies_to"),
    COL_EVIDENCE: ("佐证", "需佐证", "需要佐证材料", "佐证材料", "evidence", "evidence_required"),
    COL_ARTICLE: ("依据", "条款", "政策依据", "article", "article_ref"),
    COL_NOTE: ("说明", "备注说明", "计分说明", "附注", "注", "note"),
    COL_CAP_GROUP: ("上限组", "共享上限", "cap_group"),
}
#: a running number, not a code: recognised in a header, never read
SEQUENCE_HEADERS = ("序号", "序", "no", "no.")

DIRECTION_LABELS = {"add": "加分", "deduct": "扣分"}
DIRECTION_BY_LABEL = {
    "加分": "add", "加": "add", "加分项": "add", "add": "add", "+": "add",
    "扣分": "deduct", "扣": "deduct", "扣分项": "deduct", "减分": "deduct", "减": "deduct", "deduct": "deduct",
    "-": "deduct", "−": "deduct",
}
#: the words of a direction cell or section heading (守信信息, 失信信息, 加分项, 奖励类 …), folded by
#: _direction_word: numbering, brackets and the endings 信息/项/类/项目/指标/行为 removed
DIRECTION_WORDS = {
    "守信": "add", "加分": "add", "加": "add", "奖励": "add", "激励": "add", "正向": "add", "正面": "add",
    "add": "add", "+": "add",
    "失信": "deduct", "扣分": "deduct", "扣": "deduct", "减分": "deduct", "减": "deduct", "惩戒": "deduct",
    "约束": "deduct", "负向": "deduct", "负面": "deduct", "deduct": "deduct", "-": "deduct",
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
UNIT_BY_SUFFIX = {"次": "per_event", "月": "per_month", "季度": "per_quarter", "季": "per_quarter",
                  "人次": "per_event", "人": "per_event", "户": "per_event", "件": "per_event", "项": "per_event"}
CAP_PERIOD_LABELS = {"none": "无", "month": "每月", "quarter": "每季度", "year": "每年"}
CAP_PERIOD_BY_LABEL = {
    **{label: code for code, label in CAP_PERIOD_LABELS.items()}, **{c: c for c in CAP_PERIOD_LABELS},
    "不限": "none", "无上限": "none", "不封顶": "none",
    "月": "month", "按月": "month", "季度": "quarter", "每季": "quarter", "按季度": "quarter",
    "年": "year", "按年": "year", "每年度": "year", "年度": "year", "全年": "year",
}
LEVEL_LABELS = {"village": "村级", "shared": "区村级", "upper": "区级"}
#: 区级 / 县级 / 市级 (and the like) are the upper level, 区村级 / 县村级 the shared one, 村级 the village's
LEVEL_BY_LABEL = {
    **{label: code for code, label in LEVEL_LABELS.items()}, **{c: c for c in LEVEL_LABELS},
    "村": "village", "本村": "village", "共享": "shared", "上级": "upper",
    **{f"{u}级": "upper" for u in ("区", "县", "市", "省", "镇", "乡", "街道", "乡镇", "县区", "区县",
                                   "国家")},
    **{f"{u}村级": "shared" for u in ("区", "县", "镇", "乡", "街道", "乡镇")},
    **{f"{u}、村级": "shared" for u in ("区", "县", "镇", "乡")},
    **{f"{u}/村级": "shared" for u in ("区", "县", "镇", "乡")},
}
APPLIES_LABELS = {"person": "个人", "household": "家庭"}
APPLIES_BY_LABEL = {**{label: code for code, label in APPLIES_LABELS.items()},
                    **{c: c for c in APPLIES_LABELS},
                    "人": "person", "按人": "person", "户": "household", "按户": "household", "家庭户": "household"}
EVIDENCE_BY_LABEL = {
    **{v: True for v in ("是", "需要", "要", "有", "y", "yes", "true", "1", "√", "✓", "✔")},
    **{v: False for v in ("否", "不需要", "不要", "无", "n", "no", "false", "0", "×", "✗", "✘")},
}
#: what a table writes in an empty cell
NONE_MARKS = {"-", "—", "－", "–", "/", "／", "无", "——"}

MAX_LEN = {COL_CATEGORY: 64, COL_CODE: 32, COL_TEXT: 500, COL_ARTICLE: 200, COL_NOTE: 500, COL_CAP_GROUP: 64}
LOOKUP_MAX_LEN = 16
MAX_CAP_POINTS = MAX_ITEM_POINTS * 100
DEFAULT_SCHEME_NAME = "积分细则"
EXAMPLE_LINE = "公益服务 | 加分 | A01 | 参加村庄清洁日 | 2分/次 | 每次 | 每月 | 10 | 村级 | 个人 | 否 | 村规民约第五条"
#: letters of generated codes: add categories A, B, C …; deduct categories K, L, M …
ADD_LETTERS = "ABCDEFGHIJ"
DEDUCT_LETTERS = "KLMNOPQRSTUVWXYZ"
#: the header is looked for in this many rows at the top (a title and a preamble above it are common)
HEADER_ROWS = 30

# --- limits against hostile input (with app.tabular's: workbook size, rows, columns, text bytes) -----

MAX_ITEMS = 2000
#: cells that merged ranges may fill in all (a real annex fills a few thousand)
MAX_MERGED_CELLS = 500_000


MSG_TOO_BIG = N_("The file is too large to check. Split the items into several files.")
MSG_NO_HEADER = N_("No header row was found at the top of the sheet. A header row names the columns, for "
                   "example 类别, 加扣, 编号, 内容, 分值, 备注, or as county tables do: 信息属性, 信息类别, "
                   "评价标准, 信用赋分, 备注.")
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
MSG_MISSING_TEXT = N_("The item text (内容) is empty.")
MSG_MISSING_POINTS = N_("The points (分值) are empty.")
MSG_BAD_POINTS = N_("%(value)s is not a number of points. Write a whole number, for example 5, -5, +2分, "
                    "扣5分 or 2分/次, a range such as +1至+10, or the effect in words (降B级).")
MSG_POINTS_RANGE = N_("%(value)s is out of range: an item gives 1 to %(max)s points, or deducts 1 to "
                      "%(max)s.")
MSG_DECIMAL = N_("%(value)s has tenths: the scheme counts whole points, so the village must round this "
                 "item (for example to %(whole)s) and import it after editing.")
MSG_POINTS_UNIT = N_("The points are written per %(per)s, but 单位 says %(unit)s. Make the two agree, or "
                     "leave 单位 empty.")
MSG_BAD_DIRECTION = N_("Unknown value %(value)s. Write 加分 or 扣分 (or leave it empty when the points carry "
                       "a sign, like -5).")
MSG_NO_DIRECTION = N_("It is not clear whether this item adds or deducts points. Write 加分 or 扣分 in 加扣, "
                      "or give the points a sign (+2 or -5).")
MSG_SIGN_CONFLICT = N_("The points %(value)s and 加扣 (%(direction)s) disagree: an item that adds has "
                       "positive points, an item that deducts has negative points.")
MSG_CODE_DUPLICATE = N_("Item code %(code)s also appears in row %(row)s. Every item needs its own code.")
MSG_CODE_EXISTS = N_("Item code %(code)s is already in the scheme (%(text)s). An import never changes "
                     "existing items: remove this row or give the item a new code.")
MSG_BAD_CHOICE = N_("Unknown value %(value)s. Allowed: %(allowed)s.")
MSG_BAD_CAP = N_("%(value)s is not a cap. Write a whole number of points from 1 to %(max)s, for example 20.")
MSG_CAP_NO_PERIOD = N_("A cap of %(n)s points is given but no cap period (上限周期). Write 每月, 每季度 or "
                       "每年, or leave the cap empty.")
MSG_PERIOD_NO_CAP = N_("The cap period is %(period)s, but the cap (上限分值) is empty. Give the most points "
                       "per period, or write 无 as the cap period.")
MSG_OVER_ITEM_LIMIT = N_("The note says each item gives at most %(n)s points, but this item gives %(value)s.")
MSG_ALL_THERE = N_("All %(n)s items of the table are already in the scheme; there is nothing new to import.")
MSG_CHANGED_MEANWHILE = N_("The scheme was changed by someone else while importing; nothing was imported. "
                           "Please check the items again.")


# --- results ---------------------------------------------------------------------------------------

@dataclass
class ItemPlan:
    row: int
    category: str
    direction: str
    data: pts.ItemData
    #: the code was given by the import (no code in the table)
    numbered: bool = False
    #: what the import read from the note (and the text), in words of the sheet: 每年最多3分 …
    read: list[str] = field(default_factory=list)
    #: which rows share a cap (a merged note, or one subject), and the group's name
    cap_key: Any = field(default=None, repr=False, compare=False)
    cap_name: str | None = field(default=None, repr=False, compare=False)


@dataclass
class CategoryPlan:
    name: str
    direction: str
    new: bool
    items: int = 0
    #: the name as the table gives it, when the category was split by direction (村居管理 → 村居管理（加分）)
    split_from: str | None = None


@dataclass
class Skipped:
    """A row the import leaves out on purpose: its item is already in the scheme."""

    row: int
    code: str
    text: str


@dataclass
class Heading:
    """A row read as a section heading (一、守信信息) or a repeated header, not as an item."""

    row: int
    text: str


@dataclass
class ItemImportResult:
    """What a dry run found: the items ready to create, and the rows that need a decision (problems)."""

    items: list[ItemPlan]
    problems: list[Problem]
    sha256: str
    categories: list[CategoryPlan] = field(default_factory=list)
    #: the village has no scheme yet: applying creates one named DEFAULT_SCHEME_NAME
    new_scheme: bool = False
    rows: int = 0
    #: rows already in the scheme (an earlier import of the same table), left out
    skipped: list[Skipped] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    #: True: the ready items may be imported while other rows still need a decision
    partial: bool = False

    @property
    def file_problems(self) -> list[Problem]:
        return [p for p in self.problems if p.row is None]

    @property
    def decision_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems if p.row is not None})

    @property
    def ok(self) -> bool:
        if not self.items or self.file_problems:
            return False
        return self.partial or not self.problems

    @property
    def add_count(self) -> int:
        return sum(1 for i in self.items if i.direction == "add")

    @property
    def deduct_count(self) -> int:
        return sum(1 for i in self.items if i.direction == "deduct")

    @property
    def new_categories(self) -> list[CategoryPlan]:
        return [c for c in self.categories if c.new]

    @property
    def split_categories(self) -> list[CategoryPlan]:
        return [c for c in self.categories if c.split_from]

    @property
    def numbered(self) -> list[ItemPlan]:
        return [i for i in self.items if i.numbered]

    @property
    def judgement_items(self) -> list[ItemPlan]:
        return [i for i in self.items if i.data.judgement]

    @property
    def range_items(self) -> list[ItemPlan]:
        return [i for i in self.items if i.data.points_min is not None]

    @property
    def kept_notes(self) -> list[ItemPlan]:
        return [i for i in self.items if i.data.note]

    @property
    def cap_groups(self) -> dict[str, list[ItemPlan]]:
        groups: dict[str, list[ItemPlan]] = {}
        for i in self.items:
            if i.data.cap_group:
                groups.setdefault(i.data.cap_group, []).append(i)
        return groups


@dataclass(frozen=True)
class ItemImportSummary:
    add: int
    deduct: int
    categories: int
    new_categories: int
    scheme_created: bool
    #: rows that still need a decision (a partial import leaves them out)
    left: int = 0

    @property
    def items(self) -> int:
        return self.add + self.deduct


# --- reading cells ---------------------------------------------------------------------------------

def _as_text(raw: Any, column: str, *, multiline: bool = False, max_len: int | None = None) -> str | None:
    """Clean text (NFC, trimmed, no control/bidi/zero-width characters), or None when empty."""
    if raw is None:
        return None
    if isinstance(raw, Bad):
        raise raw
    if isinstance(raw, Formula):
        raise Bad(_l(MSG_FORMULA, value=raw.text[:40]))
    if isinstance(raw, (int, float)):
        raw = number_text(raw)
    if hasattr(raw, "isoformat"):
        raw = raw.isoformat()
    raw = str(raw)
    if raw[:1] == "'" and raw[1:2] in ("=", "+", "-", "@"):
        raw = raw[1:]  # a spreadsheet's text marker (our own exports write it: app.tabular.excel_safe)
    return clean_cell(raw, max_len or MAX_LEN.get(column, LOOKUP_MAX_LEN), multiline=multiline)


def _fold(s: str) -> str:
    """A lookup key: full-width ASCII and spaces folded, lower case (only for matching fixed labels)."""
    return unicodedata.normalize("NFKC", s).replace(" ", "").replace("\u3000", "").lower()


def _lookup(raw: Any, column: str, table: dict[str, Any], labels: dict[str, str]) -> Any:
    s = _as_text(raw, column, max_len=64)
    if s is None or s in NONE_MARKS:
        return None
    key = _fold(s)
    if key in table:
        return table[key]
    if s in table:
        return table[s]
    raise Bad(_l(MSG_BAD_CHOICE, value=s, allowed="、".join(labels.values())))


_NUMBERING_RE = re.compile(r"^(?:第?[一二三四五六七八九十百]+[、.．)）部分类]*|"
                           r"[(（][一二三四五六七八九十0-9]+[)）]|[0-9]+[、.．)）]|[A-Za-z][、.．)）])")
_DIRECTION_ENDINGS = ("信息", "项目", "指标", "行为", "事项", "类", "项")


def _strip_numbering(s: str) -> str:
    return _NUMBERING_RE.sub("", s, count=1).strip(" \u3000:：")


def _direction_word(value: Any) -> str | None:
    """add / deduct when the cell (or a heading) is a direction word: 守信信息, 失信, 加分项, 奖励类 …"""
    if not isinstance(value, str) or len(value) > 24:
        return None
    s = _strip_numbering(_fold(value))
    for part in (s, *re.findall(r"[(（]([^()（）]*)[)）]", s)):
        key = re.sub(r"[(（].*?[)）]", "", part) if part is s else part
        for _round in range(2):
            for ending in _DIRECTION_ENDINGS:
                if key.endswith(ending) and len(key) > len(ending):
                    key = key[:-len(ending)]
        if key in DIRECTION_WORDS:
            return DIRECTION_WORDS[key]
    return None


def _compact(s: str) -> str:
    return re.sub(r"[ \u3000]+", "", s.translate(FULLWIDTH_DIGITS)).replace("＋", "+").replace(
        "－", "-").replace("−", "-").replace("／", "/").replace("．", ".")


_NUM = r"[0-9]+(?:\.[0-9]+)?"
_PER = r"(?:人次|次|月|季度|季|人|户|件|项)"
POINTS_RE = re.compile(
    rf"(?:每(?P<per1>{_PER}))?"
    r"(?P<sign>[+\-])?(?P<verb>加|扣|减)?"
    rf"(?P<n>{_NUM})分?"
    rf"(?:[/]每?(?P<per2>{_PER}))?")
RANGE_RE = re.compile(
    rf"(?P<sign1>[+\-])?(?P<verb1>加|扣|减)?(?P<a>{_NUM})分?(?:至|到|~|～|—|–|-)"
    rf"(?P<sign2>[+\-])?(?P<verb2>加|扣|减)?(?P<b>{_NUM})分?(?:[/]每?(?P<per>{_PER}))?")


#: words of an effect that is not points (降B级, 一票否决, 直接判为零星, 取消评优资格, 列入黑名单, 酌情加分)
EFFECT_RE = re.compile(r"降|否决|取消|判为|判定|直接|不得|不予|列入|黑名单|清零|扣除|视情|酌情|"
                       r"评为|一律|零星|[A-Da-d]级|星级|资格")


@dataclass
class _Points:
    """What a points cell says: fixed points, a range, or an effect in words (a judgement item)."""

    magnitude: int | None = None
    lo: int | None = None
    hi: int | None = None
    direction: str | None = None
    per: str | None = None
    effect: str | None = None
    #: a points-per-amount rule (每100元加1分): its words, the amount per step and its unit
    rule: str | None = None
    amount_per: int | None = None
    amount_unit: str | None = None


def _mark_direction(sign: str | None, verb: str | None) -> str | None:
    mark = sign or verb
    return None if not mark else ("add" if mark in ("+", "加") else "deduct")


def _whole(text: str, shown: str) -> int:
    """A whole number of points from its digits; tenths are the village's to round (a decision)."""
    if "." in text and float(text) != int(float(text)):
        raise Bad(_l(MSG_DECIMAL, value=shown, whole=max(1, round(float(text)))))
    n = int(float(text)) if "." in text else int(text.lstrip("0") or "0")
    if len(text.split(".")[0].lstrip("0")) > 6 or n == 0 or n > MAX_ITEM_POINTS:
        raise Bad(_l(MSG_POINTS_RANGE, value=shown, max=MAX_ITEM_POINTS))
    return n


def _amount(text: str, shown: str) -> int:
    n = int(text.lstrip("0") or "0") if len(text) <= 9 else 0
    if n < 1:
        raise Bad(_l(MSG_BAD_POINTS, value=shown))
    return n


def _has_digit(s: str) -> bool:
    return any(unicodedata.category(c) in ("Nd", "No", "Nl") for c in s)


def _points(raw: Any) -> _Points | None:
    if raw is None:
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        shown = number_text(raw)
        if raw == 0 or abs(raw) > MAX_ITEM_POINTS:
            raise Bad(_l(MSG_POINTS_RANGE, value=shown, max=MAX_ITEM_POINTS))
        n = _whole(shown.lstrip("-"), shown)
        return _Points(magnitude=n, direction="deduct" if raw < 0 else None)
    s = _as_text(raw, COL_POINTS, max_len=64)
    if s is None or s in NONE_MARKS:
        return None
    compact = _compact(s)
    m = POINTS_RE.fullmatch(compact)
    if m is not None and not (m["sign"] and m["verb"]) and not (m["per1"] and m["per2"]):
        per = m["per1"] or m["per2"]
        return _Points(magnitude=_whole(m["n"], s), direction=_mark_direction(m["sign"], m["verb"]),
                       per=UNIT_BY_SUFFIX[per] if per else None)
    m = RANGE_RE.fullmatch(compact)
    if m is not None and not (m["sign1"] and m["verb1"]) and not (m["sign2"] and m["verb2"]):
        d1, d2 = _mark_direction(m["sign1"], m["verb1"]), _mark_direction(m["sign2"], m["verb2"])
        if d1 and d2 and d1 != d2:
            raise Bad(_l(MSG_BAD_POINTS, value=s))
        a, b = _whole(m["a"], s), _whole(m["b"], s)
        if a == b:
            raise Bad(_l(MSG_BAD_POINTS, value=s))
        return _Points(lo=min(a, b), hi=max(a, b), direction=d1 or d2,
                       per=UNIT_BY_SUFFIX[m["per"]] if m["per"] else None)
    m = AMOUNT_RE.fullmatch(compact)
    if m is not None:
        verb = re.search(r"[0-9](?:个|元|小时|天|人次|平方米|公斤|斤)(加|扣|减)", compact)
        return _Points(magnitude=_whole(m["n"], s),
                       direction=_mark_direction(None, verb[1] if verb else None), per="per_amount", rule=s,
                       amount_per=_amount(m["amount"], s), amount_unit=m["what"])
    if EFFECT_RE.search(s) and not _has_digit(s) and len(s) <= 64 \
            and not re.search(r"[零一二两三四五六七八九十百]分", s):
        # 降B级, 直接判为零星, 一票否决: an effect, applied by a reviewer's judgement
        deduct = re.search(r"降|否决|取消|判为|扣|不得|失信|黑名单|清零|零星", s)
        return _Points(effect=s, direction="deduct" if deduct else None)
    raise Bad(_l(MSG_BAD_POINTS, value=s))


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


# --- notes: caps, units and the rest ----------------------------------------------------------------

_PERIOD_WORDS = {"年": "year", "年度": "year", "月": "month", "个月": "month", "季度": "quarter",
                 "季": "quarter", "个季度": "quarter"}
CAP_RE = re.compile(
    r"(?P<subject>.*?)"
    r"(?:(?:每个?|全|当|本)(?P<period>年度|年|个月|月|个季度|季度|季)(?:内|度)?)?"
    r"(?:累计|合计|总计|总共|共)?(?:加分|扣分|积分|得分|分值)?"
    r"(?:最多|最高|不超过|不得超过|不高于|上限为?|限|封顶)"
    r"(?P<verb>加|扣|减|计|得|为)?"
    rf"(?P<n>{_NUM})分(?:封顶|为限|为上限)?")
CAP_TAIL_RE = re.compile(
    r"(?P<subject>.*?)(?:(?:每个?|全|当|本)(?P<period>年度|年|个月|月|个季度|季度|季)(?:内|度)?)"
    rf"(?:累计|合计|总计)?(?P<verb>加|扣|减|计)?(?P<n>{_NUM})分(?:封顶|为限|为上限)")
UNIT_RE = re.compile(
    r"(?P<who>家庭成员|每人|个人|每户)?(?:每|按)(?P<u>次|人次|月|季度|季)"
    rf"(?:计|计分|计算|加|扣|减)?(?:(?P<n>{_NUM})分)?")
AMOUNT_RE = re.compile(
    r"(?:每|按)(?:捐款|捐赠|捐|服务|参加|累计)?(?P<amount>[0-9]+)(?P<what>元|小时|天|人次|平方米|公斤|斤|个)"
    rf"(?:加|扣|减|计|得)?(?P<n>{_NUM})分")
HOUSEHOLD_RE = re.compile(r"(?:按户|以户为单位|计入户主|户主|以家庭为单位)(?:计分|计|承担)?")
EVIDENCE_RE = re.compile(r"(?:需|须|需要|应)(?:提供|提交|附)?.{0,6}(?:佐证|证明|凭证|照片)(?:材料)?")
_CLAUSE_SPLIT = re.compile(r"[，,；;。\n]+")
_SUBJECT_NOISE = re.compile(r"^[、\s:：(（）)]*|[、\s:：(（）)]*$")


@dataclass
class _Note:
    unit: str | None = None
    cap_period: str | None = None
    cap_points: int | None = None
    #: the words a shared cap is written about (区级平台捐款每年最多加40分 → 区级平台捐款)
    cap_subject: str | None = None
    #: 每项分值不超过2分: no item gives more
    item_limit: int | None = None
    household: bool = False
    evidence: bool = False
    #: 每100元加1分 in the note: (amount per step, its unit)
    amount: tuple[int, str] | None = None
    read: list[str] = field(default_factory=list)
    unread: list[str] = field(default_factory=list)


def _read_note(text: str | None, *, cap_only: bool = False) -> _Note:
    """What a note (备注, or the item's own text with cap_only) says, clause by clause.

    A clause that is understood is listed in `read` as written; a note clause that is not is kept in
    `unread` (the item keeps it as text). A cap without a period (累计最多加10分) counts per year: the
    scheme's evaluation period.
    """
    out = _Note()
    if not text:
        return out
    for raw in _CLAUSE_SPLIT.split(text):
        clause = raw.strip(" \u3000")
        if not clause or clause in NONE_MARKS:
            continue
        compact = _compact(clause).lstrip("注:：").strip()
        m = CAP_RE.fullmatch(compact) or CAP_TAIL_RE.fullmatch(compact)
        if m is not None and "." not in m["n"]:
            n = int(m["n"])
            subject = _SUBJECT_NOISE.sub("", m["subject"] or "")
            if re.fullmatch(r"(?:每|单)(?:项|个项目|条)(?:分值|积分|赋分)?", subject) and not m["period"]:
                out.item_limit = n
            elif 1 <= n <= MAX_CAP_POINTS:
                out.cap_period = _PERIOD_WORDS.get(m["period"] or "年", "year")
                out.cap_points = n
                out.cap_subject = subject[:64] if len(subject) >= 2 else None
            else:
                out.unread.append(clause)
                continue
            out.read.append(clause)
            continue
        if cap_only:
            continue
        m = UNIT_RE.fullmatch(compact)
        if m is not None:
            out.unit = UNIT_BY_SUFFIX.get(m["u"], "per_event")
            out.read.append(clause)
            continue
        m = AMOUNT_RE.fullmatch(compact)
        if m is not None and len(m["amount"]) <= 9 and int(m["amount"]) >= 1:
            out.unit = "per_amount"
            out.amount = (int(m["amount"]), m["what"])
            out.read.append(clause)
            continue
        if HOUSEHOLD_RE.fullmatch(compact):
            out.household = True
            out.read.append(clause)
            continue
        if EVIDENCE_RE.fullmatch(compact):
            out.evidence = True
            out.read.append(clause)
            continue
        out.unread.append(clause)
    return out


# --- reading the input into rows -------------------------------------------------------------------

@dataclass
class _Row:
    number: int
    cells: dict[str, Any]
    #: a whole-row problem found while splitting (too few / too many cells)
    problem: Any = None
    #: column → (first row, last row) of a merged cell spanning several rows (xlsx)
    spans: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: the section the row is under: (direction or None, category or None)
    section: tuple[str | None, str | None] = (None, None)
    #: columns filled from the row above (a short row aligned from the right)
    inherited: frozenset[str] = frozenset()
    #: the direction column stands left of the category column (信息属性 | 信息类别): it groups categories,
    #: so an empty direction cell under a new category still takes the direction above
    direction_outer: bool = False


def _header_text(value: Any) -> str | None:
    if not isinstance(value, str) or len(value) > 40:
        return None
    s = _fold(value).strip("*").rstrip(":：")
    return re.sub(r"\([^()]*\)$", "", s) or s  # 分值（分）, 信用赋分（分/次）


def _header_key(value: Any) -> str | None:
    """The column a header cell names, or None."""
    s = _header_text(value)
    if s is None:
        return None
    for column in COLUMNS:
        if s == column or s in HEADER_ALIASES[column]:
            return column
    return None


def _header(cells: list[Any], row: int, minimum: int) -> tuple[dict[str, int], list[Problem]] | None:
    """The header's columns → positions, or None when the row is not a header."""
    positions: dict[str, int] = {}
    problems: list[Problem] = []
    plain_category: int | None = None  # a column headed just 类别
    for idx, value in enumerate(cells[:MAX_COLUMNS]):
        name = _header_key(value)
        if name is None:
            continue
        if name == COL_CATEGORY and _header_text(value) == COL_CATEGORY:
            plain_category = idx
            continue
        if name in positions:
            if cells[positions[name]] == value:
                continue  # a header cell merged across columns
            problems.append(Problem(row, name, _l(MSG_DUPLICATE_COLUMN, column=name)))
        positions.setdefault(name, idx)
    if plain_category is not None:
        # 信息属性/类别 beside 信息类别: 类别 is the direction; alone it is the category
        if COL_CATEGORY in positions and COL_DIRECTION not in positions:
            positions[COL_DIRECTION] = plain_category
        elif COL_CATEGORY not in positions:
            positions[COL_CATEGORY] = plain_category
        else:
            problems.append(Problem(row, COL_CATEGORY, _l(MSG_DUPLICATE_COLUMN, column=COL_CATEGORY)))
    filled = sum(1 for c in cells[:MAX_COLUMNS] if not is_blank(c))
    named = len(positions) + (plain_category is not None and COL_CATEGORY not in positions) + sum(
        1 for c in cells[:MAX_COLUMNS] if _header_text(c) in SEQUENCE_HEADERS)
    if len(positions) < minimum or not ({COL_TEXT, COL_POINTS} & positions.keys()) or named * 2 < filled:
        return None  # a header names most of its cells; an item row may hold a word such as 事项
    problems += [Problem(row, name, _l(MSG_MISSING_COLUMN, column=name))
                 for name in REQUIRED_COLUMNS if name not in positions]
    return positions, problems


def _pick(cells: list[Any], positions: dict[str, int]) -> dict[str, Any]:
    return {name: cells[i] if i < len(cells) else None for name, i in positions.items()}


def _distinct(cells: list[Any]) -> list[Any]:
    seen: list[Any] = []
    for c in cells:
        if not is_blank(c) and c not in seen:
            seen.append(c)
    return seen


GridRow = tuple[int, list[Any], dict[int, tuple[int, int]]]


def _table_rows(grid: list[GridRow], *, align_right: bool) -> tuple[list[_Row], list[Problem],
                                                                       list[Heading]] | None:
    """Rows of a sheet, CSV or pasted table under its header (None: no header in the first rows).

    After the header: a row that is a header again re-maps the columns (a repeated header per section);
    a row of one value (一、守信信息, merged across the table) is a section heading; with `align_right`
    a row with fewer cells than the header is aligned from the right and its missing leading cells are
    taken from the row above (a web table's rowspan, pasted).
    """
    found = None
    start = 0
    section: tuple[str | None, str | None] = (None, None)
    for i, (number, cells, _spans) in enumerate(grid[:HEADER_ROWS]):
        found = _header(cells, number, 2)
        if found is not None:
            start = i + 1
            break
        values = _distinct(cells)
        if len(values) == 1 and _direction_word(values[0]):  # 一、守信信息 above the header
            section = (_direction_word(values[0]), None)
    if found is None:
        return None
    positions, problems = found
    if problems:
        return [], problems, []
    width = max(positions.values()) + 1
    header_width = len(grid[start - 1][1])
    out: list[_Row] = []
    headings: list[Heading] = []
    previous: list[Any] = []
    for number, cells, spans in grid[start:]:
        if number > MAX_SCANNED_ROWS:
            return [], [Problem(None, None, _l(MSG_TOO_MANY, max=MAX_ITEMS))], []
        if all(is_blank(c) for c in cells):
            continue
        again = _header(cells, number, 2)
        filled = [c for c in cells if not is_blank(c)]
        if again is not None and not again[1] and all(
                _header_key(c) or _header_text(c) in SEQUENCE_HEADERS for c in filled):
            # the header again (one per section): every cell of it is a column name
            positions = again[0]
            width, header_width = max(positions.values()) + 1, len(cells)
            headings.append(Heading(number, " ".join(str(c) for c in _distinct(cells))[:80]))
            continue
        values = _distinct(cells)
        text_at = positions.get(COL_TEXT)
        only_text = (len(values) == 1 and text_at is not None and text_at < len(cells)
                     and cells[text_at] == values[0] and sum(1 for c in cells if not is_blank(c)) == 1)
        if len(values) == 1 and isinstance(values[0], str) and not only_text:
            title = values[0].strip(" \u3000")
            direction = _direction_word(title)
            if direction is not None:
                section = (direction, None)
            else:
                section = (section[0], (_strip_numbering(title) or title)[:64])
            headings.append(Heading(number, title[:80]))
            previous = []
            continue
        inherited: set[str] = set()
        used = len(cells)
        while used and is_blank(cells[used - 1]):
            used -= 1
        if align_right and 2 <= len(cells) < header_width and previous \
                and not _numeric_points(_pick(cells, positions).get(COL_POINTS)):
            missing = header_width - len(cells)
            cells = list(previous[:missing]) + list(cells)
            inherited = {name for name, i in positions.items() if i < missing}
        row = _Row(number, _pick(cells, positions), section=section, inherited=frozenset(inherited),
                   spans={name: spans[i] for name, i in positions.items() if i in spans},
                   direction_outer=positions.get(COL_DIRECTION, MAX_COLUMNS)
                   < positions.get(COL_CATEGORY, -1))
        if align_right and used > max(header_width, width):
            row.problem = _l(MSG_EXTRA_CELLS_HEADER, n=used, max=header_width)
        previous = list(cells)
        out.append(row)
        if len(out) > MAX_ITEMS:
            break
    return out, [], headings


def _numeric_points(value: Any) -> bool:
    """The cell reads as points (a number or a range), not as words: a short row whose points already sit
    under 分值 lacks trailing cells, not leading ones."""
    try:
        found = _points(value)
    except Bad:
        return False
    return found is not None and found.effect is None


def _xlsx_value(cell: Any) -> Any:
    v = cell_value(cell)  # a formula stays a Formula (refused when read), an Excel error a Bad
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _xlsx_grid(ws: Any) -> list[GridRow]:
    """The sheet's rows with every merged range's value copied into each cell it covers.

    Filling is bounded (MAX_MERGED_CELLS over all ranges, only within the rows and columns read): a
    hostile sheet of huge overlapping ranges is refused, not expanded.
    """
    rows: list[list[Any]] = []
    for cells in sheet_rows(ws, 1, None, MAX_COLUMNS):
        rows.append([_xlsx_value(c) for c in cells])
        if len(rows) >= MAX_SCANNED_ROWS:
            break
    spans: dict[int, dict[int, tuple[int, int]]] = {}
    filled = 0
    for min_row, min_col, max_row, max_col in merged_ranges(ws):
        if min_row > len(rows) or min_col > MAX_COLUMNS:
            continue
        last_row, last_col = min(max_row, len(rows)), min(max_col, MAX_COLUMNS)
        filled += (last_row - min_row + 1) * (last_col - min_col + 1)
        if filled > MAX_MERGED_CELLS:
            raise ImportFileError(_l(MSG_TOO_BIG))
        first = rows[min_row - 1]
        value = first[min_col - 1] if min_col - 1 < len(first) else None
        for r in range(min_row, last_row + 1):
            row = rows[r - 1]
            if len(row) < last_col:
                row.extend([None] * (last_col - len(row)))
            for c in range(min_col, last_col + 1):
                row[c - 1] = value
                if max_row > min_row:
                    spans.setdefault(r, {})[c - 1] = (min_row, max_row)
    return [(n, cells, spans.get(n, {})) for n, cells in enumerate(rows, start=1)]


def _xlsx_rows(data: bytes) -> tuple[list[_Row], list[Problem], list[Heading]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = open_workbook(data)
        try:
            for ws in wb.worksheets:
                ws.reset_dimensions()
                table = _table_rows(_xlsx_grid(ws), align_right=False)
                if table is not None:
                    return table  # the first sheet with a header row near the top
            return [], [Problem(None, None, _l(MSG_NO_HEADER))], []
        finally:
            wb.close()


def _text_grid(lines) -> list[GridRow]:
    grid: list[GridRow] = []
    for number, cells in lines:
        grid.append((number, cells, {}))
        if number > MAX_SCANNED_ROWS:
            break
    return grid


def _csv_rows(text: str) -> tuple[list[_Row], list[Problem], list[Heading]]:
    return _table_rows(_text_grid(csv_lines(text)), align_right=False) or (
        [], [Problem(None, None, _l(MSG_NO_HEADER))], [])


def _positional_rows(grid: list[GridRow]) -> list[_Row]:
    """Pasted lines without a header: the cells in the order of COLUMNS."""
    out: list[_Row] = []
    for number, cells, _spans in grid:
        if all(c is None for c in cells):
            continue
        cells = list(cells)
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
    return out


def _text_rows(text: str) -> tuple[list[_Row], list[Problem], list[Heading]]:
    """Pasted lines: cells split by tab or |; a header line first or below a title, else the cells in
    the order of COLUMNS."""
    grid = _text_grid(pasted_lines(text))
    table = _table_rows(grid, align_right=True)
    if table is not None:
        return table
    return _positional_rows(grid), [], []


def read_rows(data: bytes | str, kind: str) -> tuple[list[_Row], list[Problem], list[Heading]]:
    """Rows of the input (header mapped away), the problems that stop reading it, and the headings.

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
    points: _Points | None = None
    #: direction the row states (加扣, a direction word, its section), and the one its points say
    declared: str | None = None
    #: the words the direction was given in (守信信息), when the row took it from a cell
    direction_label: str | None = None
    signed: str | None = None
    direction: str | None = None
    unit: str = "per_event"
    cap_period: str = "none"
    cap_points: int | None = None
    cap_key: Any = None
    cap_name: str | None = None
    level: str = "village"
    applies_to: str = "person"
    evidence: bool = False
    article: str | None = None
    note: str | None = None
    read: list[str] = field(default_factory=list)
    bad: bool = False


def _fold_code(s: str) -> str:
    """Item codes: full-width letters and digits become ASCII (Ａ０１ is A01)."""
    return "".join(chr(ord(c) - 0xFEE0) if 0xFF01 <= ord(c) <= 0xFF5E else c for c in s)


class _Context:
    """What a row takes from the rows above when its cell is empty (a merged or rowspan cell)."""

    def __init__(self) -> None:
        self.section: tuple[str | None, str | None] = (None, None)
        self.category: str | None = None
        self.direction: str | None = None
        self.direction_label: str | None = None
        self.level: str | None = None


def _parse_row(raw: _Row, problems: list[Problem], ctx: _Context) -> _Parsed:
    out = _Parsed(raw.number)

    def bad(column: str | None, message: Any) -> None:
        problems.append(Problem(raw.number, column, message))
        out.bad = True

    if raw.section != ctx.section:  # a new section: nothing carries over from the one above
        ctx.section = raw.section
        ctx.category = ctx.direction = ctx.direction_label = ctx.level = None
    if raw.problem is not None:
        bad(None, raw.problem)
        return out
    cells = raw.cells

    def read(column: str, reader):
        try:
            return reader(cells.get(column))
        except Bad as e:
            bad(column, e.message)
            return None

    # direction: the 加扣 / 信息属性 cell, else a direction word in the category cell, else the section
    # the row's own direction (its cell, or a merged / rowspan cell) is firm; one taken from an empty cell's
    # rows above is weak: the points' own sign overrides it
    own = False
    direction_text = read(COL_DIRECTION, lambda v: _as_text(v, COL_DIRECTION, max_len=64))
    category = read(COL_CATEGORY, lambda v: _as_text(v, COL_CATEGORY))
    if direction_text is not None and direction_text not in NONE_MARKS:
        declared = _direction_word(direction_text) or DIRECTION_BY_LABEL.get(_fold(direction_text))
        if declared is None:
            bad(COL_DIRECTION, _l(MSG_BAD_DIRECTION, value=direction_text))
        ctx.direction, ctx.direction_label, own = declared, direction_text, True
    elif category is not None and category != ctx.category and not raw.direction_outer:
        ctx.direction = ctx.direction_label = None  # a new category: the direction above was its own
    if category is not None and COL_DIRECTION not in cells and _direction_word(category):
        ctx.direction, ctx.direction_label, own = _direction_word(category), category, True
        category = None  # 类别 holding 守信信息: a direction, the category comes from elsewhere
        ctx.category = None
    elif category is not None:
        ctx.category = category
    out.declared = ctx.direction or raw.section[0]
    out.direction_label = ctx.direction_label
    own = own or (ctx.direction is None and raw.section[0] is not None)
    out.category = ctx.category or raw.section[1]

    code = read(COL_CODE, lambda v: _as_text(v, COL_CODE))
    out.code = _fold_code(code) if code and code not in NONE_MARKS else None

    before = len(problems)
    out.text = read(COL_TEXT, lambda v: _as_text(v, COL_TEXT, multiline=True))
    if out.text is None and len(problems) == before:
        bad(COL_TEXT, _l(MSG_MISSING_TEXT))

    before = len(problems)
    parsed = read(COL_POINTS, _points)
    per = None
    if parsed is None:
        if len(problems) == before:
            bad(COL_POINTS, _l(MSG_MISSING_POINTS))
    else:
        out.points, per = parsed, parsed.per
        out.signed = parsed.direction
        if out.declared and parsed.direction and out.declared != parsed.direction and parsed.effect is None:
            if own:
                shown = _as_text(cells.get(COL_POINTS), COL_POINTS, max_len=64) or ""
                bad(COL_POINTS, _l(MSG_SIGN_CONFLICT, value=shown, direction=DIRECTION_LABELS[out.declared]))
            else:
                out.declared = None
    out.direction = out.declared or out.signed

    unit = read(COL_UNIT, lambda v: _lookup(v, COL_UNIT, UNIT_BY_LABEL, UNIT_LABELS))
    if unit and per and unit != per:
        bad(COL_POINTS, _l(MSG_POINTS_UNIT, per=UNIT_LABELS[per], unit=UNIT_LABELS[unit]))

    cap_period = read(COL_CAP_PERIOD, _cap_period)
    before = len(problems)
    cap = read(COL_CAP, _cap)
    cap_ok = len(problems) == before
    if cap is not None and (cap_period or "none") == "none":
        bad(COL_CAP_PERIOD, _l(MSG_CAP_NO_PERIOD, n=cap))
    elif cap is None and cap_ok and cap_period not in (None, "none"):
        bad(COL_CAP, _l(MSG_PERIOD_NO_CAP, period=CAP_PERIOD_LABELS[cap_period]))
    out.cap_period, out.cap_points = cap_period or "none", cap

    level = read(COL_LEVEL, lambda v: _lookup(v, COL_LEVEL, LEVEL_BY_LABEL, LEVEL_LABELS))
    if level is not None:
        ctx.level = level
    out.level = level or ctx.level or "village"
    out.applies_to = read(COL_APPLIES, lambda v: _lookup(v, COL_APPLIES, APPLIES_BY_LABEL,
                                                         APPLIES_LABELS)) or "person"
    evidence = read(COL_EVIDENCE, lambda v: _lookup(v, COL_EVIDENCE, EVIDENCE_BY_LABEL, {"y": "是", "n": "否"}))
    out.evidence = bool(evidence)
    out.article = read(COL_ARTICLE, lambda v: _as_text(v, COL_ARTICLE))

    # the note (and caps written in the item's own text)
    note_text = read(COL_NOTE, lambda v: _as_text(v, COL_NOTE, multiline=True))
    note = _read_note(note_text)
    if note.cap_points is None and out.text:
        in_text = _read_note(out.text, cap_only=True)
        if in_text.cap_points is not None:
            note.cap_period, note.cap_points, note.cap_subject = (in_text.cap_period, in_text.cap_points,
                                                                  in_text.cap_subject)
            note.read += in_text.read
        if note.item_limit is None:
            note.item_limit = in_text.item_limit
    out.read = note.read
    if out.points is not None and out.points.rule:
        out.read = [out.points.rule, *out.read]
    elif out.points is not None and note.amount and out.points.lo is None and out.points.effect is None:
        out.points.amount_per, out.points.amount_unit = note.amount  # +1 with 每100元加1分 in the note
    out.note = "；".join(note.unread)[:500] or None
    out.unit = unit or per or note.unit or "per_event"
    if note.household and not cells.get(COL_APPLIES):
        out.applies_to = "household"
    out.evidence = out.evidence or note.evidence
    group = read(COL_CAP_GROUP, lambda v: _as_text(v, COL_CAP_GROUP))
    if group and out.cap_points is not None:
        out.cap_key, out.cap_name = ("named", group), group
    if note.cap_points is not None and out.cap_points is None:
        out.cap_period, out.cap_points = note.cap_period or "year", note.cap_points
        span = raw.spans.get(COL_NOTE)
        if span is not None and span[1] > span[0]:
            out.cap_key, out.cap_name = ("span", span), (note.cap_subject or note_text or "")[:64]
        elif note.cap_subject:
            out.cap_key, out.cap_name = ("subject", note.cap_subject), note.cap_subject
    if note.item_limit is not None and out.points is not None:
        biggest = out.points.magnitude or out.points.hi
        if biggest is not None and biggest > note.item_limit:
            shown = _as_text(cells.get(COL_POINTS), COL_POINTS, max_len=64) or str(biggest)
            bad(COL_NOTE, _l(MSG_OVER_ITEM_LIMIT, n=note.item_limit, value=shown))
    return out


def _item_data(p: _Parsed, direction: str) -> pts.ItemData:
    sign = 1 if direction == "add" else -1
    pt = p.points
    assert pt is not None  # noqa: S101  (narrows the type: the check above refused items without points)
    data = pts.ItemData(code=p.code or "", text=p.text or "", points=0, unit=p.unit, cap_period=p.cap_period,
                        cap_points=p.cap_points, level=p.level, applies_to=p.applies_to,
                        evidence_required=p.evidence, article_ref=p.article, note=p.note)
    if pt.effect is not None:
        data.judgement, data.effect = True, pt.effect[:64]
    elif pt.lo is not None and pt.hi is not None:
        lo, hi = sorted((sign * pt.lo, sign * pt.hi))
        data.points_min, data.points_max = lo, hi
        data.points = hi if sign > 0 else lo
    else:
        data.points = sign * (pt.magnitude or 0)
        if pt.amount_per is not None:
            data.amount_per, data.amount_unit, data.unit = pt.amount_per, pt.amount_unit, "per_amount"
    return data


def _code_prefix(codes: list[str]) -> tuple[str, int] | None:
    """The letters the codes of a category start with, and the highest number after them."""
    best: tuple[str, int] | None = None
    for code in codes:
        m = re.fullmatch(r"([A-Za-z]+)([0-9]+)", code)
        if m and (best is None or (m[1] == best[0] and int(m[2]) > best[1])):
            best = (m[1] if best is None else best[0], int(m[2]))
    return best


def _letters(pool: str) -> list[str]:
    return list(pool) + [a + b for a in pool for b in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"]


def check_items(village: Village, data: bytes | str, kind: str, *, partial: bool = False) -> ItemImportResult:
    """Dry run: read and validate every row against the village's scheme; write nothing.

    `kind` is xlsx, csv or text (the pasted format). A workbook is recognised by its content whatever
    the kind says. With `partial` the result is `ok` when some items are ready although other rows
    need a decision (the clerk's choice: import the ready ones now).

    :raises ImportFileError: the input cannot be read at all.
    """
    # a refused file (a bomb) costs its limit checks only, not a hash too
    rows, problems, headings = read_rows(data, kind)
    digest = hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()
    scheme = village_scheme(village.id)
    if problems:
        return ItemImportResult([], problems, digest, new_scheme=scheme is None, partial=partial)

    existing: dict[str, str] = {}
    codes: dict[str, str] = {}
    existing_items: dict[tuple[str, str], str] = {}
    category_codes: dict[str, list[str]] = {}
    if scheme is not None:
        existing = dict(db.session.execute(sa.select(PointCategory.name, PointCategory.direction)
                                           .where(PointCategory.scheme_id == scheme.id)).all())
        for code, text, name in db.session.execute(
                sa.select(PointItem.code, PointItem.text, PointCategory.name)
                .join(PointCategory, PointItem.category_id == PointCategory.id)
                .where(PointItem.scheme_id == scheme.id)):
            codes[code] = text
            existing_items[(name, text)] = code
            category_codes.setdefault(name, []).append(code)

    if len(rows) > MAX_ITEMS:
        problems.append(Problem(None, None, _l(MSG_TOO_MANY, max=MAX_ITEMS)))
        rows = rows[:MAX_ITEMS]
    ctx = _Context()
    parsed = [_parse_row(r, problems, ctx) for r in rows]

    # a row that says nothing about its direction takes its category's: the scheme's, or the one the
    # category's other rows say when they all say the same; a judgement item deducts (降级, 否决)
    said: dict[str, set[str]] = {}
    for p in parsed:
        if p.category and p.direction:
            said.setdefault(p.category, set()).add(p.direction)
    for p in parsed:
        if p.direction is None and p.category:
            if p.category in existing:
                p.direction = existing[p.category]
            elif len(said.get(p.category, ())) == 1:
                p.direction = next(iter(said[p.category]))
        if p.direction is None and p.points is not None and p.points.effect is not None:
            p.direction = "deduct"
        if p.direction is None and not p.bad and p.points is not None:
            problems.append(Problem(p.row, COL_DIRECTION, _l(MSG_NO_DIRECTION)))
            p.bad = True
        if p.category is None and p.direction is not None:
            # no category: the direction's own heading (守信信息) names one, else 加分项 / 扣分项
            said_as = p.direction_label
            label = said_as if said_as and _direction_word(said_as) == p.direction \
                and _fold(said_as) not in DIRECTION_BY_LABEL else None
            p.category = label or ("加分项" if p.direction == "add" else "扣分项")

    # a category with both add and deduct rows (here or in the scheme) is split: 村居管理（加分）
    directions: dict[str, set[str]] = {}
    for p in parsed:
        if p.category and p.direction:
            directions.setdefault(p.category, set()).add(p.direction)
    for name, ds in directions.items():
        if name in existing:
            ds.add(existing[name])

    def final_name(name: str, direction: str) -> str:
        if len(directions.get(name, ())) < 2 or existing.get(name) == direction:
            return name
        return f"{name[:58]}（{DIRECTION_LABELS[direction]}）"

    plans: list[ItemPlan] = []
    skipped: list[Skipped] = []
    seen_codes: dict[str, int] = {}
    for p in parsed:
        if p.code and p.category and p.direction:
            category_codes.setdefault(final_name(p.category, p.direction), []).append(p.code)
        if p.code and p.bad:
            seen_codes.setdefault(p.code, p.row)  # a row that needs a decision still holds its code
        if p.bad or p.points is None or p.direction is None or not p.category or not p.text:
            continue
        name = final_name(p.category, p.direction)
        if (name, p.text) in existing_items and (p.code is None or existing_items[(name, p.text)] == p.code):
            skipped.append(Skipped(p.row, existing_items[(name, p.text)], p.text))
            continue
        if p.code:
            if p.code in seen_codes:
                problems.append(Problem(p.row, COL_CODE, _l(MSG_CODE_DUPLICATE, code=p.code,
                                                            row=seen_codes[p.code])))
                continue
            seen_codes[p.code] = p.row
            if p.code in codes:
                problems.append(Problem(p.row, COL_CODE, _l(MSG_CODE_EXISTS, code=p.code,
                                                            text=codes[p.code][:40])))
                continue
        try:
            data_ = _item_data(p, p.direction)
        except Bad as e:
            problems.append(Problem(p.row, COL_POINTS, e.message))
            continue
        plans.append(ItemPlan(p.row, name, p.direction, data_, numbered=not p.code, read=list(p.read),
                              cap_key=p.cap_key, cap_name=p.cap_name))

    _number(plans, existing, category_codes, set(codes) | set(seen_codes))
    _cap_groups(plans)

    categories: dict[str, CategoryPlan] = {}
    for plan in plans:
        cat = categories.get(plan.category)
        if cat is None:
            base = next((n for n in directions if final_name(n, plan.direction) == plan.category),
                        plan.category)
            cat = categories[plan.category] = CategoryPlan(plan.category, plan.direction,
                                                           new=plan.category not in existing,
                                                           split_from=base if base != plan.category else None)
        cat.items += 1
    if not rows and not problems:
        problems.append(Problem(None, None, _l(MSG_NO_ITEMS)))
    elif skipped and not plans and not problems:
        problems.append(Problem(None, None, _l(MSG_ALL_THERE, n=len(skipped))))
    sort_problems(problems, COLUMNS)
    return ItemImportResult(plans, problems, digest, list(categories.values()), new_scheme=scheme is None,
                            rows=len(rows), skipped=skipped, headings=headings, partial=partial)


def _number(plans: list[ItemPlan], existing: dict[str, str], category_codes: dict[str, list[str]],
            taken: set[str]) -> None:
    """Give every item without a code one: per category, the category's letters and a running number
    (A01, A02 … for the first add category, K01 … for the first deduct category), after the codes the
    category already has; never a code in use."""
    used_letters = {m[1] for c in taken if (m := re.fullmatch(r"([A-Za-z]+)([0-9]+)", c))}
    pools = {"add": _letters(ADD_LETTERS), "deduct": _letters(DEDUCT_LETTERS)}
    prefixes: dict[str, list[Any]] = {}
    for plan in plans:
        if not plan.numbered:
            continue
        state = prefixes.get(plan.category)
        if state is None:
            known = _code_prefix(category_codes.get(plan.category, []))
            if known is None:
                letters = next((x for x in pools[plan.direction] if x not in used_letters), None)
                if letters is None:
                    letters = f"X{len(prefixes) + 1}-"
                used_letters.add(letters)
                known = (letters, 0)
            state = prefixes[plan.category] = [known[0], known[1]]
        while True:
            state[1] += 1
            code = f"{state[0]}{state[1]:02d}"
            if code not in taken:
                break
        taken.add(code)
        plan.data.code = code


def _cap_groups(plans: list[ItemPlan]) -> None:
    """A cap written once for several rows (one merged note, or one subject: 区级平台捐款每年最多加40分)
    is one cap group; a cap that only one item carries stays the item's own."""
    groups: dict[Any, list[ItemPlan]] = {}
    for plan in plans:
        key = plan.cap_key
        if key is not None:
            groups.setdefault(key, []).append(plan)
    for key, members in groups.items():
        if len(members) < 2 and key[0] != "named":
            continue
        name = members[0].cap_name or members[0].data.text[:64]
        for plan in members:
            plan.data.cap_group = name[:64]


def apply_items(village: Village, result: ItemImportResult) -> ItemImportSummary:
    """Create the scheme (when there is none), new categories and every ready item of a dry run.

    Flushes and never commits: the caller runs the dry run it passes in inside the same write
    transaction and commits once (app.tabular.write_checked). Without `partial` nothing is written
    unless every row is ready.

    :raises PointsError: a service refused an item (the caller rolls back).
    """
    if not result.ok:
        raise ValueError("apply_items needs a dry run that is ready")
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
    left = len(result.decision_rows)
    summary = ItemImportSummary(add=result.add_count, deduct=result.deduct_count,
                                categories=len(result.categories), new_categories=new_categories,
                                scheme_created=created, left=left)
    record("points.items_import", scheme, village_id=village.id,
           details={"add": summary.add, "deduct": summary.deduct, "categories": summary.categories,
                    "new_categories": new_categories, "scheme_created": created, "rows": result.rows,
                    "left": left, "skipped": len(result.skipped), "articles": linked,
                    "sha256": result.sha256})
    return summary
