"""Patrol pages: the leader's teams, members, routes and checkpoints, the month's roster, a shift's attendance
and log; the member's check-in page (opened by scanning a checkpoint's sticker) and their own shifts.

The leader's shift page and the member's pages are phone pages first: one column, large buttons.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..access import can, deny, get_in_village_or_404, require
from ..auth.models import User
from ..db import local_today, utc_from_local, utcnow
from ..errors import DomainError
from ..extensions import db
from ..forms import options
from ..grid import queries as grid_queries
from ..photos import photo_folder, save_photo
from ..points.models import PointEntry, PointItem
from ..points.queries import village_scheme
from ..registry.models import Person, PersonStatus, Village, VillagerGroup
from ..registry.services import person_search_query
from ..submission import run_write, submit
from ..tabular.export import table_response
from ..text import group_key, mask_name
from . import bp
from . import queries as pq
from . import services as ps
from .export import attendance_sheets
from .forms import (
    ACTIONS,
    ATTENDANCE,
    FINDINGS,
    KINDS,
    LEVELS,
    MEMBER_ACTIONS,
    BookForm,
    ButtonForm,
    CancelForm,
    CorrectForm,
    FindingForm,
    InspectionForm,
    LeaveForm,
    MarkForm,
    MemberChangeForm,
    MemberForm,
    NameForm,
    ShiftsForm,
    SubstituteForm,
    SwapForm,
    TeamForm,
    TimesForm,
)
from .models import (
    MemberStatus,
    PatrolCheckIn,
    PatrolCheckpoint,
    PatrolFinding,
    PatrolInspection,
    PatrolMember,
    PatrolPlace,
    PatrolRoute,
    PatrolShift,
    PatrolTeam,
    ShiftStatus,
)
from .states import MEMBER, SHIFT


def _button(action, done: str, back: str):
    """Run a button's service call; a refusal is flashed on the page it came from."""
    try:
        run_write(action)
    except DomainError as e:
        flash(str(e), "error")
    else:
        flash(done, "success")
    return redirect(back)


# --- reports --------------------------------------------------------------------------------------

@bp.route("/reports")
@require("patrol.view")
def reports():
    """The year in numbers: shifts per month, attendance per member and team, checkpoint coverage, the log,
    and the year-end list of the most faithful members (评选优秀队员)."""
    today = local_today()
    year = request.args.get("year", type=int) or today.year
    if not 2000 <= year <= 2100:
        abort(404)
    teams = list(db.session.scalars(sa.select(PatrolTeam).where(PatrolTeam.village_id == g.village.id)
                                    .order_by(PatrolTeam.name)))
    per_month = pq.shifts_per_month(g.village.id, year)
    counts = pq.attendance(g.village.id, year)
    members = {m.id: m for t in teams for m in t.members}
    team_counts: dict[int, dict[str, int]] = {}
    for member_id, c in counts.items():
        total = team_counts.setdefault(members[member_id].team_id, {})
        for k, v in c.items():
            total[k] = total.get(k, 0) + v
    walks = {mid: sum(c.get(a, 0) for a in pq.WALKED) for mid, c in counts.items()}
    faithful = sorted((m for m in members.values() if walks.get(m.id)),
                      key=lambda m: (-walks[m.id], -(pq.rate(counts[m.id]) or 0), m.person.name))[:10]
    routes = {r.id: r for t in teams for r in t.routes}
    return render_template("patrol/reports.html", year=year, teams=teams, per_month=per_month, counts=counts,
                           team_counts=team_counts, faithful=faithful, rate=pq.rate, walks=walks,
                           coverage=pq.coverage(g.village.id, year), routes=routes,
                           findings=pq.findings(g.village.id, year), kinds=FINDINGS, actions=ACTIONS)


@bp.route("/reports/attendance-<int:year>.<any(xlsx, csv):fmt>")
@require("patrol.view")
def attendance_export(year: int, fmt: str):
    """Attendance per member and month of the year, as .xlsx or .csv (the reports page's figures)."""
    if not 2000 <= year <= 2100:
        abort(404)
    return table_response(attendance_sheets(g.village.id, year), fmt,
                          _("%(village)s patrol attendance %(year)s", village=g.village.name, year=year),
                          ascii_name=f"patrol-attendance-{g.village.code}-{year}")


