"""Reads of grid work for its pages and for other features (the dashboard, the patrol page, the today pages).

Definitions, as the report page states them:

- due in a period: a household of the grid whose next visit (by the schedule, from its visits before the
  period) fell on or before the period's last day; visited: of those, the ones visited in the period;
- an event is overdue when its work is not over (reported, accepted, assigned, in progress) after its due time;
  on time when it was resolved (or escalated, turned over, rejected) by its due time;
- closure rate = closed events reported in the period ÷ events reported in the period.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlalchemy as sa

from ..db import month_bucket
from ..extensions import db
from ..registry.models import Household, HouseholdStatus, VillagerGroup
from ..text import group_key
from . import schedule
from .models import EventStatus, EventStep, Grid, GridEvent, GridMembership, GridWorker, Visit, VisitRule
from .states import FINISHED


@dataclass
class DueHousehold:
    household: Household
    grid: Grid
    group: VillagerGroup | None
    joined_on: dt.date
    last_visit: dt.date | None
    due: schedule.Due
    interval: tuple[int, str]
    standing: str = ""
    tags: list[str] = field(default_factory=list)


def _last_visits(household_ids: list[int], before: dt.date | None = None) -> dict[int, Visit]:
    """Each household's latest visit (before `before` when given), in one query."""
    if not household_ids:
        return {}
    cond = [Visit.household_id.in_(household_ids)]
    if before is not None:
        cond.append(Visit.visited_on < before)
    ranked = (sa.select(Visit.id, sa.func.row_number().over(
        partition_by=Visit.household_id, order_by=(Visit.visited_on.desc(), Visit.id.desc())).label("rn"))
        .where(*cond).subquery())
    rows = db.session.scalars(sa.select(Visit).join(ranked, ranked.c.id == Visit.id).where(ranked.c.rn == 1))
    return {v.household_id: v for v in rows}


def schedule_for(village_id: int, rules: dict, *, grid_ids: list[int] | None = None, today: dt.date,
                 as_of: dt.date | None = None) -> list[DueHousehold]:
    """Every active household in the grids (all of the village's when None), with its next due date.

    `as_of`: count only visits before that day (a report's period start)."""
    stmt = (sa.select(GridMembership, Household, Grid, VillagerGroup)
            .join(Household, Household.id == GridMembership.household_id)
            .join(Grid, Grid.id == GridMembership.grid_id)
            .outerjoin(VillagerGroup, VillagerGroup.id == Household.group_id)
            .where(GridMembership.village_id == village_id, GridMembership.ended_on.is_(None),
                   Household.status == HouseholdStatus.ACTIVE.value))
    if grid_ids is not None:
        stmt = stmt.where(GridMembership.grid_id.in_(grid_ids or [-1]))
    rows = db.session.execute(stmt).all()
    last = _last_visits([h.id for _m, h, _g, _vg in rows], before=as_of)
    out = []
    for membership, household, grid, group in rows:
        visit = last.get(household.id)
        tags = household.tag_list
        interval = schedule.interval_for(tags, rules)
        due = schedule.next_due(membership.started_on, visit.visited_on if visit else None,
                                visit.follow_up_on if visit else None, interval)
        out.append(DueHousehold(household, grid, group, membership.started_on, visit.visited_on if visit else None,
                                due, interval, schedule.standing(due.day, today), tags))
    return out


def walk_order(items: list[DueHousehold], groups: list[VillagerGroup], start_group_id: int | None) -> list:
    """Nearest villager group first: groups in the village's order, counted outwards from the one the worker
    stands in (the register lists groups in walking order, 1组, 2组 …); overdue before due inside a group."""
    order = {g.id: i for i, g in enumerate(groups)}
    start = order.get(start_group_id, 0)

    def key(item: DueHousehold):
        pos = order.get(item.group.id, len(groups)) if item.group else len(groups)
        return (abs(pos - start), pos, item.due.day, item.household.number)

    return sorted(items, key=key)


def village_groups(village_id: int) -> list[VillagerGroup]:
    return sorted(db.session.scalars(sa.select(VillagerGroup).where(VillagerGroup.village_id == village_id,
                                                                    VillagerGroup.active == sa.true())),
                  key=lambda gr: group_key(gr.name))


