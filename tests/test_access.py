"""Who may open what (T10): role × page matrix, cross-village URL editing, the village switcher.

Every refusal must be a 403 that leaves an "access.denied" audit row; a row of another village
must look like a missing row (404) and leave an "access.cross_village" audit row; nothing of the
other village may change.
"""
from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from app.registry.models import Household, Person, Village
from app.submission import write_transaction
from tests.conftest import FreshContextClient, PASSWORD

VILLAGE_ROLES = ("clerk", "reviewer", "cashier", "patrol_leader", "mediator", "grid_worker")
ALL_ROLES = VILLAGE_ROLES + ("admin", "township")
READERS = set(VILLAGE_ROLES)
EDITORS = {"clerk"}
AUDITORS = {"clerk", "reviewer"}
ADMINS = {"admin"}
TOWNSHIP = {"admin", "township"}
EVERYONE = set(ALL_ROLES)

# (url template, roles that get 200) — every other logged-in role gets 403, anonymous a redirect to /login
PAGES = [
    ("/", EVERYONE),
    ("/account/password", EVERYONE),
    ("/registry/households", READERS),
    ("/registry/households?q=李&status=all", READERS),
    ("/registry/people", READERS),
    ("/registry/search?q=李", READERS),
    ("/registry/groups", READERS),
    ("/registry/households/{hA}", READERS),
    ("/registry/households/new", EDITORS),
    ("/registry/households/{hA}/edit", EDITORS),
    ("/registry/households/{hA}/people/new", EDITORS),
    ("/registry/households/{hA}/head", EDITORS),
    ("/registry/households/{hA}/split", EDITORS),
    ("/registry/households/{hA}/merge", EDITORS),
    ("/registry/households/{hA}/status", EDITORS),
    ("/registry/people/{pA}/edit", EDITORS),
    ("/registry/people/{pA}/move-out", EDITORS),
    ("/registry/groups/{gA}", EDITORS),
    ("/audit/", AUDITORS),
    ("/audit/households/{hA}", AUDITORS),
    ("/admin/users", ADMINS),
    ("/admin/users/{clerk_id}", ADMINS),
    ("/admin/villages", ADMINS),
    ("/admin/villages/{vA}", ADMINS),
    ("/township", TOWNSHIP),
]

# state-changing requests that only a clerk may make: (url template, form data)
WRITES = [
    ("/registry/households/new", {"number": "Z999", "group_id": "0", "name": "入侵者"}),
    ("/registry/households/{hA}/edit", {"number": "A001", "group_id": "0", "address": "改了"}),
    ("/registry/households/{hA}/people/new", {"name": "入侵者", "relation": "child"}),
    ("/registry/people/{pA}/move-out", {"status": "deceased"}),
    ("/registry/households/{hA}/status", {"status": "moved_away"}),
    ("/registry/groups", {"name": "新组", "kind": "group"}),
    ("/registry/groups/{gA}", {"name": "改名", "kind": "group", "active": "y"}),
    ("/admin/users", {"username": "sneaky", "password": "long-enough-pw"}),
    ("/admin/villages", {"code": "v9", "name": "九号村", "township_id": "0", "submit": "1"}),
]


# --- helpers ----------------------------------------------------------------------------------------



@pytest.fixture
def client(app):
    app.test_client_class = FreshContextClient
    return app.test_client()


def _audit_count(action: str) -> int:
    db.session.rollback()
    n = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(AuditLog.action == action))
    db.session.rollback()
    return n


def _last_audit(action: str) -> AuditLog:
    db.session.rollback()
    row = db.session.scalar(sa.select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.seq.desc()))
    db.session.expunge(row)
    db.session.rollback()
    return row


def _rows(table: str, where: str = "", **params) -> list[tuple]:
    db.session.rollback()
    rows = [tuple(r) for r in db.session.execute(sa.text(f"SELECT * FROM {table} {where} ORDER BY id"), params)]
    db.session.rollback()
    return rows


def _village_state(village_id: int) -> dict[str, list[tuple]]:
    """Every register row of one village, to compare before and after an attempt."""
    return {t: _rows(t, "WHERE village_id = :v", v=village_id)
            for t in ("households", "people", "villager_groups", "household_events")}


