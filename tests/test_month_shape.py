"""A month in the village, done in fewer clicks and the right shape (issue 18): forms laid out label above
field, a searchable item list grouped by category, batch entry by group, bulk review, groups in number order,
donations of new goods, returning one line of a redemption, and the strings and PDF headings fixed."""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from app.db import local_today
from app.extensions import db
from app.submission import write_transaction
from app.text import group_key
from tests.conftest import PASSWORD

GROUPS_IN_ORDER = ["第一组", "第二组", "第三组", "第五组", "第十组", "第十一组", "第十二组"]


def _login(client, username):
    client.post("/logout")
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302


def _make_groups(village, names):
    from app.registry.services import create_group

    with write_transaction():
        return [create_group(village, n) for n in names]


@pytest.fixture
def staff(village, make_user):
    make_user("clerk1", ("clerk", village))
    make_user("rev1", ("reviewer", village))
    make_user("cash1", ("cashier", village))
    return village


@pytest.fixture
def scheme(staff):
    """A scheme with two categories: A01 (+2, capped at 4 a month), A02 (+5), B01 (−10)."""
    from app.points import services as pts
    from app.points.services import ItemData

    with write_transaction():
        sc = pts.create_scheme(staff, "积分细则")
        add = pts.create_category(sc, "热心公益", "add", sort=0)
        cut = pts.create_category(sc, "违反村规", "deduct", sort=1)
        pts.create_item(add, ItemData(code="A01", text="参加村庄清洁日", points=2, cap_period="month", cap_points=4))
        pts.create_item(add, ItemData(code="A02", text="义务献血", points=5))
        pts.create_item(cut, ItemData(code="B01", text="乱扔垃圾", points=-10))
    return sc


# --- groups sort by their number ------------------------------------------------------------------

def test_group_key_orders_groups_by_their_number():
    shuffled = ["第三组", "第十二组", "第一组", "第五组", "第十一组", "第二组", "第十组"]
    assert sorted(shuffled, key=group_key) == GROUPS_IN_ORDER
    assert sorted(["十一组", "2组", "一组", "第3组", "１０组"], key=group_key) == ["一组", "2组", "第3组", "１０组", "十一组"]
    # unnumbered names come after the numbered ones
    assert sorted(["村东片", "第二组", "第一组"], key=group_key) == ["第一组", "第二组", "村东片"]


def test_group_lists_come_in_number_order_on_every_page(client, staff, scheme):
    _make_groups(staff, ["第三组", "第十二组", "第一组", "第五组", "第十一组", "第二组", "第十组"])
    _login(client, "clerk1")
    for url in ("/registry/groups", "/points/rankings", "/points/entries/batch"):
        html = client.get(url, follow_redirects=True).get_data(as_text=True)
        found = [n for n in re.findall(r"第[一二三四五六七八九十]+组", html) if n in GROUPS_IN_ORDER]
        seen = list(dict.fromkeys(found))
        assert seen == GROUPS_IN_ORDER, (url, seen)


# --- strings and English PDFs ---------------------------------------------------------------------

def test_item_form_category_list_is_in_chinese(client, scheme):
    _login(client, "clerk1")
    html = client.get("/points/items/new").get_data(as_text=True)
    assert "热心公益（加分）" in html and "违反村规（扣分）" in html
    assert "adds" not in html and "deducts" not in html


def _on_posting(village, scheme, make_household, n=1):
    """n approved entries (on posting), recorded by clerk1 and approved by rev1."""

    from app.auth.models import User
    from app.points import services as pts
    from app.points.models import PointItem

    h = make_household(village, "0101", "张三丰")
    clerk = db.session.scalar(sa.select(User).where(User.username == "clerk1"))
    rev = db.session.scalar(sa.select(User).where(User.username == "rev1"))
    today = local_today()
    with write_transaction():
        item = db.session.scalar(sa.select(PointItem).where(PointItem.code == "A02"))
        entries = [pts.record_entry(scheme, item, h, occurred_on=today, actor=clerk) for _ in range(n)]
        for e in entries:
            pts.approve(e, rev, today=today)
    return h


