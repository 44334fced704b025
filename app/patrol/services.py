"""Patrol verbs: teams and members, leave, routes and checkpoints, shifts and their roster, check-ins,
attendance, confirming a shift into points, corrections, the patrol log and spot-checks.

Every verb flushes and writes its audit row; the caller's transaction (app.submission) commits. Points go
through app.points.services like any entry: a confirmed shift records pending entries a reviewer approves, and
a corrected attendance takes its entry back (app.points.services.withdraw) before recording the right one.
"""
from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.orm import joinedload, selectinload
from flask_babel import gettext as _

from ..audit.services import record
from ..db import VILLAGE_TZ, local_day, local_midnight_utc, utc_from_local, utcnow
from ..extensions import db
from ..points import services as points
from ..points.models import PointEntry, PointItem
from ..points.queries import village_scheme
from ..registry.models import Person, PersonStatus, Village, VillagerGroup
from . import roster
from .errors import PatrolError
from .models import (
    Attendance,
    FindingAction,
    FindingKind,
    MemberStatus,
    PatrolCheckIn,
    PatrolCheckpoint,
    PatrolFinding,
    PatrolInspection,
    PatrolLeave,
    PatrolMember,
    PatrolMemberEvent,
    PatrolPlace,
    PatrolRoute,
    PatrolShift,
    PatrolSwap,
    PatrolTeam,
    ShiftStatus,
    TeamKind,
    TeamLevel,
)
from .states import MEMBER, SHIFT

#: a member may check in this long before the shift starts and after it ends (walking to the first point,
#: a late last point)
CHECK_IN_GRACE = dt.timedelta(minutes=30)
#: village-local hours that make a shift a night shift (the county rules' 23:00–06:00 and 24:00–05:00 both
#: fall in it): any part of the shift between 22:00 and 05:00
NIGHT_FROM, NIGHT_UNTIL = dt.time(22), dt.time(5)
EARNS = (Attendance.PRESENT.value, Attendance.LATE.value, Attendance.SUBSTITUTE.value)
MAX_SHIFTS_PER_CALL = 31 * 6


# --- times ----------------------------------------------------------------------------------------

def utc_window(day: dt.date, start: dt.time, end: dt.time) -> tuple[dt.datetime, dt.datetime]:
    """A village-local window on `day` as naive UTC; an end at or before the start is the next morning."""
    begin, finish = utc_from_local(day, start), utc_from_local(day, end)
    if finish <= begin:
        finish = utc_from_local(day + dt.timedelta(days=1), end)
    return begin, finish


def local(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.UTC).astimezone(VILLAGE_TZ).replace(tzinfo=None)


def is_night(shift: PatrolShift) -> bool:
    start, end = local(shift.starts_at), local(shift.ends_at)
    day = start.date() - dt.timedelta(days=1)
    while day <= end.date():
        night_start = dt.datetime.combine(day, NIGHT_FROM)
        night_end = dt.datetime.combine(day + dt.timedelta(days=1), NIGHT_UNTIL)
        if start < night_end and night_start < end:
            return True
        day += dt.timedelta(days=1)
    return False


# --- teams and members ----------------------------------------------------------------------------

def _check_items(village_id: int, **items: PointItem | None) -> None:
    scheme = village_scheme(village_id)
    for field, item in items.items():
        if item is None:
            continue
        if scheme is None or item.scheme_id != scheme.id:
            raise PatrolError(_("Unknown item."), field)
        wanted_positive = field != "absence_item"
        if (item.points > 0) != wanted_positive:
            raise PatrolError(_("Choose an award item for shifts and a deduction item for absences."), field)


def _team_values(village: Village, *, name: str, level: str, kind: str, group: VillagerGroup | None,
                 monthly_minimum: int, shift_item: PointItem | None, night_item: PointItem | None,
                 absence_item: PointItem | None) -> str:
    name = (name or "").strip()
    if not name:
        raise PatrolError(_("Please give the team a name."), "name")
    if level not in {x.value for x in TeamLevel} or kind not in {x.value for x in TeamKind}:
        raise PatrolError(_("Choose the team's level and kind from the list."), "level")
    if level == TeamLevel.GROUP.value and group is None:
        raise PatrolError(_("A villager-group team needs its villager group."), "group")
    if group is not None and group.village_id != village.id:
        raise PatrolError(_("Unknown villager group."), "group")
    if not 0 <= monthly_minimum <= 31:
        raise PatrolError(_("The monthly minimum is between 0 and 31 shifts."), "monthly_minimum")
    _check_items(village.id, shift_item=shift_item, night_item=night_item, absence_item=absence_item)
    return name


