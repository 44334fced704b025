"""The register's Excel template and its masked export (.xlsx and .csv through app.tabular.export, which
neutralises formula injection)."""
from __future__ import annotations

import io

import sqlalchemy as sa
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ..extensions import db
from ..tabular.export import Sheet
from ..text import group_key, mask_phone
from .import_check import ImportSummary
from .import_format import (
    COL_ADDRESS, COL_BIRTH, COL_GROUP, COL_HOUSEHOLD_STATUS, COL_ID, COL_NAME, COL_NUMBER, COL_PHONE,
    COL_RELATION, COL_SEX, COL_STATUS, COL_TAGS, COLUMNS, EXPORT_COLUMNS, HELP_SHEET_NAME,
    HOUSEHOLD_STATUS_LABELS, PERSON_STATUS_LABELS, RELATION_LABELS, SEX_LABELS, SHEET_NAME, TEMPLATE_ROWS,
    TEXT_COLUMNS,
)
from .models import HOUSEHOLD_TAGS, Household, Person, Village, VillagerGroup

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
        VillagerGroup.village_id == village.id, VillagerGroup.active.is_(True))), key=group_key)
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

class RegisterExport:
    """The village's whole register as one table, one row per person: ID numbers masked, phones masked
    unless allowed. `summary` counts what was written once the table has been read."""

    def __init__(self, village: Village, *, full_phones: bool):
        self.village, self.full_phones = village, full_phones
        self.summary = ImportSummary(households=0, people=0)

    def _rows(self):
        stmt = (
            sa.select(Household.number, VillagerGroup.name, Household.address, Household.tags, Household.status,
                      Person.name, Person.relation, Person.sex, Person.birth_date, Person.id_masked, Person.phone,
                      Person.status, Household.id)
            .join(Household, Person.household_id == Household.id)
            .outerjoin(VillagerGroup, Household.group_id == VillagerGroup.id)
            .where(Person.village_id == self.village.id)
            .order_by(Household.number, Household.id, sa.case((Person.id == Household.head_id, 0), else_=1),
                      Person.id)
        )
        households: set[int] = set()
        people = 0
        for (number, group, address, tags, hh_status, name, relation, sex, birth, id_masked, phone, status,
             hh_id) in db.session.execute(stmt):
            households.add(hh_id)
            people += 1
            tag_text = "、".join(HOUSEHOLD_TAGS.get(t, t) for t in (tags or "").split())
            shown_phone = (phone or "") if self.full_phones else mask_phone(phone)
            yield [number, group or "", address or "", tag_text, name, RELATION_LABELS.get(relation, relation),
                   SEX_LABELS.get(sex or "", ""), birth, id_masked or "", shown_phone,
                   PERSON_STATUS_LABELS.get(status, status), HOUSEHOLD_STATUS_LABELS.get(hh_status, hh_status)]
            self.summary = ImportSummary(households=len(households), people=people)

    def sheets(self) -> list[Sheet]:
        return [Sheet(SHEET_NAME, EXPORT_COLUMNS, self._rows(), widths=[_WIDTHS[c] for c in EXPORT_COLUMNS],
                      text_columns=[EXPORT_COLUMNS.index(c) for c in TEXT_COLUMNS])]