def test_english_pdf_headings_break_between_words_not_inside_them(client, staff, scheme, make_household):
    import io

    from pypdf import PdfReader

    _on_posting(staff, scheme, make_household)
    _login(client, "clerk1")
    client.get("/lang/en?next=/")
    with client.get("/points/posting.pdf") as r:
        assert r.status_code == 200, r.get_data(as_text=True)[:500]
        text = "\n".join(p.extract_text() or "" for p in PdfReader(io.BytesIO(r.data)).pages)
    # a word split by hyphenation joins up again; a word broken anywhere ("House/hold") does not
    joined = re.sub(r"-\s*\n\s*", "", text)
    for word in ("Household", "number", "Category", "Points"):
        assert re.search(rf"\b{word}\b", joined), (word, text)


# --- forms: label above field, one cell per field -------------------------------------------------

class _Tree:
    """The parent element of every label, control and message of a page (a tiny HTML tree walk)."""

    VOID = {"input", "br", "img", "meta", "link", "hr", "col", "source", "wbr", "area", "base"}

    def __init__(self, html: str):
        from html.parser import HTMLParser

        self.parent_of_label: dict[str, int] = {}  # label's for → parent element number
        self.parent_of_id: dict[str, int] = {}
        self.classes: dict[int, str] = {}
        self.grid_children: list[int] = []  # elements directly inside a .grid / .grid-2
        stack: list[int] = [0]
        tree = self

        class P(HTMLParser):
            n = 0

            def handle_starttag(self, tag, attrs):
                a = dict(attrs)
                P.n += 1
                me = P.n
                parent = stack[-1]
                tree.classes[me] = a.get("class") or ""
                if set(tree.classes.get(parent, "").split()) & {"grid", "grid-2"}:
                    tree.grid_children.append(me)
                if tag == "label" and a.get("for"):
                    tree.parent_of_label[a["for"]] = parent
                if a.get("id"):
                    tree.parent_of_id[a["id"]] = parent
                if tag not in _Tree.VOID:
                    stack.append(me)

            def handle_endtag(self, tag):
                if tag not in _Tree.VOID and len(stack) > 1:
                    stack.pop()

        P().feed(html)


def _check_fields(html: str, ids: list[str]):
    t = _Tree(html)
    for fid in ids:
        box = t.parent_of_id[fid]
        assert t.parent_of_label[fid] == box, fid  # the label sits in the same block as its box …
        assert "field" in t.classes[box].split(), fid
        if f"{fid}-err" in t.parent_of_id:  # … and so does its message
            assert t.parent_of_id[f"{fid}-err"] == box, fid


def test_every_form_field_keeps_its_label_box_and_error_together(client, staff, scheme, make_household):
    import datetime as dt

    make_household(staff, "0101", "张三丰")
    _login(client, "clerk1")
    future = (local_today() + dt.timedelta(days=3)).isoformat()
    html = client.get("/points/entries/new").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html).group(1)
    item_id = re.search(r'value="(\d+)">A01', html).group(1)
    r = client.post("/points/entries/new", data={"idempotency_key": key, "household_number": "0101",
                                                 "item_id": item_id, "occurred_on": future, "submit": "1"})
    html = r.get_data(as_text=True)
    assert 'id="occurred_on-err"' in html
    _check_fields(html, ["household_number", "person_id", "item_id", "occurred_on", "note", "evidence"])
    # other forms laid out in a grid: the batch form, households, the shop's product form
    _check_fields(client.get("/points/entries/batch", follow_redirects=True).get_data(as_text=True),
                  ["item_id", "occurred_on", "note"])
    _check_fields(client.get("/registry/households/new").get_data(as_text=True), ["number", "group_id", "address"])
    _login(client, "cash1")
    _check_fields(client.get("/shop/products/new").get_data(as_text=True), ["name", "unit", "price_points"])


# --- the item list: grouped by category, searchable, points and cap shown -------------------------