def create_team(village: Village, *, name: str, level: str = TeamLevel.VILLAGE.value,
                kind: str = TeamKind.VOLUNTEER.value, group: VillagerGroup | None = None,
                leader: Person | None = None, police_liaison: str | None = None,
                monthly_minimum: int = roster.DEFAULT_MONTHLY_MINIMUM, shift_item: PointItem | None = None,
                night_item: PointItem | None = None, absence_item: PointItem | None = None) -> PatrolTeam:
    name = _team_values(village, name=name, level=level, kind=kind, group=group, monthly_minimum=monthly_minimum,
                        shift_item=shift_item, night_item=night_item, absence_item=absence_item)
    if db.session.scalar(sa.select(PatrolTeam.id).where(PatrolTeam.village_id == village.id,
                                                        PatrolTeam.name == name)):
        raise PatrolError(_("A team with this name already exists."), "name")
    if leader is not None:
        _check_person(village, leader, level, "leader")
    team = PatrolTeam(village_id=village.id, name=name, level=level, kind=kind,
                      group_id=group.id if group else None, leader_id=leader.id if leader else None,
                      police_liaison=(police_liaison or "").strip() or None, monthly_minimum=monthly_minimum,
                      shift_item_id=shift_item.id if shift_item else None,
                      night_item_id=night_item.id if night_item else None,
                      absence_item_id=absence_item.id if absence_item else None)
    db.session.add(team)
    db.session.flush()
    record("patrol.team_create", team, details={"level": level, "kind": kind})
    return team


def update_team(team: PatrolTeam, *, name: str, level: str, kind: str, group: VillagerGroup | None = None,
                leader: Person | None = None, police_liaison: str | None = None,
                monthly_minimum: int = roster.DEFAULT_MONTHLY_MINIMUM, shift_item: PointItem | None = None,
                night_item: PointItem | None = None, absence_item: PointItem | None = None) -> PatrolTeam:
    village = db.session.get(Village, team.village_id)
    name = _team_values(village, name=name, level=level, kind=kind, group=group, monthly_minimum=monthly_minimum,
                        shift_item=shift_item, night_item=night_item, absence_item=absence_item)
    if db.session.scalar(sa.select(PatrolTeam.id).where(PatrolTeam.village_id == village.id,
                                                        PatrolTeam.name == name, PatrolTeam.id != team.id)):
        raise PatrolError(_("A team with this name already exists."), "name")
    if leader is not None:
        _check_person(village, leader, level, "leader")
    team.name, team.level, team.kind = name, level, kind
    team.group_id = group.id if group else None
    team.leader_id = leader.id if leader else None
    team.police_liaison = (police_liaison or "").strip() or None
    team.monthly_minimum = monthly_minimum
    team.shift_item_id = shift_item.id if shift_item else None
    team.night_item_id = night_item.id if night_item else None
    team.absence_item_id = absence_item.id if absence_item else None
    db.session.flush()
    record("patrol.team_update", team, details={"level": level, "kind": kind})
    return team


def _check_person(village: Village, person: Person, level: str, field: str) -> None:
    """A member comes from the team's village; a township team may take anyone of the township."""
    if person.status != PersonStatus.ALIVE.value:
        raise PatrolError(_("Choose a living person from the register."), field)
    if person.village_id == village.id:
        return
    other = db.session.get(Village, person.village_id)
    if level == TeamLevel.TOWNSHIP.value and village.township_id is not None \
            and other is not None and other.township_id == village.township_id:
        return
    raise PatrolError(_("Choose a person registered in this village."), field)


def add_member(team: PatrolTeam, person: Person, *, joined_on: dt.date, badge_no: str | None = None,
               user=None, actor=None) -> PatrolMember:
    village = db.session.get(Village, team.village_id)
    _check_person(village, person, team.level, "person")
    if db.session.scalar(sa.select(PatrolMember.id).where(PatrolMember.team_id == team.id,
                                                          PatrolMember.person_id == person.id)):
        raise PatrolError(_("This person is already a member of the team."), "person")
    member = PatrolMember(village_id=team.village_id, team_id=team.id, person_id=person.id, joined_on=joined_on,
                          badge_no=(badge_no or "").strip() or None, user_id=user.id if user else None)
    db.session.add(member)
    db.session.flush()
    _member_event(member, MemberStatus.ACTIVE.value, joined_on, None, actor)
    record("patrol.member_add", member, details={"team_id": team.id, "person_id": person.id})
    return member


