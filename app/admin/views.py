"""Installation administration: townships, villages, users and their roles."""
from __future__ import annotations

import re
from io import BytesIO

import sqlalchemy as sa
from flask import abort, flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import login_required

from ..access import can, deny, require
from ..audit.services import record
from ..auth.models import Membership, Role, User
from ..auth.services import create_user, grant, revoke, set_active, set_password
from ..db import VILLAGE_TZ
from ..extensions import db
from ..forms import options
from ..ops.backup import BackupError, backup_dir, list_backups, verify_archive
from ..registry.models import Township, Village
from ..registry.services import RegistryError, create_township, create_village, update_village
from ..submission import run_write, submit
from . import bp
from .backups import installation_label, single_village_installation, single_village_menu
from .forms import ActiveForm, GrantForm, ResetPasswordForm, TownshipForm, UserForm, VillageForm


def _township_choices(blank: bool = True):
    rows = db.session.scalars(sa.select(Township).order_by(Township.code)).all()
    return options(([(0, "—")] if blank else []) + [(t.id, f"{t.name} ({t.code})") for t in rows])


def _village_choices():
    rows = db.session.scalars(sa.select(Village).order_by(Village.code)).all()
    return options([(0, "—")] + [(v.id, f"{v.name} ({v.code})") for v in rows])


# Villages and townships

@bp.route("/villages", methods=["GET", "POST"])
@require("admin")
def villages():
    """List villages and townships; create a village."""
    form = VillageForm()
    form.township_id.choices = _township_choices()
    tform = TownshipForm(prefix="t")
    if form.submit.data and form.validate_on_submit():
        def create():
            township = db.session.get(Township, form.township_id.data) if form.township_id.data else None
            return create_village(form.code.data, form.name.data, township)

        done = submit(form, create, field="code")
        if done:
            flash(_("Village %(name)s created.", name=done.value.name), "success")
            return redirect(url_for("admin.villages"))
    rows = db.session.scalars(sa.select(Village).order_by(Village.code)).all()
    towns = db.session.scalars(sa.select(Township).order_by(Township.code)).all()
    return render_template("admin/villages.html", form=form, tform=tform, villages=rows, townships=towns)


@bp.post("/townships")
@require("admin")
def townships():
    """Create a township."""
    tform = TownshipForm(prefix="t")
    if tform.validate_on_submit():
        # this form sits on the villages page and comes back as a flash message, not as a form
        try:
            run_write(lambda: create_township(tform.code.data, tform.name.data))
        except RegistryError as e:
            flash(str(e), "error")
        else:
            flash(_("Township created."), "success")
    else:
        for field, errs in tform.errors.items():
            for err in errs:
                flash(f"{getattr(tform, field).label.text}: {err}", "error")
    return redirect(url_for("admin.villages"))


@bp.route("/villages/<int(max=2147483647):village_id>", methods=["GET", "POST"])
@require("admin")
def village_edit(village_id: int):
    """Rename a village, move it to another township, choose whether photos keep their location and how the
    posting sheet names members."""
    village = db.get_or_404(Village, village_id)
    form = VillageForm(obj=village)
    form.township_id.choices = _township_choices()
    if request.method == "GET":
        form.township_id.data = village.township_id or 0
    if form.validate_on_submit():
        def update():
            township = db.session.get(Township, form.township_id.data) if form.township_id.data else None
            update_village(db.session.get(Village, village_id), form.name.data, township,
                           keep_photo_location=form.keep_photo_location.data,
                           posting_names=form.posting_names.data)

        if submit(form, update, field="name"):
            flash(_("Saved."), "success")
            return redirect(url_for("admin.villages"))
    form.code.render_kw = {"readonly": True}
    return render_template("admin/village_edit.html", form=form, village=village)


# Users

