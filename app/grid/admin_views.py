"""The clerk's grid pages: the village's grids and micro-grids as a tree, one grid with its workers and
households (placed by 户号 or by villager group, with each household's grid history), and the village's visit
schedule (三必访 by default).

Reviewers and grid workers read these pages (grid.view); only a clerk changes anything (grid.manage).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..access import can, deny, get_in_village_or_404, require
from ..auth.models import Membership, User
from ..db import local_today
from ..extensions import db
from ..forms import options
from ..registry.models import Household, HouseholdStatus, VillagerGroup
from ..submission import submit
from ..text import group_key, natural_key
from . import bp
from . import queries as gq
from . import services as gs
from .admin_forms import (
    NO_RULE,
    UNITS,
    GridForm,
    PlaceForm,
    RowForm,
    RulesForm,
    WorkerForm,
    rules_from_form,
    split_numbers,
    tag_label,
    tags_text,
)
from .errors import GridError
from .models import Grid, GridMembership, GridWorker
from .schedule import DEFAULT_RULES, ORDINARY


def _village_grid(grid_id: int | None, field: str = "parent_id") -> Grid | None:
    """A grid of the current village chosen in a form (0: none); another village's id is refused."""
    if not grid_id:
        return None
    grid = db.session.get(Grid, grid_id)
    if grid is None or grid.village_id != g.village.id:
        raise GridError(_("Choose the grid from the list."), field)
    return grid


def _parent_choices(form: GridForm, grid: Grid | None = None) -> None:
    tops = [x for x in gq.grids(g.village.id) if x.parent_id is None and (grid is None or x.id != grid.id)
            and (x.active or (grid is not None and x.id == grid.parent_id))]
    form.parent_id.choices = options([(0, _("— none: a grid of its own —")),
                                      *((x.id, x.name) for x in sorted(tops, key=lambda x: natural_key(x.name)))])


def _tree(village_id: int):
    """[(grid, [micro-grids])] in name order, with household counts (a grid's own and its micro-grids')."""
    all_grids = gq.grids(village_id)
    counts = gq.household_counts(village_id)
    children: dict[int, list[Grid]] = {}
    for x in all_grids:
        if x.parent_id:
            children.setdefault(x.parent_id, []).append(x)
    tops = sorted((x for x in all_grids if x.parent_id is None), key=lambda x: (not x.active, natural_key(x.name)))
    tree = []
    totals = {}
    for top in tops:
        kids = sorted(children.get(top.id, []), key=lambda x: (not x.active, natural_key(x.name)))
        totals[top.id] = counts.get(top.id, 0) + sum(counts.get(k.id, 0) for k in kids)
        for k in kids:
            totals[k.id] = counts.get(k.id, 0)
        tree.append((top, kids))
    return tree, totals


def _workers_by_grid(village_id: int) -> dict[int, list[GridWorker]]:
    out: dict[int, list[GridWorker]] = {}
    for w in gq.current_workers(village_id):
        out.setdefault(w.grid_id, []).append(w)
    return out


@bp.route("/grids", methods=["GET", "POST"])
@require("grid.view")
def grids():
    form = GridForm()
    _parent_choices(form)
    status = 200
    if request.method == "POST":
        if not can("grid.manage"):
            deny("grid.manage")
        if form.validate_on_submit():
            def create():
                return gs.create_grid(g.village, name=form.name.data, parent=_village_grid(form.parent_id.data),
                                      chief_name=form.chief_name.data, chief_phone=form.chief_phone.data,
                                      note=form.note.data, actor=current_user)

            done = submit(form, create, field="name")
            if done:
                flash(_("Grid %(name)s saved.", name=form.name.data), "success")
                return redirect(url_for("grid.grid", grid_id=done.value.id))
        status = 400
    tree, totals = _tree(g.village.id)
    return render_template("grid/grids.html", form=form, tree=tree, totals=totals,
                           workers=_workers_by_grid(g.village.id)), status


def _worker_choices(form: WorkerForm, grid: Grid) -> None:
    users = db.session.scalars(sa.select(User).join(Membership, Membership.user_id == User.id).where(
        Membership.village_id == g.village.id, Membership.role == "grid_worker").distinct()).all()
    working = {w.user_id for w in grid.workers if w.ended_on is None}
    form.user_id.choices = options([(0, "—"), *((u.id, u.display_name) for u in
                                                sorted(users, key=lambda u: natural_key(u.display_name))
                                                if u.id not in working)])


def _group_choices(form: PlaceForm) -> None:
    form.group_id.choices = options([(0, "—"), *((gr.id, gr.name) for gr in gq.village_groups(g.village.id))])


def _place_numbers(grid: Grid, numbers: list[str], on, actor) -> int:
    """Place the typed households, all or none: an unknown or inactive number refuses the whole form."""
    found = {h.number: h for h in db.session.scalars(sa.select(Household).where(
        Household.village_id == grid.village_id, Household.number.in_(numbers)))}
    missing = [n for n in numbers if n not in found]
    if missing:
        raise GridError(_("There is no household %(numbers)s in the village.", numbers="、".join(missing)),
                        "numbers")
    gone = [n for n in numbers if found[n].status != HouseholdStatus.ACTIVE.value]
    if gone:
        raise GridError(_("Household %(numbers)s is no longer an active household of the register.",
                          numbers="、".join(gone)), "numbers")
    for n in numbers:
        gs.place_household(found[n], grid, on=on, actor=actor)
    return len(numbers)


def _grid_households(grid: Grid):
    rows = db.session.execute(
        sa.select(GridMembership, Household).join(Household, Household.id == GridMembership.household_id)
        .where(GridMembership.grid_id == grid.id, GridMembership.ended_on.is_(None))).all()
    return sorted(rows, key=lambda r: (r[1].group is None, group_key(r[1].group.name if r[1].group else ""),
                                       natural_key(r[1].number)))


