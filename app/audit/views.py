"""Clerk- and reviewer-facing views of the audit log."""
from __future__ import annotations

import json

import sqlalchemy as sa
from flask import current_app, g, render_template

from ..access import get_in_village_or_404, require
from ..extensions import db
from ..forms import page_number
from ..registry.models import Household
from . import bp
from .models import AuditLog


def _decode(rows):
    """Split each row's details into the changed field names (shown by their labels) and the rest.

    Rows written before the audit kept personal values out still show what they hold: the chain is
    append-only and its history is not rewritten (docs/architecture.md, "Personal data and audit").
    """
    for r in rows:
        try:
            details = json.loads(r.details) if r.details else None
        except ValueError:
            details = r.details
        r.changed = []
        if isinstance(details, dict) and isinstance(details.get("changed"), list):
            details = dict(details)
            r.changed = details.pop("changed")
        r.details_obj = details or None
    return rows


@bp.route("/")
@require("audit.view")
def recent():
    """Recent changes in the current village."""
    stmt = sa.select(AuditLog).where(AuditLog.village_id == g.village.id).order_by(AuditLog.seq.desc())
    page = db.paginate(stmt, page=page_number(), per_page=current_app.config["PER_PAGE"], error_out=False)
    _decode(page.items)
    return render_template("audit/recent.html", page=page)


@bp.route("/households/<int:household_id>")
@require("audit.view")
def household(household_id: int):
    """Recent changes to one household and its people."""
    household = get_in_village_or_404(Household, household_id)
    rows = db.session.scalars(
        sa.select(AuditLog).where(AuditLog.village_id == g.village.id, AuditLog.household_id == household.id)
        .order_by(AuditLog.seq.desc()).limit(200)).all()
    return render_template("audit/household.html", household=household, rows=_decode(rows))
