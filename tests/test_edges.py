"""What every request passes at the edge: where `next` may lead, NUL bytes, numbers in URLs."""
from __future__ import annotations

from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.registry.models import Person
from app.rules.models import RuleSet
from app.urls import is_local_path
from tests.conftest import PASSWORD

# Known ways to make "a path on this site" leave it (open-redirect bypasses), as they arrive in a
# query string after the browser's and Werkzeug's decoding, plus their percent-encoded forms.
BYPASSES = [
    "//evil.com", "///evil.com", "////evil.com", "/\\evil.com", "\\\\evil.com", "/\\/evil.com",
    "/\t/evil.com", "/\n/evil.com", "/\r/evil.com", "/ /evil.com", "\t//evil.com", " //evil.com",
    "/%09/evil.com", "/%2F/evil.com", "/%2f%2fevil.com", "%2F%2Fevil.com", "/%5Cevil.com", "/%255C%255Cevil.com",
    "/%252F%252Fevil.com", "https://evil.com", "http:evil.com", "http:/evil.com", "https:/\\evil.com",
    "HTTPS://evil.com", "javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,<script>",
    "evil.com", "@evil.com", "/\x00/evil.com", "/\u3000/evil.com", "/\u200b/evil.com", "/\u2028/evil.com",
    "/x" * 600,
]
LOCAL = ["/", "/points/entries?status=pending&page=2", "/rules/public/%E7%A4%BA%E8%8C%83",
         "/rules/public/示范村", "/registry/households?q=zsf"]


@pytest.mark.parametrize("target", BYPASSES)
def test_no_bypass_counts_as_a_local_path(target):
    assert not is_local_path(target)


@pytest.mark.parametrize("target", LOCAL)
def test_our_own_paths_do(target):
    assert is_local_path(target)


def _stays_here(location: str) -> bool:
    parts = urlsplit(location)
    return not parts.scheme and not parts.netloc and location.startswith("/") and not location.startswith("//") \
        and "\\" not in location and all(ord(c) > 0x20 for c in location)


@pytest.mark.parametrize("target", BYPASSES)
def test_the_language_switch_never_leaves_the_site(client, target):
    r = client.get("/lang/en?next=" + quote(target, safe=""))
    assert r.status_code in (302, 303, 400), r.status_code
    if r.status_code != 400:  # a NUL in the query is refused before the view
        assert _stays_here(r.headers["Location"]), r.headers["Location"]


def test_the_language_switch_returns_to_the_page(client):
    r = client.get("/lang/en?next=" + quote("/points/entries?status=pending", safe=""))
    assert r.headers["Location"] == "/points/entries?status=pending"


@pytest.mark.parametrize("target", ["/%09/evil.com", "//evil.com", "/\\evil.com", "https://evil.com"])
def test_login_never_sends_the_user_off_the_site(client, clerk, target):
    r = client.post("/login?next=" + quote(target, safe=""), data={"username": "clerk1", "password": "pw-12345678"})
    assert r.status_code == 302 and _stays_here(r.headers["Location"]), r.headers.get("Location")


def test_login_follows_a_local_next(client, clerk):
    r = client.post("/login?next=%2Fpoints%2Fentries", data={"username": "clerk1", "password": "pw-12345678"})
    assert r.headers["Location"] == "/points/entries"


@pytest.mark.parametrize("url", ["/rules/public/demo%00", "/rules/public/demo?q=%E6%9D%91%00",
                                 "/lang/en?next=/%00", "/verify?code=AB%00C", "/login?next=%00"])
def test_a_nul_byte_in_a_url_is_refused_with_a_page_not_an_error(client, url):
    r = client.get(url)
    assert r.status_code == 400
    assert "系统没能看懂这次请求" in r.get_data(as_text=True)


def test_a_nul_byte_in_a_logged_in_search_is_refused(clerk_client):
    r = clerk_client.get("/registry/households?q=%E5%BC%A0%00")
    assert r.status_code == 400