# --- teams ----------------------------------------------------------------------------------------

@bp.route("/")
@require("patrol.view")
def index():
    teams = list(db.session.scalars(sa.select(PatrolTeam).where(PatrolTeam.village_id == g.village.id)
                                    .order_by(PatrolTeam.active.desc(), PatrolTeam.name)))
    today = local_today()
    # the home page's links: ?show=to_confirm lists the shifts to confirm, ?show=short the members short of
    # their team's monthly minimum
    show = request.args.get("show")
    to_confirm = short = None
    if show == "to_confirm":
        to_confirm = list(db.session.scalars(sa.select(PatrolShift).where(
            *pq.to_confirm_filter(g.village.id, utcnow())).order_by(PatrolShift.day, PatrolShift.id)))
    elif show == "short":
        rows = db.session.execute(pq.short_members_query(g.village.id, today)).all()
        members = {m.id: m for m in db.session.scalars(
            sa.select(PatrolMember).where(PatrolMember.id.in_([r[0] for r in rows] or [-1])))}
        short = sorted(((members[i], booked, minimum) for i, booked, minimum in rows),
                       key=lambda r: (r[1], r[0].team_id, r[0].id))
    return render_template("patrol/index.html", teams=teams, today=today, levels=LEVELS, kinds=KINDS,
                           from_grid=grid_queries.handed_to_patrol(g.village.id, limit=20),
                           to_confirm=to_confirm, short=short)


def _team_form(team: PatrolTeam | None = None) -> TeamForm:
    form = TeamForm(obj=team) if team is not None else TeamForm()
    groups = sorted(db.session.scalars(sa.select(VillagerGroup).where(VillagerGroup.village_id == g.village.id)),
                    key=lambda gr: group_key(gr.name))
    form.group_id.choices = options([(0, "—"), *((gr.id, gr.name) for gr in groups)])
    members = [m for m in team.members if m.status == MemberStatus.ACTIVE.value] if team is not None else []
    form.leader_id.choices = options([(0, "—"), *((m.person_id, m.person.name) for m in members)])
    scheme = village_scheme(g.village.id)
    items = db.session.scalars(sa.select(PointItem).where(PointItem.scheme_id == scheme.id)
                               .order_by(PointItem.code)).all() if scheme else []
    add = options([(0, "—"), *((i.id, f"{i.code} {i.text[:30]}（{i.points:+d}）") for i in items if i.points > 0)])
    deduct = options([(0, "—"), *((i.id, f"{i.code} {i.text[:30]}（{i.points:+d}）") for i in items if i.points < 0)])
    form.shift_item_id.choices, form.night_item_id.choices, form.absence_item_id.choices = add, add, deduct
    if team is not None and request.method == "GET":
        for name in ("group_id", "leader_id", "shift_item_id", "night_item_id", "absence_item_id"):
            getattr(form, name).data = getattr(team, name) or 0
    return form


def _pick(model, value: int | None, field: str):
    if not value:
        return None
    obj = db.session.get(model, value)
    if obj is None or obj.village_id != g.village.id:
        raise ps.PatrolError(_("Choose from the list."), field)
    return obj


def _team_values(form: TeamForm) -> dict:
    return dict(name=form.name.data, level=form.level.data, kind=form.kind.data,
                group=_pick(VillagerGroup, form.group_id.data, "group_id"),
                leader=_pick(Person, form.leader_id.data, "leader_id"),
                police_liaison=form.police_liaison.data, monthly_minimum=form.monthly_minimum.data,
                shift_item=_pick(PointItem, form.shift_item_id.data, "shift_item_id"),
                night_item=_pick(PointItem, form.night_item_id.data, "night_item_id"),
                absence_item=_pick(PointItem, form.absence_item_id.data, "absence_item_id"))


@bp.route("/teams/new", methods=["GET", "POST"])
@require("patrol.manage")
def team_new():
    form = _team_form()
    if form.validate_on_submit():
        done = submit(form, lambda: ps.create_team(g.village, **_team_values(form)), field="name")
        if done:
            flash(_("Team saved."), "success")
            return redirect(url_for("patrol.team", team_id=done.value.id))
    return render_template("patrol/team_form.html", form=form, team=None)


