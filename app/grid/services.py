"""Grid verbs: draw grids, assign workers, place households (with history), set the visit schedule, record
visits, and move events from report to closure.

Every verb flushes and writes its audit row (ids and codes only: findings, requests, event text and feedback
never enter the chain); the caller's transaction commits.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask_babel import gettext as _

from ..audit.services import record
from ..auth.models import Membership, User
from ..db import local_today, utcnow
from ..extensions import db
from ..registry.models import HOUSEHOLD_TAGS, Household, HouseholdStatus, Village, VillagerGroup
from . import schedule
from .errors import GridError
from .models import (
    DUE_DAYS,
    EventKind,
    EventStatus,
    EventStep,
    Grid,
    GridEvent,
    GridMembership,
    GridWorker,
    Handover,
    IntervalUnit,
    Priority,
    Visit,
    VisitPurpose,
    VisitRule,
)

# the grid reads other features use too live in queries; the pages keep calling them from here
from .queries import village_rules, worker_grid_ids  # noqa: F401
from .states import EVENT

#: the sources an event may be reported from (a patrol finding turned over to the grid)
SOURCES = ("patrol_finding",)


def _text(value: str | None, field: str, message: str, limit: int) -> str:
    value = (value or "").strip()
    if not value:
        raise GridError(message, field)
    if len(value) > limit:
        raise GridError(_("At most %(n)d characters.", n=limit), field)
    return value


def _optional(value: str | None, field: str, limit: int) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise GridError(_("At most %(n)d characters.", n=limit), field)
    return value or None


# --- grids and workers ----------------------------------------------------------------------------

def _check_parent(village: Village, parent: Grid | None, grid: Grid | None = None) -> None:
    if parent is None:
        return
    if parent.village_id != village.id:
        raise GridError(_("Choose the grid from the list."), "parent_id")
    if parent.parent_id is not None:
        raise GridError(_("A micro-grid sits inside a grid, not inside another micro-grid."), "parent_id")
    if grid is not None and (parent.id == grid.id or grid.children):
        raise GridError(_("A grid with micro-grids cannot itself become a micro-grid."), "parent_id")


def _check_name(village: Village, name: str, grid: Grid | None = None) -> str:
    name = _text(name, "name", _("Please give the grid a name."), 64)
    other = db.session.scalar(sa.select(Grid.id).where(Grid.village_id == village.id, Grid.name == name))
    if other is not None and (grid is None or other != grid.id):
        raise GridError(_("This village already has a grid named %(name)s.", name=name), "name")
    return name


def create_grid(village: Village, *, name: str, parent: Grid | None = None, chief_name: str | None = None,
                chief_phone: str | None = None, note: str | None = None, actor=None) -> Grid:
    """Draw a grid (网格) or, with a parent, a micro-grid (微网格) inside it."""
    name = _check_name(village, name)
    _check_parent(village, parent)
    grid = Grid(village_id=village.id, parent_id=parent.id if parent else None, name=name,
                chief_name=_optional(chief_name, "chief_name", 64), chief_phone=_optional(chief_phone,
                                                                                        "chief_phone", 20),
                note=_optional(note, "note", 500))
    db.session.add(grid)
    db.session.flush()
    record("grid.create", grid, details={"parent_id": grid.parent_id})
    return grid


def update_grid(grid: Grid, *, name: str, parent: Grid | None, chief_name: str | None, chief_phone: str | None,
                note: str | None, active: bool = True, actor=None) -> Grid:
    village = db.session.get(Village, grid.village_id)
    before = {"name": grid.name, "parent_id": grid.parent_id, "chief_name": grid.chief_name,
              "chief_phone": grid.chief_phone, "note": grid.note, "active": grid.active}
    grid.name = _check_name(village, name, grid)
    _check_parent(village, parent, grid)
    grid.parent_id = parent.id if parent else None
    grid.chief_name = _optional(chief_name, "chief_name", 64)
    grid.chief_phone = _optional(chief_phone, "chief_phone", 20)
    grid.note = _optional(note, "note", 500)
    grid.active = bool(active)
    db.session.flush()
    after = {"name": grid.name, "parent_id": grid.parent_id, "chief_name": grid.chief_name,
             "chief_phone": grid.chief_phone, "note": grid.note, "active": grid.active}
    changed = [k for k in before if before[k] != after[k]]
    if changed:
        record("grid.update", grid, changed=changed)
    return grid


def is_grid_worker(village_id: int, user: User) -> bool:
    return db.session.scalar(sa.select(Membership.id).where(
        Membership.user_id == user.id, Membership.village_id == village_id,
        Membership.role == "grid_worker").limit(1)) is not None


def assign_worker(grid: Grid, user: User | None, *, started_on: dt.date | None = None, actor=None) -> GridWorker:
    """Name a grid worker (a user with the grid-worker role in this village) for the grid."""
    if user is None or not is_grid_worker(grid.village_id, user):
        raise GridError(_("Choose a grid worker of this village from the list."), "user_id")
    if db.session.scalar(sa.select(GridWorker.id).where(GridWorker.grid_id == grid.id, GridWorker.user_id == user.id,
                                                        GridWorker.ended_on.is_(None))):
        raise GridError(_("%(name)s already works this grid.", name=user.display_name), "user_id")
    row = GridWorker(village_id=grid.village_id, grid_id=grid.id, user_id=user.id,
                     started_on=started_on or local_today())
    db.session.add(row)
    db.session.flush()
    record("grid.worker_assign", grid, details={"user_id": user.id})
    return row


def end_worker(row: GridWorker, *, ended_on: dt.date | None = None, actor=None) -> GridWorker:
    if row.ended_on is not None:
        raise GridError(_("This grid worker has already stopped working the grid."))
    row.ended_on = max(ended_on or local_today(), row.started_on)
    db.session.flush()
    record("grid.worker_end", row.grid, details={"user_id": row.user_id})
    return row


# --- households in grids --------------------------------------------------------------------------

def current_membership(household_id: int) -> GridMembership | None:
    return db.session.scalar(sa.select(GridMembership).where(GridMembership.household_id == household_id,
                                                             GridMembership.ended_on.is_(None)))


def place_household(household: Household, grid: Grid, *, on: dt.date | None = None,
                    actor=None) -> GridMembership:
    """Put the household in `grid` from `on`; its previous grid's membership ends that day (history kept)."""
    on = on or local_today()
    if household.village_id != grid.village_id:
        raise GridError(_("Choose the grid from the list."), "grid_id")
    if not grid.active:
        raise GridError(_("Grid %(name)s is no longer in use.", name=grid.name), "grid_id")
    if grid.children:
        raise GridError(_("Grid %(name)s is divided into micro-grids: choose one of them.", name=grid.name),
                        "grid_id")
    current = current_membership(household.id)
    if current is not None:
        if current.grid_id == grid.id:
            return current
        if on < current.started_on:
            raise GridError(_("Household %(number)s joined its present grid on %(day)s; the move cannot be "
                              "earlier.", number=household.number, day=current.started_on.isoformat()), "on")
        current.ended_on = on
        db.session.flush()
    row = GridMembership(village_id=household.village_id, household_id=household.id, grid_id=grid.id,
                         started_on=on, set_by_id=actor.id if actor is not None else None)
    db.session.add(row)
    db.session.flush()
    record("grid.place", grid, household_id=household.id,
           details={"grid_id": grid.id, "from": current.grid_id if current else None})
    return row


