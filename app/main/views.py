"""Home page by role, village switch, language switch, township roll-up."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from ..access import require
from ..auth.models import Role
from ..extensions import db
from ..patrol.queries import is_patrol_member, village_counts
from ..registry.models import Household, HouseholdStatus, Person, PersonStatus, Village
from ..urls import safe_next
from . import bp


@bp.route("/")
@login_required
def index():
    """Start page: what this user can do in the current village."""
    stats = None
    if g.village is not None:
        stats = {
            "households": db.session.scalar(sa.select(sa.func.count(Household.id)).where(
                Household.village_id == g.village.id, Household.status == HouseholdStatus.ACTIVE.value)),
            "people": db.session.scalar(sa.select(sa.func.count(Person.id)).where(
                Person.village_id == g.village.id, Person.status == PersonStatus.ALIVE.value)),
        }
    return render_template("main/index.html", stats=stats, patrol_member=is_patrol_member(current_user.id))


@bp.post("/switch-village")
@login_required
def switch_village():
    """Make another of the user's villages the current one."""
    try:
        vid = int(request.form.get("village_id", ""))
    except ValueError:
        abort(400)
    if vid not in {v.id for v in g.villages}:
        abort(404)
    session["village_id"] = vid
    return redirect(url_for("main.index"))


@bp.route("/lang/<code>")
def set_language(code: str):
    """Switch the interface language; Chinese is the default."""
    if code not in ("zh_Hans_CN", "en"):
        abort(404)
    session["lang"] = code
    return redirect(safe_next(request.args.get("next")))


@bp.route("/township")
@require("township.view")
def township():
    """Read-only roll-up of the villages a township user oversees: counts only, no personal data."""
    if Role.ADMIN.value in g.roles:
        villages = list(db.session.scalars(sa.select(Village).order_by(Village.code)))
    else:
        tids = {m.township_id for m in current_user.memberships if m.role == Role.TOWNSHIP.value}
        villages = list(db.session.scalars(
            sa.select(Village).where(Village.township_id.in_(tids)).order_by(Village.code)))
    ids = [v.id for v in villages]
    hh = dict(db.session.execute(
        sa.select(Household.village_id, sa.func.count(Household.id))
        .where(Household.village_id.in_(ids), Household.status == HouseholdStatus.ACTIVE.value)
        .group_by(Household.village_id)).all())
    ppl = dict(db.session.execute(
        sa.select(Person.village_id, sa.func.count(Person.id))
        .where(Person.village_id.in_(ids), Person.status == PersonStatus.ALIVE.value)
        .group_by(Person.village_id)).all())
    patrol = village_counts(ids)
    rows = [{"village": v, "households": hh.get(v.id, 0), "people": ppl.get(v.id, 0), "patrol": patrol[v.id]}
            for v in villages]
    if not rows:
        flash(_("No villages are assigned to you yet."), "info")
    return render_template("main/township.html", rows=rows)
