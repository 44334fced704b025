"""T12 and T13 over every route of tests/gates/route_table.py (reliability §5), with CSRF on:

- a POST without a token (or with a wrong one) to every POST route, as a role that may post there, is refused
  with 400 and writes nothing;
- no GET changes the database: row counts and a hash of every table before and after each GET route, as the
  roles that may open it (sampled: one of them per route; full: every role and scope that may);
- every answer above, error pages included (400, 403, 404, 405, 413), carries the security headers, personal
  pages are not cached, cookies are HttpOnly and SameSite=Lax, and no page shows a stack trace.
"""
from __future__ import annotations

import pytest

from tests.gates import gates_full, rng
from tests.gates.db_state import WRITTEN_BY_REFUSALS, changed_tables, fingerprint
from tests.gates.route_table import ROLES, ROUTES
from tests.gates.test_authz_matrix import (
    ROUTES_PER_CHECK,
    allowed,
    build_url,
    routes_opened_as_allowed,
    scopes_of,
)
from tests.gates.world import USERS, kiosk_client, login, open_kiosk_household

#: written by a GET on purpose: the kiosk's sessions note when they were last seen; nothing else may change
GET_MAY_WRITE = frozenset({"kiosk_sessions", "budget_counters", "login_probes", "kiosk_probes"})
#: GETs that write one audit row on purpose: reads of mediation cases (PIPL Art. 28; reliability §1.8), exports
#: of personal data, a backup taken away, and the kiosk's start page, which ends the household open on it
AUDITED_GETS = {"mediation.case", "mediation.dossier_pdf", "mediation.agreement_pdf", "registry.export",
                "points.ledger_export", "admin.backup_download", "kiosk.start"}
#: not personal pages: the blank spreadsheets to fill in may be cached
NOT_PERSONAL = {"grid.import_template", "registry.import_template"}
LEAKS = ("Traceback", 'File "', "File &#34;", "werkzeug.exceptions", "sqlalchemy.exc", "jinja2.exceptions")


@pytest.fixture(scope="module")
def browsers(gate_app, csrf_on):
    app, world = gate_app
    out = {role: login(app, name) for role, name in USERS.items()}
    out["kiosk"] = kiosk_client(app, world)
    out["anonymous"] = app.test_client()
    return out


def header_problems(r, what: str, personal: bool = True) -> list[str]:
    """T13 on one answer."""
    problems = []
    csp = r.headers.get("Content-Security-Policy", "")
    if "default-src 'self'" not in csp or "frame-ancestors 'none'" not in csp:
        problems.append(f"{what}: CSP {csp!r}")
    if r.headers.get("X-Content-Type-Options") != "nosniff":
        problems.append(f"{what}: X-Content-Type-Options {r.headers.get('X-Content-Type-Options')!r}")
    if not r.headers.get("Referrer-Policy"):
        problems.append(f"{what}: no Referrer-Policy")
    if personal and not (300 <= r.status_code < 400) and "no-store" not in r.headers.get("Cache-Control", ""):
        problems.append(f"{what}: Cache-Control {r.headers.get('Cache-Control')!r}, personal pages need no-store")
    for cookie in r.headers.getlist("Set-Cookie"):
        flags = cookie.lower()
        if "httponly" not in flags or "samesite=lax" not in flags:
            problems.append(f"{what}: cookie without HttpOnly/SameSite=Lax: {cookie.split('=')[0]}")
    if r.mimetype == "text/html" or r.status_code >= 400:
        body = r.get_data(as_text=True)
        leaked = [x for x in LEAKS if x in body]
        if leaked:
            problems.append(f"{what}: the page shows internals {leaked}")
    return problems


def _reopen_kiosk(browsers, world) -> None:
    if browsers["kiosk"].get("/kiosk/home").status_code != 200:
        open_kiosk_household(browsers["kiosk"], world)