@pytest.mark.parametrize("url", ["/points/entries/9223372036854775808", "/points/households/99999999999999999999",
                                 "/registry/households/2147483648"])
def test_an_id_larger_than_any_column_is_not_found(clerk_client, url):
    assert clerk_client.get(url).status_code == 404


def test_the_largest_id_is_still_looked_up(clerk_client):
    assert clerk_client.get("/points/entries/2147483647").status_code == 404


@pytest.mark.parametrize("value", ["9223372036854775808", "99999999999999999999", "2147483648", "-1", "0", "x",
                                   "１", "1e3"])
@pytest.mark.parametrize("url", ["/points/rankings?group=", "/points/entries/batch?group=",
                                 "/registry/households?group="])
def test_a_group_number_from_the_url_never_gives_a_500(clerk_client, url, value):
    r = clerk_client.get(url + quote(value), follow_redirects=True)
    assert r.status_code == 200, (url, value, r.status_code)


# --- numbers parsed by hand from a form or a query string (issue 13): a 404 or a message, never a 500 ---

ODD_IDS = ["99999999999999999999", "9223372036854775808", "2147483648", "-1", "0", "x", "١٢", "²", "1e3",
           "1_0", " 7", "1\x00"]


@pytest.fixture
def setup(village, make_user, make_household):
    """A clerk and a cashier, household 0101 (张三丰), a scheme with item A01 and a rule set 章程."""
    from app.points import services as pts
    from app.rules import services as rules
    from app.submission import write_transaction

    make_user("clerk1", ("clerk", village))
    make_user("cash1", ("cashier", village))
    h = make_household(village, "0101", "张三丰")
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        item = pts.create_item(pts.create_category(scheme, "热心公益", "add"),
                               pts.ItemData(code="A01", text="参加清洁日", points=2))
        rs = rules.create_ruleset(village, "village_rules", "章程")
    return {"household": h.id, "item": item.id, "ruleset": rs.id}


def _as(client, username):
    assert client.post("/login", data={"username": username, "password": PASSWORD}).status_code == 302
    return client


def _no_500(r, *allowed):
    assert r.status_code < 500 and (not allowed or r.status_code in allowed), r.status_code
    assert "Traceback" not in r.get_data(as_text=True)


@pytest.mark.parametrize("value", ODD_IDS)
def test_an_odd_household_at_the_counter_is_not_found(client, setup, value):
    r = _as(client, "cash1").post("/shop/counter", data={"household_id": value, "confirm": "1",
                                                         "idempotency_key": "k" * 20})
    _no_500(r, 400, 404)


@pytest.mark.parametrize("value", ODD_IDS)
def test_an_odd_household_in_the_counter_address_is_not_a_500(client, setup, value):
    _no_500(_as(client, "cash1").get("/shop/counter?household=" + quote(value)), 200, 400, 404)


@pytest.mark.parametrize("value", ODD_IDS)
def test_an_odd_person_in_a_batch_is_left_out(client, setup, value):
    r = _as(client, "clerk1").post("/points/entries/batch?key=batch-key-0123456789", data={
        "item_id": str(setup["item"]), "person_ids": value, "occurred_on": "2026-01-05",
        "idempotency_key": "batch-key-0123456789", "submit": "1"})
    _no_500(r, 200, 400)


@pytest.mark.parametrize("value", ODD_IDS)
def test_an_odd_person_on_an_entry_is_not_found(client, setup, value):
    r = _as(client, "clerk1").post("/points/entries/new", data={
        "household_number": "0101", "person_id": value, "item_id": str(setup["item"]), "occurred_on": "2026-01-05",
        "idempotency_key": "entry-key-0123456789", "submit": "1"})
    # 0 is the form's "the head of household"; no person by that number is a 404, no number a form message
    _no_500(r, 302 if value == "0" else 404 if value.isascii() and value.lstrip("-").isdigit() else 200, 404)


