"""The points cycle through the pages: set up, record, review, post, object, correct."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.db import local_today
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.queries import balance_of
from app.points.models import Objection, PointEntry, PointItem
from app.registry.models import Household
from tests.conftest import PASSWORD


@pytest.fixture
def people(village, make_user, make_household):
    make_user("clerk1", ("clerk", village))
    make_user("rev1", ("reviewer", village))
    make_user("cash1", ("cashier", village))
    make_household(village, "0101", "张三丰", members=[("张小丰", "child")])
    make_household(village, "0102", "李四")
    return village


def _login(client, username):
    client.post("/logout")
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302


def _setup_scheme(client):
    r = client.post("/points/scheme", data={"submit": "1", "name": "积分细则", "year_policy": "carry_over",
                                            "posting_days": "7", "appeal_working_days": "7",
                                            "star_bands": "5:1,10:2"})
    assert r.status_code == 302, r.get_data(as_text=True)
    r = client.post("/points/scheme", data={"c-submit": "1", "c-name": "热心公益", "c-direction": "add"})
    assert r.status_code == 302
    cat_id = db.session.scalar(sa.text("SELECT id FROM point_categories"))
    r = client.post("/points/items/new", data={
        "category_id": cat_id, "code": "A01", "text": "参加村庄清洁日", "points": "２", "unit": "per_event",
        "cap_period": "none", "level": "village", "applies_to": "person", "article_ref": "村规民约第五条",
        "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)
    return db.session.scalar(sa.select(PointItem))


def _form_key(client, url):
    import re

    html = client.get(url, follow_redirects=True).get_data(as_text=True)
    return re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html).group(1)


def test_month_of_points_in_the_browser(client, people):
    _login(client, "clerk1")
    item = _setup_scheme(client)
    assert item.points == 2  # full-width digits accepted
    key = _form_key(client, "/points/entries/new")
    data = {"idempotency_key": key, "household_number": "0101", "person_id": "0", "item_id": item.id,
            "occurred_on": local_today().isoformat(), "note": "十一月清洁日"}
    assert client.post("/points/entries/new", data=data).status_code == 302
    assert client.post("/points/entries/new", data=data).status_code == 302  # double submit
    assert db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 1
    entry = db.session.scalar(sa.select(PointEntry))
    # the clerk cannot review
    assert client.post(f"/points/entries/{entry.id}/review", data={"approve": "1"}).status_code == 403
    _login(client, "rev1")
    assert "参加村庄清洁日" in client.get("/points/entries?status=pending").get_data(as_text=True)
    r = client.post(f"/points/entries/{entry.id}/review", data={"approve": "1", "note": ""})
    assert r.status_code == 302
    h = db.session.scalar(sa.select(Household).where(Household.number == "0101"))
    assert balance_of(h) == 2
    page = client.get(f"/points/households/{h.id}").get_data(as_text=True)
    assert "参加村庄清洁日" in page and "村规民约第五条" in page
    assert "参加村庄清洁日" in client.get("/points/posting").get_data(as_text=True)
    # a villager objects through the clerk; the reviewer corrects it to 1 point
    _login(client, "clerk1")
    r = client.post(f"/points/entries/{entry.id}/objections", data={
        "objector_name": "王五", "channel": "clerk", "reason": "他只去了半天"})
    assert r.status_code == 302
    obj = db.session.scalar(sa.select(Objection))
    assert obj is not None and db.session.get(PointEntry, entry.id).status == "disputed"
    _login(client, "rev1")
    dkey = _form_key(client, f"/points/objections/{obj.id}")
    r = client.post(f"/points/objections/{obj.id}", data={
        "idempotency_key": dkey, "decision": "corrected", "corrected_points": "1", "reply_text": "经核实改为1分。"})
    assert r.status_code == 302, r.get_data(as_text=True)
    db.session.expire_all()
    assert balance_of(h) == 1
    assert "经核实改为1分。" in client.get(f"/points/objections/{obj.id}").get_data(as_text=True)
    assert ledger.check() == []


def test_batch_entry_for_a_clean_up(client, people):
    _login(client, "clerk1")
    item = _setup_scheme(client)
    ids = [r[0] for r in db.session.execute(sa.text("SELECT id FROM people ORDER BY id"))]
    key = _form_key(client, "/points/entries/batch?q=0101")
    r = client.post("/points/entries/batch", data={"idempotency_key": key, "item_id": item.id,
                                                   "occurred_on": local_today().isoformat(),
                                                   "person_ids": ids, "submit": "1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 3


ALREADY = "这一笔已经记录过了。"
CHANGED = "这份表单已经用不同的内容提交过，本次没有做任何修改。请刷新页面后再试。"


def _entries() -> int:
    db.session.expire_all()
    return db.session.scalar(sa.select(sa.func.count(PointEntry.id)))


def test_an_entry_form_sent_again_records_once_and_says_so(client, people):
    _login(client, "clerk1")
    item = _setup_scheme(client)
    key = _form_key(client, "/points/entries/new")
    data = {"idempotency_key": key, "household_number": "0101", "person_id": "0", "item_id": item.id,
            "occurred_on": local_today().isoformat()}
    first = client.post("/points/entries/new", data=data, follow_redirects=True).get_data(as_text=True)
    assert ALREADY not in first
    again = client.post("/points/entries/new", data=data, follow_redirects=True).get_data(as_text=True)
    assert ALREADY in again
    assert _entries() == 1
    # the same key for another household: refused on the form, nothing written
    r = client.post("/points/entries/new", data={**data, "household_number": "0102"})
    assert r.status_code == 200 and CHANGED in r.get_data(as_text=True)
    assert _entries() == 1


def _batch(client, url, item, ids):
    key = _form_key(client, url)
    return key, {"idempotency_key": key, "item_id": item.id, "occurred_on": local_today().isoformat(),
                 "person_ids": ids, "submit": "1"}


def test_back_and_resubmit_of_a_batch_records_each_entry_once(client, people):
    _login(client, "clerk1")
    item = _setup_scheme(client)
    ids = [r[0] for r in db.session.execute(sa.text("SELECT id FROM people ORDER BY id"))]
    # the page's address carries its key, so Back (which fetches the page again) shows the same key
    r = client.get("/points/entries/batch?q=0101")
    assert r.status_code == 302 and "key=" in r.headers["Location"]
    page = r.headers["Location"]
    key, data = _batch(client, page, item, ids)
    r = client.post(page, data=data, follow_redirects=True)
    assert ALREADY not in r.get_data(as_text=True) and _entries() == 3
    back_key, data = _batch(client, page, item, ids)
    assert back_key == key
    r = client.post(page, data=data, follow_redirects=True)
    assert ALREADY in r.get_data(as_text=True)
    assert _entries() == 3
    # Back, one person unticked, sent again under the used key: refused, nothing written
    r = client.post(page, data={**data, "person_ids": ids[:2]})
    assert r.status_code == 200 and CHANGED in r.get_data(as_text=True)
    assert _entries() == 3
    # opening the page afresh gives a new key: a second batch is a batch of its own
    new_key, data = _batch(client, "/points/entries/batch?q=0101", item, ids[:1])
    assert new_key != key
    r = client.post("/points/entries/batch", data=data, follow_redirects=True)
    assert ALREADY not in r.get_data(as_text=True) and _entries() == 4


@pytest.mark.parametrize("raw", ["١٢٣", "𝟗", "1_000", "+5", "1e3", "1.5", "99999999999999999999", "", "①"])
def test_hostile_numbers_are_refused_and_nothing_written(client, people, raw):
    _login(client, "clerk1")
    _setup_scheme(client)
    cat_id = db.session.scalar(sa.text("SELECT id FROM point_categories"))
    r = client.post("/points/items/new", data={
        "category_id": cat_id, "code": "A99", "text": "测试", "points": raw, "unit": "per_event",
        "cap_period": "none", "level": "village", "applies_to": "person"})
    assert r.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(PointItem.id))) == 1


def test_recording_a_future_date_or_unknown_household_gives_the_form_back(client, people):
    _login(client, "clerk1")
    item = _setup_scheme(client)
    key = _form_key(client, "/points/entries/new")
    base = {"idempotency_key": key, "person_id": "0", "item_id": item.id}
    r = client.post("/points/entries/new", data={**base, "household_number": "9999",
                                                 "occurred_on": local_today().isoformat()})
    assert r.status_code == 200
    r = client.post("/points/entries/new", data={**base, "household_number": "0101",
                                                 "occurred_on": (local_today() + dt.timedelta(days=3)).isoformat()})
    assert r.status_code == 200
    assert db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 0


@pytest.mark.parametrize("number", ["01\x0001", "\x00", "0101\u202e"], ids=["nul", "only nul", "bidi"])
def test_a_household_number_with_a_control_character_gives_the_form_back(client, people, number):
    """The entry form looks the household up before it validates (for the member list): a number with a NUL,
    which PostgreSQL cannot even compare, was a server error there (found by the full fuzzing gate)."""
    _login(client, "clerk1")
    item = _setup_scheme(client)
    r = client.post("/points/entries/new", data={
        "idempotency_key": _form_key(client, "/points/entries/new"), "person_id": "0", "item_id": item.id,
        "household_number": number, "occurred_on": local_today().isoformat()})
    assert r.status_code == 200 and 'id="household_number"' in r.get_data(as_text=True)
    assert 'aria-invalid="true"' in r.get_data(as_text=True)
    # the member list names no household either (a NUL in a URL is refused before any view, as everywhere)
    r = client.get("/points/household-people", query_string={"household_number": number})
    assert r.status_code == (400 if "\x00" in number else 200)
    if r.status_code == 200:
        assert "户主" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 0


def test_roles_on_points_pages(client, people):
    _login(client, "cash1")
    assert client.get("/points/entries").status_code == 403
    assert client.get("/points/entries/new").status_code == 403
    _login(client, "rev1")
    assert client.get("/points/entries").status_code == 200
    assert client.get("/points/entries/new").status_code == 403
    assert client.get("/points/year-close").status_code == 403


def test_a_year_with_an_entry_waiting_for_review_is_not_closed(client, people):
    """The clerk is told why in Chinese, with the form back; no score is kept and nothing expires."""
    from app.points.models import YearScore

    _login(client, "clerk1")
    item = _setup_scheme(client)
    last_year = local_today().year - 1
    key = _form_key(client, "/points/entries/new")
    assert client.post("/points/entries/new", data={
        "idempotency_key": key, "household_number": "0101", "person_id": "0", "item_id": item.id,
        "occurred_on": f"{last_year}-12-20"}).status_code == 302
    r = client.post("/points/year-close", data={"year": str(last_year), "confirm": "y", "submit": "1"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and f"{last_year}年暂不能年终结算" in page and "还有 1 条积分待审核" in page
    assert db.session.scalar(sa.select(sa.func.count(YearScore.id))) == 0


def test_points_of_another_village_are_out_of_reach(client, people, make_village, make_user, make_household):
    _login(client, "clerk1")
    _setup_scheme(client)
    other = make_village("v2", "二号村")
    make_user("clerk2", ("clerk", other))
    h = make_household(other, "0101", "外村人")
    _login(client, "clerk2")
    assert client.get(f"/points/households/{h.id}").status_code == 200
    _login(client, "clerk1")
    assert client.get(f"/points/households/{h.id}").status_code == 404
    item = db.session.scalar(sa.select(PointItem))
    _login(client, "clerk2")
    assert client.get(f"/points/items/{item.id}").status_code == 404


def _selected_person(html: str) -> str | None:
    """The label of the selected option of the person list, None when none is marked selected."""
    import re

    select = re.search(r'<select[^>]*id="person_id".*?</select>', html, re.S)
    html = select.group(0) if select else html  # the htmx partial is the bare options
    chosen = re.search(r'<option selected value="[^"]*">([^<]*)</option>', html) or \
        re.search(r'<option[^>]*selected[^>]*>([^<]*)</option>', html)
    return chosen.group(1) if chosen else None


def test_entry_form_keeps_the_chosen_person(client, people):
    """A refused entry comes back with the member the clerk chose; reloading the list keeps the choice."""
    _login(client, "clerk1")
    item = _setup_scheme(client)
    child = db.session.scalar(sa.text("SELECT id FROM people WHERE name = '张小丰'"))
    key = _form_key(client, "/points/entries/new")
    tomorrow = (local_today() + dt.timedelta(days=1)).isoformat()
    r = client.post("/points/entries/new", data={"idempotency_key": key, "household_number": "0101",
                                                 "person_id": str(child), "item_id": item.id,
                                                 "occurred_on": tomorrow})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "日期不能晚于今天" in html
    assert _selected_person(html) == "张小丰"
    assert db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 0
    # the list reloads when 户号 loses focus: the person already chosen stays chosen
    r = client.get(f"/points/household-people?household_number=0101&person_id={child}")
    assert _selected_person(r.get_data(as_text=True)) == "张小丰"
    # another household: its own list, nobody of the first household carried over
    r = client.get(f"/points/household-people?household_number=0102&person_id={child}")
    assert "张小丰" not in r.get_data(as_text=True)
    # asked again for the household the list already shows (户号 lost focus after typing): nothing to swap
    r = client.get(f"/points/household-people?household_number=0101&people_for=0101&person_id={child}")
    assert r.status_code == 204 and r.get_data() == b""