def test_item_list_is_grouped_by_category_with_search_words_points_and_cap(client, staff, scheme, make_household):

    from app.points.models import PointEntry

    make_household(staff, "0101", "张三丰")
    _login(client, "clerk1")
    html = client.get("/points/entries/new").get_data(as_text=True)
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', html, re.S)
    assert [g for g, _ in groups] == ["热心公益（加分）", "违反村规（扣分）"]
    add, cut = groups[0][1], groups[1][1]
    assert "A01" in add and "A02" in add and "B01" in cut and "B01" not in add
    a01 = re.search(r'<option data-search="([^"]+)" value="(\d+)">([^<]+)</option>', add)
    words, item_id, label = a01.groups()
    assert "a01" in words and "参加村庄清洁日" in words and "cjczqjr" in words  # code, text, pinyin initials
    assert label.startswith("A01 参加村庄清洁日") and "+2" in label and "每月" in label and "4" in label
    assert "B01 乱扔垃圾（-10）" in cut
    assert 'src="/static/app.js"' in html and "<script>" not in html
    assert 'data-filter-label="' in html
    # without the script it is a plain grouped list, and it records as before
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html).group(1)
    r = client.post("/points/entries/new", data={"idempotency_key": key, "household_number": "0101",
                                                 "item_id": item_id, "occurred_on": local_today().isoformat(),
                                                 "submit": "1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert db.session.scalar(sa.select(PointEntry.item_code)) == "A01"
    batch = client.get("/points/entries/batch", follow_redirects=True).get_data(as_text=True)
    assert '<optgroup label="热心公益（加分）">' in batch


# --- batch entry: by group, select all, count ------------------------------------------------------

@pytest.fixture
def two_groups(staff, make_household):
    first, second = _make_groups(staff, ["第二组", "第一组"])[::-1]
    make_household(staff, "0201", "王二", group=second, members=[("王小二", "child")])
    make_household(staff, "0101", "张三丰", group=first, members=[("张小丰", "child")])
    make_household(staff, "0102", "李四", group=first)
    return first, second


def test_batch_lists_everyone_by_group_with_select_all_group_and_count(client, staff, scheme, two_groups,
                                                                       make_village, make_household):

    from app.points.models import PointEntry
    from app.registry.models import Person

    _login(client, "clerk1")
    r = client.get("/points/entries/batch?group=all", follow_redirects=True)
    html = r.get_data(as_text=True)
    sections = re.findall(r'<section class="batch-group" data-group>\s*<h3>([^<]+)<', html)
    assert [s.strip() for s in sections] == ["第一组", "第二组"]
    assert html.count('data-tick="group"') == 2 and 'data-tick="all"' in html and "已选 0 人" in html
    assert html.count('name="person_ids"') == 5
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html).group(1)
    item_id = re.search(r'value="(\d+)">A02', html).group(1)
    ids = {name: pid for pid, name in db.session.execute(sa.select(Person.id, Person.name))}
    # the server still checks what comes back: someone of another village is refused, nothing written
    other = make_village("v2", "二号村")
    stranger = make_household(other, "9901", "赵外").head_id
    data = {"idempotency_key": key, "item_id": item_id, "occurred_on": local_today().isoformat(),
            "group": "all", "q": "", "submit": "1"}
    r = client.post("/points/entries/batch", data={**data, "person_ids": [ids["张三丰"], stranger]})
    assert r.status_code == 200 and 'id="person_ids-err"' in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 0
    # what was ticked stays ticked on the page that comes back, and the count says so
    assert "已选 1 人" in r.get_data(as_text=True)
    r = client.post("/points/entries/batch", data={**data, "person_ids": [ids["张三丰"], ids["张小丰"], ids["王二"]]})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 3


# --- bulk review ----------------------------------------------------------------------------------

def _record(scheme, code, household, *, note=None, evidence=None, n=1):

    from app.auth.models import User
    from app.points import services as pts
    from app.points.models import PointItem

    clerk = db.session.scalar(sa.select(User).where(User.username == "clerk1"))
    with write_transaction():
        item = db.session.scalar(sa.select(PointItem).where(PointItem.code == code))
        return [pts.record_entry(scheme, item, household, occurred_on=local_today(), actor=clerk, note=note,
                                 evidence_file=evidence).id for _ in range(n)]


def test_bulk_review_approves_the_ticked_and_refuses_a_capped_one_with_its_reason(client, staff, scheme,
                                                                                  make_household):
    from app.ledger.queries import balance_of
    from app.points.models import PointEntry

    h = make_household(staff, "0101", "张三丰")
    capped = _record(scheme, "A01", h, n=3)  # +2 each, at most 4 a month: the third is over the cap
    blood = _record(scheme, "A02", h, note="县医院献血 300 毫升", evidence="abc.jpg")
    _login(client, "rev1")
    html = client.get("/points/entries?status=pending").get_data(as_text=True)
    # the list shows each entry's note and evidence photo, and a box to tick it
    assert "县医院献血 300 毫升" in html and f"/points/entries/{blood[0]}/evidence" in html
    assert html.count('name="entry_ids"') == 4 and 'id="bulk-review"' in html
    r = client.post("/points/entries/review", data={"entry_ids": capped + blood, "approve": "1", "note": "",
                                                    "next": "/points/entries?status=pending"},
                    follow_redirects=True)
    page = r.get_data(as_text=True)
    db.session.expire_all()
    status = dict(db.session.execute(sa.select(PointEntry.id, PointEntry.status)).all())
    assert [status[i] for i in capped] == ["posted", "posted", "pending"]
    assert status[blood[0]] == "posted"
    assert balance_of(h) == 9
    # the reviewer is told exactly what happened: which passed, which did not and why
    assert "已批准 3 条记录" in page and f"#{capped[0]}" in page and f"#{blood[0]}" in page
    assert "以下 1 条记录没有审核" in page and f"#{capped[2]}：" in page and "A01" in page
    # a bulk reject needs a reason; without one nothing changes
    r = client.post("/points/entries/review", data={"entry_ids": [capped[2]], "reject": "1", "note": ""},
                    follow_redirects=True)
    assert "请填写驳回理由" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PointEntry, capped[2]).status == "pending"
    r = client.post("/points/entries/review", data={"entry_ids": [capped[2]], "reject": "1", "note": "本月已满"},
                    follow_redirects=True)
    assert "已驳回 1 条记录" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PointEntry, capped[2]).status == "rejected"
    assert db.session.get(PointEntry, capped[2]).review_note == "本月已满"


