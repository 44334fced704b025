"""Which household is in which grid, from the list a village already keeps (网格户籍对照表): .xlsx, .csv or
pasted lines with the columns 户号 and 网格.

Through app.tabular's check → confirm flow: `check_households` reads and checks every row and writes nothing;
`apply_households` places them, all or none. A row names a grid or a micro-grid by its name; a grid divided
into micro-grids is refused (its households are placed in the micro-grids). Households already in the named
grid are left as they are and counted; a household in another grid moves, and its history keeps the old one.
"""
from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from ..extensions import db
from ..registry.models import Household, HouseholdStatus, Village
from ..tabular import (
    MSG_DUPLICATE_COLUMN,
    MSG_MISSING_COLUMN,
    N_,
    Problem,
    is_blank,
    sniff,
    sort_problems,
)
from ..tabular.table import read_table, row_values
from . import services as gs
from .models import Grid, GridMembership

#: header → the names villages write it as
COLUMNS = {
    "户号": ("户号", "户编号", "家庭户号"),
    "网格": ("网格", "网格名称", "所属网格", "微网格", "所属微网格"),
}
REQUIRED = ("户号", "网格")
MAX_ROWS = 5000

MSG_NO_HEADER = N_("No header row found: the first rows should name the columns 户号 and 网格.")
MSG_NO_HOUSEHOLD = N_("There is no household %(number)s in the village.")
MSG_NOT_ACTIVE = N_("Household %(number)s is no longer an active household of the register.")
MSG_NO_GRID = N_("There is no grid named %(name)s in the village.")
MSG_GRID_UNUSED = N_("Grid %(name)s is no longer in use.")
MSG_DIVIDED = N_("Grid %(name)s is divided into micro-grids (%(children)s): name one of them.")
MSG_TWICE = N_("This household is already listed in row %(row)s.")
MSG_TOO_MANY = N_("At most %(max)s households can be imported at once.")
MSG_EARLIER = N_("Household %(number)s joined its present grid on %(day)s, after today.")


@dataclass
class GridRow:
    row: int
    household_id: int
    number: str
    grid_id: int
    grid_name: str
    #: the grid the household leaves (None: it was in no grid)
    from_grid: str | None = None


@dataclass
class GridImportResult:
    rows: list[GridRow] = field(default_factory=list)
    #: household numbers already in the grid named (left as they are)
    already: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.rows)

    @property
    def moved(self) -> int:
        return sum(1 for r in self.rows if r.from_grid)


