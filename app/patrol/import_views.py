"""Import a team's members from a table: upload or paste, dry run, confirm (app.tabular's flow)."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.file import FileField
from wtforms import SubmitField, TextAreaField
from wtforms.validators import Length

from ..access import get_in_village_or_404, require
from ..extensions import db
from ..forms import Form
from ..tabular import ConfirmForm, confirm_staged, purge_stale, render_report, stage
from ..tabular.files import MSG_FILE_TYPE, ImportFileError, kind_for_filename, read_upload
from . import bp
from . import member_import as imp
from .errors import PatrolError
from .models import PatrolTeam

MSG_CHANGED_MEANWHILE = _l("Someone changed the team's members meanwhile; check the table again.")


def _purpose(team: PatrolTeam) -> str:
    # a checked list is confirmed into the team it was checked for, nowhere else
    return f"patrol.members.{team.id}"


class MemberImportForm(Form):
    text = TextAreaField(_l("Paste the members"), validators=[Length(max=200_000)],
                         render_kw={"rows": 10, "spellcheck": "false"},
                         description=_l("A header line 姓名, 户号 (and 入队日期, 执勤证号, 登录名 if you have them), then "
                                        "one member per line, cells separated by a tab (as copied from Excel or WPS)."))
    file = FileField(_l("Or choose a file (.xlsx, .csv or .txt)"), render_kw={"accept": ".xlsx,.csv,.txt"})
    submit = SubmitField(_l("Check"))


def _start(team, form, error=None, status=200):
    return render_template("patrol/members_import.html", team=team, form=form, error=error), status


@bp.route("/teams/<int:team_id>/import", methods=["GET", "POST"])
@require("patrol.manage")
def members_import(team_id: int):
    team = get_in_village_or_404(PatrolTeam, team_id)
    form = MemberImportForm()
    if request.method == "GET":
        purge_stale()
        return _start(team, form)
    if not form.validate_on_submit():
        return _start(team, form, status=400)
    upload = form.file.data
    has_file = upload is not None and bool(getattr(upload, "filename", ""))
    pasted = form.text.data or ""
    if has_file == bool(pasted.strip()):
        return _start(team, form, _("Paste the members or choose a file, one of the two."), 400)
    if has_file:
        kind = kind_for_filename(upload.filename)
        if kind is None:
            return _start(team, form, _(MSG_FILE_TYPE), 400)
    else:
        kind, data = "text", pasted.encode("utf-8")
    try:
        if has_file:
            data = read_upload(upload)
        result = imp.check_members(team, data, kind)
    except ImportFileError as e:
        return _start(team, form, str(e), 400)
    confirm = stage(result, data, purpose=_purpose(team), kind=kind)
    return render_report("patrol/members_import_report.html", result, confirm=confirm, team=team)


@bp.post("/teams/<int:team_id>/import/confirm")
@require("patrol.manage")
def members_import_confirm(team_id: int):
    team = get_in_village_or_404(PatrolTeam, team_id)
    done = confirm_staged(ConfirmForm(), purpose=_purpose(team),
                          check=lambda data, kind: imp.check_members(db.session.merge(team), data, kind),
                          apply=lambda result: imp.apply_members(db.session.merge(team), result, actor=current_user),
                          refusals=(PatrolError,), changed_meanwhile=MSG_CHANGED_MEANWHILE)
    if done.cancelled:
        flash(_("Import cancelled; the checked list was deleted."), "info")
        return redirect(url_for("patrol.team", team_id=team.id))
    if done.gone or done.error:
        return _start(team, MemberImportForm(formdata=None), done.error or _(
            "This checked list is no longer available (already imported or cancelled, checked more than half an "
            "hour ago, or by someone else). Please check it again."), 400)
    if not done:
        return render_report("patrol/members_import_report.html", done.result, confirm=None, team=team)
    flash(_("%(n)s members added to the team.", n=done.summary), "success")
    return redirect(url_for("patrol.team", team_id=team.id))