def _login(client, username: str) -> None:
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302, r.get_data(as_text=True)[:500]


def _is_login_redirect(r) -> bool:
    return r.status_code == 302 and urlparse(r.headers["Location"]).path == "/login"


@pytest.fixture
def world(app, village, clerk, make_village, make_user, make_household):
    """Village A (the clerk's) and village B in one township, a user per role, households on both sides."""
    from app.registry.services import create_group, create_township

    with write_transaction():
        town = create_township("t1", "一号镇")
        db.session.get(Village, village.id).township_id = town.id
        group_a = create_group(db.session.get(Village, village.id), "一组")
    vb = make_village("v2", "二号村", town)
    with write_transaction():
        group_b = create_group(db.session.get(Village, vb.id), "B组")
    vc = make_village("v3", "三号村")

    for role in VILLAGE_ROLES[1:]:
        make_user(f"{role}1", (role, village))
    make_user("admin1", ("admin", None))
    make_user("town1", ("township", town))

    ha = make_household(village, "A001", "李大山", members=[("李小明", "child"), ("李小红", "child")],
                        group=group_a, address="A村1号")
    hb = make_household(vb, "B001", "王老五", members=[("王小刚", "child"), ("王小丽", "child")],
                        group=group_b, address="B村1号")
    hb2 = make_household(vb, "B002", "赵六")
    pa = [p.id for p in ha.members if p.id != ha.head_id]
    pb = [p.id for p in hb.members if p.id != hb.head_id]
    ids = {
        "vA": village.id, "vB": vb.id, "vC": vc.id, "hA": ha.id, "hB": hb.id, "hB2": hb2.id,
        "pA": pa[0], "pA2": pa[1], "pB": pb[0], "pB2": pb[1], "pBhead": hb.head_id,
        "gA": group_a.id, "gB": group_b.id, "clerk_id": clerk.id,
    }
    db.session.rollback()
    return ids


USERNAMES = {**{r: f"{r}1" for r in VILLAGE_ROLES}, "admin": "admin1", "township": "town1"}


# --- the matrix -------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ALL_ROLES)
def test_each_role_reaches_its_pages_and_is_refused_the_others(client, world, role):
    _login(client, USERNAMES[role])
    wrong = []
    for template, allowed in PAGES:
        url = template.format(**world)
        expected = 200 if role in allowed else 403
        before = _audit_count("access.denied")
        r = client.get(url)
        if r.status_code != expected:
            wrong.append(f"GET {url}: {r.status_code}, expected {expected}")
            continue
        denied = _audit_count("access.denied") - before
        if expected == 403:
            if denied != 1:
                wrong.append(f"GET {url}: 403 wrote {denied} access.denied rows, expected 1")
            else:
                row = _last_audit("access.denied")
                if row.actor_name != USERNAMES[role]:
                    wrong.append(f"GET {url}: access.denied row names {row.actor_name!r}")
        elif denied:
            wrong.append(f"GET {url}: 200 but wrote an access.denied row")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("role", [r for r in ALL_ROLES if r != "clerk"])
def test_only_the_clerk_and_admin_can_write_and_refusals_change_nothing(client, world, role):
    _login(client, USERNAMES[role])
    state = {t: _rows(t) for t in ("households", "people", "villager_groups", "users", "villages")}
    wrong = []
    for template, data in WRITES:
        url = template.format(**world)
        is_admin_page = url.startswith("/admin/")
        if (role == "admin") == is_admin_page:
            continue  # the admin's own pages are exercised in test_auth / admin tests
        before = _audit_count("access.denied")
        r = client.post(url, data=data)
        if r.status_code != 403:
            wrong.append(f"POST {url}: {r.status_code}, expected 403")
        elif _audit_count("access.denied") != before + 1:
            wrong.append(f"POST {url}: no access.denied row")
    assert not wrong, "\n".join(wrong)
    assert {t: _rows(t) for t in state} == state


@pytest.mark.parametrize("template", [t for t, _ in PAGES])
def test_anonymous_visitor_is_sent_to_the_login_page(client, world, template):
    url = template.format(**world)
    r = client.get(url)
    assert _is_login_redirect(r), (url, r.status_code, r.headers.get("Location"))
    # and comes back to the page after logging in
    assert "next=" in r.headers["Location"]