def _member_event(member: PatrolMember, status: str, on: dt.date, note: str | None, actor) -> None:
    db.session.add(PatrolMemberEvent(village_id=member.village_id, member_id=member.id, status=status, on=on,
                                     note=(note or "").strip() or None,
                                     recorded_by_id=actor.id if actor is not None else None))


def change_member(member: PatrolMember, action: str, *, on: dt.date, note: str | None = None,
                  actor=None) -> PatrolMember:
    """suspend, restore, leave or rejoin; a member who leaves keeps their history and walked shifts.

    Their planned places from `on` onwards are given up, so the roster shows them open.
    """
    status = MEMBER.move(member.status, action)
    member.status = status
    member.left_on = on if status == MemberStatus.LEFT.value else None
    _member_event(member, status, on, note, actor)
    if status != MemberStatus.ACTIVE.value:
        start = local_midnight_utc(on)
        for place in db.session.scalars(
                sa.select(PatrolPlace).join(PatrolShift).where(
                    PatrolPlace.member_id == member.id, PatrolShift.status == ShiftStatus.PLANNED.value,
                    PatrolShift.starts_at >= start, PatrolPlace.attendance == Attendance.PLANNED.value)):
            db.session.delete(place)
    db.session.flush()
    record("patrol.member_" + action, member, details={"on": on.isoformat()})
    return member


def add_leave(member: PatrolMember, *, starts_on: dt.date, ends_on: dt.date, reason: str | None = None,
              actor=None) -> PatrolLeave:
    if ends_on < starts_on:
        raise PatrolError(_("The leave cannot end before it starts."), "ends_on")
    if (ends_on - starts_on).days > 366:
        raise PatrolError(_("A leave is at most a year; a member away for longer leaves the team."), "ends_on")
    leave = PatrolLeave(village_id=member.village_id, member_id=member.id, starts_on=starts_on, ends_on=ends_on,
                        reason=(reason or "").strip() or None, recorded_by_id=actor.id if actor else None)
    db.session.add(leave)
    db.session.flush()
    record("patrol.leave", leave, details={"member_id": member.id, "starts_on": starts_on.isoformat(),
                                           "ends_on": ends_on.isoformat()})
    return leave


def member_leaves(member: PatrolMember) -> list[PatrolLeave]:
    return list(db.session.scalars(sa.select(PatrolLeave).where(PatrolLeave.member_id == member.id)
                                   .order_by(PatrolLeave.starts_on.desc())))


def away_days(member: PatrolMember, first: dt.date, last: dt.date) -> set[dt.date]:
    days: set[dt.date] = set()
    for leave in db.session.scalars(sa.select(PatrolLeave).where(
            PatrolLeave.member_id == member.id, PatrolLeave.ends_on >= first, PatrolLeave.starts_on <= last)):
        day = max(leave.starts_on, first)
        while day <= min(leave.ends_on, last):
            days.add(day)
            day += dt.timedelta(days=1)
    return days


# --- routes and checkpoints -----------------------------------------------------------------------

def add_route(team: PatrolTeam, name: str) -> PatrolRoute:
    name = (name or "").strip()
    if not name:
        raise PatrolError(_("Please give the route a name."), "name")
    if db.session.scalar(sa.select(PatrolRoute.id).where(PatrolRoute.team_id == team.id, PatrolRoute.name == name)):
        raise PatrolError(_("The team already has a route with this name."), "name")
    route = PatrolRoute(village_id=team.village_id, team_id=team.id, name=name)
    db.session.add(route)
    db.session.flush()
    record("patrol.route_add", route, details={"team_id": team.id})
    return route


