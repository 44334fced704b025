"""The citations to re-point: items that still cite an article of a superseded rules version whose text the
version in force changed or dropped (issue 18). Publishing moves the unchanged ones by itself
(rules.services.carry_citations); the clerk picks the new article, or drops the citation, for the rest."""
from __future__ import annotations

import sqlalchemy as sa
from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from ..access import require
from ..extensions import db
from ..forms import options
from ..rules import services as rules
from ..submission import submit
from . import bp
from .errors import PointsError
from .forms import RepointForm
from .models import PointItem


def _item(item_id: int) -> PointItem:
    """The village's item, or a refusal (a removed item, or another village's, is not re-pointed)."""
    item = db.session.scalar(sa.select(PointItem).where(PointItem.id == item_id,
                                                        PointItem.village_id == g.village.id))
    if item is None:
        raise PointsError(_("This item no longer exists here; nothing was changed."))
    return item


@bp.route("/citations", methods=["GET", "POST"])
@require("points.setup")
def citations():
    """The list, each row with the article it became (or that it is gone) and a form to re-point it."""
    articles = rules.repointable_articles(g.village.id)
    form = RepointForm()
    form.new_article_id.choices = options((a.id, f"{a.version.title} {a.label}") for a in articles)
    if request.method == "POST":
        if form.validate_on_submit():
            new_id = None if form.remove.data else form.new_article_id.data
            if new_id is None and not form.remove.data:
                form.new_article_id.errors = [_("Pick the article to cite instead.")]
            else:
                done = submit(form, lambda: rules.repoint_citation(_item(form.item_id.data), form.article_id.data,
                                                                    new_id, actor=current_user),
                              field="new_article_id")
                if done:
                    flash(_("The citation now points to %(label)s.", label=f"{done.value.version.title} "
                            f"{done.value.label}") if done.value is not None
                          else _("The citation was removed."), "success")
                    return redirect(url_for("points.citations"))
    stale = rules.citations_to_repoint(g.village.id)
    items = {i.id: i for i in db.session.scalars(sa.select(PointItem).where(
        PointItem.id.in_({s.item_id for s in stale})))} if stale else {}
    return render_template("points/citations.html", stale=stale, items=items, articles=articles, form=form), \
        400 if form.errors else 200