def test_login_redirect_does_not_leave_an_open_redirect(client, world):
    r = client.post("/login?next=//evil.example/x", data={"username": "clerk1", "password": PASSWORD})
    assert r.status_code == 302
    assert urlparse(r.headers["Location"]).netloc in ("", "localhost")
    assert not r.headers["Location"].startswith("//")


def test_user_without_any_role_sees_only_the_start_page(client, world, make_user):
    make_user("nobody")
    _login(client, "nobody")
    r = client.get("/")
    assert r.status_code == 200
    for url in ("/registry/households", "/registry/households/new", "/audit/", "/admin/users", "/township"):
        assert client.get(url).status_code == 403, url


def test_user_with_several_roles_in_a_village_is_audited_without_error(client, world, make_user, village):
    """A small village's clerk is often also its mediator and grid worker: every audit row must still work."""
    make_user("busy1", ("reviewer", village), ("mediator", village), ("grid_worker", village),
              ("patrol_leader", village), ("cashier", village))
    _login(client, "busy1")
    before = _audit_count("access.denied")
    r = client.get("/registry/households/new")
    assert r.status_code == 403
    assert _audit_count("access.denied") == before + 1
    row = _last_audit("access.denied")
    assert row.actor_name == "busy1" and row.role
    assert client.get(f"/registry/households/{world['hA']}").status_code == 200


def test_clerk_with_several_roles_can_still_edit(client, world, make_user, village):
    make_user("busy2", ("clerk", village), ("mediator", village), ("grid_worker", village))
    _login(client, "busy2")
    r = client.post(f"/registry/households/{world['hA']}/people/new", data={"name": "新生儿", "relation": "child"})
    assert r.status_code == 302, r.get_data(as_text=True)[:1000]
    db.session.rollback()
    assert db.session.scalar(sa.select(Person).where(Person.name == "新生儿")) is not None


# --- cross-village URL editing ----------------------------------------------------------------------

# (method, url, form data): attempts on village B's rows by village A's clerk → 404 and audited
CROSS_URLS = [
    ("GET", "/registry/households/{hB}", None),
    ("GET", "/registry/households/{hB}/edit", None),
    ("POST", "/registry/households/{hB}/edit", {"number": "B001", "group_id": "0", "address": "被改了"}),
    ("GET", "/registry/households/{hB}/people/new", None),
    ("POST", "/registry/households/{hB}/people/new", {"name": "入侵者", "relation": "child"}),
    ("POST", "/registry/households/{hB}/status", {"status": "moved_away"}),
    ("POST", "/registry/households/{hB}/head", {"new_head_id": "{pB}", "old_head_relation": "parent"}),
    ("POST", "/registry/households/{hB}/split", {"person_ids": "{pB}", "new_head_id": "{pB}",
                                                   "new_number": "B009", "group_id": "0"}),
    ("POST", "/registry/households/{hB}/merge", {"target_number": "B002", "confirm": "y"}),
    ("GET", "/registry/people/{pB}/edit", None),
    ("POST", "/registry/people/{pB}/edit", {"name": "被改了", "relation": "child"}),
    ("GET", "/registry/people/{pB}/move-out", None),
    ("POST", "/registry/people/{pB}/move-out", {"status": "deceased"}),
    ("POST", "/registry/people/{pBhead}/move-out", {"status": "moved"}),
    ("GET", "/registry/groups/{gB}", None),
    ("POST", "/registry/groups/{gB}", {"name": "被改了", "kind": "grid", "active": "y"}),
    ("GET", "/audit/households/{hB}", None),
]


def _fill(data, ids):
    if data is None:
        return None
    return {k: v.format(**ids) for k, v in data.items()}


@pytest.mark.parametrize("method,template,data", CROSS_URLS, ids=[f"{m} {t}" for m, t, _ in CROSS_URLS])
def test_clerk_cannot_reach_another_villages_rows_by_editing_the_url(clerk_client, world, method, template, data):
    url = template.format(**world)
    b_before = _village_state(world["vB"])
    a_before = _village_state(world["vA"])
    audits_before = _audit_count("access.cross_village")
    r = clerk_client.open(url, method=method, data=_fill(data, world))
    assert r.status_code == 404, (url, r.status_code)
    body = r.get_data(as_text=True)
    for secret in ("王老五", "王小刚", "B村1号", "B组"):
        assert secret not in body
    assert _audit_count("access.cross_village") == audits_before + 1
    row = _last_audit("access.cross_village")
    assert row.actor_name == "clerk1" and row.village_id == world["vA"]
    assert _village_state(world["vB"]) == b_before
    assert _village_state(world["vA"]) == a_before