def place_group(group: VillagerGroup, grid: Grid, *, on: dt.date | None = None, actor=None) -> int:
    """Put every active household of a villager group in `grid` (micro-grids follow villager groups)."""
    if group.village_id != grid.village_id:
        raise GridError(_("Choose the villager group from the list."), "group_id")
    households = db.session.scalars(sa.select(Household).where(
        Household.group_id == group.id, Household.status == HouseholdStatus.ACTIVE.value)
        .order_by(Household.number)).all()
    moved = 0
    for household in households:
        current = current_membership(household.id)
        if current is None or current.grid_id != grid.id:
            place_household(household, grid, on=on, actor=actor)
            moved += 1
    return moved


def remove_household(household: Household, *, on: dt.date | None = None, actor=None) -> None:
    current = current_membership(household.id)
    if current is None:
        raise GridError(_("Household %(number)s is in no grid.", number=household.number))
    current.ended_on = max(on or local_today(), current.started_on)
    db.session.flush()
    record("grid.unplace", current.grid, household_id=household.id, details={"grid_id": current.grid_id})


# --- the visit schedule ---------------------------------------------------------------------------

#: the tags a village may give a rhythm to: the register's tags and "ordinary" for everyone else
RULE_TAGS = (schedule.ORDINARY, *HOUSEHOLD_TAGS)


def set_rules(village: Village, rules: dict[str, tuple[int, str] | None], *, actor=None) -> dict:
    """Replace the village's schedule: tag → (every, unit), or None for "no rule of its own"."""
    if not rules.get(schedule.ORDINARY):
        raise GridError(_("Ordinary households need a rhythm too."), schedule.ORDINARY)
    for tag, rule in rules.items():
        if tag not in RULE_TAGS:
            raise GridError(_("Unknown tag."), tag)
        if rule is None:
            continue
        every, unit = rule
        if unit not in {u.value for u in IntervalUnit}:
            raise GridError(_("Choose day, week or month."), tag)
        if not isinstance(every, int) or not 1 <= every <= 366:
            raise GridError(_("Every 1 to 366 days, weeks or months."), tag)
    db.session.execute(sa.delete(VisitRule).where(VisitRule.village_id == village.id))
    for tag, rule in rules.items():
        if rule is not None:
            db.session.add(VisitRule(village_id=village.id, tag=tag, every=rule[0], unit=rule[1]))
    db.session.flush()
    record("grid.rules", village, details={"rows": sum(1 for r in rules.values() if r)})
    return village_rules(village.id)


