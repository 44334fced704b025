"""Grid pages: the overview, the grid worker's phone pages (today's visits, a visit, reporting an event, a good
deed for points) and the event desk where a clerk moves an event from report to closure.

A grid worker sees the households of the grids they work and the events they reported, were assigned, or that
happened in their grids; a clerk and a reviewer see the village's (the reviewer read-only)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, send_from_directory, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..access import can, get_in_village_or_404, require
from ..auth.models import Membership, User
from ..db import local_today, utcnow
from ..extensions import db
from ..forms import options
from ..patrol import services as patrol
from ..patrol.models import PatrolFinding
from ..photos import photo_folder, save_photo
from ..points import services as points
from ..points.models import PointEntry, PointItem
from ..points.queries import village_scheme
from ..registry.models import HOUSEHOLD_TAGS, Household, HouseholdStatus, PersonStatus
from ..submission import submit
from ..urls import as_id
from . import bp
from . import queries as gq
from . import services as gs
from .errors import GridError
from .forms import (
    ACTIONS,
    KINDS,
    PRIORITIES,
    PURPOSES,
    STANDINGS,
    STATUSES,
    AcceptForm,
    AssignForm,
    DeedForm,
    EscalateForm,
    EventForm,
    PatrolHandoverForm,
    PlaceForm,
    ReasonForm,
    ResolveForm,
    ReturnVisitForm,
    StartForm,
    VisitForm,
)
from .models import DUE_DAYS, GridEvent, Visit
from .states import EVENT

LABELS = {"kinds": KINDS, "priorities": PRIORITIES, "statuses": STATUSES, "actions": ACTIONS,
          "purposes": PURPOSES, "standings": STANDINGS, "tags": HOUSEHOLD_TAGS}

#: how many days ahead the worker's list shows what is coming up
AHEAD_DAYS = 7


def _errors(form) -> str:
    return "；".join(str(e) for errs in form.errors.values() for e in errs)


def _my_grid_ids() -> list[int]:
    return gs.worker_grid_ids(g.village.id, current_user.id)


def _sees_all() -> bool:
    return bool(g.roles & {"clerk", "reviewer"})


@bp.route("/")
@require("grid.view")
def index():
    """The clerk's and reviewer's overview; a grid worker starts on today's list."""
    if not _sees_all():
        return redirect(url_for("grid.today"))
    now = utcnow()
    counts = dict(db.session.execute(sa.select(GridEvent.status, sa.func.count()).where(
        GridEvent.village_id == g.village.id).group_by(GridEvent.status)).all())
    plan = gq.schedule_for(g.village.id, gs.village_rules(g.village.id), today=local_today())
    standing = {s: sum(1 for p in plan if p.standing == s) for s in ("overdue", "today")}
    waiting = db.session.scalars(sa.select(GridEvent).where(
        GridEvent.village_id == g.village.id, GridEvent.status.in_(("reported", "resolved", "escalated")))
        .order_by(GridEvent.due_at).limit(100)).all()
    return render_template("grid/index.html", counts=counts, overdue=gq.overdue_events(g.village.id, now),
                           waiting=waiting, grids=gq.grids(g.village.id), households=gq.household_counts(g.village.id),
                           plan_total=len(plan), standing=standing, now=now, **LABELS)


# --- the grid worker's phone ----------------------------------------------------------------------

@bp.route("/today", methods=["GET", "POST"])
@require("grid.visit")
def today():
    """Due and overdue visits of the worker's grids, nearest villager group first; the events on their plate."""
    groups = gq.village_groups(g.village.id)
    place = PlaceForm(prefix="at")
    place.group_id.choices = options((vg.id, vg.name) for vg in groups)
    if place.validate_on_submit() and place.group_id.data in {vg.id for vg in groups}:
        session["grid_at_group"] = place.group_id.data
        return redirect(url_for("grid.today"))
    start = session.get("grid_at_group")
    place.group_id.data = start
    day = local_today()
    grid_ids = _my_grid_ids()
    plan = gq.schedule_for(g.village.id, gs.village_rules(g.village.id), grid_ids=grid_ids, today=day)
    due = gq.walk_order([p for p in plan if p.standing != "upcoming"], groups, start)
    soon = sorted((p for p in plan if p.standing == "upcoming" and p.due.day <= day + dt.timedelta(days=AHEAD_DAYS)),
                  key=lambda p: (p.due.day, p.household.number))
    mine = db.session.scalars(sa.select(GridEvent).where(
        GridEvent.village_id == g.village.id,
        sa.or_(GridEvent.assignee_id == current_user.id, GridEvent.reporter_id == current_user.id),
        sa.or_(GridEvent.status.not_in(("closed", "rejected", "converted")),
               GridEvent.reported_at >= utcnow() - dt.timedelta(days=30)))
        .order_by(GridEvent.due_at).limit(50)).all()
    return render_template("grid/today.html", due=due, soon=soon, mine=mine, place=place, day=day,
                           has_grids=bool(grid_ids), now=utcnow(), **LABELS)