@pytest.mark.parametrize("value", ODD_IDS)
def test_an_odd_rule_set_in_the_import_address_is_ignored(client, setup, value):
    _no_500(_as(client, "clerk1").get("/rules/import?ruleset=" + quote(value)), 200, 400)


@pytest.mark.parametrize("value", ODD_IDS)
def test_odd_versions_to_compare_are_not_found(client, setup, value):
    _no_500(_as(client, "clerk1").get(f"/rules/compare?a={quote(value)}&b={quote(value)}"), 400, 404)


@pytest.mark.parametrize("value", ODD_IDS)
def test_an_odd_household_chosen_at_the_kiosk_goes_back_to_the_letters(app, village, setup, value):
    from tests.conftest import FreshContextClient
    from tests.kiosk_helpers import enable_client

    app.test_client_class = FreshContextClient
    kiosk = app.test_client()
    enable_client(kiosk, app, village)
    r = kiosk.post("/kiosk/choose", data={"household": value})
    _no_500(r, 302, 400)


@pytest.mark.parametrize("value", ODD_IDS)
def test_an_odd_village_to_switch_to_is_refused(client, setup, value):
    _no_500(_as(client, "clerk1").post("/switch-village", data={"village_id": value}), 400, 404)


@pytest.mark.parametrize("value", ["99999999999999999999", "-5", "١٢", "²", "x"])
@pytest.mark.parametrize("url", ["/points/rankings?year=", "/shop/reports?year=", "/shop/reports?month=",
                                 "/points/entries?page=", "/registry/households?page="])
def test_an_odd_year_month_or_page_is_clamped(client, setup, url, value):
    user = "cash1" if url.startswith("/shop") else "clerk1"
    _no_500(_as(client, user).get(url + quote(value)), 200)


@pytest.mark.parametrize("text", ["第123456789012345678901234567890条 爱护公物。",
                                  "123456789012345678901234567890. 爱护公物。"])
def test_a_text_numbered_with_thirty_digits_gives_the_form_back(client, setup, text):
    r = _as(client, "clerk1").post("/rules/import", data={
        "ruleset_id": "0", "kind": "village_rules", "title": "长编号", "text": text, "submit": "1"},
        content_type="multipart/form-data")
    _no_500(r, 400)
    assert "没有找到条款" in r.get_data(as_text=True)


@pytest.mark.parametrize("label", ["第123456789012345678901234567890条", "123456789012345678901234567890.",
                                   "第一二三四五六七八九〇一二三四五六七八九〇一二三四五六七八九〇条"])
def test_an_article_relabelled_with_thirty_digits_is_a_message_on_the_label(client, setup, label):
    from app.rules import services as rules
    from app.rules.models import RuleArticle
    from app.rules.parser import parse_rules
    from app.submission import write_transaction

    with write_transaction():
        v = rules.import_version(db.session.get(RuleSet, setup["ruleset"]), parse_rules("第一条 爱护公物。"),
                                 "第一条 爱护公物。")
        article_id = v.articles[0].id
    r = _as(client, "clerk1").post(f"/rules/articles/{article_id}", data={"label": label, "text": "爱护公物。",
                                                                          "submit": "1"})
    _no_500(r, 400)
    assert "条款编号最大为9999。" in r.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(RuleArticle, article_id).label == "第一条"


@pytest.mark.parametrize("blank", ["   ", "\u3000\u3000", " \t "])
def test_a_whitespace_only_id_number_on_the_person_form_is_no_number(client, setup, blank):
    """Only spaces typed counts as nothing typed (the field is optional), not a number to check."""
    r = _as(client, "clerk1").post(f"/registry/households/{setup['household']}/people/new", data={
        "name": "张小丰", "relation": "child", "id_number": blank, "submit": "1"})
    _no_500(r, 302)
    db.session.rollback()
    added = db.session.scalar(sa.select(Person).where(Person.name == "张小丰"))
    assert added is not None and added.id_hmac is None