def test_bulk_review_refuses_the_reviewers_own_entries_and_strangers(client, staff, scheme, make_household,
                                                                     make_village):
    from app.points.models import PointEntry

    h = make_household(staff, "0101", "张三丰")
    ids = _record(scheme, "A02", h, n=2)
    _login(client, "clerk1")  # the recorder: not allowed to review at all
    assert client.post("/points/entries/review", data={"entry_ids": ids, "approve": "1"}).status_code == 403
    _login(client, "rev1")
    r = client.post("/points/entries/review", data={"entry_ids": [ids[0], 999999], "approve": "1"},
                    follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "已批准 1 条记录" in page and "#999999：" in page
    db.session.expire_all()
    assert db.session.get(PointEntry, ids[1]).status == "pending"


# --- donations: new goods and an estimated value --------------------------------------------------

def _cashier_products(village):
    from app.shop import services as shop

    with write_transaction():
        return shop.create_product(village, name="大米", spec="5kg", unit="袋", price_points=50)


def test_a_donation_adds_new_goods_and_records_their_estimated_value(client, staff):
    from app.shop.models import Donation, DonationLine, Product, StockMovement
    from app.shop.services import check_stock

    rice = _cashier_products(staff)
    _login(client, "cash1")
    html = client.get("/shop/donations/new").get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html).group(1)
    data = {"idempotency_key": key, "donor_kind": "unit", "donor_name": "县农商银行", "submit": "1",
            f"qty_{rice.id}": "10", f"value_{rice.id}": "300",
            "new_name_0": "食用油", "new_spec_0": "5L", "new_unit_0": "桶", "new_price_0": "80", "new_qty_0": "6",
            "new_cond_0": "全新", "new_value_0": "420"}
    # an incomplete new line comes back with its fields marked, nothing written
    r = client.post("/shop/donations/new", data={**data, "new_name_1": "毛巾"})
    assert r.status_code == 200 and 'id="new_unit_1-err"' in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Donation.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(Product.id))) == 1
    r = client.post("/shop/donations/new", data=data)
    assert r.status_code == 302, r.get_data(as_text=True)
    oil = db.session.scalar(sa.select(Product).where(Product.name == "食用油"))
    assert (oil.spec, oil.unit, oil.price_points, oil.stock) == ("5L", "桶", 80, 6)
    lines = {ln.product_id: ln for ln in db.session.scalars(sa.select(DonationLine))}
    assert lines[oil.id].estimated_value == 420 and lines[rice.id].estimated_value == 300
    assert lines[oil.id].condition == "全新"
    moves = db.session.scalars(sa.select(StockMovement).where(StockMovement.product_id == oil.id)).all()
    assert [(m.qty, m.kind) for m in moves] == [(6, "donation_in")]
    assert check_stock(staff.id) == []
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "食用油 5L" in page and "420" in page and "720" in page  # the estimate per line and in all
    # the same form again records nothing more; new goods already listed are refused, nothing written
    assert client.post("/shop/donations/new", data=data).status_code == 302
    assert db.session.scalar(sa.select(sa.func.count(Donation.id))) == 1
    html = client.get("/shop/donations/new").get_data(as_text=True)
    key2 = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html).group(1)
    r = client.post("/shop/donations/new", data={**data, "idempotency_key": key2, f"qty_{rice.id}": "",
                                                 f"qty_{oil.id}": ""})
    assert r.status_code == 200 and "已" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(Donation.id))) == 1
    assert db.session.scalar(sa.select(Product.stock).where(Product.id == oil.id)) == 6