@bp.route("/grids/<int:grid_id>", methods=["GET", "POST"])
@require("grid.view")
def grid(grid_id: int):
    grid = get_in_village_or_404(Grid, grid_id)
    edit, wform, place = GridForm(prefix="grid", obj=grid), WorkerForm(prefix="worker"), PlaceForm(prefix="place")
    end, remove = RowForm(prefix="end"), RowForm(prefix="remove")
    _parent_choices(edit, grid)
    _worker_choices(wform, grid)
    _group_choices(place)
    if request.method == "GET":
        edit.parent_id.data = grid.parent_id or 0
    status = 200
    back = redirect(url_for("grid.grid", grid_id=grid.id))
    if request.method == "POST":
        if not can("grid.manage"):
            deny("grid.manage")
        status = 400
        if edit.submit.data and edit.validate_on_submit():
            def save():
                me = db.session.merge(grid)
                return gs.update_grid(me, name=edit.name.data, parent=_village_grid(edit.parent_id.data),
                                      chief_name=edit.chief_name.data, chief_phone=edit.chief_phone.data,
                                      note=edit.note.data, active=edit.active.data, actor=current_user)

            if submit(edit, save, field="name"):
                flash(_("Grid saved."), "success")
                return back
        elif wform.submit.data and wform.validate_on_submit():
            def assign():
                user = db.session.get(User, wform.user_id.data) if wform.user_id.data else None
                return gs.assign_worker(db.session.merge(grid), user, started_on=wform.started_on.data,
                                        actor=current_user)

            if submit(wform, assign, field="user_id"):
                flash(_("Grid worker assigned."), "success")
                return back
        elif end.submit.data and end.validate_on_submit():
            def stop():
                row = db.session.get(GridWorker, end.row)
                if row is None or row.grid_id != grid.id:
                    raise GridError(_("Choose from the list."), "row_id")
                return gs.end_worker(row, actor=current_user)

            if submit(end, stop, field="row_id"):
                flash(_("The grid worker no longer works this grid."), "success")
                return back
        elif remove.submit.data and remove.validate_on_submit():
            def take_out():
                household = db.session.get(Household, remove.row)
                current = gs.current_membership(household.id) if household is not None else None
                if household is None or household.village_id != g.village.id or current is None \
                        or current.grid_id != grid.id:
                    raise GridError(_("This household is not in this grid."), "row_id")
                gs.remove_household(household, actor=current_user)
                return household

            done = submit(remove, take_out, field="row_id")
            if done:
                flash(_("Household %(number)s taken out of the grid.", number=done.value.number), "success")
                return back
        elif place.submit.data and place.validate_on_submit():
            numbers = split_numbers(place.numbers.data)

            def put():
                me = db.session.merge(grid)
                if numbers:
                    return _place_numbers(me, numbers, place.on.data, current_user)
                group = db.session.get(VillagerGroup, place.group_id.data)
                if group is None or group.village_id != g.village.id:
                    raise GridError(_("Choose the villager group from the list."), "group_id")
                return gs.place_group(group, me, on=place.on.data, actor=current_user)

            done = submit(place, put, field="numbers")
            if done:
                flash(_("%(n)s households placed in %(grid)s.", n=done.value, grid=grid.name), "success")
                return back
        # a row button's refusal has no field of its own on the page: say it at the top
        for form in (end, remove):
            if form.submit.data and form.errors:
                flash("；".join(str(e) for errs in form.errors.values() for e in errs), "error")
    households = _grid_households(grid)
    return render_template("grid/grid.html", grid=grid, edit=edit, wform=wform, place=place, end=end,
                           remove=remove, households=households, tags_text=tags_text,
                           counts=gq.household_counts(g.village.id), today=local_today()), status


@bp.route("/grids/households/<int:household_id>/history")
@require("grid.view")
def household_history(household_id: int):
    """Which grid the household was in, when: the memberships, newest first."""
    household = get_in_village_or_404(Household, household_id)
    rows = db.session.scalars(sa.select(GridMembership).where(GridMembership.household_id == household.id)
                              .order_by(GridMembership.started_on.desc(), GridMembership.id.desc())).all()
    return render_template("grid/household_history.html", household=household, rows=rows, tags_text=tags_text)


# --- the visit schedule ---------------------------------------------------------------------------

@bp.route("/schedule", methods=["GET", "POST"])
@require("grid.view")
def rules():
    form = RulesForm()
    status = 200
    if request.method == "POST":
        if not can("grid.manage"):
            deny("grid.manage")
        status = 400
        if form.validate_on_submit():
            wanted = rules_from_form(form)
            if wanted is not None:
                def save():
                    try:
                        return gs.set_rules(db.session.merge(g.village), wanted, actor=current_user)
                    except GridError as e:  # the service names the tag; the form's field is its row
                        if e.field in gs.RULE_TAGS:
                            raise GridError(str(e), f"every_{e.field}") from e
                        raise

                if submit(form, save, field=f"every_{ORDINARY}"):
                    flash(_("Visit schedule saved."), "success")
                    return redirect(url_for("grid.rules"))
    else:
        current = gs.village_rules(g.village.id)
        for tag in gs.RULE_TAGS:
            every, unit = form[f"every_{tag}"], form[f"unit_{tag}"]
            if tag in current:
                every.data, unit.data = current[tag]
            else:
                every.data, unit.data = None, NO_RULE
    return render_template("grid/rules.html", form=form, tags=gs.RULE_TAGS, tag_label=tag_label, units=UNITS,
                           defaults=DEFAULT_RULES), status
