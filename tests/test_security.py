"""Headers, CSRF, safe methods and error pages (T12, T13, T15, §1.6 web front end and logging)."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import begin_write, db
from tests.conftest import FreshContextClient, PASSWORD




@pytest.fixture
def client(app):
    app.test_client_class = FreshContextClient
    return app.test_client()


SECRET_DETAIL = "kaboom-internal-detail-/srv/xiangyue/secret.py"


@pytest.fixture
def boom(app):
    """Routes that fail inside the view, added before the app serves its first request."""

    def explode():
        raise RuntimeError(SECRET_DETAIL)

    def write_then_explode():
        from app.registry.services import create_village

        # by hand on purpose, not through app.submission: the 500 handler itself must undo a half write
        begin_write()
        create_village("half", "写了一半的村")
        db.session.flush()
        raise RuntimeError(SECRET_DETAIL)

    app.add_url_rule("/_test/boom", "test_boom", explode)
    app.add_url_rule("/_test/boom-write", "test_boom_write", write_then_explode, methods=["POST"])
    return app


@pytest.fixture
def site(app, village, clerk, make_user, make_household):
    """A household, a reviewer, a cashier and an admin next to the clerk."""
    make_user("reviewer1", ("reviewer", village))
    make_user("cashier1", ("cashier", village))
    make_user("admin1", ("admin", None))
    h = make_household(village, "0101", "张三丰", members=[("张小明", "child")])
    ids = {"h": h.id, "p": [p.id for p in h.members if p.id != h.head_id][0], "clerk": clerk.id,
           "v": village.id}
    db.session.rollback()
    return ids


def _login(client, username: str) -> None:
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)[:300]


def _check_headers(r, what: str) -> list[str]:
    problems = []
    csp = r.headers.get("Content-Security-Policy", "")
    if "default-src 'self'" not in csp:
        problems.append(f"{what}: CSP without default-src 'self': {csp!r}")
    if "frame-ancestors" not in csp:
        problems.append(f"{what}: CSP without frame-ancestors")
    if r.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"{what}: X-Content-Type-Options {r.headers.get('X-Content-Type-Options')!r}")
    if not r.headers.get("Referrer-Policy"):
        problems.append(f"{what}: no Referrer-Policy")
    return problems


def _table_dump() -> dict[str, list[tuple]]:
    """Every row of every table: to prove that a request changed nothing at all."""
    db.session.rollback()
    out = {}
    for table in db.metadata.sorted_tables:
        cols = [c for c in table.columns]
        order = [c for c in table.primary_key.columns] or cols
        out[table.name] = [tuple(r) for r in db.session.execute(sa.select(*cols).order_by(*order))]
    db.session.rollback()
    return out


# --- headers on every response --------------------------------------------------------------------------

def test_security_headers_on_every_response_including_error_pages(client, boom, site, app):
    responses = []

    def get(url, **kw):
        r = client.get(url, **kw)
        r.get_data()
        r.close()
        responses.append((f"GET {url} → {r.status_code}", r))
        return r

    # anonymous
    assert get("/login").status_code == 200
    assert get("/").status_code == 302
    assert get("/lang/en").status_code == 302
    assert get("/static/app.css").status_code == 200
    assert get("/no/such/page").status_code == 404
    r = client.post("/logout")
    responses.append(("POST /logout anonymous", r))
    # a clerk's pages
    _login(client, "clerk1")
    for url in ("/", "/registry/households", "/registry/people", f"/registry/households/{site['h']}",
                "/registry/households/new", f"/registry/people/{site['p']}/edit", "/audit/",
                "/account/password", "/registry/search?q=张"):
        assert get(url).status_code == 200, url
    assert get("/registry/households/987654").status_code == 404
    assert get("/logout").status_code == 405
    assert get("/_test/boom").status_code == 500
    r = client.post("/account/password", data={"current": "x" * (9 * 1024 * 1024)})
    responses.append(("POST 9 MiB", r))
    assert r.status_code == 413
    client.post("/logout")
    # a cashier refused the audit page
    _login(client, "cashier1")
    assert get("/audit/").status_code == 403

    problems = []
    for what, resp in responses:
        problems += _check_headers(resp, what)
        if resp.status_code != 302 and not resp.request.path.startswith("/static/") \
                and "no-store" not in resp.headers.get("Cache-Control", ""):
            problems.append(f"{what}: personal pages must not be cached ({resp.headers.get('Cache-Control')})")
    assert not problems, "\n".join(problems)
    assert {r.status_code for _, r in responses} >= {200, 302, 403, 404, 405, 413, 500}


def test_pages_cannot_be_framed(client, site):
    r = client.get("/login")
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert r.headers.get("X-Frame-Options") == "DENY"
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in r.headers["Content-Security-Policy"]


def test_no_inline_scripts_or_event_handlers_in_pages(client, site):
    """The CSP forbids inline script; a page that relies on one would silently break."""
    _login(client, "clerk1")
    for url in ("/", "/registry/households", f"/registry/households/{site['h']}", "/registry/households/new",
                "/audit/", "/login"):
        body = client.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body), url
        assert not re.search(r"\son[a-z]+\s*=", body), url


# --- error pages ----------------------------------------------------------------------------------------

def test_500_page_is_friendly_and_shows_no_traceback(client, boom):
    client.get("/lang/en")
    r = client.get("/_test/boom")
    assert r.status_code == 500
    body = r.get_data(as_text=True)
    assert "Something went wrong on our side. Nothing was changed; please try again." in body
    for leak in ("Traceback", "RuntimeError", SECRET_DETAIL, "File &#34;", 'File "', "werkzeug", "sqlalchemy"):
        assert leak not in body, leak
    assert r.mimetype == "text/html"
    assert r.headers.get("X-Request-ID") and r.headers["X-Request-ID"][:8] in body  # a reference to quote


def test_500_in_the_middle_of_a_write_leaves_nothing_behind(client, boom, site):
    _login(client, "admin1")
    before = _table_dump()
    r = client.post("/_test/boom-write")
    assert r.status_code == 500
    after = _table_dump()
    assert after == before


def test_app_is_not_in_debug_mode(app):
    assert not app.debug
    assert not app.config.get("DEBUG")


@pytest.mark.parametrize("method,url", [
    ("GET", "/logout"),
    ("GET", "/switch-village"),
    ("GET", "/admin/townships"),
    ("GET", "/admin/users/1/memberships/1/revoke"),
    ("PUT", "/login"),
    ("DELETE", "/registry/households"),
])
def test_wrong_method_gets_a_friendly_405(client, site, method, url):
    client.get("/lang/en")
    _login(client, "clerk1")
    r = client.open(url, method=method)
    assert r.status_code == 405
    body = r.get_data(as_text=True)
    assert "This page cannot be opened this way." in body
    assert "Method Not Allowed" not in body  # not Werkzeug's bare page
    assert _check_headers(r, url) == []


def test_oversized_and_overcrowded_forms_get_413_and_write_nothing(client, site):
    client.get("/lang/en")
    _login(client, "clerk1")
    before = _table_dump()
    big = client.post("/registry/households/new", data={"number": "0999", "name": "大", "note": "x" * (9 << 20)})
    assert big.status_code == 413
    assert "too large" in big.get_data(as_text=True)
    big = client.post("/account/password", data={"current": "x" * (9 << 20), "new": "y"})
    assert big.status_code == 413
    assert "The file or form is too large: at most 8 MB can be sent at once." in big.get_data(as_text=True)
    # Werkzeug counts parts of multipart bodies only (urlencoded bodies are bounded by their size)
    parts = [("number", "0998"), ("name", "多")] + [(f"f{i}", "1") for i in range(10_001)]
    body = b"".join(f'--B\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                    for k, v in parts) + b"--B--\r\n"
    crowded = client.post("/registry/households/new", data=body,
                          content_type="multipart/form-data; boundary=B")
    assert crowded.status_code == 413
    assert _table_dump() == before


def test_404_page_does_not_echo_the_address_unescaped(client, site):
    r = client.get('/registry/<script>alert(1)</script>')
    assert r.status_code == 404
    assert "<script>alert(1)" not in r.get_data(as_text=True)


# --- CSRF (T12) -------------------------------------------------------------------------------------------

def _token(client, url: str) -> str:
    body = client.get(url).get_data(as_text=True)
    m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', body) or \
        re.search(r'name="csrf_token" value="([^"]+)"', body) or \
        re.search(r'value="([^"]+)"[^>]*name="csrf_token"', body)
    assert m, f"no CSRF token on {url}"
    return m.group(1)


class TestCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def _login(self, client, username="clerk1"):
        token = _token(client, "/login")
        r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token})
        assert r.status_code == 302

    def test_login_without_token_is_refused_with_the_form_expired_page(self, client, site):
        client.get("/lang/en")
        before = _table_dump()
        r = client.post("/login", data={"username": "clerk1", "password": PASSWORD})
        assert r.status_code == 400
        body = r.get_data(as_text=True)
        assert "Form expired" in body and "Please go back, reload the page and submit again." in body
        assert "Traceback" not in body
        assert _table_dump() == before
        assert client.get("/").status_code == 302  # not logged in

    def test_posts_without_or_with_a_wrong_token_write_nothing(self, client, site):
        client.get("/lang/en")
        self._login(client)
        before = _table_dump()
        attempts = [
            ("/registry/households/new", {"number": "0777", "group_id": "0", "name": "偷偷"}),
            (f"/registry/households/{site['h']}/edit", {"number": "0101", "group_id": "0", "address": "改"}),
            (f"/registry/households/{site['h']}/people/new", {"name": "偷偷", "relation": "child"}),
            (f"/registry/people/{site['p']}/move-out", {"status": "deceased"}),
            ("/registry/groups", {"name": "偷偷组", "kind": "group"}),
            ("/account/password", {"current": PASSWORD, "new": "hijacked-password"}),
            ("/switch-village", {"village_id": str(site["v"])}),
            ("/logout", {}),
        ]
        for url, data in attempts:
            for token in (None, "not-a-real-token", ""):
                form = dict(data)
                if token is not None:
                    form["csrf_token"] = token
                r = client.post(url, data=form)
                assert r.status_code == 400, (url, token, r.status_code)
                assert "Form expired" in r.get_data(as_text=True)
        assert _table_dump() == before
        assert client.get("/").status_code == 200  # the tokenless logout did not log out

    def test_a_token_from_the_page_is_accepted(self, client, site):
        self._login(client)
        token = _token(client, "/registry/households/new")
        r = client.post("/registry/households/new",
                        data={"number": "0777", "group_id": "0", "name": "正常", "csrf_token": token})
        assert r.status_code == 302
        # htmx requests send the token in a header instead
        r = client.post("/registry/groups", data={"name": "一组", "kind": "group"},
                        headers={"X-CSRFToken": token})
        assert r.status_code == 302

    def test_token_of_another_session_is_refused(self, client, site, app):
        other = app.test_client()
        foreign = _token(other, "/login")
        self._login(client)
        r = client.post("/registry/households/new",
                        data={"number": "0778", "group_id": "0", "name": "偷偷", "csrf_token": foreign})
        assert r.status_code == 400


# --- GET never changes anything (T12) --------------------------------------------------------------------

def _crawl(client, urls) -> list[str]:
    bad = []
    for url in urls:
        r = client.get(url)
        r.close()
        if r.status_code >= 500:
            bad.append(f"{url}: {r.status_code}")
    return bad


def test_get_requests_do_not_change_the_database(client, site, app):
    h, p = site["h"], site["p"]
    clerk_pages = [
        "/", "/registry/households", "/registry/households?status=all&q=张", "/registry/people?status=all",
        "/registry/search?q=zsf", "/registry/search?q=0101", "/registry/groups", f"/registry/households/{h}",
        "/registry/households/new", f"/registry/households/{h}/edit", f"/registry/households/{h}/people/new",
        f"/registry/households/{h}/head", f"/registry/households/{h}/split", f"/registry/households/{h}/merge",
        f"/registry/households/{h}/status", f"/registry/people/{p}/edit", f"/registry/people/{p}/move-out",
        "/audit/", f"/audit/households/{h}", "/account/password", "/registry/households/424242",
        "/lang/en", "/lang/zh_Hans_CN", "/login",
    ]
    admin_pages = ["/", "/admin/users", f"/admin/users/{site['clerk']}", "/admin/villages",
                   f"/admin/villages/{site['v']}", "/township"]
    anonymous_pages = ["/login", "/", "/registry/households", "/lang/en", "/static/app.css"]

    bad = _crawl(client, anonymous_pages)
    _login(client, "clerk1")
    before = _table_dump()
    bad += _crawl(client, clerk_pages)
    assert _table_dump() == before, "a GET changed the database"

    reviewer = app.test_client()
    _login(reviewer, "reviewer1")
    admin = app.test_client()
    _login(admin, "admin1")
    before = _table_dump()
    bad += _crawl(reviewer, [u for u in clerk_pages if "/edit" not in u and "/new" not in u
                             and not re.search(r"/(head|split|merge|status|move-out)$", u)])
    bad += _crawl(admin, admin_pages)
    assert _table_dump() == before, "a GET changed the database"
    assert not bad, bad