@bp.route("/teams/<int:team_id>/edit", methods=["GET", "POST"])
@require("patrol.manage")
def team_edit(team_id: int):
    team = get_in_village_or_404(PatrolTeam, team_id)
    form = _team_form(team)
    if form.validate_on_submit():
        def save():
            return ps.update_team(db.session.merge(team), **_team_values(form))

        if submit(form, save, field="name"):
            flash(_("Team saved."), "success")
            return redirect(url_for("patrol.team", team_id=team.id))
    return render_template("patrol/team_form.html", form=form, team=team)


@bp.route("/teams/<int:team_id>", methods=["GET", "POST"])
@require("patrol.view")
def team(team_id: int):
    team = get_in_village_or_404(PatrolTeam, team_id)
    q = (request.args.get("q") or "").strip()[:32]
    found = []
    if q and can("patrol.manage"):
        found = db.session.scalars(person_search_query(g.village.id, q, status=PersonStatus.ALIVE.value)
                                   .limit(20)).all()
    mform, rform = MemberForm(), NameForm(prefix="route")
    if request.method == "POST":
        if not can("patrol.manage"):
            deny("patrol.manage")
        if mform.submit.data and mform.validate_on_submit():
            def add():
                person = _pick(Person, int(mform.person_id.data), "person_id")
                user = None
                if mform.username.data:
                    user = db.session.scalar(sa.select(User).where(User.username == mform.username.data))
                    if user is None:
                        raise ps.PatrolError(_("There is no user with this name."), "username")
                return ps.add_member(db.session.merge(team), person, joined_on=mform.joined_on.data,
                                     badge_no=mform.badge_no.data, user=user, actor=current_user)

            if submit(mform, add, field="person_id"):
                flash(_("Member added."), "success")
                return redirect(url_for("patrol.team", team_id=team.id))
        elif rform.submit.data and rform.validate_on_submit():
            if submit(rform, lambda: ps.add_route(db.session.merge(team), rform.name.data), field="name"):
                flash(_("Route added."), "success")
                return redirect(url_for("patrol.team", team_id=team.id))
    elif not mform.joined_on.data:
        mform.joined_on.data = local_today()
    today = local_today()
    return render_template("patrol/team.html", team=team, found=found, q=q, mform=mform, rform=rform,
                           cform=NameForm(prefix="point"), today=today, levels=LEVELS, kinds=KINDS,
                           member_actions=MEMBER_ACTIONS, MEMBER=MEMBER)


@bp.route("/routes/<int:route_id>/checkpoints", methods=["POST"])
@require("patrol.manage")
def checkpoint_add(route_id: int):
    route = get_in_village_or_404(PatrolRoute, route_id)
    form = NameForm(prefix="point")
    if form.validate_on_submit():
        if submit(form, lambda: ps.add_checkpoint(db.session.merge(route), form.name.data), field="name"):
            flash(_("Checkpoint added."), "success")
        else:
            flash("；".join(str(e) for e in (form.name.errors or form.submit.errors)), "error")
    else:
        flash("；".join(str(e) for errs in form.errors.values() for e in errs), "error")
    return redirect(url_for("patrol.team", team_id=route.team_id, _anchor=f"route-{route.id}"))