# --- the counter: returning one line --------------------------------------------------------------

@pytest.fixture
def basket(staff, make_household):
    """Household 0101 with 200 points redeemed 2 bags of rice (50) and 1 bottle of oil (30): 130 points."""
    from app.auth.models import User
    from app.ledger import services as ledger
    from app.ledger.models import AccountKind
    from app.shop import services as shop

    h = make_household(staff, "0101", "张三丰")
    cashier = db.session.scalar(sa.select(User).where(User.username == "cash1"))
    with write_transaction():
        rice = shop.create_product(staff, name="大米", spec="5kg", unit="袋", price_points=50)
        oil = shop.create_product(staff, name="食用油", spec="1L", unit="瓶", price_points=30)
        shop.receive_purchase(rice, 10, "进货")
        shop.receive_purchase(oil, 10, "进货")
        ledger.post_transfer(debit=ledger.system_account(staff.id, AccountKind.ISSUANCE),
                             credit=ledger.household_account(h), amount=200, code="opening", key="open-1")
    with write_transaction():
        red = shop.redeem(h, [(rice, 2), (oil, 1)], key="k" * 32, actor=cashier)
    return h, red, rice, oil


def _return_form(client, red_id, line_id):
    html = client.get(f"/shop/redemptions/{red_id}").get_data(as_text=True)
    key = re.search(rf'id="ret{line_id}-idempotency_key" name="ret{line_id}-idempotency_key" type="hidden" '
                    rf'value="([^"]+)"', html).group(1)
    return html, {f"ret{line_id}-idempotency_key": key, f"ret{line_id}-line_id": str(line_id),
                  f"ret{line_id}-submit": "1"}