def add_checkpoint(route: PatrolRoute, name: str) -> PatrolCheckpoint:
    name = (name or "").strip()
    if not name:
        raise PatrolError(_("Please give the checkpoint a name."), "name")
    if any(c.name == name for c in route.checkpoints):
        raise PatrolError(_("The route already has a checkpoint with this name."), "name")
    point = PatrolCheckpoint(village_id=route.village_id, route_id=route.id, name=name,
                             sort=len(route.checkpoints), token=secrets.token_urlsafe(16))
    db.session.add(point)
    route.checkpoints.append(point)
    db.session.flush()
    record("patrol.checkpoint_add", point, details={"route_id": route.id})
    return point


def renew_sticker(point: PatrolCheckpoint) -> PatrolCheckpoint:
    """A new sticker for a lost or copied one: the old sticker's address stops working at once."""
    point.token = secrets.token_urlsafe(16)
    db.session.flush()
    record("patrol.checkpoint_renew", point)
    return point


def checkpoint_for_token(token: str | None) -> PatrolCheckpoint | None:
    if not token or len(token) > 64:
        return None
    return db.session.scalar(sa.select(PatrolCheckpoint).where(PatrolCheckpoint.token == token,
                                                               PatrolCheckpoint.active == True))


# --- shifts and the roster ------------------------------------------------------------------------