def check_households(village: Village, data: bytes, kind: str, *, today: dt.date) -> GridImportResult:
    """Read and check every row; write nothing. :raise ImportFileError: the input cannot be read at all."""
    kind = sniff(data, kind)
    result = GridImportResult()
    rows, header = read_table(data, kind, COLUMNS)
    if header is None:
        result.problems.append(Problem(None, None, _l(MSG_NO_HEADER)))
        return result
    for name in REQUIRED:
        if name not in header:
            result.problems.append(Problem(None, name, _l(MSG_MISSING_COLUMN, column=name)))
    if len(set(header.values())) != len(header):
        result.problems.append(Problem(None, None, _l(MSG_DUPLICATE_COLUMN, column="/")))
    if result.problems:
        return result
    grids = {x.name: x for x in db.session.scalars(sa.select(Grid).where(Grid.village_id == village.id))}
    children: dict[int, list[str]] = {}
    for x in grids.values():
        if x.parent_id:
            children.setdefault(x.parent_id, []).append(x.name)
    current = {m.household_id: m for m in db.session.scalars(sa.select(GridMembership).where(
        GridMembership.village_id == village.id, GridMembership.ended_on.is_(None)))}
    names = {x.id: x.name for x in grids.values()}
    seen: dict[int, int] = {}
    for number, cells in rows:
        if all(is_blank(c) for c in cells):
            continue
        if len(result.rows) + len(result.already) >= MAX_ROWS:
            result.problems.append(Problem(None, None, _l(MSG_TOO_MANY, max=MAX_ROWS)))
            break
        values = row_values(number, cells, header, REQUIRED, result.problems)
        if values is None:
            continue
        household = db.session.scalar(sa.select(Household).where(Household.village_id == village.id,
                                                                  Household.number == values["户号"]))
        grid = grids.get(values["网格"])
        if household is None:
            result.problems.append(Problem(number, "户号", _l(MSG_NO_HOUSEHOLD, number=values["户号"])))
        elif household.status != HouseholdStatus.ACTIVE.value:
            result.problems.append(Problem(number, "户号", _l(MSG_NOT_ACTIVE, number=household.number)))
            household = None
        if grid is None:
            result.problems.append(Problem(number, "网格", _l(MSG_NO_GRID, name=values["网格"])))
        elif not grid.active:
            result.problems.append(Problem(number, "网格", _l(MSG_GRID_UNUSED, name=grid.name)))
            grid = None
        elif grid.id in children:
            result.problems.append(Problem(number, "网格", _l(MSG_DIVIDED, name=grid.name,
                                                                children="、".join(sorted(children[grid.id])))))
            grid = None
        if household is None or grid is None:
            continue
        if household.id in seen:
            result.problems.append(Problem(number, "户号", _l(MSG_TWICE, row=seen[household.id])))
            continue
        seen[household.id] = number
        membership = current.get(household.id)
        if membership is not None and membership.grid_id == grid.id:
            result.already.append(household.number)
            continue
        if membership is not None and membership.started_on > today:
            result.problems.append(Problem(number, "户号", _l(MSG_EARLIER, number=household.number,
                                                               day=membership.started_on.isoformat())))
            continue
        result.rows.append(GridRow(number, household.id, household.number, grid.id, grid.name,
                                   names.get(membership.grid_id) if membership is not None else None))
    sort_problems(result.problems, COLUMNS)
    return result


def apply_households(result: GridImportResult, *, actor=None) -> int:
    """Place the checked rows (flushes; the flow commits)."""
    for row in result.rows:
        gs.place_household(db.session.get(Household, row.household_id), db.session.get(Grid, row.grid_id),
                           actor=actor)
    return len(result.rows)


_HEADER_FONT = Font(bold=True)
_HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")


def template_workbook(village: Village) -> bytes:
    """The list to fill in (户号, 网格; 户号 formatted as text) and a 说明 sheet naming the grids to use."""
    grids = db.session.scalars(sa.select(Grid).where(Grid.village_id == village.id, Grid.active == sa.true())
                               .order_by(Grid.name)).all()
    parents = {x.parent_id for x in grids if x.parent_id}
    wb = Workbook()
    ws = wb.active
    ws.title = "网格名单"
    ws.append(list(COLUMNS))
    for idx, letter in enumerate(("A", "B"), start=1):
        c = ws.cell(row=1, column=idx)
        c.font, c.fill = _HEADER_FONT, _HEADER_FILL
        ws.column_dimensions[letter].width = 16 if letter == "A" else 28
    for r in range(2, 502):
        ws.cell(row=r, column=1).number_format = "@"
    ws.freeze_panes = "A2"
    help_ws = wb.create_sheet("说明")
    help_ws.append(["列", "说明"])
    help_ws.append(["户号", "户籍登记中的户号，每户一行。"])
    help_ws.append(["网格", "网格或微网格的名称，与系统中的名称完全一致。已划分微网格的网格请填写微网格。"])
    help_ws.append(["", "已在该网格的户保持不变；在其他网格的户会转入，原网格记录保留在历史中。"])
    help_ws.append(["", "检查没有问题时点“确认导入”：全部导入，或者一条也不导入。"])
    help_ws.append([])
    help_ws.append(["可填写的网格", ""])
    for x in grids:
        if x.id not in parents:
            help_ws.append([x.name, x.chief_name or ""])
    for c in help_ws[1]:
        c.font, c.fill = _HEADER_FONT, _HEADER_FILL
    help_ws.column_dimensions["A"].width = 24
    help_ws.column_dimensions["B"].width = 70
    for row in help_ws.iter_rows(min_row=2):
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
