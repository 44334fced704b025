"""Logging in and out (T11, T19, §3.5): lockout counted in the database, sessions that can be ended.

Messages are asserted in English (GET /lang/en first); the Chinese catalog translates them.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient

from app import create_app
from app.audit.models import AuditLog
from app.auth.models import LoginProbe, User
from app.config import DEFAULT_SECRET_KEY
from app.db import utcnow
from app.extensions import db
from tests.conftest import FreshContextClient, BASE_CONFIG, PASSWORD

WRONG = "Wrong user name or password."
#: a signed CSRF token (itsdangerous: payload.timestamp.signature)
CSRF_TOKEN = re.compile(r"[\w-]{20,}\.[\w-]{4,8}\.[\w-]{20,}")
LOCKED_RE = re.compile(r"Too many wrong passwords: this account is locked for \d+ (more )?minutes\.")




@pytest.fixture
def client(app):
    app.test_client_class = FreshContextClient
    return app.test_client()


def _new_client(app) -> FlaskClient:
    app.test_client_class = FreshContextClient
    c = app.test_client()
    c.get("/lang/en")
    return c


def _login(client, username: str, password: str = PASSWORD):
    return client.post("/login", data={"username": username, "password": password})


def _error(r) -> str:
    """The message shown next to the password field."""
    m = re.search(r'<small class="field-error"[^>]*>(.*?)</small>', r.get_data(as_text=True), re.S)
    return m.group(1).strip() if m else ""


def _is_login_redirect(r) -> bool:
    return r.status_code == 302 and urlparse(r.headers["Location"]).path == "/login"


def _logged_in(client) -> bool:
    r = client.get("/")
    if r.status_code == 200:
        return True
    assert _is_login_redirect(r), r.status_code
    return False


def _user(username: str) -> User:
    db.session.rollback()
    user = db.session.scalar(sa.select(User).where(User.username == username))
    db.session.refresh(user)
    return user


def _actions(username: str) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(
        sa.select(AuditLog.action).where(AuditLog.actor_name == username).order_by(AuditLog.seq)))


# --- logging in and out -------------------------------------------------------------------------------

def test_login_and_logout(client, clerk):
    client.get("/lang/en")
    assert not _logged_in(client)
    r = _login(client, "clerk1")
    assert r.status_code == 302 and urlparse(r.headers["Location"]).path == "/"
    assert _logged_in(client)
    r = client.post("/logout")
    assert _is_login_redirect(r)
    assert not _logged_in(client)
    assert "You have logged out." in client.get("/login").get_data(as_text=True)
    assert _actions("clerk1")[-2:] == ["auth.login", "auth.logout"]


def test_login_name_is_case_and_width_insensitive(client, clerk):
    assert _login(client, "ＣＬＥＲＫ1").status_code == 302
    assert _logged_in(client)


def test_logout_needs_a_post(client, clerk):
    _login(client, "clerk1")
    assert client.get("/logout").status_code == 405
    assert _logged_in(client)


def test_login_form_refuses_empty_and_hostile_input_without_error(client, clerk):
    client.get("/lang/en")
    for data in ({}, {"username": "", "password": ""}, {"username": "clerk1"},
                 {"username": "clerk1\x00", "password": PASSWORD}, {"username": "x" * 10_000, "password": "y"},
                 {"username": "clerk1", "password": "p" * 10_000}):
        r = client.post("/login", data=data)
        assert r.status_code == 200, data
        assert not _logged_in(client)
    assert _user("clerk1").failed_logins == 0  # refused by the form, before any password check


# --- lockout ------------------------------------------------------------------------------------------

def test_five_wrong_passwords_lock_the_account_in_the_database(client, clerk, app, tmp_path):
    client.get("/lang/en")
    for attempt in range(1, 5):
        r = _login(client, "clerk1", "wrong-password")
        assert r.status_code == 200
        assert _error(r) == WRONG, attempt
        user = _user("clerk1")
        assert user.failed_logins == attempt and user.locked_until is None
    r = _login(client, "clerk1", "wrong-password")
    assert LOCKED_RE.fullmatch(_error(r)), _error(r)
    user = _user("clerk1")
    assert user.failed_logins == 5
    assert user.locked_until is not None
    assert utcnow() + dt.timedelta(minutes=14) < user.locked_until <= utcnow() + dt.timedelta(minutes=15, seconds=5)

    # the 6th attempt, with the right password, is refused with the lock message
    r = _login(client, "clerk1")
    assert r.status_code == 200
    assert LOCKED_RE.fullmatch(_error(r)), _error(r)
    assert not _logged_in(client)
    assert "auth.locked" in _actions("clerk1")

    # a second worker process / a restart reads the same counters: still locked
    app2 = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                       "INSTANCE_PATH": str(tmp_path / "instance2")})
    try:
        c2 = _new_client(app2)
        r = _login(c2, "clerk1")
        assert r.status_code == 200
        assert LOCKED_RE.fullmatch(_error(r)), _error(r)
        assert not _logged_in(c2)
    finally:
        with app2.app_context():
            db.session.remove()
            db.engine.dispose()


def test_lock_expires_and_the_count_starts_afresh(client, clerk):
    client.get("/lang/en")
    for _ in range(5):
        _login(client, "clerk1", "wrong-password")
    db.session.rollback()
    db.session.execute(sa.update(User).where(User.username == "clerk1")
                       .values(locked_until=utcnow() - dt.timedelta(seconds=1)))
    db.session.commit()
    # one wrong password after the lock ran out is one failure, not a new lock
    r = _login(client, "clerk1", "wrong-password")
    assert _error(r) == WRONG
    assert _user("clerk1").failed_logins == 1
    assert _login(client, "clerk1").status_code == 302
    user = _user("clerk1")
    assert user.failed_logins == 0 and user.locked_until is None


def test_successful_login_resets_the_failure_count(client, clerk):
    for _ in range(4):
        _login(client, "clerk1", "wrong-password")
    assert _user("clerk1").failed_logins == 4
    assert _login(client, "clerk1").status_code == 302
    assert _user("clerk1").failed_logins == 0


def test_unknown_user_gets_the_same_message_as_a_wrong_password(client, clerk):
    client.get("/lang/en")
    unknown = _login(client, "no-such-user", "whatever-123")
    wrong = _login(client, "clerk1", "whatever-123")
    assert unknown.status_code == wrong.status_code == 200
    assert _error(unknown) == _error(wrong) == WRONG
    db.session.rollback()
    assert db.session.scalar(sa.select(User).where(User.username == "no-such-user")) is None


def test_an_unknown_name_locks_exactly_like_a_real_account(client, clerk, app):
    # wrong tries on a real name lock it; if an unknown name never locked, the lock would list the users
    client.get("/lang/en")
    tries = app.config["LOGIN_MAX_FAILURES"] + 1
    real = [_login(client, "clerk1", "wrong-password") for _ in range(tries)]
    unknown = [_login(client, "no-such-user", "wrong-password") for _ in range(tries)]

    def seen(r, name):
        # the whole page as the person sees it, but for the name they typed (echoed in the form) and the CSRF
        # token, which carries the second it was signed in: two pages a second apart differ there for anyone
        page = CSRF_TOKEN.sub("TOKEN", r.get_data(as_text=True).replace(name, "NAME"))
        return r.status_code, _error(r), page

    for n, (u, r) in enumerate(zip(unknown, real, strict=True)):
        a, b = seen(u, "no-such-user"), seen(r, "clerk1")
        assert a == b, (n, a[:2], b[:2], "\n".join(difflib.unified_diff(a[2].splitlines(), b[2].splitlines(),
                                                                         lineterm="")))
    assert [_error(r) for r in real[:-2]] == [WRONG] * (tries - 2)
    assert LOCKED_RE.fullmatch(_error(real[-2])) and LOCKED_RE.fullmatch(_error(real[-1]))
    # the name is folded like a real one (ＮＯ-SUCH-USER is the same name), and stays locked for any password
    r = _login(client, "ＮＯ-SUCH-USER", PASSWORD)
    assert r.status_code == 200 and _error(r) == _error(real[-1])
    # nothing was made of the name but a keyed hash of it
    db.session.rollback()
    assert db.session.scalar(sa.select(User).where(User.username == "no-such-user")) is None
    probe = db.session.scalars(sa.select(LoginProbe)).one()
    assert probe.failed_logins == tries - 1 and probe.locked_until is not None
    assert "no-such-user" not in probe.name_hash and len(probe.name_hash) == 64


def test_disabled_account_cannot_log_in(client, clerk):
    from app.auth.services import set_active
    from app.submission import write_transaction

    client.get("/lang/en")
    with write_transaction():
        set_active(db.session.get(User, clerk.id), False)
    r = _login(client, "clerk1")
    assert r.status_code == 200
    assert _error(r) == "This account has been disabled. Please ask the administrator."
    assert not _logged_in(client)


# --- sessions that end (§3.5, T19) ----------------------------------------------------------------------

def _session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def _replay(app, cookie_value: str) -> FlaskClient:
    thief = _new_client(app)
    thief.set_cookie("session", cookie_value)
    return thief


def test_logged_out_cookie_cannot_be_replayed(client, clerk, app):
    _login(client, "clerk1")
    stolen = _session_cookie(client)
    assert _logged_in(_replay(app, stolen))  # the copy works while the session lives
    client.post("/logout")
    thief = _replay(app, stolen)
    r = thief.get("/registry/households")
    assert _is_login_redirect(r)
    assert _is_login_redirect(thief.get("/"))


def test_disabling_a_user_ends_their_open_session(client, clerk, app, make_user):
    _login(client, "clerk1")
    assert client.get("/registry/households").status_code == 200
    make_user("admin1", ("admin", None))
    admin = _new_client(app)
    assert _login(admin, "admin1").status_code == 302
    r = admin.post(f"/admin/users/{clerk.id}", data={"a-submit": "1"})  # "active" unticked
    assert r.status_code == 302
    assert _user("clerk1").active is False
    assert _is_login_redirect(client.get("/registry/households"))
    assert "user.disable" in [a for a in _actions("admin1")]


def test_changing_the_password_ends_the_other_sessions(client, clerk, app):
    _login(client, "clerk1")
    other = _new_client(app)
    _login(other, "clerk1")
    old_cookie = _session_cookie(client)
    assert _logged_in(other)
    r = client.post("/account/password", data={"current": PASSWORD, "new": "a-new-password-1"})
    assert r.status_code == 302
    assert _logged_in(client)  # the device that changed it stays logged in
    assert not _logged_in(other)
    assert not _logged_in(_replay(app, old_cookie))
    # and the new password is the one that works
    fresh = _new_client(app)
    assert _error(_login(fresh, "clerk1")) == WRONG
    assert _login(fresh, "clerk1", "a-new-password-1").status_code == 302


def test_wrong_current_password_changes_nothing(client, clerk, app):
    client.get("/lang/en")
    _login(client, "clerk1")
    other = _new_client(app)
    _login(other, "clerk1")
    r = client.post("/account/password", data={"current": "not-it-at-all", "new": "a-new-password-1"})
    assert r.status_code == 200
    assert "The current password is wrong." in r.get_data(as_text=True)
    assert _logged_in(other)
    r = client.post("/account/password", data={"current": PASSWORD, "new": "short"})
    assert r.status_code == 200
    assert _logged_in(other)


def test_admin_password_reset_ends_the_users_sessions(client, clerk, app, make_user):
    _login(client, "clerk1")
    make_user("admin1", ("admin", None))
    admin = _new_client(app)
    _login(admin, "admin1")
    r = admin.post(f"/admin/users/{clerk.id}", data={"p-password": "reset-by-admin-1", "p-submit": "1"})
    assert r.status_code == 302
    assert not _logged_in(client)
    assert _login(client, "clerk1", "reset-by-admin-1").status_code == 302


def test_a_cookie_planted_before_login_does_not_become_logged_in(client, clerk, app):
    """Session fixation: a copy of the visitor's pre-login cookie stays anonymous after they log in."""
    client.get("/lang/en")
    planted = _session_cookie(client)
    _login(client, "clerk1")
    assert _session_cookie(client) != planted
    assert _logged_in(client)
    assert not _logged_in(_replay(app, planted))