def test_cross_village_404_looks_like_a_missing_row(clerk_client, world):
    """Another village's household and a household that does not exist get the same answer."""
    urls = (f"/registry/households/{world['hB']}", "/registry/households/999999")
    other, missing = (clerk_client.get(u) for u in urls)
    assert other.status_code == missing.status_code == 404

    def strip(r, url):  # the request id, the page's own address and the (timed) CSRF token differ, nothing else
        text = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', r.get_data(as_text=True))
        text = re.sub(r"X-CSRFToken&#34;: &#34;[^&]*&#34;|X-CSRFToken\": \"[^\"]*\"", "X-CSRFToken", text)
        return re.sub(r"[0-9a-f]{8}</p>", "</p>", text.replace(url, "URL"))

    assert strip(other, urls[0]) == strip(missing, urls[1])


# (url, form data) smuggling B's ids or numbers into A's forms → the form comes back with an error
SMUGGLED = [
    ("/registry/households/{hA}/split", {"person_ids": ["{pB}", "{pB2}"], "new_head_id": "{pB}",
                                          "new_number": "A002", "group_id": "0"}),
    ("/registry/households/{hA}/split", {"person_ids": ["{pA}", "{pB}"], "new_head_id": "{pA}",
                                          "new_number": "A002", "group_id": "0"}),
    ("/registry/households/{hA}/split", {"person_ids": ["{pA}"], "new_head_id": "{pB}",
                                          "new_number": "A002", "group_id": "0"}),
    ("/registry/households/{hA}/split", {"person_ids": ["{pA}"], "new_head_id": "{pA}",
                                          "new_number": "A002", "group_id": "{gB}"}),
    ("/registry/households/{hA}/head", {"new_head_id": "{pB}", "old_head_relation": "parent"}),
    ("/registry/households/{hA}/edit", {"number": "A001", "group_id": "{gB}", "address": "A村1号"}),
    ("/registry/households/new", {"number": "A050", "group_id": "{gB}", "name": "新户主"}),
    ("/registry/households/{hA}/merge", {"target_number": "B002", "confirm": "y"}),
]


@pytest.mark.parametrize("template,data", SMUGGLED, ids=[f"{t}-{i}" for i, (t, _) in enumerate(SMUGGLED)])
def test_other_villages_ids_inside_a_form_are_refused_with_the_form_back(clerk_client, world, template, data):
    url = template.format(**world)
    form = {k: ([x.format(**world) for x in v] if isinstance(v, list) else v.format(**world))
            for k, v in data.items()}
    b_before = _village_state(world["vB"])
    a_before = _village_state(world["vA"])
    r = clerk_client.post(url, data=form)
    assert r.status_code in (200, 404), (url, r.status_code)
    if r.status_code == 200:
        assert 'class="field-error"' in r.get_data(as_text=True)
    assert _village_state(world["vB"]) == b_before
    assert _village_state(world["vA"]) == a_before


def test_merge_target_that_exists_only_in_another_village_is_not_found(clerk_client, world):
    clerk_client.get("/lang/en")
    r = clerk_client.post(f"/registry/households/{world['hA']}/merge", data={"target_number": "B001", "confirm": "y"})
    assert r.status_code == 200
    assert "There is no household with this number in the village." in r.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(Household, world["hA"]).status == "active"
    assert db.session.get(Household, world["hB"]).status == "active"


def test_search_never_lists_another_villages_people(clerk_client, world):
    for url in ("/registry/search?q=王", "/registry/households?q=王&status=all", "/registry/people?q=王&status=all",
                "/registry/search?q=B001", "/registry/households?group={gB}".format(**world)):
        body = clerk_client.get(url).get_data(as_text=True)
        assert "王老五" not in body and "王小刚" not in body, url


