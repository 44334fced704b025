"""A team's members from the table a village already keeps (巡逻队员名册): .xlsx, .csv or pasted lines.

Through app.tabular's check → confirm flow: `check_members` reads and checks every row and writes nothing;
`apply_members` adds them, all or none. Each row names a person of the register by 姓名 and 户号 (a name
alone is ambiguous in a village of 张s); people already in the team are left as they are and counted, so
the same list can be imported again after new members are added to it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l

from ..auth.models import User
from ..db import local_today
from ..extensions import db
from ..forms import parse_date
from ..registry.models import Household, Person, PersonStatus
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
from . import services as ps
from .models import PatrolTeam

#: header → the names villages write it as
COLUMNS = {
    "姓名": ("姓名", "队员姓名", "名字"),
    "户号": ("户号", "户编号", "家庭户号"),
    "入队日期": ("入队日期", "加入日期", "入队时间"),
    "执勤证号": ("执勤证号", "证号", "执勤证编号"),
    "登录名": ("登录名", "手机登录名", "用户名"),
}
REQUIRED = ("姓名", "户号")
MAX_MEMBERS = 2000

MSG_NO_HEADER = N_("No header row found: the first rows should name the columns 姓名 and 户号.")
MSG_NO_HOUSEHOLD = N_("There is no household %(number)s in the village.")
MSG_NO_PERSON = N_("Household %(number)s has no living member named %(name)s.")
MSG_TWO_PEOPLE = N_("Household %(number)s has two living members named %(name)s; add this one by hand.")
MSG_TWICE = N_("This person is already listed in row %(row)s.")
MSG_BAD_DATE = N_("Write the date like 2026-01-01.")
MSG_NO_USER = N_("There is no user named %(name)s.")
MSG_TOO_MANY = N_("At most %(max)s members can be imported at once.")


@dataclass
class MemberRow:
    row: int
    person_id: int
    name: str
    number: str
    joined_on: dt.date
    badge_no: str | None
    user_id: int | None


@dataclass
class MemberImportResult:
    rows: list[MemberRow] = field(default_factory=list)
    #: names of people already in the team (left as they are)
    already: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.rows)


def check_members(team: PatrolTeam, data: bytes, kind: str) -> MemberImportResult:
    """Read and check every row; write nothing. :raise ImportFileError: the input cannot be read at all."""
    kind = sniff(data, kind)
    result = MemberImportResult()
    rows, header = read_table(data, kind, COLUMNS, lambda h: "姓名" in h or "户号" in h)
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
    in_team = {m.person_id for m in team.members}
    seen: dict[int, int] = {}
    today = local_today()
    for number, cells in rows:
        if all(is_blank(c) for c in cells):
            continue
        if len(result.rows) + len(result.already) >= MAX_MEMBERS:
            result.problems.append(Problem(None, None, _l(MSG_TOO_MANY, max=MAX_MEMBERS)))
            break
        values = row_values(number, cells, header, REQUIRED, result.problems)
        if values is None:
            continue
        household = db.session.scalar(sa.select(Household).where(Household.village_id == team.village_id,
                                                                  Household.number == values["户号"]))
        if household is None:
            result.problems.append(Problem(number, "户号", _l(MSG_NO_HOUSEHOLD, number=values["户号"])))
            continue
        people = [p for p in household.members if p.name == values["姓名"] and p.status == PersonStatus.ALIVE.value]
        if len(people) != 1:
            message = MSG_NO_PERSON if not people else MSG_TWO_PEOPLE
            result.problems.append(Problem(number, "姓名", _l(message, number=household.number, name=values["姓名"])))
            continue
        person: Person = people[0]
        if person.id in seen:
            result.problems.append(Problem(number, "姓名", _l(MSG_TWICE, row=seen[person.id])))
            continue
        seen[person.id] = number
        joined = today
        if values.get("入队日期"):
            try:
                joined = parse_date(values["入队日期"])
            except ValueError:
                result.problems.append(Problem(number, "入队日期", _l(MSG_BAD_DATE)))
                continue
        user_id = None
        if values.get("登录名"):
            user_id = db.session.scalar(sa.select(User.id).where(User.username == values["登录名"]))
            if user_id is None:
                result.problems.append(Problem(number, "登录名", _l(MSG_NO_USER, name=values["登录名"])))
                continue
        if person.id in in_team:
            result.already.append(person.name)
            continue
        result.rows.append(MemberRow(number, person.id, person.name, household.number, joined,
                                     values.get("执勤证号"), user_id))
    sort_problems(result.problems, COLUMNS)
    return result


def apply_members(team: PatrolTeam, result: MemberImportResult, *, actor=None) -> int:
    """Add the checked rows to the team (flushes; the flow commits)."""
    for row in result.rows:
        person = db.session.get(Person, row.person_id)
        user = db.session.get(User, row.user_id) if row.user_id else None
        ps.add_member(team, person, joined_on=row.joined_on, badge_no=row.badge_no, user=user, actor=actor)
    return len(result.rows)