def grids(village_id: int, *, active_only: bool = False) -> list[Grid]:
    stmt = sa.select(Grid).where(Grid.village_id == village_id)
    if active_only:
        stmt = stmt.where(Grid.active == sa.true())
    return db.session.scalars(stmt.order_by(Grid.name)).all()


def household_counts(village_id: int) -> dict[int, int]:
    """Current households per grid (micro-grids' households counted in their grid too, by the page)."""
    return dict(db.session.execute(
        sa.select(GridMembership.grid_id, sa.func.count()).join(Household, Household.id == GridMembership.household_id)
        .where(GridMembership.village_id == village_id, GridMembership.ended_on.is_(None),
               Household.status == HouseholdStatus.ACTIVE.value)
        .group_by(GridMembership.grid_id)).all())


def current_workers(village_id: int) -> list[GridWorker]:
    return db.session.scalars(sa.select(GridWorker).where(GridWorker.village_id == village_id,
                                                          GridWorker.ended_on.is_(None))
                              .order_by(GridWorker.grid_id, GridWorker.id)).all()


OPEN_STATUSES = tuple(s.value for s in EventStatus if s.value not in FINISHED)


def overdue_events(village_id: int, now: dt.datetime) -> list[GridEvent]:
    return db.session.scalars(sa.select(GridEvent).where(
        GridEvent.village_id == village_id, GridEvent.status.in_(OPEN_STATUSES), GridEvent.due_at < now)
        .order_by(GridEvent.due_at)).all()


def handed_to_patrol(village_id: int, limit: int = 50) -> list[tuple[GridEvent, str | None]]:
    """Events a clerk turned over to the patrol team for a follow-up, with what the patrol should look at (shown
    on the patrol page), newest first."""
    events = db.session.scalars(sa.select(GridEvent).where(GridEvent.village_id == village_id,
                                                           GridEvent.handed_to == "patrol")
                                .order_by(GridEvent.id.desc()).limit(limit)).all()
    notes = dict(db.session.execute(sa.select(EventStep.event_id, EventStep.note).where(
        EventStep.event_id.in_([e.id for e in events] or [-1]), EventStep.action == "convert")).all())
    return [(e, notes.get(e.id)) for e in events]


def awaiting_mediation(village_id: int) -> list[GridEvent]:
    """Events a clerk turned over to mediation that no mediator has opened a case from yet."""
    return db.session.scalars(sa.select(GridEvent).where(GridEvent.village_id == village_id,
                                                         GridEvent.handed_to == "mediation_case",
                                                         GridEvent.handed_id.is_(None))
                              .order_by(GridEvent.id)).all()


def event_for_case(case_id: int) -> GridEvent | None:
    """The grid event a mediation case was opened from, if any (the case page links back to it)."""
    return db.session.scalar(sa.select(GridEvent).where(GridEvent.handed_to == "mediation_case",
                                                        GridEvent.handed_id == case_id))


# --- reports --------------------------------------------------------------------------------------

@dataclass
class VisitFigures:
    households: int = 0
    due: int = 0
    visited: int = 0
    visits: int = 0

    @property
    def rate(self) -> float | None:
        return self.visited / self.due if self.due else None


def visit_figures(village_id: int, rules: dict, first: dt.date, last: dt.date) -> tuple[dict, dict]:
    """(per grid id, per worker user id) → VisitFigures for the period [first, last]."""
    plan = schedule_for(village_id, rules, today=first, as_of=first)
    visits = db.session.execute(sa.select(Visit.household_id, Visit.grid_id, Visit.worker_id).where(
        Visit.village_id == village_id, Visit.visited_on >= first, Visit.visited_on <= last)).all()
    visited_households = {v.household_id for v in visits}
    by_grid: dict[int, VisitFigures] = {}
    for item in plan:
        f = by_grid.setdefault(item.grid.id, VisitFigures())
        f.households += 1
        if item.due.day <= last:
            f.due += 1
            if item.household.id in visited_households:
                f.visited += 1
    for v in visits:
        by_grid.setdefault(v.grid_id, VisitFigures()).visits += 1
    # a worker answers for the grids they work now (and the micro-grids inside them)
    by_worker: dict[int, VisitFigures] = {}
    workers = current_workers(village_id)
    children: dict[int, list[int]] = {}
    for gid, parent in db.session.execute(sa.select(Grid.id, Grid.parent_id).where(Grid.village_id == village_id)):
        if parent:
            children.setdefault(parent, []).append(gid)
    for w in workers:
        f = by_worker.setdefault(w.user_id, VisitFigures())
        for gid in [w.grid_id, *children.get(w.grid_id, [])]:
            g = by_grid.get(gid)
            if g:
                f.households += g.households
                f.due += g.due
                f.visited += g.visited
    for v in visits:
        if v.worker_id is not None:
            by_worker.setdefault(v.worker_id, VisitFigures()).visits += 1
    return by_grid, by_worker


