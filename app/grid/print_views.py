"""A grid's visit plan for a week, printed (走访计划表): the households due or overdue by the week's end."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _

from ..access import get_in_village_or_404, require
from ..db import local_today
from ..extensions import db
from ..forms import parse_date
from ..printing import pdf_response, render_pdf
from ..text import natural_key
from . import bp
from . import queries as gq
from . import services as gs
from .admin_forms import tags_text
from .models import Grid, GridWorker, Visit


def week_of(day: dt.date) -> tuple[dt.date, dt.date]:
    """Monday and Sunday of the day's week."""
    start = day - dt.timedelta(days=day.weekday())
    return start, start + dt.timedelta(days=6)


def week_plan_rows(grid: Grid, start: dt.date, end: dt.date):
    """[(villager group name, [DueHousehold])]: the grid's households (its micro-grids' too) due by `end`.

    Due by the report's definition (app.grid.queries): from the visits before the week, so the plan printed on
    Wednesday lists the same households as Monday's; a visit made this week shows in its visit column."""
    grid_ids = [grid.id, *(c.id for c in grid.children)]
    items = gq.schedule_for(grid.village_id, gs.village_rules(grid.village_id), grid_ids=grid_ids, today=start,
                            as_of=start)
    due = [i for i in items if i.due.day <= end]
    order = {gr.id: n for n, gr in enumerate(gq.village_groups(grid.village_id))}
    sections: dict[int | None, list] = {}
    for item in due:
        sections.setdefault(item.group.id if item.group else None, []).append(item)
    out = []
    for gid in sorted(sections, key=lambda k: (k is None, order.get(k, len(order)), k or 0)):
        rows = sorted(sections[gid], key=lambda i: (i.due.day, natural_key(i.household.number)))
        out.append((rows[0].group.name if rows[0].group else _("No villager group"), rows))
    return out


@bp.route("/grids/<int:grid_id>/plan.pdf")
@require("grid.view")
def week_plan(grid_id: int):
    grid = get_in_village_or_404(Grid, grid_id)
    raw = (request.args.get("week") or "").strip()
    day = local_today()
    if raw:
        try:
            day = parse_date(raw[:40])
            if not 2000 <= day.year <= 2100:
                raise ValueError(raw)
        except ValueError:
            flash(_("Please enter a day of the week like 2026-12-07."), "error")
            return redirect(url_for("grid.grid", grid_id=grid.id))
    start, end = week_of(day)
    sections = week_plan_rows(grid, start, end)
    ids = [i.household.id for _name, rows in sections for i in rows]
    visited: dict[int, list[dt.date]] = {}
    for hid, on in db.session.execute(sa.select(Visit.household_id, Visit.visited_on).where(
            Visit.household_id.in_(ids or [-1]), Visit.visited_on >= start, Visit.visited_on <= end)
            .order_by(Visit.visited_on)):
        visited.setdefault(hid, []).append(on)
    in_charge = [grid.id] + ([grid.parent_id] if grid.parent_id else [])
    workers = db.session.scalars(sa.select(GridWorker).where(GridWorker.grid_id.in_(in_charge),
                                                             GridWorker.ended_on.is_(None))
                                 .order_by(GridWorker.id)).all()
    pdf = render_pdf("grid_week_plan.html", village=g.village, grid=grid, start=start, end=end, sections=sections,
                     visited=visited, workers=workers, tags_text=tags_text, printed_on=local_today(),
                     count=len(ids))
    return pdf_response(pdf, _("%(grid)s visit plan %(day)s", grid=grid.name, day=start.isoformat()) + ".pdf",
                        ascii_name=f"grid-plan-{grid.id}-{start.isoformat()}.pdf")
