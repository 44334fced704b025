"""The village dashboard (clerk, reviewer), its A4 month for the village meeting, and the township roll-up."""
from __future__ import annotations

import re

import sqlalchemy as sa
from flask import flash, g, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import joinedload

from ..access import require
from ..auth.models import Role
from ..db import local_today
from ..extensions import db
from ..printing import pdf_response, render_pdf
from ..registry.models import Village
from . import bp
from . import figures as fig

_MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")


def _chosen_month() -> tuple[int, int, str | None]:
    """(year, month, error) from ?month=YYYY-MM; this month (and a message) when it is not a month."""
    today = local_today()
    raw = (request.args.get("month") or "").strip()[:20]
    if not raw:
        return today.year, today.month, None
    m = _MONTH.match(raw)
    if m and 2000 <= int(m.group(1)) <= 2100 and 1 <= int(m.group(2)) <= 12:
        return int(m.group(1)), int(m.group(2)), None
    return today.year, today.month, _("Please choose a month like %(example)s.", example=f"{today:%Y-%m}")


def _neighbours(year: int, month: int) -> dict:
    prev = (year - (month == 1), 12 if month == 1 else month - 1)
    nxt = (year + (month == 12), 1 if month == 12 else month + 1)
    return {"prev": "%d-%02d" % prev, "next": "%d-%02d" % nxt, "month_value": f"{year}-{month:02d}"}


@bp.route("/reports/")
@require("reports.view")
def dashboard():
    """The village's month in figures and charts, each chart with its numbers beside it."""
    year, month, error = _chosen_month()
    d = fig.village_dashboard(g.village.id, year, month)
    return render_template("reports/dashboard.html", d=d, error=error, **_neighbours(year, month)), \
        400 if error else 200


@bp.route("/reports/month.pdf")
@require("reports.view")
def month_pdf():
    """The month as an A4 report for the village meeting: the same charts and numbers as the page."""
    year, month, error = _chosen_month()
    if error:
        return dashboard()
    d = fig.village_dashboard(g.village.id, year, month)
    pdf = render_pdf("report_month.html", village=g.village, d=d, printed_on=local_today())
    return pdf_response(pdf, _("%(village)s village report %(year)s-%(month)s", village=g.village.name, year=year,
                               month=f"{month:02d}") + ".pdf",
                        ascii_name=f"village-report-{g.village.code}-{year}-{month:02d}.pdf")


def _overseen_villages() -> list[Village]:
    """The villages of the user's townships (every village for an administrator), by code."""
    # the townships in one query, not one lazy load per row of the page
    stmt = sa.select(Village).options(joinedload(Village.township)).order_by(Village.code)
    if Role.ADMIN.value not in g.roles:
        tids = {m.township_id for m in current_user.memberships if m.role == Role.TOWNSHIP.value}
        stmt = stmt.where(Village.township_id.in_(tids))
    return list(db.session.scalars(stmt))


@bp.route("/township")
@require("township.view")
def township():
    """The villages of the user's townships side by side for a month, with totals: aggregates only."""
    year, month, error = _chosen_month()
    villages = _overseen_villages()
    rows, total = fig.rollup(villages, year, month)
    if not rows:
        flash(_("No villages are assigned to you yet."), "info")
    return render_template("reports/township.html", rows=rows, total=total, year=year, month=month, error=error,
                           **_neighbours(year, month)), 400 if error else 200
