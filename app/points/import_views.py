"""Import of scheme items: paste a table or upload .xlsx / .csv, dry run, then confirm.

The checked input is kept under a generated name (the register import's upload storage) between
the dry run and the confirmation; the confirmation re-checks it inside the write transaction.
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length

from ..access import require
from ..extensions import begin_write, db
from ..registry.importer import Problem, discard_upload, load_upload, purge_stale_uploads, store_upload
from . import bp
from . import item_import as imp
from . import services as pts
from .forms import APPLIES, CAP_PERIODS, UNITS

#: the report lists at most this many problems, and previews at most this many items
MAX_SHOWN_PROBLEMS = 1000
PREVIEW_ITEMS = 300
#: stored inputs start with this envelope line naming the kind (xlsx, csv or text)
ENVELOPE = b"xiangyue-items:"


class ItemImportForm(FlaskForm):
    text = TextAreaField(_l("Paste the items"), validators=[Length(max=1_000_000)],
                         render_kw={"rows": 12, "spellcheck": "false"},
                         description=_l("One item per line, cells separated by a tab (as copied from Excel "
                                        "or WPS) or by |."))
    file = FileField(_l("Or choose a file (.xlsx, .csv or .txt)"),
                     render_kw={"accept": ".xlsx,.csv,.txt"})
    submit = SubmitField(_l("Check"))


class ConfirmItemImportForm(FlaskForm):
    token = HiddenField(validators=[DataRequired()])
    digest = HiddenField(validators=[DataRequired()])
    submit = SubmitField(_l("Confirm import"))


def _wrap(kind: str, data: bytes) -> bytes:
    return ENVELOPE + kind.encode() + b"\n" + data


def _unwrap(stored: bytes) -> tuple[str, bytes] | None:
    if not stored.startswith(ENVELOPE):
        return None
    head, _sep, data = stored[len(ENVELOPE):].partition(b"\n")
    kind = head.decode("ascii", "replace")
    return (kind, data) if kind in imp.KINDS else None


def _start_page(form: ItemImportForm, error: str | None = None, status: int = 200):
    return render_template("points/items_import.html", form=form, error=error, imp=imp), status


def _report(result: imp.ItemImportResult, confirm: ConfirmItemImportForm | None = None,
            form: ItemImportForm | None = None):
    """The dry run's report; `form` (pasted text with problems) is shown again below it to correct."""
    return render_template("points/items_import_report.html", result=result, confirm=confirm, form=form,
                           problems=result.problems[:MAX_SHOWN_PROBLEMS],
                           hidden_problems=max(0, len(result.problems) - MAX_SHOWN_PROBLEMS),
                           preview=result.items[:PREVIEW_ITEMS], units=UNITS, cap_periods=CAP_PERIODS,
                           applies=APPLIES, scheme_name=imp.DEFAULT_SCHEME_NAME)


@bp.route("/items/import", methods=["GET", "POST"])
@require("points.setup")
def items_import():
    """Paste or upload the scheme's items (GET) and check them (POST): write nothing, list every problem."""
    form = ItemImportForm()
    if request.method == "GET":
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
        data = upload.read()
        if kind is None:
            form.file.errors = [*form.file.errors, _(imp.MSG_FILE_TYPE)]
            return _start_page(form, status=400)
    else:
        kind, data = "text", pasted.encode("utf-8")
    try:
        result = imp.check_items(g.village, data, kind)
    except imp.ImportFileError as e:
        if has_file:
            form.file.errors = [*form.file.errors, str(e)]
            return _start_page(form, status=400)
        return _start_page(form, str(e), 400)
    confirm = None
    if result.ok:
        purge_stale_uploads(current_app.instance_path)
        token, digest = store_upload(current_app.instance_path, _wrap(kind, data), village_id=g.village.id,
                                     user_id=current_user.id)
        confirm = ConfirmItemImportForm(formdata=None, token=token, digest=digest)
    return _report(result, confirm, form if not has_file and result.problems else None)


@bp.post("/items/import/confirm")
@require("points.setup")
def items_import_confirm():
    """Import exactly what was checked: re-check it, then create everything in one transaction."""
    form = ConfirmItemImportForm()
    instance = current_app.instance_path
    gone = _("These checked items are no longer available (they were already imported, were checked more "
             "than two hours ago, or by someone else). Please paste or choose them and check them again.")
    if not form.validate_on_submit():
        return _start_page(ItemImportForm(formdata=None), gone, 400)
    token = form.token.data
    begin_write()
    # loaded inside the write transaction: a second click that waited for the first one finds it gone
    stored = load_upload(instance, token, village_id=g.village.id, user_id=current_user.id,
                         sha256=form.digest.data)
    unwrapped = _unwrap(stored) if stored is not None else None
    if unwrapped is None:
        db.session.rollback()
        return _start_page(ItemImportForm(formdata=None), gone, 400)
    kind, data = unwrapped
    try:
        result = imp.check_items(g.village, data, kind)  # re-validate inside the write transaction
    except imp.ImportFileError as e:
        db.session.rollback()
        discard_upload(instance, token)
        return _start_page(ItemImportForm(formdata=None), str(e), 400)
    if not result.ok:
        db.session.rollback()
        discard_upload(instance, token)
        return _report(result)
    try:
        summary = imp.apply_items(g.village, result)
        db.session.commit()
    except (pts.PointsError, sa.exc.IntegrityError) as e:
        db.session.rollback()
        discard_upload(instance, token)
        message = str(e) if isinstance(e, pts.PointsError) else _(imp.MSG_CHANGED_MEANWHILE)
        result.problems.append(Problem(None, None, message))
        result.items = []
        return _report(result)
    discard_upload(instance, token)
    flash(_("Imported %(add)s items that add points and %(deduct)s that deduct points, in %(categories)s "
            "categories.", add=summary.add, deduct=summary.deduct, categories=summary.categories), "success")
    return redirect(url_for("points.scheme"))