# --- village switch ---------------------------------------------------------------------------------

@pytest.fixture
def two_village_client(client, world, make_user, village):
    vb = db.session.get(Village, world["vB"])
    make_user("both1", ("clerk", village), ("reviewer", vb))
    _login(client, "both1")
    return client


def test_user_with_two_villages_sees_both_in_the_switcher_and_can_switch(two_village_client, world):
    c = two_village_client
    body = c.get("/").get_data(as_text=True)
    assert 'action="/switch-village"' in body
    assert f'<option value="{world["vA"]}" selected>一号村</option>' in body
    assert f'<option value="{world["vB"]}" >二号村</option>' in body or \
        f'<option value="{world["vB"]}">二号村</option>' in body
    assert "三号村" not in body
    # in village A: clerk
    assert c.get(f"/registry/households/{world['hA']}").status_code == 200
    assert c.get("/registry/households/new").status_code == 200

    r = c.post("/switch-village", data={"village_id": str(world["vB"])})
    assert r.status_code == 302
    body = c.get("/").get_data(as_text=True)
    assert f'<option value="{world["vB"]}" selected>二号村</option>' in body
    # in village B: reviewer — reads B, may not edit, and A's rows are now another village's
    assert c.get(f"/registry/households/{world['hB']}").status_code == 200
    assert c.get("/registry/households/new").status_code == 403
    assert c.get(f"/registry/households/{world['hA']}").status_code == 404
    households = c.get("/registry/households").get_data(as_text=True)
    assert "王老五" in households and "李大山" not in households


def test_switching_to_a_village_one_does_not_belong_to_is_404(two_village_client, world):
    c = two_village_client
    r = c.post("/switch-village", data={"village_id": str(world["vC"])})
    assert r.status_code == 404
    for bad in ("abc", "", "99999999999999999999999", "-1"):
        r = c.post("/switch-village", data={"village_id": bad})
        assert r.status_code in (400, 404), bad
    # still in village A
    assert c.get("/registry/households/new").status_code == 200
    assert c.get(f"/registry/households/{world['hB']}").status_code == 404


def test_single_village_user_has_no_switcher_and_cannot_switch(clerk_client, world):
    assert 'action="/switch-village"' not in clerk_client.get("/").get_data(as_text=True)
    assert clerk_client.post("/switch-village", data={"village_id": str(world["vB"])}).status_code == 404
    assert clerk_client.get(f"/registry/households/{world['hB']}").status_code == 404


def test_losing_a_village_role_ends_access_to_that_village(two_village_client, world, app):
    from app.auth.models import Membership
    from app.auth.services import revoke

    c = two_village_client
    c.post("/switch-village", data={"village_id": str(world["vB"])})
    with write_transaction():
        m = db.session.scalar(sa.select(Membership).where(Membership.village_id == world["vB"],
                                                          Membership.role == "reviewer"))
        revoke(m)
    # the role change ends the session; after logging in again, only village A remains
    r = c.get(f"/registry/households/{world['hB']}")
    assert _is_login_redirect(r)
    _login(c, "both1")
    assert c.get(f"/registry/households/{world['hB']}").status_code == 404
    assert c.get(f"/registry/households/{world['hA']}").status_code == 200


def test_a_write_transaction_does_not_read_the_village_again_to_check_a_row(app, world):
    """begin_write() starts with a commit that expires g.village: the village check reads its id from the
    session's identity map instead of loading the village again (one statement less per write view), and a
    row of another village is still refused."""
    from flask import g
    from werkzeug.exceptions import NotFound

    from app.access import get_in_village_or_404
    from app.extensions import begin_write

    seen: list[str] = []

    def count(conn, cursor, statement, *args):
        seen.append(statement)

    with app.test_request_context("/"):
        g.village = db.session.get(Village, world["vA"])
        begin_write()
        sa.event.listen(db.engine, "before_cursor_execute", count)
        try:
            assert get_in_village_or_404(Household, world["hA"]).id == world["hA"]
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", count)
        assert [s for s in seen if "FROM villages" in s] == [] and len(seen) == 1
        with pytest.raises(NotFound):
            get_in_village_or_404(Household, world["hB"])
        db.session.rollback()
    assert _last_audit("access.cross_village").village_id == world["vA"]