def _visitable_household(household_id: int) -> Household:
    household = get_in_village_or_404(Household, household_id)
    membership = gs.current_membership(household.id)
    if membership is None or membership.grid_id not in _my_grid_ids():
        abort(404)
    return household


@bp.route("/households/<int:household_id>/visit", methods=["GET", "POST"])
@require("grid.visit")
def visit(household_id: int):
    """入户走访 from the phone: findings, requests, a photo, whether a second visit is needed."""
    household = _visitable_household(household_id)
    form = VisitForm(prefix="visit")
    if request.method == "GET":
        form.visited_on.data = local_today()
    if form.validate_on_submit():
        photo: list[str | None] = []  # stored by the first attempt; a retried attempt reuses its name
        keep_location = bool(g.village.keep_photo_location)

        def save():
            if not photo:
                photo.append(save_photo(form.photo.data, "grid", field="photo", keep_location=keep_location))
            return gs.record_visit(db.session.get(Household, household_id), visited_on=form.visited_on.data,
                                   findings=form.findings.data, purpose=form.purpose.data,
                                   requests=form.requests.data, photo_file=photo[0],
                                   follow_up_on=form.follow_up_on.data, actor=current_user)

        if submit(form, save, field="findings"):
            flash(_("Visit to household %(number)s saved.", number=household.number), "success")
            return redirect(url_for("grid.today"))
    visits = db.session.scalars(sa.select(Visit).where(Visit.household_id == household.id)
                                .order_by(Visit.visited_on.desc(), Visit.id.desc()).limit(5)).all()
    return render_template("grid/visit.html", household=household, form=form, visits=visits, **LABELS)


@bp.route("/visits/<int:visit_id>/photo")
@require("grid.view")
def visit_photo(visit_id: int):
    v = get_in_village_or_404(Visit, visit_id)
    if not v.photo_file or not (_sees_all() or v.grid_id in _my_grid_ids()):
        abort(404)
    return send_from_directory(photo_folder("grid"), v.photo_file, max_age=0)


# --- events ---------------------------------------------------------------------------------------

def _household_by_number(number: str | None) -> Household | None:
    if not number:
        return None
    household = db.session.scalar(sa.select(Household).where(Household.village_id == g.village.id,
                                                              Household.number == number))
    if household is None:
        raise GridError(_("No household %(number)s in this village.", number=number), "number")
    return household


def _finding_for_event() -> PatrolFinding | None:
    if "finding" not in request.args:
        return None
    finding_id = as_id(request.args.get("finding"))
    finding = db.session.get(PatrolFinding, finding_id) if finding_id is not None else None
    if finding is None or finding.village_id != g.village.id or finding.action != "to_grid" \
            or finding.ref_id is not None:
        abort(404)
    return finding


@bp.route("/events/new", methods=["GET", "POST"])
@require("grid.report")
def event_new():
    """上报 an event; `?finding=<id>` reports a patrol finding turned over to the grid (they stay linked)."""
    finding = _finding_for_event()
    form = EventForm(prefix="event")
    if request.method == "GET" and finding is not None:
        form.text.data = finding.text
        form.kind.data = {"hazard": "hazard", "dispute": "dispute", "fire": "emergency"}.get(finding.kind, "other")
    if form.validate_on_submit():
        photo: list[str | None] = []
        keep_location = bool(g.village.keep_photo_location)

        def report():
            if not photo:
                photo.append(save_photo(form.photo.data, "grid", field="photo", keep_location=keep_location))
            event = gs.report_event(g.village, kind=form.kind.data, text=form.text.data, place=form.place.data,
                                    priority=form.priority.data, household=_household_by_number(form.number.data),
                                    photo_file=photo[0], reporter=current_user,
                                    source=("patrol_finding", finding.id) if finding else None)
            if finding is not None:
                patrol.link_finding(db.session.get(PatrolFinding, finding.id), "grid_event", event.id)
            return event

        done = submit(form, report, field="text")
        if done:
            flash(_("Event %(number)s reported.", number=done.value.number), "success")
            return redirect(url_for("grid.event", event_id=done.value.id))
    return render_template("grid/event_new.html", form=form, finding=finding, due_days=DUE_DAYS, **LABELS)


def _visible_events():
    stmt = sa.select(GridEvent).where(GridEvent.village_id == g.village.id)
    if not _sees_all():
        stmt = stmt.where(sa.or_(GridEvent.reporter_id == current_user.id, GridEvent.assignee_id == current_user.id,
                                 GridEvent.grid_id.in_(_my_grid_ids() or [-1])))
    return stmt


