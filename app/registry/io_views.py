"""Excel import and export of the register: template download, dry run, confirmed import, masked export."""
from __future__ import annotations

import re
from io import BytesIO

from flask import flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired
from wtforms import SubmitField

from ..access import can, require
from ..audit.services import record
from ..db import local_today
from ..errors import error_page, upload_limit_mb
from ..forms import Form
from ..submission import run_write
from ..tabular import (
    MAX_UPLOAD_BYTES,
    ConfirmForm,
    ImportFileError,
    confirm_staged,
    purge_stale,
    read_upload,
    render_report,
    stage,
)
from ..tabular.export import table_response
from ..tabular.files import MSG_NOT_XLSX
from . import bp
from .export import RegisterExport, template_workbook
from .identity import IdNumberInvalid
from .import_check import apply_import, check_workbook, staging_copy
from .import_format import MSG_CHANGED_MEANWHILE
from .services import RegistryError

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: households listed in the preview of a clean dry run
PREVIEW_HOUSEHOLDS = 50
#: what a staged upload of this importer is for (the item import cannot confirm it, nor this one theirs)
PURPOSE = "registry.households"


class ImportForm(Form):
    file = FileField(_l("Excel file (.xlsx)"),
                     validators=[FileRequired(_l("Please choose the Excel file to check.")),
                                 FileAllowed(["xlsx"], _l(MSG_NOT_XLSX))],
                     render_kw={"accept": ".xlsx," + XLSX_MIMETYPE})
    submit = SubmitField(_l("Check file"))


def _safe_code(code: str) -> str:
    """The village code reduced to characters that are safe in a download file name."""
    return re.sub(r"[^A-Za-z0-9_-]", "", code or "")[:32] or "village"


def _start_page(form: ImportForm, error: str | None = None, status: int = 200):
    return render_template("registry/import.html", form=form, error=error), status


def _report(result, confirm: ConfirmForm | None = None):
    return render_report("registry/import_report.html", result, confirm=confirm,
                         preview=result.households[:PREVIEW_HOUSEHOLDS])


@bp.errorhandler(413)
def _too_large(e):
    """Over MAX_CONTENT_LENGTH on the register's pages: the app-wide 413 page, with advice for a register (a
    file under that limit but over MAX_UPLOAD_BYTES gets the same advice under the file field)."""
    mb = upload_limit_mb()
    return error_page(413, _too_big_message(min(mb, MAX_UPLOAD_BYTES // (1024 * 1024)) if mb else None),
                      _("File too large"))


def _too_big_message(mb: int | None) -> str:
    if mb:
        return _("The file is too large: at most %(mb)s MB can be uploaded. Split the register into several "
                 "files and import them one after another.", mb=mb)
    return _("The file is too large to upload. Split the register into several files and import them one "
             "after another.")


@bp.route("/import", methods=["GET", "POST"])
@require("registry.edit")
def import_start():
    """Upload form (GET) and dry run (POST): check the whole file, write nothing, show every problem."""
    form = ImportForm()
    if request.method == "GET":
        purge_stale()  # the timer of abandoned checked files (ID numbers): every visit of the import page
        return _start_page(form)
    if not form.validate_on_submit():
        return _start_page(form, status=400)
    try:
        data = read_upload(form.file.data, too_big=_too_big_message(MAX_UPLOAD_BYTES // (1024 * 1024)))
        result = check_workbook(g.village, data)
    except ImportFileError as e:
        form.file.errors = [*form.file.errors, str(e)]
        return _start_page(form, status=400)
    # staged: only the columns the confirmation reads, not the whole upload (other sheets, notes …)
    return _report(result, stage(result, staging_copy(result) if result.ok else b"", purpose=PURPOSE))


@bp.post("/import/confirm")
@require("registry.edit")
def import_confirm():
    """Import exactly the file that was checked: re-check it, then create everything in one transaction."""
    gone = _("This checked file is no longer available (it was already imported or cancelled, is older "
             "than half an hour, or belongs to someone else). Please choose the file and check it again.")
    done = confirm_staged(ConfirmForm(), purpose=PURPOSE,
                          check=lambda data, _kind: check_workbook(g.village, data),
                          apply=lambda result: apply_import(g.village, result),
                          refusals=(RegistryError, IdNumberInvalid), changed_meanwhile=MSG_CHANGED_MEANWHILE)
    if done.cancelled:
        flash(_("Import cancelled; the checked file was deleted."), "info")
        return redirect(url_for("registry.import_start"))
    if done.gone:
        return _start_page(ImportForm(formdata=None), gone, 400)
    if done.error:
        return _start_page(ImportForm(formdata=None), done.error, 400)
    if not done:
        return _report(done.result)
    flash(_("Imported %(households)s households with %(people)s people.", households=done.summary.households,
            people=done.summary.people), "success")
    return redirect(url_for("registry.households"))


@bp.route("/import/template.xlsx")
@require("registry.edit")
def import_template():
    """The Excel template to fill in: Chinese headers, ID columns formatted as text, a 说明 sheet."""
    data = template_workbook(g.village)
    return send_file(BytesIO(data), mimetype=XLSX_MIMETYPE, as_attachment=True,
                     download_name=f"huji-template-{_safe_code(g.village.code)}-户籍导入模板.xlsx")


@bp.route("/export.<any(xlsx, csv):fmt>")
@require("registry.export")
def export(fmt: str):
    """The whole register of the village (.xlsx or .csv): ID numbers masked; phones full for clerks only.
    Audited."""
    full_phones = can("person.see_contact")
    register = RegisterExport(g.village, full_phones=full_phones)
    code = _safe_code(g.village.code)
    resp = table_response(register.sheets(), fmt, f"{g.village.name}户籍-{local_today():%Y%m%d}",
                          ascii_name=f"huji-{code}-{local_today():%Y%m%d}")
    summary = register.summary
    run_write(lambda: record("registry.export", g.village, village_id=g.village.id,
                             details={"households": summary.households, "people": summary.people,
                                      "full_phones": full_phones, "kind": fmt}))
    return resp
