"""The home page is each role's work for today: counts with links to the lists that show those rows, overdue
first and in red, zero counts hidden, nothing of another village; the township sees counts per village, no
names."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.registry.models import Village
from app.registry.services import create_township
from app.submission import write_transaction
from tests.conftest import PASSWORD
from tests.home_helpers import EXPECTED, NAMES, seed_village

ITEM_RE = re.compile(r'<li class="today-item( overdue)?" data-key="([a-z_]+)">\s*<a href="([^"]+)">(.*?)</a>',
                     re.DOTALL)


def _login(client, username):
    client.post("/logout")
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302, username


def _items(client, role):
    """(key, count, days overdue, url) of the role's section on the home page, in the page's order."""
    with client.get("/") as r:
        html = r.get_data(as_text=True)
    assert r.status_code == 200
    section = re.search(rf'<section class="today[^"]*" id="today-{role}".*?</section>', html, re.DOTALL)
    assert section, html
    out = []
    for late, key, url, body in ITEM_RE.findall(section.group(0)):
        count = re.search(r'<strong class="today-count">(\d+)</strong>', body)
        days = re.search(r'<em class="today-late">\D*(\d+)', body)
        assert bool(late) == bool(days), body
        out.append((key, int(count.group(1)) if count else None, int(days.group(1)) if days else None,
                    url.replace("&amp;", "&")))
    return out, html


@pytest.fixture
def seeded(village, make_village, make_user, make_household):
    """The same work in two villages: a leak would double a count."""
    one = seed_village(village, make_user, make_household, suffix="1")
    other = make_village("v2", "二号村")
    seed_village(other, make_user, make_household, suffix="2", pending=5)
    return one


#: role → (user attribute, how to count the rows of each item's list)
ROLE_USERS = {"clerk": "clerk", "reviewer": "reviewer", "cashier": "cashier", "patrol_leader": "leader",
              "mediator": "mediator", "grid_worker": "worker"}

ROWS = {
    "rejected_mine": r'<tr>\s*<td><a href="/points/entries/\d+">',
    "posting_ending": r'<tr>\s*<td><a href="/points/entries/\d+">',
    # a reviewer's list has a tick box for the bulk review before each entry's number
    "pending": r'<tr>\s*(?:<td>(?:<input[^>]*>)?</td>\s*)?<td><a href="/points/entries/\d+">',
    "objections_overdue": r'<a href="/points/objections/\d+">',
    "objections_open": r'<a href="/points/objections/\d+">',
    "cancelled_week": r'class="redemption-row"',
    "redeemed_today": r'class="redemption-row"',
    "cancelled_today": r'class="redemption-row"',
    "out_of_stock": r'<tr(?: class="low-stock")?>\s*<td>[^<]+(?:<small|</td>)',
    "low_stock": r'<tr(?: class="low-stock")?>\s*<td>[^<]+(?:<small|</td>)',
    "to_confirm": r'<a href="/patrol/shifts/\d+">',
    "members_short": r'<a href="/patrol/members/\d+">',
    "events_overdue": r'<tr><td><a href="/grid/events/\d+">',
    "events_assigned": r'<tr><td><a href="/grid/events/\d+">',
}


def _rows_in(client, key, url):
    with client.get(url) as r:
        html = r.get_data(as_text=True)
    assert r.status_code == 200, (key, url)
    if key in ("follow_ups_overdue", "follow_ups_due"):
        part = html[html.index('id="due"'):]
        return len(re.findall(r'<li><a href="/mediation/cases/\d+">', part[:part.index("</ul>")]))
    if key == "window_closing":
        part = html[html.index('id="window"'):]
        return len(re.findall(r'<li><a href="/mediation/cases/\d+">', part[:part.index("</ul>")]))
    if key in ROWS:
        return len(re.findall(ROWS[key], html))
    return None  # pages whose rows are not one per count (the rules, the batches, today's visits)


@pytest.mark.parametrize("role", list(EXPECTED))
def test_each_role_sees_its_counts_with_links_to_those_rows(client, seeded, role):
    _login(client, getattr(seeded.users, ROLE_USERS[role]).username)
    items, html = _items(client, role)
    expected = EXPECTED[role]
    assert {k: (n, d) for k, n, d, _u in items} == expected
    # overdue ones first
    late = [d is not None for _k, _n, d, _u in items]
    assert late == sorted(late, reverse=True)
    # only this role's section
    assert re.findall(r'id="today-([a-z_]+)"', html) == [role]
    for key, count, _d, url in items:
        rows = _rows_in(client, key, url)
        if rows is not None:
            assert rows == count, (key, url)


def test_the_grid_workers_visits_link_shows_those_households(client, seeded):
    _login(client, seeded.users.worker.username)
    with client.get("/grid/today") as r:
        html = r.get_data(as_text=True)
    assert seeded.households[4].number in html and seeded.households[5].number in html


def test_zero_counts_are_hidden_and_an_idle_role_is_told_so(client, village, make_user):
    make_user("idle", ("reviewer", village), ("cashier", village))
    _login(client, "idle")
    for role in ("reviewer", "cashier"):
        items, html = _items(client, role)
        assert items == []
    assert html.count("today-none") == 2
    assert "today-count" not in html


def test_several_roles_one_page_a_section_each(client, seeded, make_user, village):
    make_user("both", ("clerk", village), ("reviewer", village), ("mediator", village))
    _login(client, "both")
    with client.get("/") as r:
        html = r.get_data(as_text=True)
    assert re.findall(r'id="today-([a-z_]+)"', html) == ["clerk", "reviewer", "mediator"]
    items, _html = _items(client, "reviewer")
    assert {k: n for k, n, _d, _u in items}["pending"] == 3
    # the mediator section of someone on no case: the counts are the village's, nothing private
    items, _html = _items(client, "mediator")
    assert [(k, n) for k, n, _d, _u in items] == [("open_cases", 2)]


def test_the_township_sees_counts_per_village_and_no_name(client, seeded, make_village, make_user,
                                                          make_household, village):
    with write_transaction():
        town = create_township("t1", "一号镇")
        far_town = create_township("t2", "二号镇")
        for v in db.session.scalars(sa.select(Village).where(Village.code.in_(("v1", "v2")))):
            v.township_id = town.id
    quiet = make_village("v3", "三号村", town)
    far = make_village("v4", "四号村", far_town)
    seed_village(far, make_user, make_household, suffix="4", pending=9)
    make_user("town1", ("township", town))
    _login(client, "town1")
    with client.get("/") as r:
        html = r.get_data(as_text=True)
    part = html[html.index('id="today-township"'):]
    part = part[:part.index("</section>")]
    # as much overdue in v1 and v2, more waiting in v2: v2 first; v3 has nothing; v4 is another township's
    assert re.findall(r'data-village="([^"]+)"', part) == ["v2", "v1", "v3"]
    row = re.search(r'data-village="v1">(.*?)</tr>', part, re.DOTALL).group(1)
    cells = dict(re.findall(r'data-key="([a-z_]+)">(\d*)</td>', row))
    assert cells == {"objections_overdue": "1", "cases_overdue": "2", "events_overdue": "2",
                     "shifts_to_confirm": "2", "entries_waiting": "3"}
    row = re.search(r'data-village="v3">(.*?)</tr>', part, re.DOTALL).group(1)
    assert set(re.findall(r'data-key="[a-z_]+">(\d*)</td>', row)) == {""}  # zero counts hidden
    assert quiet.name in part
    for name in NAMES:
        assert name not in html, name
    for user in vars(seeded.users).values():
        assert user.username not in html


@pytest.fixture
def backup_folder(tmp_path):
    return tmp_path / "backups"


@pytest.fixture
def app_config(backup_folder):
    return {"BACKUP_DIR": str(backup_folder)}


def _backup(folder, taken):
    folder.mkdir(exist_ok=True)
    path = folder / f"v1-{taken:%Y%m%dT%H%M%SZ}.tar.gz"
    path.write_bytes(b"archive")
    (folder / (path.name + ".sha256")).write_text(f"{'0' * 64}  {path.name}\n", "ascii")


def test_a_village_pcs_clerk_sees_the_last_backup_and_when_it_is_late(client, village, make_user, backup_folder):
    import datetime as dt

    from app.db import utcnow

    make_user("clerk1", ("clerk", village))
    _login(client, "clerk1")
    assert _items(client, "clerk")[0] == []  # no backups: nothing to say
    _backup(backup_folder, utcnow() - dt.timedelta(hours=3))
    [(key, _n, days, url)], _html = _items(client, "clerk")
    assert (key, days, url) == ("backup", None, "/admin/backups")
    _backup(backup_folder, utcnow() - dt.timedelta(days=400))  # an older one changes nothing
    assert _items(client, "clerk")[0][0][2] is None
    for p in backup_folder.iterdir():
        p.unlink()
    _backup(backup_folder, utcnow() - dt.timedelta(days=3, hours=1))
    [(key, _n, days, url)], _html = _items(client, "clerk")
    assert (key, days) == ("backup", 3)
    with client.get(url) as r:
        assert r.status_code == 200