@bp.route("/events")
@require("grid.view")
def events():
    status = request.args.get("status")
    stmt = _visible_events()
    if status == "overdue":
        stmt = stmt.where(GridEvent.status.in_(gq.OPEN_STATUSES), GridEvent.due_at < utcnow())
    elif status in STATUSES:
        stmt = stmt.where(GridEvent.status == status)
    else:
        status = None
    # the home page's link: the open events assigned to me
    mine = request.args.get("mine") == "1"
    if mine:
        stmt = stmt.where(GridEvent.assignee_id == current_user.id, GridEvent.status.in_(gq.OPEN_STATUSES))
    rows = db.session.scalars(stmt.order_by(GridEvent.id.desc()).limit(300)).all()
    return render_template("grid/events.html", events=rows, status=status, mine=mine, now=utcnow(), **LABELS)


def _event_or_404(event_id: int) -> GridEvent:
    event = get_in_village_or_404(GridEvent, event_id)
    if not _sees_all() and event.id not in set(db.session.scalars(
            _visible_events().where(GridEvent.id == event.id).with_only_columns(GridEvent.id))):
        abort(404)
    return event


def _assignees() -> list:
    users = db.session.scalars(sa.select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.village_id == g.village.id, Membership.role.in_(("grid_worker", "clerk")))
        .distinct().order_by(User.username)).all()
    return options((u.id, u.display_name) for u in users)


def _forms() -> dict:
    assign = AssignForm(prefix="assign")
    assign.assignee_id.choices = _assignees()
    return {"accept": AcceptForm(prefix="accept"), "reject": ReasonForm(prefix="reject"), "assign": assign,
            "start": StartForm(prefix="start"), "resolve": ResolveForm(prefix="resolve"),
            "return_visit": ReturnVisitForm(prefix="back"), "escalate": EscalateForm(prefix="escalate"),
            "patrol": PatrolHandoverForm(prefix="patrol"), "mediation": StartForm(prefix="mediation")}


#: the machine's action behind each form of the event page
VERB = {"return_visit": "close", "patrol": "convert", "mediation": "convert"}


def _may(event: GridEvent, action: str) -> bool:
    """Who may take which step: the clerk every desk step; the assignee works, resolves and visits back."""
    if action in ("start", "resolve", "return_visit") and event.assignee_id == current_user.id \
            and can("grid.visit"):
        return True
    return can("grid.manage")


def _render_event(event: GridEvent, forms: dict | None = None, status: int = 200):
    forms = forms or _forms()
    if request.method == "GET" or forms["accept"].priority.data is None:
        forms["accept"].priority.data = event.priority
    allowed = {a for a in forms if _may(event, a) and EVENT.can(event.status, VERB.get(a, a))}
    case_link = None
    if event.handed_to == "mediation_case" and event.handed_id is None and can("mediation.manage"):
        case_link = url_for("mediation.case_new", event=event.id)
    return render_template("grid/event.html", event=event, forms=forms, allowed=allowed, now=utcnow(),
                           case_link=case_link, **LABELS), status


@bp.route("/events/<int:event_id>")
@require("grid.view")
def event(event_id: int):
    return _render_event(_event_or_404(event_id))


def _event_post(event_id: int, action: str, call, message: str, field: str):
    event = _event_or_404(event_id)
    if not _may(event, action):
        abort(403)
    forms = _forms()
    form = forms[action]
    if form.validate_on_submit():
        if submit(form, lambda: call(db.session.get(GridEvent, event_id), form), field=field):
            flash(message, "success")
            return redirect(url_for("grid.event", event_id=event_id))
    db.session.expire_all()
    event = db.session.get(GridEvent, event_id)
    if not EVENT.can(event.status, VERB.get(action, action)):
        flash(_errors(form), "error")  # its form is not on the page for this state: say it above
    return _render_event(event, forms, 400)


@bp.post("/events/<int:event_id>/accept")
@require("grid.manage")
def event_accept(event_id: int):
    return _event_post(event_id, "accept", lambda e, f: gs.accept(e, priority=f.priority.data, actor=current_user),
                       _("Event accepted."), "priority")


@bp.post("/events/<int:event_id>/reject")
@require("grid.manage")
def event_reject(event_id: int):
    return _event_post(event_id, "reject", lambda e, f: gs.reject(e, reason=f.reason.data, actor=current_user),
                       _("The report is not accepted; the reporter sees why."), "reason")


@bp.post("/events/<int:event_id>/assign")
@require("grid.manage")
def event_assign(event_id: int):
    return _event_post(event_id, "assign",
                       lambda e, f: gs.assign(e, db.session.get(User, f.assignee_id.data), note=f.note.data,
                                              actor=current_user),
                       _("Event assigned."), "assignee_id")