# --- visits ---------------------------------------------------------------------------------------

def record_visit(household: Household, *, visited_on: dt.date, findings: str, purpose: str = "routine",
                 requests: str | None = None, photo_file: str | None = None, follow_up_on: dt.date | None = None,
                 actor=None, today: dt.date | None = None) -> Visit:
    """入户走访: the visit moves the household's next due date (app.grid.schedule.next_due)."""
    today = today or local_today()
    membership = current_membership(household.id)
    if membership is None:
        raise GridError(_("Household %(number)s is in no grid yet; a clerk places it first.",
                          number=household.number))
    if purpose not in {p.value for p in VisitPurpose}:
        raise GridError(_("Choose the kind of visit from the list."), "purpose")
    if visited_on > today:
        raise GridError(_("The date cannot be in the future."), "visited_on")
    if visited_on < today - dt.timedelta(days=366):
        raise GridError(_("Visits are recorded within a year of the day."), "visited_on")
    findings = _text(findings, "findings", _("Please write what you found at the visit."), 2000)
    requests = _optional(requests, "requests", 1000)
    if follow_up_on is not None and not visited_on < follow_up_on <= visited_on + dt.timedelta(days=366):
        raise GridError(_("The second visit is after this one, within a year."), "follow_up_on")
    visit = Visit(village_id=household.village_id, grid_id=membership.grid_id, household_id=household.id,
                  worker_id=actor.id if actor is not None else None, visited_on=visited_on, purpose=purpose,
                  findings=findings, requests=requests, photo_file=photo_file, follow_up_on=follow_up_on)
    db.session.add(visit)
    db.session.flush()
    record("grid.visit", visit, household_id=household.id,
           details={"grid_id": visit.grid_id, "purpose": purpose, "occurred_on": visited_on.isoformat(),
                    "follow_up": follow_up_on is not None})
    return visit


# --- events ---------------------------------------------------------------------------------------

def _step(event: GridEvent, action: str, actor, note: str | None = None) -> None:
    db.session.add(EventStep(village_id=event.village_id, event_id=event.id, action=action, status=event.status,
                             note=note, actor_id=actor.id if actor is not None else None))


def _move(event: GridEvent, action: str, actor, note: str | None = None, **details) -> GridEvent:
    event.status = EVENT.move(event.status, action, subject=event)
    db.session.flush()
    _step(event, action, actor, note)
    db.session.flush()
    record(f"grid.event_{action}", event, household_id=event.household_id,
           details={"status": event.status, **details})
    return event


def due_at(reported_at: dt.datetime, priority: str) -> dt.datetime:
    return reported_at + dt.timedelta(days=DUE_DAYS[priority])


def report_event(village: Village, *, kind: str, text: str, place: str | None = None, priority: str = "normal",
                 grid: Grid | None = None, household: Household | None = None, photo_file: str | None = None,
                 reporter=None, source: tuple[str, int] | None = None,
                 now: dt.datetime | None = None) -> GridEvent:
    """上报: numbered per village and year; due by its priority (DUE_DAYS)."""
    now = now or utcnow()
    if kind not in {k.value for k in EventKind}:
        raise GridError(_("Choose what the event is about from the list."), "kind")
    if priority not in {p.value for p in Priority}:
        raise GridError(_("Choose the priority from the list."), "priority")
    text = _text(text, "text", _("Please describe what happened."), 2000)
    place = _optional(place, "place", 200)
    if household is not None and household.village_id != village.id:
        raise GridError(_("Choose the household from this village's register."), "household")
    if grid is not None and grid.village_id != village.id:
        raise GridError(_("Choose the grid from the list."), "grid_id")
    if grid is None and household is not None:
        membership = current_membership(household.id)
        grid = membership.grid if membership else None
    if source is not None:
        if source[0] not in SOURCES:
            raise GridError(_("Unknown source."))
        if db.session.scalar(sa.select(GridEvent.id).where(GridEvent.source_kind == source[0],
                                                           GridEvent.source_id == source[1])):
            raise GridError(_("An event has already been reported from this finding."))
    year = now.year
    seq = (db.session.scalar(sa.select(sa.func.max(GridEvent.seq)).where(
        GridEvent.village_id == village.id, GridEvent.year == year)) or 0) + 1
    event = GridEvent(village_id=village.id, year=year, seq=seq, grid_id=grid.id if grid else None,
                      household_id=household.id if household else None, kind=kind, text=text, place=place,
                      photo_file=photo_file, priority=priority, status=EventStatus.REPORTED.value,
                      reporter_id=reporter.id if reporter is not None else None, reported_at=now,
                      due_at=due_at(now, priority), source_kind=source[0] if source else None,
                      source_id=source[1] if source else None)
    db.session.add(event)
    db.session.flush()
    _step(event, "report", reporter)
    db.session.flush()
    record("grid.event_report", event, household_id=event.household_id,
           details={"kind": kind, "priority": priority, "grid_id": event.grid_id, "source": source[0] if source
                    else None})
    return event


