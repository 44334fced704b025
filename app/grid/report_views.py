"""Grid work in numbers for a month: visits done against due per worker and per grid, events by kind, status
and timeliness, and the closure rate, each with its definition stated on the page (app.grid.queries)."""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from flask import g, render_template, request
from flask_babel import gettext as _

from ..access import require
from ..auth.models import User
from ..db import local_midnight_utc, local_today, utcnow
from ..extensions import db
from ..text import natural_key
from . import bp
from . import queries as gq
from . import services as gs
from .forms import KINDS, STATUSES

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def month_bounds(year: int, month: int) -> tuple[dt.date, dt.date]:
    first = dt.date(year, month, 1)
    last = (first + dt.timedelta(days=32)).replace(day=1) - dt.timedelta(days=1)
    return first, last


def parse_month(raw: str | None) -> tuple[int, int] | None:
    """"2026-11" → (2026, 11); None when it is not a month from 2000 to 2100."""
    m = _MONTH.match((raw or "").strip())
    if not m:
        return None
    year, month = int(m.group(1)), int(m.group(2))
    if not (2000 <= year <= 2100 and 1 <= month <= 12):
        return None
    return year, month


def month_report(village_id: int, year: int, month: int, *, now: dt.datetime | None = None) -> dict:
    first, last = month_bounds(year, month)
    by_grid, by_worker = gq.visit_figures(village_id, gs.village_rules(village_id), first, last)
    events = gq.event_figures(village_id, local_midnight_utc(first), local_midnight_utc(last + dt.timedelta(days=1)),
                              now or utcnow())
    return dict(first=first, last=last, by_grid=by_grid, by_worker=by_worker, events=events)


@bp.route("/reports")
@require("grid.view")
def reports():
    today = local_today()
    error, status = None, 200
    raw = request.args.get("month")
    year, month = today.year, today.month
    if raw is not None and raw.strip():
        parsed = parse_month(raw[:20])
        if parsed is None:
            error, status = _("Please choose a month like %(example)s.", example=f"{today:%Y-%m}"), 400
        else:
            year, month = parsed
    data = month_report(g.village.id, year, month)
    grids = {x.id: x for x in gq.grids(g.village.id)}
    users = {u.id: u for u in db.session.scalars(sa.select(User).where(User.id.in_(list(data["by_worker"]) or [-1])))}
    grid_rows = sorted(data["by_grid"].items(), key=lambda kv: natural_key(grids[kv[0]].name if kv[0] in grids
                                                                            else ""))
    worker_rows = sorted(data["by_worker"].items(), key=lambda kv: natural_key(
        users[kv[0]].display_name if kv[0] in users else ""))
    ev = data["events"]
    still_open = ev.reported - ev.on_time - ev.late - ev.overdue
    prev = dt.date(year, month, 1) - dt.timedelta(days=1)
    nxt = dt.date(year, month, 28) + dt.timedelta(days=5)
    return render_template("grid/reports.html", error=error, year=year, month=month, grids=grids, users=users,
                           grid_rows=grid_rows, worker_rows=worker_rows, ev=ev, still_open=still_open,
                           kinds=KINDS, statuses=STATUSES, first=data["first"], last=data["last"],
                           prev=f"{prev:%Y-%m}", next=f"{nxt:%Y-%m}", month_value=f"{year}-{month:02d}"), status