@bp.post("/events/<int:event_id>/start")
@require("grid.view")
def event_start(event_id: int):
    return _event_post(event_id, "start", lambda e, f: gs.start(e, actor=current_user), _("Work started."),
                       "submit")


@bp.post("/events/<int:event_id>/resolve")
@require("grid.view")
def event_resolve(event_id: int):
    return _event_post(event_id, "resolve",
                       lambda e, f: gs.resolve(e, resolution=f.resolution.data, actor=current_user),
                       _("Marked resolved; the return visit closes it."), "resolution")


@bp.post("/events/<int:event_id>/return-visit")
@require("grid.view")
def event_return_visit(event_id: int):
    return _event_post(event_id, "return_visit",
                       lambda e, f: gs.return_visit(e, feedback=f.feedback.data, satisfied=f.satisfied.data == "yes",
                                                    actor=current_user),
                       _("Return visit saved."), "feedback")


@bp.post("/events/<int:event_id>/escalate")
@require("grid.manage")
def event_escalate(event_id: int):
    return _event_post(event_id, "escalate",
                       lambda e, f: gs.escalate(e, to=f.to.data, reason=f.reason.data, actor=current_user),
                       _("Event escalated."), "to")


@bp.post("/events/<int:event_id>/to-patrol")
@require("grid.manage")
def event_to_patrol(event_id: int):
    return _event_post(event_id, "patrol",
                       lambda e, f: gs.hand_over(e, "patrol", note=f.note.data, actor=current_user),
                       _("Turned over to the patrol team; it shows on their page."), "note")


@bp.post("/events/<int:event_id>/to-mediation")
@require("grid.manage")
def event_to_mediation(event_id: int):
    """A dispute goes to the mediation committee: a mediator opens the case from it (linked both ways)."""
    event = _event_or_404(event_id)
    form = StartForm(prefix="mediation")
    if form.validate_on_submit():
        if submit(form, lambda: gs.hand_over(db.session.get(GridEvent, event_id), "mediation_case",
                                             actor=current_user)):
            flash(_("Turned over to mediation; a mediator opens the case from it."), "success")
        else:
            flash(_errors(form), "error")
    return redirect(url_for("grid.event", event_id=event.id))


@bp.route("/events/<int:event_id>/photo")
@require("grid.view")
def event_photo(event_id: int):
    event = _event_or_404(event_id)
    if not event.photo_file:
        abort(404)
    return send_from_directory(photo_folder("grid"), event.photo_file, max_age=0)


# --- a good deed for points -----------------------------------------------------------------------

def _award_items():
    scheme = village_scheme(g.village.id)
    if scheme is None:
        return []
    return options((i.id, f"{i.code} {i.text[:30]}（{i.points:+d}）") for i in db.session.scalars(
        sa.select(PointItem).where(PointItem.scheme_id == scheme.id, PointItem.points > 0,
                                   PointItem.active == sa.true()).order_by(PointItem.code)))


@bp.route("/deeds", methods=["GET", "POST"])
@require("grid.visit")
def deed():
    """A good deed seen on the round, proposed for points through the scheme's items; reviewed like any entry."""
    form = DeedForm(prefix="deed")
    form.item_id.choices = _award_items()
    if request.method == "GET":
        form.occurred_on.data = local_today()
    if form.validate_on_submit():
        def propose():
            household = _household_by_number(form.number.data)
            if household.status != HouseholdStatus.ACTIVE.value:
                raise GridError(_("Household %(number)s is no longer active.", number=household.number), "number")
            people = [p for p in household.members if p.name == form.name.data
                      and p.status == PersonStatus.ALIVE.value]
            if len(people) != 1:
                raise GridError(_("Household %(number)s has no living member named %(name)s.",
                                  number=household.number, name=form.name.data), "name")
            item = db.session.get(PointItem, form.item_id.data)
            return points.record_entry(village_scheme(g.village.id), item, household, person=people[0],
                                       occurred_on=form.occurred_on.data, note=form.note.data,
                                       actor=current_user, source="grid", source_ref=f"grid-deed:{current_user.id}")

        done = submit(form, propose, field="item_id")
        if done:
            flash(_("Points proposed; they wait for review."), "success")
            return redirect(url_for("grid.deed"))
    proposed = db.session.scalars(sa.select(PointEntry).where(
        PointEntry.village_id == g.village.id, PointEntry.source == "grid",
        PointEntry.recorded_by_id == current_user.id).order_by(PointEntry.id.desc()).limit(20)).all()
    return render_template("grid/deed.html", form=form, proposed=proposed, has_scheme=bool(form.item_id.choices))
