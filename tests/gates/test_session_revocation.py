"""T19, session revocation, for every login role (reliability §5): a copied session cookie stops working after
logout, after the user is disabled and after a password change (ASVS 7.4.1, 7.4.2); a kiosk session never
opens a staff page. tests/test_auth.py and tests/test_kiosk_sessions.py prove the mechanisms on one clerk and
one kiosk; this gate repeats the replay for each role on a page of that role (sampled: three roles a run).
"""
from __future__ import annotations

from urllib.parse import urlparse

import pytest
import sqlalchemy as sa
from flask import url_for

from app.auth import services as auth
from app.auth.models import User
from app.extensions import db
from app.submission import write_transaction
from tests.gates import rng, sample
from tests.gates.route_table import EVERYONE, LOGGED_IN, ROUTES, Obj
from tests.gates.world import PASSWORD, USERS, kiosk_client, login

LOGIN_ROLES = sorted(USERS)
ROLES_THIS_RUN = sample(LOGIN_ROLES, 3, key="t19")


def _page_of(role: str) -> str:
    """A page without URL arguments that this role may open and a visitor may not (rotating by the seed)."""
    pages = sorted(e for e, r in ROUTES.items() if r.get is not None and role in r.get and r.get != EVERYONE
                   and not r.absent and not r.args and not e.startswith("kiosk"))
    specific = [e for e in pages if ROUTES[e].get != LOGGED_IN] or pages
    return rng(f"t19:{role}").choice(specific)


def _url(app, endpoint: str) -> str:
    with app.test_request_context():
        return url_for(endpoint)


def _replay(app, cookie: str):
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie, path="/")
    return thief


def _cookie(client, app) -> str:
    c = client.get_cookie(app.config["SESSION_COOKIE_NAME"], path="/")
    assert c is not None
    return c.value


def _is_login(r) -> bool:
    return r.status_code == 302 and urlparse(r.headers["Location"]).path == "/login"


def _user(username: str) -> User:
    return db.session.scalar(sa.select(User).where(User.username == username))


@pytest.mark.parametrize("role", ROLES_THIS_RUN)
def test_a_copied_cookie_stops_working_after_logout(gate_app, role):
    app, _ = gate_app
    page = _url(app, _page_of(role))
    browser = login(app, USERS[role])
    stolen = _cookie(browser, app)
    assert _replay(app, stolen).get(page).status_code == 200, page  # the copy works while the session lives
    browser.post("/logout")
    assert _is_login(_replay(app, stolen).get(page)), page
    assert _is_login(_replay(app, stolen).get("/"))


@pytest.mark.parametrize("role", ROLES_THIS_RUN)
def test_a_copied_cookie_stops_working_when_the_user_is_disabled(gate_app, role):
    app, _ = gate_app
    page = _url(app, _page_of(role))
    stolen = _cookie(login(app, USERS[role]), app)
    assert _replay(app, stolen).get(page).status_code == 200, page
    with app.app_context():
        with write_transaction():
            auth.set_active(_user(USERS[role]), False)
        try:
            assert _is_login(_replay(app, stolen).get(page)), page
            r = app.test_client().post("/login", data={"username": USERS[role], "password": PASSWORD})
            assert r.status_code != 302  # and no new session for a disabled user
        finally:
            with write_transaction():
                auth.set_active(_user(USERS[role]), True)
    # re-enabling does not bring the old session back
    assert _is_login(_replay(app, stolen).get(page)), page


@pytest.mark.parametrize("role", ROLES_THIS_RUN)
def test_a_copied_cookie_stops_working_after_a_password_change(gate_app, role):
    app, _ = gate_app
    page = _url(app, _page_of(role))
    browser = login(app, USERS[role])
    stolen = _cookie(login(app, USERS[role]), app)  # the same user on another device
    assert _replay(app, stolen).get(page).status_code == 200, page
    r = browser.post("/account/password", data={"current": PASSWORD, "new": "gate-new-password-1"})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]
    try:
        assert _is_login(_replay(app, stolen).get(page)), page
        assert browser.get(page).status_code == 200  # the device that changed it stays logged in
    finally:
        with app.app_context(), write_transaction():
            auth.set_password(_user(USERS[role]), PASSWORD)


def test_a_kiosk_session_never_opens_a_staff_page(gate_app):
    """Every page a clerk (or any login) may open, with the kiosk's cookies and its household open."""
    app, world = gate_app
    kiosk = kiosk_client(app, world)
    opened = []
    n = 0
    for endpoint, route in sorted(ROUTES.items()):
        if route.get is None or route.get == EVERYONE or "kiosk" in route.get:
            continue
        values = {}
        for name, arg in route.args.items():
            if isinstance(arg, Obj):
                values[name] = {"=year": world.year, "=month": world.month}.get(arg.kind) or world.id(arg.kind, "own")
            else:
                values[name] = arg
        with app.test_request_context():
            url = url_for(endpoint, **values)
        r = kiosk.get(url)
        r.close()
        n += 1
        if not _is_login(r):
            opened.append(f"GET {url}: {r.status_code}")
    assert n > 100
    assert not opened, "the kiosk was not sent to the login page:\n" + "\n".join(opened)
    assert kiosk.get("/kiosk/home").status_code == 200  # its household was open all along