def test_tampered_session_cookie_is_ignored(client, clerk, app):
    _login(client, "clerk1")
    value = _session_cookie(client)
    forged = value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB")
    assert not _logged_in(_replay(app, forged))


def test_session_cookie_is_httponly_and_samesite_lax(client, clerk):
    r = _login(client, "clerk1")
    cookies = r.headers.getlist("Set-Cookie")
    session = [c for c in cookies if c.startswith("session=")]
    assert session, cookies
    attrs = [a.strip().lower() for a in session[0].split(";")]
    assert "httponly" in attrs
    assert "samesite=lax" in attrs
    # no long-lived remember-me cookie is handed out
    assert not any(c.startswith("remember_token=") for c in cookies)


def test_logout_clears_the_session_cookie(client, clerk):
    _login(client, "clerk1")
    r = client.post("/logout")
    cookies = [c for c in r.headers.getlist("Set-Cookie") if c.startswith("session=")]
    assert cookies and "httponly" in cookies[0].lower()
    # whatever is left in the cookie carries no login
    assert not _logged_in(client)


# --- production configuration ---------------------------------------------------------------------------

@pytest.mark.parametrize("key", [None, "", DEFAULT_SECRET_KEY, "too-short"])
def test_production_refuses_a_missing_or_default_secret_key(db_uri, tmp_path, key):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": key, "ID_HMAC_KEY": "k" * 40,
                    "SQLALCHEMY_DATABASE_URI": db_uri, "INSTANCE_PATH": str(tmp_path / "empty-instance")})
    assert not (tmp_path / "empty-instance" / "secret_key").exists()  # production never invents a key