def accept(event: GridEvent, *, priority: str | None = None, actor=None) -> GridEvent:
    """受理; the clerk may set the priority again, which moves the due date (counted from the report)."""
    if priority is not None and priority != event.priority:
        if priority not in {p.value for p in Priority}:
            raise GridError(_("Choose the priority from the list."), "priority")
        event.priority = priority
        event.due_at = due_at(event.reported_at, priority)
    return _move(event, "accept", actor, priority=event.priority)


def reject(event: GridEvent, *, reason: str, actor=None) -> GridEvent:
    event.reason = _text(reason, "reason", _("Please write why the report is not accepted."), 1000)
    return _move(event, "reject", actor, note=event.reason)


def assign(event: GridEvent, assignee: User | None, *, note: str | None = None, actor=None) -> GridEvent:
    """交办 to a grid worker or a clerk of the village."""
    if assignee is None or not db.session.scalar(sa.select(Membership.id).where(
            Membership.user_id == assignee.id, Membership.village_id == event.village_id,
            Membership.role.in_(("grid_worker", "clerk"))).limit(1)):
        raise GridError(_("Choose a grid worker or clerk of this village from the list."), "assignee_id")
    event.assignee_id = assignee.id
    return _move(event, "assign", actor, note=_optional(note, "note", 1000), assignee_id=assignee.id)


def start(event: GridEvent, *, actor=None) -> GridEvent:
    return _move(event, "start", actor)


def resolve(event: GridEvent, *, resolution: str, actor=None, now: dt.datetime | None = None) -> GridEvent:
    event.resolution = _text(resolution, "resolution", _("Please write what was done."), 2000)
    event.resolved_at = now or utcnow()
    return _move(event, "resolve", actor, note=event.resolution)


def return_visit(event: GridEvent, *, feedback: str, satisfied: bool, actor=None,
                 now: dt.datetime | None = None) -> GridEvent:
    """回访: the resident's feedback. Satisfied closes the event; not satisfied sends a resolved event back to
    work (an escalated event is closed with the township's answer either way)."""
    feedback = _text(feedback, "feedback", _("Please write what the resident said."), 1000)
    if not satisfied and event.status == EventStatus.RESOLVED.value:
        event.feedback, event.satisfied = feedback, False
        return _move(event, "reopen", actor, note=feedback, satisfied=False)
    EVENT.move(event.status, "close", subject=event)  # refuse before anything is written
    event.feedback, event.satisfied = feedback, bool(satisfied)
    event.closed_at = now or utcnow()
    return _move(event, "close", actor, note=feedback, satisfied=bool(satisfied))


def escalate(event: GridEvent, *, to: str, reason: str | None = None, actor=None) -> GridEvent:
    event.escalated_to = _text(to, "to", _("Please write to whom the event goes (the township, a department)."),
                               100)
    event.reason = _optional(reason, "reason", 1000)
    return _move(event, "escalate", actor, note=event.reason)


def hand_over(event: GridEvent, to: str, *, ref_id: int | None = None, note: str | None = None,
              actor=None) -> GridEvent:
    """转: to mediation (a mediator then opens the case from it: `attach_case`) or to the patrol team for a
    follow-up. The event stays linked (`handed_to`, `handed_id`); the mediation and patrol pages list the events
    turned over to them."""
    if to not in {h.value for h in Handover}:
        raise GridError(_("Unknown handover."))
    if to == Handover.PATROL.value:
        note = _text(note, "note", _("Please write what the patrol should look at."), 1000)
    event.handed_to, event.handed_id = to, ref_id
    return _move(event, "convert", actor, note=_optional(note, "note", 1000), handed_to=to, ref_id=ref_id)


def attach_case(event: GridEvent, case_id: int, *, actor=None) -> GridEvent:
    """The mediation case opened from an event turned over to mediation: the two stay linked."""
    if event.status != EventStatus.CONVERTED.value or event.handed_to != Handover.MEDIATION.value:
        raise GridError(_("This event was not turned over to mediation."))
    if event.handed_id is not None:
        raise GridError(_("A mediation case has already been opened from this event."))
    event.handed_id = case_id
    db.session.flush()
    _step(event, "case", actor)
    db.session.flush()
    record("grid.event_case", event, details={"ref_kind": "mediation_case", "ref_id": case_id})
    return event
