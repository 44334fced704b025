"""Printed points documents: the posting sheet (公示), the written reply to an objection, the scheme for the
notice board (积分细则) and the year's 红黑榜 / 星级文明户 list."""
from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from ..access import get_in_village_or_404, require
from ..db import local_today
from ..extensions import db
from ..filters import LABELS, label
from ..ledger.queries import balances_after
from ..printing import pdf_response, render_pdf
from ..text import group_key, mask_name, natural_key
from . import bp
from . import queries as pq
from .forms import UNITS
from .models import Objection, PointEntry, PointItem


def _member_labels(rows: list[PointEntry], full_names: bool = False) -> dict[int, str]:
    """entry id → who the entry is for, as the posted sheet may name them: 张*丰（子女）, or 张三丰 where the
    village posts names in full (its posting_names setting: many villages post full names, as the county's
    公示 templates do; the default masks).

    The sheet hangs in public, so names are masked unless the village chose otherwise (the domain notes, §7
    privacy: posted views mask; the convention keeps the surname and the last character) and no birth date,
    ID or phone number appears.
    A masked name alone is not enough: the head 张三丰 and his son 张小丰 are both 张*丰. The member's
    relation to the head (户主, 配偶, 子女 …) tells them apart, and it is what neighbours already know from
    the household register, so it unmasks no one. Where even that ties (twin sons 张*丰), the member's
    place among them in the household's roster (子女 1, 子女 2) does: the household can tell who is who,
    a passer-by learns nothing more.
    An entry without a member is the head's (the entry form's "— the head of household —").
    """
    out: dict[int, str] = {}
    for e in rows:
        person = e.person or e.household.head
        if person is None:
            out[e.id] = ""
            continue
        if full_names:
            out[e.id] = person.name
            continue
        masked = mask_name(person.name)
        relation = person.relation if e.person is not None else "head"
        twins = [p for p in e.household.members
                 if p.relation == person.relation and mask_name(p.name) == masked]
        shown = label(relation, "relation")
        if len(twins) > 1 and person in twins:
            shown = f"{shown} {twins.index(person) + 1}"
        out[e.id] = f"{masked}（{shown}）"
    return out


def _balances_after(rows: list[PointEntry]) -> dict[int, int]:
    """entry id → the household's spendable balance right after the entry moved it. A deduction that moved
    nothing found an empty balance (扣完为止 took all there was: 0), so the balance after it is 0; an entry with
    no transfer otherwise (a judgement item) is left out."""
    after = balances_after({e.transfer_id: e.household_id for e in rows if e.transfer_id})
    out = {e.id: after[e.transfer_id] for e in rows if e.transfer_id in after}
    out.update({e.id: 0 for e in rows if not e.transfer_id and e.points < 0 and e.applied_points == 0})
    return out


@bp.route("/posting.pdf")
@require("points.view")
def posting_pdf():
    """The posting sheet for the notice board, by villager group and household: names as the village posts
    them (masked by default), and what each entry did to the household's balance."""
    today = local_today()
    rows = pq.entries_on_posting(g.village.id, today)
    if not rows:
        flash(_("Nothing is on posting now."), "info")
        return redirect(url_for("points.posting"))
    rows.sort(key=lambda e: (e.household.group is None,
                             group_key(e.household.group.name if e.household.group else ""),
                             natural_key(e.household.number), e.occurred_on, e.id))
    sections: list[tuple[str | None, list[PointEntry]]] = []
    for e in rows:
        name = e.household.group.name if e.household.group else None
        if not sections or sections[-1][0] != name:
            sections.append((name, []))
        sections[-1][1].append(e)
    deadlines = {e.posting_until for e in rows}
    scheme = pq.village_scheme(g.village.id)
    pdf = render_pdf("posting_sheet.html", village=g.village, scheme=scheme, sections=sections, count=len(rows),
                     members=_member_labels(rows, full_names=g.village.posting_names == "full"),
                     balances=_balances_after(rows),
                     partial=any(e.applied_points is not None and e.applied_points != e.points for e in rows),
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


# The scheme and the year's lists, for the notice board

@bp.route("/scheme.pdf")
@require("points.view")
def scheme_pdf():
    """The 积分细则 ready to post: each category's items with their points (fixed, a range, per amount, or
    an effect by judgement), how they count and their caps, the star bands, the committee's seal."""
    scheme = pq.village_scheme(g.village.id)
    if scheme is None:
        flash(_("Set up the village's points scheme first."), "info")
        return redirect(url_for("points.scheme"))
    items = list(db.session.scalars(sa.select(PointItem).where(PointItem.scheme_id == scheme.id,
                                                               PointItem.active == True)  # noqa: E712
                                    .order_by(PointItem.code)))
    categories = [(cat, [it for it in items if it.category_id == cat.id]) for cat in scheme.categories]
    today = local_today()
    pdf = render_pdf("points_scheme.html", village=g.village, scheme=scheme,
                     categories=[(cat, rows) for cat, rows in categories if rows], units=UNITS,
                     cap_periods=LABELS["cap_period"], printed_on=today)
    return pdf_response(pdf, _("%(village)s points scheme", village=g.village.name) + ".pdf",
                        ascii_name=f"points-scheme-{g.village.code}.pdf")


#: the most households the 红榜 names
RED_LIST_SIZE = 10


@bp.route("/honour-roll.pdf")
@require("points.view")
def honour_roll_pdf():
    """The year's 红黑榜 for the notice board: the 星级文明户 by rank with their stars (红榜), the households
    whose year score is below zero (黑榜). Households that moved away, split or merged (the ranking keeps only
    active ones) and those with no living member are left out; heads are named as the village posts names."""
    today = local_today()
    try:
        year = min(max(int(request.args.get("year", today.year)), 2000), 2200)
    except ValueError:
        year = today.year
    scheme = pq.village_scheme(g.village.id)
    if scheme is None:
        flash(_("Set up the village's points scheme first."), "info")
        return redirect(url_for("points.scheme"))
    rows = pq.household_ranking(g.village.id, year, with_living_member=True)
    starred = [(h, score, rank, scheme.stars_for(score)) for h, score, rank in rows if scheme.stars_for(score) > 0]
    red = [(h, score, rank) for h, score, rank in rows if score > 0][:RED_LIST_SIZE]
    black = sorted(((h, score) for h, score, _rank in rows if score < 0), key=lambda r: (r[1], natural_key(r[0].number)))
    full = g.village.posting_names == "full"
    heads = {h.id: (h.head.name if full else mask_name(h.head.name)) if h.head else "" for h, _s, _r in rows}
    pdf = render_pdf("points_honour_roll.html", village=g.village, scheme=scheme, year=year, red=red,
                     starred=starred, black=black, heads=heads, ranked=len(rows), printed_on=today,
                     so_far=year == today.year)
    return pdf_response(pdf, _("%(village)s honour roll %(year)s", village=g.village.name, year=year) + ".pdf",
                        ascii_name=f"honour-roll-{year}.pdf")
