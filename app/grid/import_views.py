"""Import a household → grid list from a table: upload or paste, dry run, confirm (app.tabular's flow)."""
from __future__ import annotations

import re
from io import BytesIO

from flask import flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField
from wtforms import SubmitField, TextAreaField
from wtforms.validators import Length

from ..access import require
from ..db import local_today
from ..extensions import db
from ..forms import Form
from ..tabular import ConfirmForm, confirm_staged, purge_stale, render_report, stage
from ..tabular.files import MSG_FILE_TYPE, ImportFileError, kind_for_filename, read_upload
from . import bp
from . import grid_import as imp
from .errors import GridError

#: what a staged list of this importer is for (no other import can confirm it)
PURPOSE = "grid.households"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MSG_CHANGED_MEANWHILE = _l("Someone changed the grids meanwhile; check the list again.")


class GridImportForm(Form):
    text = TextAreaField(_l("Paste the list"), validators=[Length(max=200_000)],
                         render_kw={"rows": 10, "spellcheck": "false"},
                         description=_l("A header line 户号, 网格, then one household per line, cells separated by a "
                                        "tab (as copied from Excel or WPS)."))
    file = FileField(_l("Or choose a file (.xlsx, .csv or .txt)"), render_kw={"accept": ".xlsx,.csv,.txt"})
    submit = SubmitField(_l("Check"))


def _start(form, error=None, status=200):
    return render_template("grid/households_import.html", form=form, error=error), status


def _check(data: bytes, kind: str):
    return imp.check_households(db.session.merge(g.village), data, kind, today=local_today())


@bp.route("/grids/import", methods=["GET", "POST"])
@require("grid.manage")
def import_households():
    form = GridImportForm()
    if request.method == "GET":
        purge_stale()
        return _start(form)
    if not form.validate_on_submit():
        return _start(form, status=400)
    upload = form.file.data
    has_file = upload is not None and bool(getattr(upload, "filename", ""))
    pasted = form.text.data or ""
    if has_file == bool(pasted.strip()):
        return _start(form, _("Paste the list or choose a file, one of the two."), 400)
    if has_file:
        kind = kind_for_filename(upload.filename)
        if kind is None:
            return _start(form, _(MSG_FILE_TYPE), 400)
    else:
        kind, data = "text", pasted.encode("utf-8")
    try:
        if has_file:
            data = read_upload(upload)
        result = _check(data, kind)
    except ImportFileError as e:
        return _start(form, str(e), 400)
    confirm = stage(result, data, purpose=PURPOSE, kind=kind)
    return render_report("grid/households_import_report.html", result, confirm=confirm)


@bp.post("/grids/import/confirm")
@require("grid.manage")
def import_households_confirm():
    done = confirm_staged(ConfirmForm(), purpose=PURPOSE, check=_check,
                          apply=lambda result: imp.apply_households(result, actor=current_user),
                          refusals=(GridError,), changed_meanwhile=MSG_CHANGED_MEANWHILE)
    if done.cancelled:
        flash(_("Import cancelled; the checked list was deleted."), "info")
        return redirect(url_for("grid.grids"))
    if done.gone or done.error:
        return _start(GridImportForm(formdata=None), done.error or _(
            "This checked list is no longer available (already imported or cancelled, checked more than half an "
            "hour ago, or by someone else). Please check it again."), 400)
    if not done:
        return render_report("grid/households_import_report.html", done.result, confirm=None)
    flash(_("%(n)s households placed in their grids.", n=done.summary), "success")
    return redirect(url_for("grid.grids"))


@bp.route("/grids/import/template.xlsx")
@require("grid.manage")
def import_template():
    code = re.sub(r"[^A-Za-z0-9_-]", "", g.village.code or "")[:32] or "village"
    return send_file(BytesIO(imp.template_workbook(g.village)), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f"grid-template-{code}-网格名单模板.xlsx")
