"""Import of scheme items: paste a table or upload .xlsx / .csv, dry run, then confirm.

The check → confirm flow is app.tabular's: the checked input is staged (with its kind) between the
dry run and the confirmation; the confirmation re-checks it inside the write transaction.
"""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import SubmitField, TextAreaField
from wtforms.validators import Length

from ..access import require
from ..forms import Form
from ..tabular import ConfirmForm, confirm_staged, purge_stale, read_upload, render_report, stage
from . import bp
from . import item_import as imp
from . import services as pts
from .forms import APPLIES, CAP_PERIODS, LEVELS, UNITS

#: the report previews at most this many items
PREVIEW_ITEMS = 300
#: what a staged input of this importer is for (the register import cannot confirm it, nor this one theirs)
PURPOSE = "points.items"


class ItemImportForm(Form):
    text = TextAreaField(_l("Paste the items"), validators=[Length(max=1_000_000)],
                         render_kw={"rows": 12, "spellcheck": "false"},
                         description=_l("One item per line, cells separated by a tab (as copied from Excel "
                                        "or WPS) or by |."))
    file = FileField(_l("Or choose a file (.xlsx, .csv or .txt)"),
                     render_kw={"accept": ".xlsx,.csv,.txt"})
    submit = SubmitField(_l("Check"))


def _start_page(form: ItemImportForm, error: str | None = None, status: int = 200):
    return render_template("points/items_import.html", form=form, error=error, imp=imp), status


def _report(result: imp.ItemImportResult, confirm: ConfirmForm | None = None,
            form: ItemImportForm | None = None):
    """The dry run's report; `form` (pasted text with problems) is shown again below it to correct."""
    return render_report("points/items_import_report.html", result, confirm=confirm, form=form,
                         preview=result.items[:PREVIEW_ITEMS], units=UNITS, cap_periods=CAP_PERIODS,
                         applies=APPLIES, levels=LEVELS, scheme_name=imp.DEFAULT_SCHEME_NAME)


@bp.route("/items/import", methods=["GET", "POST"])
@require("points.setup")
def items_import():
    """Paste or upload the scheme's items (GET) and check them (POST): write nothing, list every problem."""
    form = ItemImportForm()
    if request.method == "GET":
        purge_stale()  # abandoned checked inputs go on any visit of an import page
        return _start_page(form)
    if not form.validate_on_submit():
        return _start_page(form, status=400)
    upload = form.file.data
    has_file = upload is not None and bool(getattr(upload, "filename", ""))
    pasted = form.text.data or ""
    has_text = bool(pasted.strip())
    if has_file and has_text:
        return _start_page(form, _("Paste the items or choose a file, not both."), 400)
    if not has_file and not has_text:
        return _start_page(form, _("Paste the items into the box, or choose a file."), 400)
    if has_file:
        kind = imp.kind_for_filename(upload.filename)
        if kind is None:
            form.file.errors = [*form.file.errors, _(imp.MSG_FILE_TYPE)]
            return _start_page(form, status=400)
    else:
        kind, data = "text", pasted.encode("utf-8")
    try:
        if has_file:
            data = read_upload(upload)
        # staged when some items are ready: the report offers them now, or all or none later
        result = imp.check_items(g.village, data, kind, partial=True)
    except imp.ImportFileError as e:
        if has_file:
            form.file.errors = [*form.file.errors, str(e)]
            return _start_page(form, status=400)
        return _start_page(form, str(e), 400)
    confirm = stage(result, data, purpose=PURPOSE, kind=kind)
    return _report(result, confirm, form if not has_file and result.problems else None)


@bp.post("/items/import/confirm")
@require("points.setup")
def items_import_confirm():
    """Import exactly what was checked: re-check it, then create everything in one transaction."""
    gone = _("These checked items are no longer available (they were already imported or cancelled, were "
             "checked more than half an hour ago, or by someone else). Please paste or choose them and check "
             "them again.")
    # "import the ready items now" (the rest after editing); otherwise every row or none
    partial = request.form.get("ready") == "1"
    done = confirm_staged(ConfirmForm(), purpose=PURPOSE,
                          check=lambda data, kind: imp.check_items(g.village, data, kind, partial=partial),
                          apply=lambda result: imp.apply_items(g.village, result),
                          refusals=(pts.PointsError,), changed_meanwhile=imp.MSG_CHANGED_MEANWHILE)
    if done.cancelled:
        flash(_("Import cancelled; the checked items were deleted."), "info")
        return redirect(url_for("points.items_import"))
    if done.gone:
        return _start_page(ItemImportForm(formdata=None), gone, 400)
    if done.error:
        return _start_page(ItemImportForm(formdata=None), done.error, 400)
    if not done:
        return _report(done.result)
    summary = done.summary
    flash(_("Imported %(add)s items that add points and %(deduct)s that deduct points, in %(categories)s "
            "categories.", add=summary.add, deduct=summary.deduct, categories=summary.categories), "success")
    if summary.left:
        flash(ngettext("%(num)s row still needs a decision: correct it and check the table again (the "
                       "items imported now are recognised and skipped).",
                       "%(num)s rows still need a decision: correct them and check the table again (the "
                       "items imported now are recognised and skipped).", summary.left), "info")
    return redirect(url_for("points.scheme"))