def test_tokenless_posts_to_every_post_route_are_refused_and_write_nothing(gate_app, browsers):
    app, world = gate_app
    problems, tried = [], 0
    with app.app_context():
        before = fingerprint(ignore=frozenset())
    for endpoint, route in sorted(ROUTES.items()):
        if route.post is None:
            continue
        # a role that may post here (else anyone): the token must be checked before anything else
        posters = [r for r in ROLES if allowed(route, "POST", r, "own")] or ["anonymous"]
        roles = posters if gates_full() else [rng(f"csrf:{endpoint}").choice(posters)]
        url = build_url(app, world, endpoint, route, "own")
        for role in roles:
            for token in ((None, "", "not-a-token") if gates_full() else (None,)):
                data = {} if token is None else {"csrf_token": token}
                r = browsers[role].post(url, data=data)
                tried += 1
                what = f"POST {url} as {role} with token {token!r}: {r.status_code}"
                if r.status_code != 400:
                    problems.append(f"{what}, expected 400")
                problems += header_problems(r, what)
                r.close()
        if "kiosk" in roles:
            _reopen_kiosk(browsers, world)
    with app.app_context():
        after = fingerprint(ignore=frozenset())
    # a refused form leaves nothing, not even an audit row
    changed = changed_tables({k: v for k, v in before.items() if k not in WRITTEN_BY_REFUSALS - {"audit_log"}},
                             {k: v for k, v in after.items() if k not in WRITTEN_BY_REFUSALS - {"audit_log"}})
    print(f"T12: {tried} tokenless POSTs")
    assert tried >= sum(1 for r in ROUTES.values() if r.post is not None)
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)
    assert not changed, f"tokenless POSTs wrote: {changed}"


def test_no_get_changes_the_database_and_every_answer_has_the_headers(gate_app, browsers):
    """Each GET route as the roles that may open it; the database is compared after each route in full runs,
    after every few routes (naming them all) in sampled runs."""
    app, world = gate_app
    problems, tried = [], 0
    per_check = 1 if gates_full() else ROUTES_PER_CHECK
    opened = routes_opened_as_allowed(app)
    with app.app_context():
        state = fingerprint(ignore=frozenset())
    batch: list[str] = []
    may_write: set[str] = set(GET_MAY_WRITE)

    def check() -> None:
        nonlocal state, batch, may_write
        with app.app_context():
            after = fingerprint(ignore=frozenset())
        changed = changed_tables({k: v for k, v in state.items() if k not in may_write},
                                 {k: v for k, v in after.items() if k not in may_write})
        if changed:
            problems.append(f"GETs changed the database: {'; '.join(changed)}; they were: {'; '.join(batch)}")
        state, batch, may_write = after, [], set(GET_MAY_WRITE)

    for endpoint, route in sorted(ROUTES.items()):
        if route.get is None or endpoint not in opened:
            continue
        combos = [(role, scope) for role in ROLES for scope in scopes_of(route, world)
                  if allowed(route, "GET", role, scope)]
        if not combos:
            continue
        if not gates_full():
            combos = [rng(f"get:{endpoint}").choice(combos)]
        if endpoint in AUDITED_GETS:
            may_write |= {"audit_log", "audit_head"}
        for role, scope in combos:
            url = build_url(app, world, endpoint, route, scope)
            r = browsers[role].get(url)
            tried += 1
            what = f"GET {url} as {role}: {r.status_code}"
            batch.append(what)
            if r.status_code >= 500:
                problems.append(f"{what} — a server error")
            problems += header_problems(r, what, personal=endpoint not in NOT_PERSONAL)
            r.close()
            if role == "kiosk":
                check()
                _reopen_kiosk(browsers, world)  # opening the household writes its session and audit rows
                with app.app_context():
                    state = fingerprint(ignore=frozenset())
        if len(batch) >= per_check:
            check()
    if batch:
        check()
    print(f"T12/T13: {tried} GETs")
    assert tried >= len(opened & {e for e, r in ROUTES.items() if r.get is not None}) - 5
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


@pytest.mark.parametrize("role", ["clerk", "anonymous", "kiosk"])
def test_error_pages_carry_the_headers_and_no_stack_trace(gate_app, browsers, role):
    """403, 404, 405 and 413 as each kind of visitor (the 500 page: tests/test_security.py)."""
    world = gate_app[1]
    c = browsers[role]
    answers = [
        c.get("/admin/users"),  # 403 (302 to /login for the anonymous and the kiosk)
        c.get("/no/such/page"),
        c.get(f"/registry/households/{world.id('household', 'other_village')}"),
        c.get("/logout"),  # 405
        c.get("/kiosk/posting/999999/object"),
        c.post("/account/password", data={"current": "x" * (9 << 20)}),  # 413
    ]
    statuses = {r.status_code for r in answers}
    assert {404, 405, 413} <= statuses, statuses
    problems = []
    for r in answers:
        problems += header_problems(r, f"{r.request.method} {r.request.path} as {role}: {r.status_code}")
        r.close()
    assert not problems, "\n".join(problems)


def test_session_cookie_flags_as_configured_for_production(gate_app):
    """Secure comes from XIANGYUE_TLS (app/config.py); HttpOnly and SameSite=Lax always."""
    app = gate_app[0]
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["REMEMBER_COOKIE_HTTPONLY"] is True and app.config["REMEMBER_COOKIE_SAMESITE"] == "Lax"
    assert not app.debug
