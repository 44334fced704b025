"""Patrol reads: the home page's "my shifts", the reports, and the township roll-up's counts."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ..db import local_today, month_bucket
from ..extensions import db
from .models import (
    MemberStatus,
    PatrolCheckIn,
    PatrolCheckpoint,
    PatrolFinding,
    PatrolMember,
    PatrolPlace,
    PatrolShift,
    PatrolTeam,
    ShiftStatus,
)


def is_patrol_member(user_id: int) -> bool:
    """Whether this log-in belongs to an active member of some patrol team (the home page's "my shifts")."""
    return db.session.scalar(sa.select(PatrolMember.id).where(
        PatrolMember.user_id == user_id, PatrolMember.status == MemberStatus.ACTIVE.value).limit(1)) is not None


# --- reports --------------------------------------------------------------------------------------
# Counted over confirmed shifts only: a planned shift has no final attendance yet, a cancelled one was not
# walked. "Walked" is present, late or substitute; the attendance rate leaves leave out (请假 is allowed):
# walked / (walked + absent).

WALKED = ("present", "late", "substitute")


def _year_bounds(year: int) -> tuple[dt.date, dt.date]:
    return dt.date(year, 1, 1), dt.date(year, 12, 31)


def _shift_month():
    """The month of a shift's day, as SQL (SQLite keeps days as text)."""
    return sa.extract("month", PatrolShift.day) if db.engine.dialect.name != "sqlite" \
        else sa.cast(sa.func.substr(PatrolShift.day, 6, 2), sa.Integer)


def shifts_per_month(village_id: int, year: int) -> dict[int, dict[int, int]]:
    """{team id: {month: confirmed shifts}}."""
    first, last = _year_bounds(year)
    month = _shift_month()
    out: dict[int, dict[int, int]] = {}
    for team_id, m, n in db.session.execute(
            sa.select(PatrolShift.team_id, month, sa.func.count()).where(
                PatrolShift.village_id == village_id, PatrolShift.status == ShiftStatus.CONFIRMED.value,
                PatrolShift.day >= first, PatrolShift.day <= last).group_by(PatrolShift.team_id, month)):
        out.setdefault(team_id, {})[int(m)] = n
    return out


def attendance(village_id: int, year: int) -> dict[int, dict[str, int]]:
    """{member id: {attendance: places}} over the year's confirmed shifts."""
    first, last = _year_bounds(year)
    out: dict[int, dict[str, int]] = {}
    for member_id, value, n in db.session.execute(
            sa.select(PatrolPlace.member_id, PatrolPlace.attendance, sa.func.count()).join(PatrolShift).where(
                PatrolShift.village_id == village_id, PatrolShift.status == ShiftStatus.CONFIRMED.value,
                PatrolShift.day >= first, PatrolShift.day <= last)
            .group_by(PatrolPlace.member_id, PatrolPlace.attendance)):
        out.setdefault(member_id, {})[value] = n
    return out


def attendance_per_month(village_id: int, year: int) -> dict[tuple[int, int], dict[str, int]]:
    """{(member id, month): {attendance: places}} over the year's confirmed shifts."""
    first, last = _year_bounds(year)
    month = _shift_month()
    out: dict[tuple[int, int], dict[str, int]] = {}
    for member_id, m, value, n in db.session.execute(
            sa.select(PatrolPlace.member_id, month, PatrolPlace.attendance, sa.func.count()).join(PatrolShift)
            .where(PatrolShift.village_id == village_id, PatrolShift.status == ShiftStatus.CONFIRMED.value,
                   PatrolShift.day >= first, PatrolShift.day <= last)
            .group_by(PatrolPlace.member_id, month, PatrolPlace.attendance)):
        out.setdefault((member_id, int(m)), {})[value] = n
    return out


def rate(counts: dict[str, int]) -> float | None:
    walked = sum(counts.get(a, 0) for a in WALKED)
    due = walked + counts.get("absent", 0)
    return walked / due if due else None


def coverage(village_id: int, year: int) -> dict[int, tuple[int, int]]:
    """{route id: (checkpoints reached, checkpoints to reach)} over the year's confirmed shifts on the route.

    A checkpoint counts as reached on a shift when any member of the shift checked in there.
    """
    first, last = _year_bounds(year)
    shifts = dict(db.session.execute(
        sa.select(PatrolShift.route_id, sa.func.count()).where(
            PatrolShift.village_id == village_id, PatrolShift.status == ShiftStatus.CONFIRMED.value,
            PatrolShift.route_id.is_not(None), PatrolShift.day >= first, PatrolShift.day <= last)
        .group_by(PatrolShift.route_id)).all())
    points = dict(db.session.execute(
        sa.select(PatrolCheckpoint.route_id, sa.func.count()).where(
            PatrolCheckpoint.village_id == village_id, PatrolCheckpoint.active == True)
        .group_by(PatrolCheckpoint.route_id)).all())
    reached_pairs = (sa.select(PatrolShift.route_id, PatrolCheckIn.shift_id, PatrolCheckIn.checkpoint_id)
                     .join(PatrolShift, PatrolShift.id == PatrolCheckIn.shift_id).where(
                         PatrolShift.village_id == village_id, PatrolShift.status == ShiftStatus.CONFIRMED.value,
                         PatrolShift.day >= first, PatrolShift.day <= last).distinct().subquery())
    reached = dict(db.session.execute(sa.select(reached_pairs.c.route_id, sa.func.count())
                                      .group_by(reached_pairs.c.route_id)).all())
    return {route_id: (reached.get(route_id, 0), n * points.get(route_id, 0)) for route_id, n in shifts.items()}


def findings(village_id: int, year: int) -> dict[tuple[str, str], int]:
    """{(kind, action): findings} in the year's shifts."""
    first, last = _year_bounds(year)
    return {(k, a): n for k, a, n in db.session.execute(
        sa.select(PatrolFinding.kind, PatrolFinding.action, sa.func.count()).join(
            PatrolShift, PatrolShift.id == PatrolFinding.shift_id).where(
            PatrolFinding.village_id == village_id, PatrolShift.day >= first, PatrolShift.day <= last)
        .group_by(PatrolFinding.kind, PatrolFinding.action))}


def village_counts(village_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per village: active teams, active members, and shifts confirmed this year (the township roll-up)."""
    first = dt.date(local_today().year, 1, 1)
    out = {v: {"teams": 0, "members": 0, "shifts": 0} for v in village_ids}
    for v, n in db.session.execute(sa.select(PatrolTeam.village_id, sa.func.count()).where(
            PatrolTeam.village_id.in_(village_ids), PatrolTeam.active == True)
            .group_by(PatrolTeam.village_id)):
        out[v]["teams"] = n
    for v, n in db.session.execute(sa.select(PatrolMember.village_id, sa.func.count()).where(
            PatrolMember.village_id.in_(village_ids), PatrolMember.status == MemberStatus.ACTIVE.value)
            .group_by(PatrolMember.village_id)):
        out[v]["members"] = n
    for v, n in db.session.execute(sa.select(PatrolShift.village_id, sa.func.count()).where(
            PatrolShift.village_id.in_(village_ids), PatrolShift.status == ShiftStatus.CONFIRMED.value,
            PatrolShift.day >= first).group_by(PatrolShift.village_id)):
        out[v]["shifts"] = n
    return out


# --- what waits today (the home page and the patrol page's lists) --------------------------------

def to_confirm_filter(village_id: int, now: dt.datetime) -> tuple:
    """Shifts the leader has still to confirm: planned and over (WHERE clauses)."""
    return (PatrolShift.village_id == village_id, PatrolShift.status == ShiftStatus.PLANNED.value,
            PatrolShift.ends_at < now)


def _month_bounds(today: dt.date) -> tuple[dt.date, dt.date]:
    first = today.replace(day=1)
    return first, (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)


def short_members_query(village_id: int, today: dt.date) -> sa.Select:
    """(member id, places booked this month, the team's minimum) of the active members of active teams
    booked on fewer of this month's shifts than their team's monthly minimum (leave and absence not counted,
    cancelled shifts neither)."""
    first, last = _month_bounds(today)
    booked = (sa.select(PatrolPlace.member_id, sa.func.count().label("n")).join(PatrolShift).where(
        PatrolShift.village_id == village_id, PatrolShift.status != ShiftStatus.CANCELLED.value,
        PatrolShift.day >= first, PatrolShift.day <= last, PatrolPlace.attendance.not_in(("absent", "leave")))
        .group_by(PatrolPlace.member_id).subquery())
    n = sa.func.coalesce(booked.c.n, 0)
    return (sa.select(PatrolMember.id, n.label("booked"), PatrolTeam.monthly_minimum)
            .join(PatrolTeam, PatrolTeam.id == PatrolMember.team_id)
            .outerjoin(booked, booked.c.member_id == PatrolMember.id)
            .where(PatrolMember.village_id == village_id, PatrolMember.status == MemberStatus.ACTIVE.value,
                   PatrolTeam.active == True, n < PatrolTeam.monthly_minimum))  # noqa: E712


def today_counts(village_id: int, *, today: dt.date, now: dt.datetime) -> dict:
    """The patrol leader's counts in one statement: shifts to confirm (and the day of the oldest) and
    members short of their monthly minimum."""
    short = short_members_query(village_id, today).subquery()
    row = db.session.execute(sa.select(
        sa.select(sa.func.count()).select_from(PatrolShift).where(*to_confirm_filter(village_id, now))
        .scalar_subquery(),
        sa.select(sa.func.min(PatrolShift.day)).where(*to_confirm_filter(village_id, now)).scalar_subquery(),
        sa.select(sa.func.count()).select_from(short).scalar_subquery())).one()
    oldest = row[1]
    if isinstance(oldest, str):  # a scalar subquery's MIN comes back untyped from SQLite
        oldest = dt.date.fromisoformat(oldest)
    return {"to_confirm": row[0], "oldest_to_confirm": oldest, "members_short": row[2]}


def villages_today(village_ids: list[int], now: dt.datetime) -> dict[int, int]:
    """Per village: shifts still to confirm (the township's home page), in one grouped statement."""
    return dict(db.session.execute(sa.select(PatrolShift.village_id, sa.func.count()).where(
        PatrolShift.village_id.in_(village_ids or [-1]), PatrolShift.status == ShiftStatus.PLANNED.value,
        PatrolShift.ends_at < now).group_by(PatrolShift.village_id)).all())


def attendance_by_month(village_ids: list[int], year: int, months=range(1, 13)) -> dict[tuple[int, int], dict[str, int]]:
    """{(village id, month): {attendance: places, "shifts": confirmed shifts}} over confirmed shifts by their day
    (the dashboard and the township roll-up; `rate()` gives the attendance rate)."""
    month, lo, hi = month_bucket(PatrolShift.day, year, months)
    cond = (PatrolShift.village_id.in_(village_ids), PatrolShift.status == ShiftStatus.CONFIRMED.value,
            PatrolShift.day >= lo, PatrolShift.day < hi)
    out: dict[tuple[int, int], dict[str, int]] = {}
    for v, m, n in db.session.execute(sa.select(PatrolShift.village_id, month, sa.func.count()).where(*cond)
                                      .group_by(PatrolShift.village_id, month)):
        out.setdefault((v, int(m)), {})["shifts"] = int(n)
    for v, m, value, n in db.session.execute(
            sa.select(PatrolShift.village_id, month, PatrolPlace.attendance, sa.func.count())
            .join(PatrolPlace, PatrolPlace.shift_id == PatrolShift.id).where(*cond)
            .group_by(PatrolShift.village_id, month, PatrolPlace.attendance)):
        out.setdefault((v, int(m)), {})[value] = int(n)
    return out
