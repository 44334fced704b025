"""Patrol attendance for .xlsx / .csv (app.tabular.export): per member and month of a year, the places
on confirmed shifts, walked (present, late or substitute), late, absent and on leave, and the rate.

The figures are those of the reports page (app.patrol.queries): confirmed shifts only, rate = walked ÷
(walked + absent), leave not counted against a member.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..tabular.export import Sheet
from . import queries as pq
from .models import PatrolMember, PatrolTeam


def _rows(village_id: int, year: int):
    counts = pq.attendance_per_month(village_id, year)
    members = {m.id: m for m in db.session.scalars(
        sa.select(PatrolMember).where(PatrolMember.village_id == village_id)
        .options(selectinload(PatrolMember.person), selectinload(PatrolMember.team)))}
    teams = {t.id: t.name for t in db.session.scalars(sa.select(PatrolTeam).where(
        PatrolTeam.village_id == village_id))}
    for (member_id, month), c in sorted(counts.items(), key=lambda kv: (
            teams.get(members[kv[0][0]].team_id, ""), members[kv[0][0]].person.name, kv[0][0], kv[0][1])):
        m = members[member_id]
        rate = pq.rate(c)
        yield [year, month, teams.get(m.team_id, ""), m.person.name, m.badge_no or "", sum(c.values()),
               sum(c.get(a, 0) for a in pq.WALKED), c.get("late", 0), c.get("absent", 0), c.get("leave", 0),
               round(rate * 100, 1) if rate is not None else None]


def attendance_sheets(village_id: int, year: int) -> list[Sheet]:
    return [Sheet(_("Patrol attendance %(year)s", year=year),
                  [_("Year"), _("Month"), _("Team"), _("Member"), _("Badge no."), _("Shifts scheduled"),
                   _("Walked"), _("late"), _("absent"), _("on leave"), _("Attendance rate (%)")],
                  _rows(village_id, year), widths=[6, 6, 16, 12, 10, 10, 8, 8, 8, 8, 12], text_columns=[4])]