def test_production_refuses_a_default_key_in_the_instance_file(db_uri, tmp_path):
    inst = tmp_path / "instance"
    inst.mkdir()
    (inst / "secret_key").write_text(DEFAULT_SECRET_KEY + "\n")
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": None, "ID_HMAC_KEY": "k" * 40,
                    "SQLALCHEMY_DATABASE_URI": db_uri, "INSTANCE_PATH": str(inst)})


def test_production_takes_its_keys_from_the_instance_folder_and_serves_logins(db_uri, tmp_path, clerk, app):
    inst = tmp_path / "prod-instance"
    inst.mkdir()
    (inst / "secret_key").write_text("s3cr3t-" + "a1" * 20 + "\n")
    (inst / "id_hmac_key").write_text(app.config["ID_HMAC_KEY"])
    prod = create_app({"ENV_NAME": "production", "SECRET_KEY": None, "ID_HMAC_KEY": None, "WTF_CSRF_ENABLED": False,
                       "RATELIMIT_ENABLED": False, "SQLALCHEMY_DATABASE_URI": db_uri, "INSTANCE_PATH": str(inst)})
    try:
        assert prod.config["SECRET_KEY"] == "s3cr3t-" + "a1" * 20
        assert not prod.debug
        c = _new_client(prod)
        assert _login(c, "clerk1").status_code == 302
        assert _logged_in(c)
        # a cookie signed with another installation's key is worthless here
        other = _new_client(app)
        _login(other, "clerk1")
        assert not _logged_in(_replay(prod, _session_cookie(other)))
    finally:
        with prod.app_context():
            db.session.remove()
            db.engine.dispose()


# --- rate limit ------------------------------------------------------------------------------------------

class TestLoginRateLimit:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True}

    def test_too_many_login_posts_get_a_friendly_429(self, client, clerk):
        client.get("/lang/en")
        codes = [client.post("/login", data={"username": f"guess{i}", "password": "x" * 8}).status_code
                 for i in range(30)]
        assert set(codes) == {200}
        r = client.post("/login", data={"username": "clerk1", "password": PASSWORD})
        assert r.status_code == 429
        body = r.get_data(as_text=True)
        assert "Too many attempts. Please wait a moment and try again." in body
        assert "<!doctype html>" in body.lower() and "Traceback" not in body
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert not _logged_in(client)
        # reading the login page is not limited
        assert client.get("/login").status_code == 200
