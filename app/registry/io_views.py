"""Excel import and export of the register: template download, dry run, confirmed import, masked export."""
from __future__ import annotations

import re
from io import BytesIO

import sqlalchemy as sa
from flask import current_app, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import HiddenField, SubmitField
from wtforms.validators import DataRequired

from ..access import can, require
from ..audit.services import record
from ..db import local_today
from ..errors import error_page
from ..extensions import begin_write, db
from . import bp
from .identity import IdNumberInvalid
from .importer import (
    MSG_CHANGED_MEANWHILE,
    MSG_NOT_XLSX,
    ImportFileError,
    Problem,
    apply_import,
    check_workbook,
    discard_upload,
    export_workbook,
    load_upload,
    purge_stale_uploads,
    store_upload,
    template_workbook,
)
from .services import RegistryError

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: the report lists at most this many problems (a file with thousands of bad rows stays readable)
MAX_SHOWN_PROBLEMS = 1000
#: households listed in the preview of a clean dry run
PREVIEW_HOUSEHOLDS = 50


class ImportForm(FlaskForm):
    file = FileField(_l("Excel file (.xlsx)"),
                     validators=[FileRequired(_l("Please choose the Excel file to check.")),
                                 FileAllowed(["xlsx"], _l(MSG_NOT_XLSX))],
                     render_kw={"accept": ".xlsx," + XLSX_MIMETYPE})
    submit = SubmitField(_l("Check file"))


class ConfirmImportForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])
    digest = HiddenField(validators=[DataRequired()])
    submit = SubmitField(_l("Confirm import"))


def _safe_code(code: str) -> str:
    """The village code reduced to characters that are safe in a download file name."""
    return re.sub(r"[^A-Za-z0-9_-]", "", code or "")[:32] or "village"


def _start_page(form: ImportForm, error: str | None = None, status: int = 200):
    return render_template("registry/import.html", form=form, error=error), status


def _report(result, confirm: ConfirmImportForm | None = None):
    return render_template("registry/import_report.html", result=result, confirm=confirm,
                           problems=result.problems[:MAX_SHOWN_PROBLEMS],
                           hidden_problems=max(0, len(result.problems) - MAX_SHOWN_PROBLEMS),
                           preview=result.households[:PREVIEW_HOUSEHOLDS])


@bp.errorhandler(413)
def _too_large(e):
    """A friendly page when an upload is bigger than MAX_CONTENT_LENGTH (instead of a bare 413)."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    mb = max(1, limit // (1024 * 1024)) if limit >= 1024 * 1024 else None
    if mb:
        message = _("The file is too large: at most %(mb)s MB can be uploaded. Split the register into "
                    "several files and import them one after another.", mb=mb)
    else:
        message = _("The file is too large to upload. Split the register into several files and import "
                    "them one after another.")
    return error_page(413, message, _("File too large"))


@bp.route("/import", methods=["GET", "POST"])
@require("registry.edit")
def import_start():
    """Upload form (GET) and dry run (POST): check the whole file, write nothing, show every problem."""
    form = ImportForm()
    if request.method == "GET":
        return _start_page(form)
    if not form.validate_on_submit():
        return _start_page(form, status=400)
    data = form.file.data.read()
    try:
        result = check_workbook(g.village, data)
    except ImportFileError as e:
        form.file.errors = [*form.file.errors, str(e)]
        return _start_page(form, status=400)
    confirm = None
    if result.ok:
        purge_stale_uploads(current_app.instance_path)
        token, digest = store_upload(current_app.instance_path, data, village_id=g.village.id,
                                     user_id=current_user.id)
        confirm = ConfirmImportForm(formdata=None, token=token, digest=digest)
    return _report(result, confirm)


@bp.post("/import/confirm")
@require("registry.edit")
def import_confirm():
    """Import exactly the file that was checked: re-check it, then create everything in one transaction."""
    form = ConfirmImportForm()
    instance = current_app.instance_path
    gone = _("This checked file is no longer available (it was already imported, is older than two hours, "
             "or belongs to someone else). Please choose the file and check it again.")
    if not form.validate_on_submit():
        return _start_page(ImportForm(formdata=None), gone, 400)
    token = form.token.data
    begin_write()
    # loaded inside the write transaction: a second click that waited for the first one finds it gone
    data = load_upload(instance, token, village_id=g.village.id, user_id=current_user.id,
                       sha256=form.digest.data)
    if data is None:
        db.session.rollback()
        return _start_page(ImportForm(formdata=None), gone, 400)
    try:
        result = check_workbook(g.village, data)  # re-validate inside the write transaction
    except ImportFileError as e:
        db.session.rollback()
        discard_upload(instance, token)
        return _start_page(ImportForm(formdata=None), str(e), 400)
    if not result.ok:
        db.session.rollback()
        discard_upload(instance, token)
        return _report(result)
    try:
        summary = apply_import(g.village, result)
        db.session.commit()
    except (RegistryError, IdNumberInvalid, sa.exc.IntegrityError) as e:
        db.session.rollback()
        discard_upload(instance, token)
        message = str(e) if isinstance(e, (RegistryError, IdNumberInvalid)) else _(MSG_CHANGED_MEANWHILE)
        result.problems.append(Problem(None, None, message))
        return _report(result)
    discard_upload(instance, token)
    flash(_("Imported %(households)s households with %(people)s people.", households=summary.households,
            people=summary.people), "success")
    return redirect(url_for("registry.households"))


@bp.route("/import/template.xlsx")
@require("registry.edit")
def import_template():
    """The Excel template to fill in: Chinese headers, ID columns formatted as text, a 说明 sheet."""
    data = template_workbook(g.village)
    return send_file(BytesIO(data), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f"huji-template-{_safe_code(g.village.code)}-户籍导入模板.xlsx")


@bp.route("/export.xlsx")
@require("registry.export")
def export_xlsx():
    """The whole register of the village: ID numbers masked; phones full for clerks only. Audited."""
    full_phones = can("person.see_contact")
    data, summary = export_workbook(g.village, full_phones=full_phones)
    begin_write()
    record("registry.export", g.village, village_id=g.village.id,
           details={"households": summary.households, "people": summary.people, "full_phones": full_phones})
    code = _safe_code(g.village.code)
    db.session.commit()
    return send_file(BytesIO(data), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f"huji-{code}-{local_today():%Y%m%d}-户籍.xlsx")