def test_returning_one_line_gives_its_points_and_goods_back(client, staff, basket):
    from app.ledger import services as ledger
    from app.ledger.queries import balance_of
    from app.ledger.models import Transfer
    from app.shop.models import Product, RedemptionLine, RedemptionReturn
    from app.shop.services import check_stock

    h, red, rice, oil = basket
    assert balance_of(h) == 70
    rice_line = db.session.scalar(sa.select(RedemptionLine.id).where(RedemptionLine.redemption_id == red.id,
                                                                     RedemptionLine.product_id == rice.id))
    _login(client, "cash1")
    html, form = _return_form(client, red.id, rice_line)
    assert "这一行退货" in html
    url = f"/shop/redemptions/{red.id}/return/{rice_line}"
    # more than was taken: refused with the line's form back, nothing written
    r = client.post(url, data={**form, f"ret{rice_line}-qty": "3", f"ret{rice_line}-reason": "多退"})
    assert r.status_code == 200 and "最多还能退回 2 件" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(RedemptionReturn.id))) == 0
    # one bag back
    data = {**form, f"ret{rice_line}-qty": "1", f"ret{rice_line}-reason": "米袋破损"}
    r = client.post(url, data=data)
    assert r.status_code == 302, r.get_data(as_text=True)
    db.session.rollback()
    assert balance_of(h) == 120
    assert db.session.scalar(sa.select(Product.stock).where(Product.id == rice.id)) == 9
    assert db.session.scalar(sa.select(Product.stock).where(Product.id == oil.id)) == 9
    # the ledger: the counter's charge reversed, the goods kept charged again
    codes = [(t.code, t.amount) for t in db.session.scalars(sa.select(Transfer).order_by(Transfer.id))]
    assert codes[-2:] == [("reversal", 130), ("redeem", 80)]
    assert ledger.check(staff.id) == [] and check_stock(staff.id) == []
    # the same form again changes nothing
    r = client.post(url, data=data, follow_redirects=True)
    assert "已经登记过了" in r.get_data(as_text=True)
    db.session.rollback()
    assert balance_of(h) == 120
    # the month's figures count what the household kept
    from app.db import local_today
    from app.shop.services import month_bounds, redemptions_by_month, top_goods

    today = local_today()
    month = redemptions_by_month(staff.id, today.year)[today.month - 1]
    assert (month["points"], month["qty"]) == (80, 2)
    assert {r.name: (int(r.qty), int(r.points)) for r in top_goods(staff.id, *month_bounds(today.year, today.month))} \
        == {"大米": (1, 50), "食用油": (1, 30)}
    from app.shop.services import disclosure
    sheet = disclosure(staff.id, today.year, today.month)
    assert sheet["points"] == 80 and sheet["redeemed_items"] == 2
    # the receipt shows what came back and what is still paid for
    page = client.get(f"/shop/redemptions/{red.id}").get_data(as_text=True)
    assert "退货记录" in page and "米袋破损" in page and "留下的物品实付积分：80" in page
    with client.get(f"/shop/redemptions/{red.id}/receipt-a4.pdf") as pdf:
        assert pdf.status_code == 200
    # cancelling the rest afterwards gives back exactly what is still out
    r = client.post(f"/shop/redemptions/{red.id}/cancel", data={"reason": "全部退回"}, follow_redirects=True)
    db.session.rollback()
    assert db.session.get(type(red), red.id).status == "cancelled"
    assert balance_of(h) == 200
    assert db.session.scalar(sa.select(Product.stock).where(Product.id == rice.id)) == 10
    assert db.session.scalar(sa.select(Product.stock).where(Product.id == oil.id)) == 10
    assert ledger.check(staff.id) == [] and check_stock(staff.id) == []


def test_waiting_entries_near_their_cap_are_marked_for_the_reviewer(client, staff, scheme, make_household):
    from app.auth.models import User
    from app.points import services as pts
    from app.points.models import PointEntry

    near = make_household(staff, "0101", "张三丰")
    fresh = make_household(staff, "0102", "李四")
    first = _record(scheme, "A01", near)  # +2 of the month's 4
    with write_transaction():
        rev = db.session.scalar(sa.select(User).where(User.username == "rev1"))
        pts.approve(db.session.get(PointEntry, first[0]), rev)
    second = _record(scheme, "A01", near)  # would use the last 2
    other = _record(scheme, "A01", fresh)  # 2 of 4, half the cap left after it
    blood = _record(scheme, "A02", near)  # no cap
    _login(client, "rev1")
    html = client.get("/points/entries?status=pending").get_data(as_text=True)
    rows = {m.group(1): m.group(0) for m in re.finditer(r'<tr>.*?#(\d+)</a>.*?</tr>', html, re.S)}
    assert "上限仅余 2 分" in rows[str(second[0])]
    assert "cap-mark" not in rows[str(other[0])] and "cap-mark" not in rows[str(blood[0])]
