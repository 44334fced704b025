"""The points ledger as of a chosen day, downloaded as .xlsx or .csv (clerk and reviewer)."""
from __future__ import annotations

from flask import abort, g, render_template, request
from flask_babel import gettext as _

from ..access import require
from ..audit.services import record
from ..db import local_today
from ..submission import run_write
from ..tabular.export import table_response
from . import bp
from .export import LedgerExport, item_sheet
from .forms import LedgerExportForm
from .queries import village_scheme


@bp.route("/ledger-export")
@require("points.view")
def ledger_export():
    """The form (no query), or the download: each household's balance at the end of the chosen day and
    every movement up to it. A bad or future date gets the form back with the message. Audited."""
    today = local_today()
    if not request.args:
        return render_template("points/ledger_export.html", form=LedgerExportForm(formdata=None, on=today))
    form = LedgerExportForm(request.args)
    if form.validate() and form.on.data > today:
        form.on.errors = [*form.on.errors, _("Choose today or an earlier day.")]
    if form.errors:
        return render_template("points/ledger_export.html", form=form), 400
    as_of, fmt = form.on.data, form.fmt.data
    export = LedgerExport(g.village.id, as_of)
    resp = table_response(export.sheets(), fmt,
                          _("%(village)s points ledger to %(date)s", village=g.village.name, date=as_of.isoformat()),
                          ascii_name=f"ledger-{g.village.code}-{as_of:%Y%m%d}")
    run_write(lambda: record("points.ledger_export", g.village, village_id=g.village.id,
                             details={"kind": fmt, "to": as_of.isoformat(), "households": export.households,
                                      "transfers": export.transfers}))
    return resp


@bp.route("/items/export")
@require("points.view")
def items_export():
    """The scheme's items as .xlsx or .csv in the import's own columns: edit them and import them again."""
    fmt = request.args.get("fmt", "xlsx")
    scheme = village_scheme(g.village.id)
    if fmt not in ("xlsx", "csv") or scheme is None:
        abort(404)
    return table_response([item_sheet(scheme.id)], fmt, _("%(village)s points items", village=g.village.name),
                          ascii_name=f"items-{g.village.code}")
