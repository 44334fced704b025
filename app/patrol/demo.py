"""Demo data for patrol: a volunteer team of six with a route of four checkpoints, last month and this month
rostered, the last week's shifts confirmed (their entries wait for the reviewer), and a member's phone log-in."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ..auth.services import create_user
from ..db import local_today, utcnow
from ..extensions import db
from ..points.models import PointItem
from ..points.queries import village_scheme
from ..registry.models import Household, HouseholdStatus
from . import services as ps
from .models import Attendance, PatrolShift, PatrolTeam, ShiftStatus

DEMO_TEAM = "演示村义务巡逻队"
#: the phone log-in of the team's first member (no role: a patrol member only checks in and reports)
DEMO_MEMBER_LOGIN = "xunluo"


def seed_patrol_demo(village, leader, password: str) -> bool:
    """Add the demo team once; False when it exists already."""
    if db.session.scalar(sa.select(PatrolTeam.id).where(PatrolTeam.village_id == village.id)):
        return False
    scheme = village_scheme(village.id)
    item = db.session.scalar(sa.select(PointItem).where(PointItem.scheme_id == scheme.id, PointItem.code == "A02")) \
        if scheme else None
    team = ps.create_team(village, name=DEMO_TEAM, police_liaison="社区民警 王警官 13900000000", shift_item=item)
    heads = [h.head for h in db.session.scalars(sa.select(Household).where(
        Household.village_id == village.id, Household.status == HouseholdStatus.ACTIVE.value)
        .order_by(Household.number).offset(10).limit(6))]
    phone = create_user(DEMO_MEMBER_LOGIN, password, "巡逻队员")
    for i, head in enumerate(heads):
        ps.add_member(team, head, joined_on=dt.date(local_today().year, 1, 1), badge_no=f"XL{i + 1:03d}",
                      user=phone if i == 0 else None, actor=leader)
    route = ps.add_route(team, "村主干道")
    for name in ("村委会", "村小学门口", "水库大坝", "老年活动中心"):
        ps.add_checkpoint(route, name)
    today = local_today()
    first = (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)
    last = (today.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    ps.add_shifts(team, first_day=first, last_day=last, start=dt.time(20), end=dt.time(22), needed=2, route=route)
    for month_start in (first, today.replace(day=1)):
        ps.fill_month(team, month_start.year, month_start.month, actor=leader)
    week_ago = today - dt.timedelta(days=7)
    now = utcnow()
    for n, shift in enumerate(db.session.scalars(sa.select(PatrolShift).where(
            PatrolShift.team_id == team.id, PatrolShift.day >= week_ago, PatrolShift.ends_at < now,
            PatrolShift.status == ShiftStatus.PLANNED.value).order_by(PatrolShift.day))):
        for k, place in enumerate(shift.places):
            # one absence and one leave in the week, so the reports have something to say
            mark = Attendance.ABSENT if (n, k) == (2, 1) else Attendance.LEAVE if (n, k) == (4, 0) \
                else Attendance.PRESENT
            ps.mark(place, mark.value, actor=leader)
        ps.confirm(shift, actor=leader)
    return True


def demo_patrol_lines() -> list[str]:
    """What `flask demo --print-logins` prints about patrol."""
    return [f"patrol member's phone: {DEMO_MEMBER_LOGIN} (checks in at /patrol/me; stickers under 巡逻 → the team)"]
