"""Printed patrol papers: the month's roster, the sign-in sheet for teams without phones, checkpoint stickers."""
from __future__ import annotations

from flask import flash, g, redirect, url_for
from flask_babel import gettext as _

from ..access import get_in_village_or_404, require
from ..db import local_today
from ..printing import pdf_response, render_pdf
from .. import qrcodes
from ..text import natural_key
from . import bp
from . import services as ps
from .models import PatrolRoute, PatrolTeam, ShiftStatus
from .views import _month_or_404


def _rows(team: PatrolTeam, year: int, month: int):
    shifts = ps.month_shifts(team, year, month)
    return [(s, ps.local(s.starts_at), ps.local(s.ends_at), [p.member.person.name for p in s.places],
             ps.is_night(s)) for s in shifts]


@bp.route("/teams/<int:team_id>/roster/<int:year>-<int:month>.pdf")
@require("patrol.view")
def roster_pdf(team_id: int, year: int, month: int):
    team = get_in_village_or_404(PatrolTeam, team_id)
    year, month = _month_or_404(year, month)
    rows = _rows(team, year, month)
    if not rows:
        flash(_("No shifts this month yet."), "info")
        return redirect(url_for("patrol.roster", team_id=team.id, year=year, month=month))
    counts = ps.month_counts(team, [r[0] for r in rows])
    named = sorted(((m.person.name, counts.get(m.id, 0)) for m in team.members
                    if m.status == "active" or counts.get(m.id)), key=lambda x: natural_key(x[0]))
    pdf = render_pdf("patrol_roster.html", village=g.village, team=team, year=year, month=month, rows=rows,
                     counts=named, printed_on=local_today())
    return pdf_response(pdf, _("%(team)s roster %(year)s-%(month)s", team=team.name, year=year,
                               month=f"{month:02d}") + ".pdf", ascii_name=f"patrol-roster-{year}-{month:02d}.pdf")


@bp.route("/teams/<int:team_id>/signin/<int:year>-<int:month>.pdf")
@require("patrol.view")
def signin_pdf(team_id: int, year: int, month: int):
    team = get_in_village_or_404(PatrolTeam, team_id)
    year, month = _month_or_404(year, month)
    blocks = [(s, start, end, names) for s, start, end, names, _night in _rows(team, year, month)
              if s.status != ShiftStatus.CANCELLED.value]
    if not blocks:
        flash(_("No shifts this month yet."), "info")
        return redirect(url_for("patrol.roster", team_id=team.id, year=year, month=month))
    pdf = render_pdf("patrol_signin.html", village=g.village, team=team, year=year, month=month, blocks=blocks)
    return pdf_response(pdf, _("%(team)s sign-in sheet %(year)s-%(month)s", team=team.name, year=year,
                               month=f"{month:02d}") + ".pdf", ascii_name=f"patrol-signin-{year}-{month:02d}.pdf")


@bp.route("/routes/<int:route_id>/stickers.pdf")
@require("patrol.manage")
def stickers_pdf(route_id: int):
    route = get_in_village_or_404(PatrolRoute, route_id)
    points = [c for c in route.checkpoints if c.active]
    if not points:
        flash(_("No checkpoints yet."), "info")
        return redirect(url_for("patrol.team", team_id=route.team_id))
    stickers = []
    for c in points:
        # the address the village's own server answers on (the sticker is scanned on the village LAN or WAN)
        url = url_for("patrol.check_in", token=c.token, _external=True)
        stickers.append((c, url, qrcodes.make(url, error="m").svg_data_uri(scale=6, border=2)))
    pdf = render_pdf("patrol_stickers.html", village=g.village, team=route.team, route=route, stickers=stickers)
    return pdf_response(pdf, _("Checkpoint stickers of %(route)s", route=route.name) + ".pdf",
                        ascii_name=f"patrol-stickers-{route.id}.pdf")