def add_shifts(team: PatrolTeam, *, first_day: dt.date, last_day: dt.date, start: dt.time, end: dt.time,
               needed: int, route: PatrolRoute | None = None,
               weekdays: Iterable[int] | None = None) -> list[PatrolShift]:
    """One shift per chosen weekday (0 = Monday) from first_day to last_day, each needing `needed` members."""
    if last_day < first_day:
        raise PatrolError(_("The last day cannot be before the first."), "last_day")
    if not 1 <= needed <= 50:
        raise PatrolError(_("A shift needs between 1 and 50 members."), "needed")
    if route is not None and route.team_id != team.id:
        raise PatrolError(_("Unknown route."), "route")
    if start == end:
        raise PatrolError(_("A shift cannot start and end at the same time."), "end")
    days = set(range(7) if weekdays is None else weekdays)
    wanted = [first_day + dt.timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    wanted = [d for d in wanted if d.weekday() in days]
    if len(wanted) > MAX_SHIFTS_PER_CALL:
        raise PatrolError(_("At most %(n)s shifts at a time.", n=MAX_SHIFTS_PER_CALL), "last_day")
    made = []
    for day in wanted:
        starts_at, ends_at = utc_window(day, start, end)
        shift = PatrolShift(village_id=team.village_id, team_id=team.id, route_id=route.id if route else None,
                            day=day, starts_at=starts_at, ends_at=ends_at, needed=needed)
        db.session.add(shift)
        made.append(shift)
    db.session.flush()
    record("patrol.shifts_add", team, details={"shifts": len(made), "first_day": first_day.isoformat(),
                                               "last_day": last_day.isoformat()})
    return made


#: a month's shifts come with their route and their places' members and people, and the team with its
#: members and their people: the roster page and its PDF draw every one (one lazy load each was ~100
#: statements a view of a planned month)
_SHIFT_LOAD = (joinedload(PatrolShift.route),
               selectinload(PatrolShift.places).joinedload(PatrolPlace.member).joinedload(PatrolMember.person))
_TEAM_MEMBERS_LOAD = selectinload(PatrolTeam.members).joinedload(PatrolMember.person)


def month_shifts(team: PatrolTeam, year: int, month: int) -> list[PatrolShift]:
    """The team's shifts of a month in time order, with everything the roster draws loaded (_SHIFT_LOAD)."""
    first = dt.date(year, month, 1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    db.session.scalars(sa.select(PatrolTeam).where(PatrolTeam.id == team.id).options(_TEAM_MEMBERS_LOAD)).one()
    return list(db.session.scalars(sa.select(PatrolShift).where(
        PatrolShift.team_id == team.id, PatrolShift.day >= first, PatrolShift.day <= last)
        .options(*_SHIFT_LOAD).order_by(PatrolShift.starts_at, PatrolShift.id)))


def month_counts(team: PatrolTeam, shifts: list[PatrolShift]) -> dict[int, int]:
    """Shifts each member holds in the month (cancelled ones left out), for the roster's fairness column."""
    counts = {m.id: 0 for m in team.members}
    for s in shifts:
        if s.status == ShiftStatus.CANCELLED.value:
            continue
        for p in s.places:
            counts[p.member_id] = counts.get(p.member_id, 0) + 1
    return counts


def fill_month(team: PatrolTeam, year: int, month: int, *, actor=None) -> roster.Plan:
    """Fill the open places of the month's planned shifts by the fair rotation (app.patrol.roster).

    Places already booked stay (the leader's edits, earlier fills) and count toward each member's share;
    confirmed and cancelled shifts are left alone, a confirmed shift's walkers still count.
    """
    shifts = month_shifts(team, year, month)
    planned = [s for s in shifts if s.status == ShiftStatus.PLANNED.value]
    counted = [s for s in shifts if s.status != ShiftStatus.CANCELLED.value]
    members = [m for m in team.members if m.status == MemberStatus.ACTIVE.value]
    first = dt.date(year, month, 1)
    last = (first + dt.timedelta(days=32)).replace(day=1)
    booked: dict[int, set[int]] = {m.id: set() for m in members}
    for s in counted:
        for place in s.places:
            if place.member_id in booked:
                booked[place.member_id].add(s.id)
    def needed(s: PatrolShift) -> int:
        # places held by members outside the roster (suspended, left) stay and take their share of the need
        others = len([p for p in s.places if p.member_id not in booked])
        if s.status != ShiftStatus.PLANNED.value:
            return len(s.places) - others
        return max(s.needed, len(s.places)) - others

    # village-local times: leave is on village days (the zone has no summer time, so overlaps are unchanged)
    plan = roster.fill(
        [roster.Shift(key=s.id, start=local(s.starts_at), end=local(s.ends_at), needed=needed(s)) for s in counted],
        [roster.Member(key=m.id, away=frozenset(away_days(m, first - dt.timedelta(days=1), last)),
                       fixed=frozenset(booked[m.id])) for m in members],
        minimum=team.monthly_minimum)
    by_id = {s.id: s for s in planned}
    added = 0
    for shift_id, member_ids in plan.assignments.items():
        shift = by_id.get(shift_id)
        if shift is None:
            continue
        have = {p.member_id for p in shift.places}
        for member_id in member_ids:
            if member_id not in have:
                db.session.add(PatrolPlace(village_id=team.village_id, shift_id=shift.id, member_id=member_id))
                added += 1
    db.session.flush()
    record("patrol.roster_fill", team, details={"month": f"{year}-{month:02d}", "places": added,
                                                "short": len(plan.shortfalls)})
    return plan


def _overlapping(member: PatrolMember, shift: PatrolShift) -> PatrolShift | None:
    return db.session.scalar(sa.select(PatrolShift).join(PatrolPlace).where(
        PatrolPlace.member_id == member.id, PatrolShift.id != shift.id,
        PatrolShift.status != ShiftStatus.CANCELLED.value,
        PatrolShift.starts_at < shift.ends_at, shift.starts_at < PatrolShift.ends_at))


def _check_bookable(shift: PatrolShift, member: PatrolMember, field: str = "member") -> None:
    if member.team_id != shift.team_id or member.status != MemberStatus.ACTIVE.value:
        raise PatrolError(_("Choose an active member of this team."), field)
    if any(p.member_id == member.id for p in shift.places):
        raise PatrolError(_("This member is already on this shift."), field)
    clash = _overlapping(member, shift)
    if clash is not None:
        raise PatrolError(_("This member is already on another shift at that time (%(day)s).",
                            day=clash.day.isoformat()), field)
    last_local = local(shift.ends_at - dt.timedelta(microseconds=1)).date()
    if away_days(member, local(shift.starts_at).date(), last_local):
        raise PatrolError(_("This member is on leave on that day."), field)


def book(shift: PatrolShift, member: PatrolMember, *, actor=None) -> PatrolPlace:
    SHIFT.move(shift.status, "book")
    _check_bookable(shift, member)
    place = PatrolPlace(village_id=shift.village_id, shift_id=shift.id, member_id=member.id)
    db.session.add(place)
    shift.places.append(place)
    db.session.flush()
    record("patrol.book", place, details={"shift_id": shift.id, "member_id": member.id})
    return place


def unbook(place: PatrolPlace, *, actor=None) -> None:
    SHIFT.move(place.shift.status, "book")
    if place.attendance != Attendance.PLANNED.value or place.signed_in_at is not None:
        raise PatrolError(_("This member has already checked in or been marked; mark them absent instead."))
    record("patrol.unbook", place, details={"shift_id": place.shift_id, "member_id": place.member_id})
    place.shift.places.remove(place)
    db.session.delete(place)
    db.session.flush()


def swap(place: PatrolPlace, to_member: PatrolMember, *, note: str | None = None, actor=None) -> PatrolPlace:
    """换班: the place passes to another member, and the swap is kept for the record."""
    shift = place.shift
    SHIFT.move(shift.status, "book")
    if place.attendance != Attendance.PLANNED.value or place.signed_in_at is not None:
        raise PatrolError(_("This member has already checked in or been marked; mark them absent instead."))
    _check_bookable(shift, to_member, "to_member")
    db.session.add(PatrolSwap(village_id=shift.village_id, shift_id=shift.id, from_member_id=place.member_id,
                              to_member_id=to_member.id, note=(note or "").strip() or None,
                              recorded_by_id=actor.id if actor else None))
    from_id = place.member_id
    place.member_id = to_member.id
    place.member = to_member
    db.session.flush()
    record("patrol.swap", place, details={"shift_id": shift.id, "from": from_id, "to": to_member.id})
    return place


def cancel(shift: PatrolShift, *, reason: str, actor=None) -> PatrolShift:
    shift.status = SHIFT.move(shift.status, "cancel")
    if not (reason or "").strip():
        raise PatrolError(_("Please write why the shift is cancelled."), "reason")
    db.session.flush()
    record("patrol.cancel", shift, changed=["status", "reason"])  # the reason is free text: not in the chain
    return shift


# --- check-in -------------------------------------------------------------------------------------

def check_in(point: PatrolCheckpoint, user, *, now: dt.datetime | None = None) -> PatrolCheckIn:
    """The member logged in on this phone scanned the checkpoint's sticker during their shift."""
    now = now or utcnow()
    members = list(db.session.scalars(sa.select(PatrolMember).where(
        PatrolMember.user_id == user.id, PatrolMember.team_id == point.route.team_id,
        PatrolMember.status == MemberStatus.ACTIVE.value)))
    if not members:
        raise PatrolError(_("You are not a member of the team that patrols this checkpoint."))
    member = members[0]
    shifts = list(db.session.scalars(sa.select(PatrolShift).where(
        PatrolShift.team_id == point.route.team_id,
        sa.or_(PatrolShift.route_id == point.route_id, PatrolShift.route_id.is_(None)),
        PatrolShift.starts_at <= now + CHECK_IN_GRACE,
        PatrolShift.ends_at >= now - CHECK_IN_GRACE,
        PatrolShift.status != ShiftStatus.CANCELLED.value).order_by(PatrolShift.starts_at)))
    if not shifts:
        raise PatrolError(_("There is no shift on this route now. Check-in opens 30 minutes before a shift."))
    mine = [(s, p) for s in shifts for p in s.places if p.member_id == member.id]
    if not mine:
        raise PatrolError(_("You are not on the shift now on this route. Ask your leader to add you."))
    shift, place = mine[0]
    if shift.status != ShiftStatus.PLANNED.value:
        SHIFT.move(shift.status, "check_in")
    earlier = db.session.scalar(sa.select(PatrolCheckIn).where(
        PatrolCheckIn.shift_id == shift.id, PatrolCheckIn.checkpoint_id == point.id,
        PatrolCheckIn.member_id == member.id))
    if earlier is not None:
        raise PatrolError(_("You already checked in here at %(time)s.", time=local(earlier.at).strftime("%H:%M")))
    visit = PatrolCheckIn(village_id=point.village_id, shift_id=shift.id, checkpoint_id=point.id,
                          member_id=member.id, at=now)
    db.session.add(visit)
    if place.signed_in_at is None or place.signed_in_at > now:
        place.signed_in_at = now
    db.session.flush()
    record("patrol.check_in", visit, details={"shift_id": shift.id, "checkpoint_id": point.id})
    return visit


def check_ins(shift: PatrolShift) -> list[PatrolCheckIn]:
    return list(db.session.scalars(sa.select(PatrolCheckIn).where(PatrolCheckIn.shift_id == shift.id)
                                   .order_by(PatrolCheckIn.at, PatrolCheckIn.id)))


# --- attendance, confirmation and points ----------------------------------------------------------

def _check_attendance(value: str) -> None:
    if value not in {a.value for a in Attendance} or value == Attendance.PLANNED.value:
        raise PatrolError(_("Choose present, late, absent, leave or substitute."), "attendance")


def mark(place: PatrolPlace, attendance: str, *, signed_in_at: dt.datetime | None = None,
         signed_out_at: dt.datetime | None = None, actor=None) -> PatrolPlace:
    SHIFT.move(place.shift.status, "mark")
    _check_attendance(attendance)
    if attendance == Attendance.SUBSTITUTE.value and place.instead_of_id is None:
        raise PatrolError(_("Add a substitute from the shift page, naming whom they stand in for."), "attendance")
    _set_times(place, signed_in_at, signed_out_at)
    place.attendance = attendance
    db.session.flush()
    record("patrol.mark", place, details={"attendance": attendance})
    return place


def set_times(place: PatrolPlace, *, signed_in_at: dt.datetime | None, signed_out_at: dt.datetime | None,
              actor=None) -> PatrolPlace:
    """The leader enters sign-in and -out times (a member without a phone signed the paper sheet)."""
    SHIFT.move(place.shift.status, "mark" if place.shift.status == ShiftStatus.PLANNED.value else "correct")
    _set_times(place, signed_in_at, signed_out_at)
    db.session.flush()
    record("patrol.times", place, changed=["signed_in_at", "signed_out_at"])
    return place


def _set_times(place: PatrolPlace, signed_in_at, signed_out_at) -> None:
    if signed_in_at is not None:
        place.signed_in_at = signed_in_at
    if signed_out_at is not None:
        place.signed_out_at = signed_out_at
    if place.signed_in_at and place.signed_out_at and place.signed_out_at < place.signed_in_at:
        raise PatrolError(_("Signing out cannot be before signing in."), "signed_out_at")


def add_substitute(place: PatrolPlace, substitute: PatrolMember, *, actor=None) -> PatrolPlace:
    """替班 on the night: the substitute walks in the booked member's place, who is marked on leave."""
    shift = place.shift
    SHIFT.move(shift.status, "mark")
    _check_bookable(shift, substitute, "substitute")
    place.attendance = Attendance.LEAVE.value
    sub = PatrolPlace(village_id=shift.village_id, shift_id=shift.id, member_id=substitute.id,
                      attendance=Attendance.SUBSTITUTE.value, instead_of_id=place.member_id)
    db.session.add(sub)
    shift.places.append(sub)
    db.session.flush()
    record("patrol.substitute", sub, details={"shift_id": shift.id, "instead_of": place.member_id})
    return sub


def _item_for(team: PatrolTeam, shift: PatrolShift, attendance: str) -> PointItem | None:
    if attendance in EARNS:
        return (team.night_item if is_night(shift) and team.night_item is not None else team.shift_item)
    if attendance == Attendance.ABSENT.value:
        return team.absence_item
    return None


def _record_points(place: PatrolPlace, actor) -> None:
    shift, team = place.shift, place.shift.team
    item = _item_for(team, shift, place.attendance)
    person = place.member.person
    if item is None or person.village_id != team.village_id:
        # a township team's member from another village is paid by the township, not in this village's points
        place.entry_id = None
        return
    scheme = village_scheme(team.village_id)
    ref = f"patrol-place:{place.id}"
    earlier = db.session.scalar(sa.select(sa.func.count()).select_from(PointEntry).where(
        PointEntry.village_id == team.village_id, PointEntry.source_ref == ref))
    window = f"{local(shift.starts_at):%H:%M}–{local(shift.ends_at):%H:%M}"
    entry = points.record_entry(scheme, item, person.household, person=person, occurred_on=shift.day,
                                note=f"{team.name} {window}", actor=actor, source="patrol", source_ref=ref,
                                key=f"{ref}:{earlier}", today=local_day(utcnow()))
    place.entry_id = entry.id


def confirm(shift: PatrolShift, *, actor=None, now: dt.datetime | None = None) -> PatrolShift:
    """The leader closes a walked shift: attendance becomes final and each place's points are recorded.

    A place still planned counts as present when its member checked in; any other still-planned place must
    be marked first, so nobody's absence is decided by default.
    """
    status = SHIFT.move(shift.status, "confirm")
    now = now or utcnow()
    if shift.ends_at > now:
        raise PatrolError(_("The shift has not ended yet."))
    unmarked = [p for p in shift.places if p.attendance == Attendance.PLANNED.value and p.signed_in_at is None]
    if unmarked:
        raise PatrolError(_("Mark the attendance of %(names)s first.",
                            names="、".join(p.member.person.name for p in unmarked)))
    for place in shift.places:
        if place.attendance == Attendance.PLANNED.value:
            place.attendance = Attendance.PRESENT.value
    shift.status = status
    shift.confirmed_by_id = actor.id if actor is not None else None
    shift.confirmed_at = now
    db.session.flush()
    for place in shift.places:
        _record_points(place, actor)
    db.session.flush()
    record("patrol.confirm", shift, details={"places": len(shift.places)})
    return shift


def correct(place: PatrolPlace, attendance: str, *, reason: str, signed_in_at: dt.datetime | None = None,
            signed_out_at: dt.datetime | None = None, actor=None) -> PatrolPlace:
    """Correct a confirmed shift's attendance: its points entry is taken back and the right one recorded."""
    SHIFT.move(place.shift.status, "correct")
    _check_attendance(attendance)
    if not (reason or "").strip():
        raise PatrolError(_("Please write why the attendance is corrected."), "reason")
    if attendance == Attendance.SUBSTITUTE.value and place.instead_of_id is None:
        raise PatrolError(_("Add a substitute from the shift page, naming whom they stand in for."), "attendance")
    _set_times(place, signed_in_at, signed_out_at)
    before = place.attendance
    if attendance == before:
        db.session.flush()
        return place
    if place.entry_id is not None:
        points.withdraw(db.session.get(PointEntry, place.entry_id), actor, reason=reason)
    place.attendance = attendance
    db.session.flush()
    _record_points(place, actor)
    db.session.flush()
    # attendance is a code; the reason is free text and stays out of the chain (the entry's review note keeps it)
    record("patrol.correct", place, details={"before": {"attendance": before}, "after": {"attendance": attendance}},
           changed=["attendance"])
    return place


# --- log and spot-checks --------------------------------------------------------------------------

def record_finding(shift: PatrolShift, *, kind: str, text: str, action: str, photo_file: str | None = None,
                   actor=None) -> PatrolFinding:
    if kind not in {k.value for k in FindingKind}:
        raise PatrolError(_("Choose what was found from the list."), "kind")
    if action not in {a.value for a in FindingAction}:
        raise PatrolError(_("Choose what was done from the list."), "action")
    text = (text or "").strip()
    if not text:
        raise PatrolError(_("Please describe what was found."), "text")
    if shift.status == ShiftStatus.CANCELLED.value:
        raise PatrolError(_("This shift was cancelled."))
    finding = PatrolFinding(village_id=shift.village_id, shift_id=shift.id, kind=kind, text=text, action=action,
                            photo_file=photo_file, recorded_by_id=actor.id if actor else None)
    db.session.add(finding)
    db.session.flush()
    record("patrol.finding", finding, details={"kind": kind, "action": action})
    return finding


#: the features a finding may be turned over to, by the action that turns it over
HANDOVER = {FindingAction.TO_MEDIATION.value: "mediation_case", FindingAction.TO_GRID.value: "grid_event"}


def link_finding(finding: PatrolFinding, ref_kind: str, ref_id: int) -> PatrolFinding:
    """The link point for mediation and grid work: the case or event a finding was turned over to."""
    if HANDOVER.get(finding.action) != ref_kind:
        raise PatrolError(_("This finding was not turned over to that kind of record."))
    if finding.ref_id is not None:
        raise PatrolError(_("This finding is already linked."))
    finding.ref_kind, finding.ref_id = ref_kind, ref_id
    db.session.flush()
    record("patrol.finding_link", finding, details={"ref_kind": ref_kind, "ref_id": ref_id})
    return finding


def record_inspection(shift: PatrolShift, *, inspector: str, at: dt.datetime, result: str,
                      actor=None) -> PatrolInspection:
    inspector, result = (inspector or "").strip(), (result or "").strip()
    if not inspector:
        raise PatrolError(_("Please write who inspected."), "inspector")
    if not result:
        raise PatrolError(_("Please write what the inspection found."), "result")
    check = PatrolInspection(village_id=shift.village_id, shift_id=shift.id, inspector=inspector, at=at,
                             result=result, recorded_by_id=actor.id if actor else None)
    db.session.add(check)
    db.session.flush()
    record("patrol.inspection", check, details={"shift_id": shift.id})
    return check
