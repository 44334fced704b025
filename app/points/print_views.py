"""Printed points documents: the posting sheet (公示) and the written reply to an objection."""
from __future__ import annotations

import re

from flask import abort, flash, g, redirect, url_for
from flask_babel import gettext as _

from ..access import get_in_village_or_404, require
from ..db import local_today
from ..printing import pdf_response, render_pdf
from . import bp
from . import queries as pq
from .models import Objection, PointEntry


_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def _cn_number(run: str) -> str:
    """十二 → 12, 二十 → 20, 三 → 3 (group names count up to a few dozen)."""
    if "十" in run:
        tens, _, ones = run.partition("十")
        return str((_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS.get(ones, 0) if ones else 0))
    return "".join(str(_CN_DIGITS[c]) for c in run)


def _natural(text: str | None) -> tuple:
    """Sort key that puts 2组 before 10组, 第二组 before 第十组 and 0102 before 0110."""
    text = re.sub(r"[零一二两三四五六七八九十]+", lambda m: _cn_number(m.group(0)), text or "")
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", text) if p)


@bp.route("/posting.pdf")
@require("points.view")
def posting_pdf():
    """The posting sheet for the notice board, by villager group and household, names masked."""
    today = local_today()
    rows = pq.entries_on_posting(g.village.id, today)
    if not rows:
        flash(_("Nothing is on posting now."), "info")
        return redirect(url_for("points.posting"))
    rows.sort(key=lambda e: (e.household.group is None, _natural(e.household.group.name if e.household.group
                                                                  else ""),
                             _natural(e.household.number), e.occurred_on, e.id))
    sections: list[tuple[str | None, list[PointEntry]]] = []
    for e in rows:
        name = e.household.group.name if e.household.group else None
        if not sections or sections[-1][0] != name:
            sections.append((name, []))
        sections[-1][1].append(e)
    deadlines = {e.posting_until for e in rows}
    scheme = pq.village_scheme(g.village.id)
    pdf = render_pdf("posting_sheet.html", village=g.village, scheme=scheme, sections=sections, count=len(rows),
                     period_from=min(e.posted_on for e in rows), period_to=max(deadlines),
                     deadline=deadlines.pop() if len(deadlines) == 1 else None,
                     appeal_days=max(e.scheme.appeal_working_days for e in rows), printed_on=today)
    return pdf_response(pdf, _("%(village)s points posting %(day)s", village=g.village.name,
                               day=today.isoformat()) + ".pdf",
                        ascii_name=f"points-posting-{today.isoformat()}.pdf")


@bp.route("/objections/<int:objection_id>/reply.pdf")
@require("points.view")
def objection_reply_pdf(objection_id: int):
    """The written reply (异议处理答复书) to a decided objection, for the villager."""
    obj = get_in_village_or_404(Objection, objection_id)
    if obj.decision is None:
        abort(404)
    pdf = render_pdf("objection_reply.html", village=g.village, obj=obj, entry=obj.entry)
    return pdf_response(pdf, _("Objection reply %(n)s", n=obj.id) + ".pdf",
                        ascii_name=f"objection-reply-{obj.id}.pdf")