@bp.route("/checkpoints/<int:point_id>/renew", methods=["POST"])
@require("patrol.manage")
def checkpoint_renew(point_id: int):
    """A lost or copied sticker: a new address, the old one stops working; print the new sticker."""
    point = get_in_village_or_404(PatrolCheckpoint, point_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    return _button(lambda: ps.renew_sticker(db.session.merge(point)),
                   _("New sticker address made; the old sticker no longer works. Print the new one."),
                   url_for("patrol.team", team_id=point.route.team_id, _anchor=f"route-{point.route_id}"))


@bp.route("/members/<int:member_id>", methods=["GET", "POST"])
@require("patrol.view")
def member(member_id: int):
    member = get_in_village_or_404(PatrolMember, member_id)
    change, leave = MemberChangeForm(prefix="change"), LeaveForm(prefix="leave")
    change.action.choices = [(a, MEMBER_ACTIONS[a]) for a in MEMBER.allowed(member.status)]
    if request.method == "POST":
        if not can("patrol.manage"):
            deny("patrol.manage")
        if change.submit.data and change.validate_on_submit():
            def act():
                return ps.change_member(db.session.merge(member), change.action.data, on=change.on.data,
                                        note=change.note.data, actor=current_user)

            if submit(change, act, field="action"):
                flash(_("Saved."), "success")
                return redirect(url_for("patrol.member", member_id=member.id))
        elif leave.submit.data and leave.validate_on_submit():
            def add():
                return ps.add_leave(db.session.merge(member), starts_on=leave.starts_on.data,
                                    ends_on=leave.ends_on.data, reason=leave.reason.data, actor=current_user)

            if submit(leave, add, field="starts_on"):
                flash(_("Leave recorded."), "success")
                return redirect(url_for("patrol.member", member_id=member.id))
    first = local_today().replace(day=1) - dt.timedelta(days=180)
    places = db.session.scalars(sa.select(PatrolPlace).join(PatrolShift).where(
        PatrolPlace.member_id == member.id, PatrolShift.day >= first)
        .order_by(PatrolShift.starts_at.desc()).limit(100)).all()
    leaves = ps.member_leaves(member)
    return render_template("patrol/member.html", member=member, change=change, leave=leave, places=places,
                           leaves=leaves, attendance=ATTENDANCE, local=ps.local)


# --- the month's roster ---------------------------------------------------------------------------

def _month_or_404(year: int, month: int) -> tuple[int, int]:
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        abort(404)
    return year, month


@bp.route("/teams/<int:team_id>/roster/<int:year>-<int:month>", methods=["GET", "POST"])
@require("patrol.view")
def roster(team_id: int, year: int, month: int):
    team = get_in_village_or_404(PatrolTeam, team_id)
    year, month = _month_or_404(year, month)
    form = ShiftsForm()
    form.route_id.choices = options([(0, "—"), *((r.id, r.name) for r in team.routes if r.active)])
    fill = ButtonForm(prefix="fill")
    plan = None
    if request.method == "POST":
        if not can("patrol.manage"):
            deny("patrol.manage")
        if fill.submit.data and fill.validate_on_submit():
            try:
                plan = run_write(lambda: ps.fill_month(db.session.merge(team), year, month, actor=current_user))
            except DomainError as e:
                flash(str(e), "error")
            else:
                flash(_("The roster is filled."), "success")
        elif form.submit.data and form.validate_on_submit():
            def add():
                route = _pick(PatrolRoute, form.route_id.data, "route_id")
                return ps.add_shifts(db.session.merge(team), first_day=form.first_day.data,
                                     last_day=form.last_day.data, start=form.start.data, end=form.end.data,
                                     needed=form.needed.data, route=route, weekdays=form.weekdays.data)

            done = submit(form, add, field="first_day")
            if done:
                flash(_("%(n)s shifts added.", n=len(done.value)), "success")
                return redirect(url_for("patrol.roster", team_id=team.id, year=year, month=month))
    elif not form.first_day.data:
        first = dt.date(year, month, 1)
        form.first_day.data = first
        form.last_day.data = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    shifts = ps.month_shifts(team, year, month)
    counts = ps.month_counts(team, shifts)
    prev = (dt.date(year, month, 1) - dt.timedelta(days=1))
    nxt = (dt.date(year, month, 1) + dt.timedelta(days=32))
    return render_template("patrol/roster.html", team=team, year=year, month=month, shifts=shifts, form=form,
                           fill=fill, plan=plan, counts=counts, prev=prev, nxt=nxt, local=ps.local,
                           attendance=ATTENDANCE, is_night=ps.is_night)


# --- a shift --------------------------------------------------------------------------------------

@bp.route("/shifts/<int:shift_id>")
@require("patrol.view")
def shift(shift_id: int):
    shift = get_in_village_or_404(PatrolShift, shift_id)
    book = BookForm(prefix="book")
    on = {p.member_id for p in shift.places}
    book.member_id.choices = options((m.id, m.person.name) for m in shift.team.members
                                     if m.status == MemberStatus.ACTIVE.value and m.id not in on)
    visits = ps.check_ins(shift)
    reached = {}
    for v in visits:
        reached.setdefault(v.checkpoint_id, v)
    findings = db.session.scalars(sa.select(PatrolFinding).where(PatrolFinding.shift_id == shift.id)
                                  .order_by(PatrolFinding.id)).all()
    entries = {e.id: e for e in db.session.scalars(sa.select(PointEntry).where(
        PointEntry.id.in_([p.entry_id for p in shift.places if p.entry_id])))}
    others = options((m.id, m.person.name) for m in shift.team.members
                     if m.status == MemberStatus.ACTIVE.value and m.id not in on)
    swap, substitute = SwapForm(prefix="swap"), SubstituteForm(prefix="sub")
    swap.to_member_id.choices = substitute.member_id.choices = others
    inspections = db.session.scalars(sa.select(PatrolInspection).where(PatrolInspection.shift_id == shift.id)
                                     .order_by(PatrolInspection.at)).all()
    return render_template("patrol/shift.html", shift=shift, book=book, mark=MarkForm(), correct=CorrectForm(),
                           times={p.id: TimesForm(prefix=f"t{p.id}", formdata=None,
                                                  signed_in=ps.local(p.signed_in_at).time() if p.signed_in_at else None,
                                                  signed_out=ps.local(p.signed_out_at).time() if p.signed_out_at
                                                  else None) for p in shift.places},
                           swap=swap, substitute=substitute, inspection=InspectionForm(prefix="check"),
                           cancel=CancelForm(prefix="cancel"), inspections=inspections,
                           button=ButtonForm(), finding=FindingForm(prefix="finding"), reached=reached,
                           visits=visits, findings=findings, entries=entries, local=ps.local,
                           attendance=ATTENDANCE, findings_kinds=FINDINGS, actions=ACTIONS, SHIFT=SHIFT,
                           is_night=ps.is_night(shift))


def _back(shift: PatrolShift) -> str:
    return url_for("patrol.shift", shift_id=shift.id)


@bp.route("/shifts/<int:shift_id>/book", methods=["POST"])
@require("patrol.manage")
def shift_book(shift_id: int):
    shift = get_in_village_or_404(PatrolShift, shift_id)
    form = BookForm(prefix="book")
    form.member_id.choices = options((m.id, m.id) for m in shift.team.members)
    if not form.validate_on_submit():
        flash(_("Choose a member from the list."), "error")
        return redirect(_back(shift))
    member = next(m for m in shift.team.members if m.id == form.member_id.data)
    return _button(lambda: ps.book(db.session.merge(shift), db.session.merge(member), actor=current_user),
                   _("Added to the shift."), _back(shift))


@bp.route("/places/<int:place_id>/mark", methods=["POST"])
@require("patrol.manage")
def place_mark(place_id: int):
    place = get_in_village_or_404(PatrolPlace, place_id)
    form = MarkForm()
    if not form.validate_on_submit():
        flash(_("Choose present, late, absent, leave or substitute."), "error")
        return redirect(_back(place.shift))
    return _button(lambda: ps.mark(db.session.merge(place), form.attendance.data, actor=current_user),
                   _("Marked."), _back(place.shift) + f"#place-{place.id}")


@bp.route("/places/<int:place_id>/times", methods=["POST"])
@require("patrol.manage")
def place_times(place_id: int):
    """Times from the paper sign-in sheet; a time before the shift's start hour is on the next morning."""
    place = get_in_village_or_404(PatrolPlace, place_id)
    form = TimesForm(prefix=f"t{place.id}")
    if not form.validate_on_submit():
        flash("；".join(str(e) for errs in form.errors.values() for e in errs), "error")
        return redirect(_back(place.shift))
    start = ps.local(place.shift.starts_at)

    def on_the_night(clock):
        if clock is None:
            return None
        moment = dt.datetime.combine(start.date(), clock)
        if moment < start - dt.timedelta(hours=2):
            moment += dt.timedelta(days=1)
        return utc_from_local(moment.date(), moment.time())

    return _button(lambda: ps.set_times(db.session.merge(place), signed_in_at=on_the_night(form.signed_in.data),
                                        signed_out_at=on_the_night(form.signed_out.data), actor=current_user),
                   _("Times saved."), _back(place.shift) + f"#place-{place.id}")


@bp.route("/places/<int:place_id>/unbook", methods=["POST"])
@require("patrol.manage")
def place_unbook(place_id: int):
    place = get_in_village_or_404(PatrolPlace, place_id)
    back = _back(place.shift)
    if not ButtonForm().validate_on_submit():
        abort(400)
    return _button(lambda: ps.unbook(db.session.merge(place), actor=current_user), _("Removed from the shift."),
                   back)


@bp.route("/places/<int:place_id>/correct", methods=["POST"])
@require("patrol.manage")
def place_correct(place_id: int):
    place = get_in_village_or_404(PatrolPlace, place_id)
    form = CorrectForm()
    if not form.validate_on_submit():
        flash(_("Please write why the attendance is corrected."), "error")
        return redirect(_back(place.shift))
    return _button(lambda: ps.correct(db.session.merge(place), form.attendance.data, reason=form.reason.data,
                                      actor=current_user),
                   _("Attendance corrected; the points follow."), _back(place.shift))


def _member_of(shift: PatrolShift, member_id: int | None) -> PatrolMember:
    member = next((m for m in shift.team.members if m.id == member_id), None)
    if member is None:
        raise ps.PatrolError(_("Choose an active member of this team."))
    return member


@bp.route("/places/<int:place_id>/swap", methods=["POST"])
@require("patrol.manage")
def place_swap(place_id: int):
    place = get_in_village_or_404(PatrolPlace, place_id)
    form = SwapForm(prefix="swap")
    form.to_member_id.choices = options((m.id, m.id) for m in place.shift.team.members)
    if not form.validate_on_submit():
        flash(_("Choose a member from the list."), "error")
        return redirect(_back(place.shift))
    return _button(lambda: ps.swap(db.session.merge(place), _member_of(place.shift, form.to_member_id.data),
                                   note=form.note.data, actor=current_user),
                   _("Swapped; the swap is kept on record."), _back(place.shift))


@bp.route("/places/<int:place_id>/substitute", methods=["POST"])
@require("patrol.manage")
def place_substitute(place_id: int):
    place = get_in_village_or_404(PatrolPlace, place_id)
    form = SubstituteForm(prefix="sub")
    form.member_id.choices = options((m.id, m.id) for m in place.shift.team.members)
    if not form.validate_on_submit():
        flash(_("Choose a member from the list."), "error")
        return redirect(_back(place.shift))
    return _button(lambda: ps.add_substitute(db.session.merge(place), _member_of(place.shift, form.member_id.data),
                                             actor=current_user),
                   _("Substitute added; the member they stand in for is marked on leave."), _back(place.shift))


@bp.route("/shifts/<int:shift_id>/inspections", methods=["POST"])
@require("patrol.manage")
def shift_inspection(shift_id: int):
    shift = get_in_village_or_404(PatrolShift, shift_id)
    form = InspectionForm(prefix="check")
    if not form.validate_on_submit():
        flash("；".join(str(e) for errs in form.errors.values() for e in errs), "error")
        return redirect(_back(shift))
    # the time typed is on the shift's night: after midnight for a shift that crosses it
    start = ps.local(shift.starts_at)
    at = dt.datetime.combine(start.date(), form.at.data)
    if at < start - dt.timedelta(hours=1):
        at += dt.timedelta(days=1)
    at_utc = utc_from_local(at.date(), at.time())
    return _button(lambda: ps.record_inspection(db.session.merge(shift), inspector=form.inspector.data, at=at_utc,
                                                result=form.result.data, actor=current_user),
                   _("Spot-check recorded."), _back(shift))


@bp.route("/shifts/<int:shift_id>/cancel", methods=["POST"])
@require("patrol.manage")
def shift_cancel(shift_id: int):
    shift = get_in_village_or_404(PatrolShift, shift_id)
    form = CancelForm(prefix="cancel")
    if not form.validate_on_submit():
        flash(_("Please write why the shift is cancelled."), "error")
        return redirect(_back(shift))
    return _button(lambda: ps.cancel(db.session.merge(shift), reason=form.reason.data, actor=current_user),
                   _("Shift cancelled."), _back(shift))


@bp.route("/shifts/<int:shift_id>/confirm", methods=["POST"])
@require("patrol.manage")
def shift_confirm(shift_id: int):
    shift = get_in_village_or_404(PatrolShift, shift_id)
    if not ButtonForm().validate_on_submit():
        abort(400)
    return _button(lambda: ps.confirm(db.session.merge(shift), actor=current_user),
                   _("Shift confirmed; the points wait for review."), _back(shift))


@bp.route("/shifts/<int:shift_id>/findings", methods=["POST"])
@login_required
def shift_finding(shift_id: int):
    """The leader, or a member on the shift from their phone, adds a line to the patrol log."""
    shift = db.session.get(PatrolShift, shift_id) or abort(404)
    if not (_on_shift(shift) or (g.village is not None and shift.village_id == g.village.id
                                 and can("patrol.manage"))):
        abort(404)
    form = FindingForm(prefix="finding")
    if not form.validate_on_submit():
        flash("；".join(str(e) for errs in form.errors.values() for e in errs), "error")
    else:
        photo: list[str | None] = []  # stored by the first attempt; a retried attempt reuses its name
        keep_location = bool(db.session.get(Village, shift.village_id).keep_photo_location)

        def add():
            if not photo:
                photo.append(save_photo(form.photo.data, "patrol", field="photo", keep_location=keep_location))
            return ps.record_finding(db.session.merge(shift), kind=form.kind.data, text=form.text.data,
                                     action=form.action.data, photo_file=photo[0], actor=current_user)

        if submit(form, add, field="text"):
            flash(_("Added to the patrol log."), "success")
        else:
            flash("；".join(str(e) for errs in form.errors.values() for e in errs), "error")
    if can("patrol.manage") and g.village is not None and shift.village_id == g.village.id:
        return redirect(_back(shift))
    return redirect(url_for("patrol.mine"))


@bp.route("/findings/<int:finding_id>/photo")
@login_required
def finding_photo(finding_id: int):
    """A finding's photo, for the team's leaders and reviewers of the village and the members of the shift."""
    finding = db.session.get(PatrolFinding, finding_id) or abort(404)
    shift = db.session.get(PatrolShift, finding.shift_id)
    in_village = g.village is not None and finding.village_id == g.village.id and can("patrol.view")
    if not finding.photo_file or not (in_village or _on_shift(shift)):
        abort(404)
    return send_from_directory(photo_folder("patrol"), finding.photo_file, max_age=0)


# --- the member's phone ---------------------------------------------------------------------------

def _on_shift(shift: PatrolShift) -> bool:
    return any(p.member.user_id == current_user.id for p in shift.places)


@bp.route("/c/<token>", methods=["GET", "POST"])
@login_required
def check_in(token: str):
    """Opened by scanning a checkpoint's sticker with the phone's camera; one tap records the check-in."""
    point = ps.checkpoint_for_token(token)
    if point is None:
        return render_template("patrol/check_in.html", point=None, form=None, visit=None, error=_(
            "This sticker is no longer in use. Ask your leader for the new one.")), 404
    form = ButtonForm()
    visit, error = None, None
    if form.validate_on_submit():
        try:
            visit = run_write(lambda: ps.check_in(ps.checkpoint_for_token(token), current_user))
        except DomainError as e:
            error = str(e)
    # a refused check-in is a 409 (the scan conflicts with the roster), so a script or test sees it failed
    return render_template("patrol/check_in.html", point=point, form=form, visit=visit, error=error,
                           local=ps.local), (200 if error is None else 409)


@bp.route("/me")
@login_required
def mine():
    """The member's own shifts: tonight's first, with its checkpoints, then the month's."""
    members = db.session.scalars(sa.select(PatrolMember).where(PatrolMember.user_id == current_user.id)).all()
    if not members:
        return render_template("patrol/mine.html", members=[], shifts=[], reached={}, form=None)
    now = utcnow()
    shifts = db.session.scalars(sa.select(PatrolShift).join(PatrolPlace).where(
        PatrolPlace.member_id.in_([m.id for m in members]), PatrolShift.ends_at >= now - dt.timedelta(hours=12),
        PatrolShift.status != ShiftStatus.CANCELLED.value)
        .order_by(PatrolShift.starts_at).limit(20)).all()
    reached = {}
    for v in db.session.scalars(sa.select(PatrolCheckIn).where(
            PatrolCheckIn.shift_id.in_([s.id for s in shifts]),
            PatrolCheckIn.member_id.in_([m.id for m in members]))):
        reached.setdefault(v.shift_id, {})[v.checkpoint_id] = v
    return render_template("patrol/mine.html", members=members, shifts=shifts, reached=reached,
                           local=ps.local, now=now, finding=FindingForm(prefix="finding"), mask_name=mask_name)


from . import import_views, print_views  # noqa: E402,F401  (more routes on the same blueprint)
