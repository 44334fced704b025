"""Home page by role, village switch, language switch (the township roll-up is app.reports)."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from ..access import can
from ..admin.backups import single_village_installation
from ..auth.models import Role
from ..db import local_today, utcnow
from ..extensions import db
from ..ops.backup import backup_dir, list_backups
from ..patrol.queries import is_patrol_member
from ..registry.models import Household, HouseholdStatus, Person, PersonStatus, Village
from ..urls import safe_next
from . import bp
from . import today as home


@bp.route("/")
@login_required
def index():
    """Start page: the work waiting today for each role the user holds in the current village (app.main.today),
    the township's per-village counts, and what this user can do."""
    stats = None
    sections = []
    today, now = local_today(), utcnow()
    if g.village is not None:
        stats = {
            "households": db.session.scalar(sa.select(sa.func.count(Household.id)).where(
                Household.village_id == g.village.id, Household.status == HouseholdStatus.ACTIVE.value)),
            "people": db.session.scalar(sa.select(sa.func.count(Person.id)).where(
                Person.village_id == g.village.id, Person.status == PersonStatus.ALIVE.value)),
        }
        backups = None
        if "clerk" in g.roles and (can("admin") or single_village_installation()):
            backups = list_backups(backup_dir())
        sections = home.sections(g.village.id, g.roles, current_user.id, today, now, backups=backups)
    township_rows = township_backup = None
    if Role.TOWNSHIP.value in g.roles:
        township_rows = home.township_rows(_overseen_villages(), today, now)
        township_backup = home.backup_item(list_backups(backup_dir()), now)
    return render_template("main/index.html", stats=stats, patrol_member=is_patrol_member(current_user.id),
                           sections=sections, township_rows=township_rows, township_backup=township_backup,
                           township_columns=home.TOWNSHIP_COLUMNS)


def _overseen_villages() -> list[Village]:
    """The villages a township user oversees (every village for the administrator), by code."""
    if Role.ADMIN.value in g.roles:
        return list(db.session.scalars(sa.select(Village).order_by(Village.code)))
    tids = {m.township_id for m in current_user.memberships if m.role == Role.TOWNSHIP.value}
    return list(db.session.scalars(sa.select(Village).where(Village.township_id.in_(tids)).order_by(Village.code)))


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