@dataclass
class EventFigures:
    reported: int = 0
    closed: int = 0
    on_time: int = 0
    late: int = 0
    overdue: int = 0
    by_kind: dict = field(default_factory=dict)
    by_status: dict = field(default_factory=dict)

    @property
    def closure_rate(self) -> float | None:
        return self.closed / self.reported if self.reported else None


def _finished_at(event: GridEvent, finished: dict[int, dt.datetime]) -> dt.datetime | None:
    if event.resolved_at is not None:
        return event.resolved_at
    return finished.get(event.id)


def event_figures(village_id: int, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> EventFigures:
    """Events reported in [start, end) (UTC): by kind and status, timeliness, closure rate."""
    events = db.session.scalars(sa.select(GridEvent).where(
        GridEvent.village_id == village_id, GridEvent.reported_at >= start, GridEvent.reported_at < end)).all()
    # when an event's work ended without a resolution (rejected, escalated, turned over): its step's time
    finished = dict(db.session.execute(sa.select(EventStep.event_id, sa.func.min(EventStep.at)).where(
        EventStep.event_id.in_([e.id for e in events] or [-1]),
        EventStep.action.in_(("reject", "escalate", "convert"))).group_by(EventStep.event_id)).all())
    f = EventFigures()
    for e in events:
        f.reported += 1
        f.by_kind[e.kind] = f.by_kind.get(e.kind, 0) + 1
        f.by_status[e.status] = f.by_status.get(e.status, 0) + 1
        if e.status == EventStatus.CLOSED.value:
            f.closed += 1
        done = _finished_at(e, finished)
        if done is not None:
            if done <= e.due_at:
                f.on_time += 1
            else:
                f.late += 1
        elif e.due_at < now:
            f.overdue += 1
    return f


# --- a worker's grids and the village's schedule --------------------------------------------------

def worker_grid_ids(village_id: int, user_id: int) -> list[int]:
    """The grids a worker works now, with the micro-grids inside them."""
    top = list(db.session.scalars(sa.select(GridWorker.grid_id).where(
        GridWorker.village_id == village_id, GridWorker.user_id == user_id, GridWorker.ended_on.is_(None))))
    if not top:
        return []
    children = db.session.scalars(sa.select(Grid.id).where(Grid.parent_id.in_(top)))
    return sorted(set(top) | set(children))


def village_rules(village_id: int) -> dict[str, tuple[int, str]]:
    """The village's rules by tag; the 三必访 defaults when it has set none."""
    return rules_of([village_id])[village_id]


# --- what waits today (the home page) -------------------------------------------------------------

def today_counts(village_id: int, *, user_id: int, today: dt.date, now: dt.datetime) -> dict:
    """The grid worker's counts: visits due today and overdue in the worker's grids (with the oldest due
    day), by the same schedule as the worker's today page; open events assigned to the worker, and of those
    the ones past their due time (with the oldest due time). The events come in one statement; the visits
    need the schedule's arithmetic (schedule_for: three statements)."""
    grid_ids = worker_grid_ids(village_id, user_id)
    plan = schedule_for(village_id, village_rules(village_id), grid_ids=grid_ids, today=today) if grid_ids else []
    overdue = [p.due.day for p in plan if p.standing == "overdue"]
    mine = (GridEvent.village_id == village_id, GridEvent.assignee_id == user_id,
            GridEvent.status.in_(OPEN_STATUSES))
    assigned, late, oldest = db.session.execute(sa.select(
        sa.select(sa.func.count()).select_from(GridEvent).where(*mine).scalar_subquery(),
        sa.select(sa.func.count()).select_from(GridEvent).where(*mine, GridEvent.due_at < now).scalar_subquery(),
        sa.select(sa.func.min(GridEvent.due_at)).where(*mine, GridEvent.due_at < now).scalar_subquery())).one()
    if isinstance(oldest, str):  # a scalar subquery's MIN comes back untyped from SQLite
        oldest = dt.datetime.fromisoformat(oldest)
    return {"visits_today": sum(1 for p in plan if p.standing == "today"), "visits_overdue": len(overdue),
            "oldest_visit_due": min(overdue) if overdue else None, "events_assigned": assigned,
            "events_overdue": late, "oldest_event_due": oldest}


def villages_today(village_ids: list[int], now: dt.datetime) -> dict[int, int]:
    """Per village: open events past their due time (the township's home page), in one grouped statement."""
    return dict(db.session.execute(sa.select(GridEvent.village_id, sa.func.count()).where(
        GridEvent.village_id.in_(village_ids or [-1]), GridEvent.status.in_(OPEN_STATUSES),
        GridEvent.due_at < now).group_by(GridEvent.village_id)).all())


# --- figures for the dashboard and the township roll-up (all villages at once) ----------------------

def rules_of(village_ids: list[int]) -> dict[int, dict[str, tuple[int, str]]]:
    """{village id: the village's visit rules by tag}, the 三必访 defaults for a village that set none."""
    out: dict[int, dict[str, tuple[int, str]]] = {}
    for r in db.session.scalars(sa.select(VisitRule).where(VisitRule.village_id.in_(village_ids))):
        out.setdefault(r.village_id, {})[r.tag] = (r.every, r.unit)
    return {v: out.get(v) or dict(schedule.DEFAULT_RULES) for v in village_ids}


def visit_totals(village_ids: list[int], first: dt.date, last: dt.date) -> dict[int, VisitFigures]:
    """{village id: VisitFigures} for the period [first, last], by the definitions above (as visit_figures sums
    over its grids), in three statements for all the villages; the schedule is worked out in Python."""
    rules = rules_of(village_ids)
    members = db.session.execute(
        sa.select(GridMembership.village_id, Household.id, Household.tags, GridMembership.started_on)
        .join(Household, Household.id == GridMembership.household_id)
        .where(GridMembership.village_id.in_(village_ids), GridMembership.ended_on.is_(None),
               Household.status == HouseholdStatus.ACTIVE.value)).all()
    ranked = (sa.select(Visit.household_id, Visit.visited_on, Visit.follow_up_on, sa.func.row_number().over(
        partition_by=Visit.household_id, order_by=(Visit.visited_on.desc(), Visit.id.desc())).label("rn"))
        .where(Visit.village_id.in_(village_ids), Visit.visited_on < first).subquery())
    last_visit = {h: (on, follow) for h, on, follow in db.session.execute(
        sa.select(ranked.c.household_id, ranked.c.visited_on, ranked.c.follow_up_on).where(ranked.c.rn == 1))}
    visited: set[int] = set()
    out = {v: VisitFigures() for v in village_ids}
    for v, h, n in db.session.execute(
            sa.select(Visit.village_id, Visit.household_id, sa.func.count())
            .where(Visit.village_id.in_(village_ids), Visit.visited_on >= first, Visit.visited_on <= last)
            .group_by(Visit.village_id, Visit.household_id)):
        visited.add(h)
        out[v].visits += int(n)
    for v, hid, tags, started in members:
        f = out[v]
        f.households += 1
        on, follow = last_visit.get(hid, (None, None))
        tag_list = (tags or "").split()
        due = schedule.next_due(started, on, follow, schedule.interval_for(tag_list, rules[v]))
        if due.day <= last:
            f.due += 1
            f.visited += hid in visited
    return out


def events_by_month(village_ids: list[int], year: int, months=range(1, 13)) -> dict[tuple[int, int], tuple[int, int]]:
    """{(village id, month): (events reported, of those closed)} by the village's month of the report: the
    closure rate's two terms."""
    month, lo, hi = month_bucket(GridEvent.reported_at, year, months, utc=True)
    return {(v, int(m)): (int(n), int(c)) for v, m, n, c in db.session.execute(
        sa.select(GridEvent.village_id, month, sa.func.count(),
                  sa.func.count().filter(GridEvent.status == EventStatus.CLOSED.value))
        .where(GridEvent.village_id.in_(village_ids), GridEvent.reported_at >= lo, GridEvent.reported_at < hi)
        .group_by(GridEvent.village_id, month))}
