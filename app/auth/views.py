"""Log in, log out, change one's own password."""
from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from sqlalchemy.orm import joinedload
from werkzeug.security import check_password_hash

from ..audit.services import record
from ..budgets import take
from ..extensions import db, login_manager
from ..submission import run_write, submit
from ..urls import safe_next
from . import bp
from .forms import ChangePasswordForm, LoginForm
from .models import Membership, User
from .services import LoginRefused, authenticate, end_sessions, set_password


#: built once: loader options are immutable, and building them on every request of every page cost more
#: than the lookup itself (bench/kiosk_floor.py)
_USER_LOAD = [joinedload(User.memberships).joinedload(Membership.village)]


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    """Accept a session only if its version is current (logout and disable bump it)."""
    try:
        uid, version = (int(x) for x in user_id.split(":", 1))
    except (ValueError, AttributeError):
        return None
    # with the memberships and their villages, which every page needs (access.load_context)
    user = db.session.get(User, uid, options=_USER_LOAD)
    if user is None or user.session_version != version or not user.is_active:
        return None
    return user


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with user name and password."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        # guessing passwords across many names from one address: the budget is shared by every worker
        take(f"login:{request.remote_addr}", current_app.config["LOGIN_RATE"])

        def attempt():
            try:
                return authenticate(form.username.data, form.password.data), None
            except LoginRefused as e:
                return None, e  # a refusal is committed too: it keeps the failure count and its audit row

        user, refused = run_write(attempt)
        if refused is not None:
            form.password.errors.append(refused.message)
            return render_template("auth/login.html", form=form), 200
        lang = session.get("lang")
        session.clear()
        if lang:
            session["lang"] = lang
        login_user(user)
        return redirect(safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    """Log out and make every copy of this session's cookie useless."""
    def end():
        user = db.session.get(User, current_user.id)
        end_sessions(user)
        record("auth.logout", user)

    run_write(end)
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    flash(_("You have logged out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change one's own password (other sessions end)."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not check_password_hash(current_user.password_hash, form.current.data):
            form.current.errors.append(_("The current password is wrong."))
        else:
            def change():
                user = db.session.get(User, current_user.id)
                set_password(user, form.new.data)
                return user

            done = submit(form, change, field="new")
            if done:
                login_user(done.value)
                flash(_("Your password has been changed."), "success")
                return redirect(url_for("main.index"))
    return render_template("auth/password.html", form=form)