@bp.route("/users", methods=["GET", "POST"])
@require("admin")
def users():
    """List users; create one."""
    form = UserForm()
    if form.validate_on_submit():
        done = submit(form, lambda: create_user(form.username.data, form.password.data,
                                                form.display_name.data), field="username")
        if done:
            user = done.value
            flash(_("User %(name)s created. Now give them roles.", name=user.username), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    rows = db.session.scalars(sa.select(User).order_by(User.username)).all()
    return render_template("admin/users.html", form=form, users=rows)


@bp.route("/users/<int(max=2147483647):user_id>", methods=["GET", "POST"])
@require("admin")
def user_detail(user_id: int):
    """A user's roles, password and status."""
    user = db.get_or_404(User, user_id)
    gform = GrantForm(prefix="g")
    gform.village_id.choices = _village_choices()
    gform.township_id.choices = _township_choices()
    pform = ResetPasswordForm(prefix="p")
    aform = ActiveForm(prefix="a", data={"active": user.active})
    if gform.submit.data and gform.validate_on_submit():
        def give():
            village = db.session.get(Village, gform.village_id.data) if gform.village_id.data else None
            township = db.session.get(Township, gform.township_id.data) if gform.township_id.data else None
            grant(db.session.get(User, user_id), gform.role.data, village=village, township=township)

        if submit(gform, give, field="role"):
            flash(_("Role granted."), "success")
            return redirect(url_for("admin.user_detail", user_id=user_id))
    elif pform.submit.data and pform.validate_on_submit():
        done = submit(pform, lambda: set_password(db.session.get(User, user_id), pform.password.data),
                      field="password")
        if done:
            flash(_("Password set; the user's sessions have ended."), "success")
            return redirect(url_for("admin.user_detail", user_id=user_id))
    elif aform.submit.data and aform.validate_on_submit():
        done = submit(aform, lambda: set_active(db.session.get(User, user_id), bool(aform.active.data)),
                      field="active")
        if done:
            flash(_("Saved."), "success")
            return redirect(url_for("admin.user_detail", user_id=user_id))
    return render_template("admin/user_detail.html", user=user, gform=gform, pform=pform, aform=aform,
                           roles=Role)


@bp.post("/users/<int(max=2147483647):user_id>/memberships/<int(max=2147483647):membership_id>/revoke")
@require("admin")
def revoke_membership(user_id: int, membership_id: int):
    """Take a role away."""
    def take_away():
        m = db.session.get(Membership, membership_id)
        if m is None or m.user_id != user_id:
            abort(404)
        revoke(m)

    run_write(take_away)
    flash(_("Role removed."), "success")
    return redirect(url_for("admin.user_detail", user_id=user_id))


# Backups (the archives `flask backup` writes, nightly from the timer or scheduled task)

@bp.app_context_processor
def _backup_link():
    # the clerk's link in the menu: only on a village PC (asked only when the menu is drawn for a clerk)
    return {"single_village_installation": single_village_menu}


def _may_take_backups() -> None:
    """The installation's admin; on a village PC (one village) also its clerk. Else 403, audited."""
    if can("admin") or (can("backup.download") and single_village_installation()):
        return
    deny("backup.download")


def _download_name(backup) -> str:
    label = re.sub(r'[\\/:*?"<>|;,%\'`\s]+', "_", installation_label()).strip("._") or backup.code
    return f"乡约备份-{label}-{backup.taken_at.astimezone(VILLAGE_TZ):%Y%m%d-%H%M}.tar.gz"


@bp.route("/backups")
@login_required
def backups():
    """The backups kept on this machine, newest first, to take one away on a USB stick."""
    _may_take_backups()
    rows = list_backups(backup_dir())
    return render_template("admin/backups.html", backups=rows, download_name=_download_name)


@bp.route("/backups/latest", defaults={"name": "latest"})
@bp.route("/backups/<name>")
@login_required
def backup_download(name: str):
    """One backup (`latest`, or by its name) after its checksums are checked, audited; NAME.sha256 is its
    checksum file under the download's name (`flask restore` wants it beside the archive)."""
    _may_take_backups()
    rows = list_backups(backup_dir())
    wanted, want_sum = (name[:-len(".sha256")], True) if name.endswith(".sha256") else (name, False)
    if wanted == "latest":
        chosen = rows[0] if rows else None
    else:
        chosen = next((b for b in rows if b.name == wanted), None)
    if chosen is None:
        abort(404)
    digest = chosen.checksum_path.read_text(encoding="ascii").split()[0]
    if want_sum:
        body = f"{digest}  {_download_name(chosen)}\n".encode()
        return send_file(BytesIO(body), mimetype="text/plain", as_attachment=True,
                         download_name=_download_name(chosen) + ".sha256", max_age=0)
    try:
        verify_archive(chosen.path)
    except BackupError:
        flash(_("This backup is damaged (its checksum does not match): take another one."), "error")
        return redirect(url_for("admin.backups"))
    run_write(lambda: record("backup.download", object_type="backup",
                             village_id=g.village.id if g.village else None, details={"sha256": digest}))
    resp = send_file(chosen.path, mimetype="application/gzip", as_attachment=True,
                     download_name=_download_name(chosen), max_age=0)
    resp.headers["Cache-Control"] = "no-store"
    return resp
