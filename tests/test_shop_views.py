"""Happiness supermarket pages: goods, stock in, the counter, receipts (screen and 58 mm PDF), cancelling, roles."""
from __future__ import annotations

import contextlib
import io
import re

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.ledger import services as ledger
from app.ledger.queries import balance_of
from app.ledger.models import AccountKind, Transfer
from app.registry.models import Household
from app.shop import services as shop
from app.shop.models import Product, Redemption, StockMovement
from app.submission import write_transaction
from tests.conftest import PASSWORD


@pytest.fixture
def shopfront(village, make_user, make_household):
    """Users of every shop role, household 0101 with 100 points, 大米 (10 points, 50) and 食用油 (30, 5)."""
    cashier = make_user("cash1", ("cashier", village))
    make_user("clerk1", ("clerk", village))
    make_user("rev1", ("reviewer", village))
    make_user("grid1", ("grid_worker", village))
    h = make_household(village, "0101", "张三丰")
    make_household(village, "0102", "李四")
    with write_transaction():
        ledger.post_transfer(debit=ledger.system_account(village.id, AccountKind.ISSUANCE),
                             credit=ledger.household_account(h), amount=100, code="opening", key="open-0101")
        rice = shop.create_product(village, name="大米", spec="5kg", unit="袋", price_points=10, actor=cashier)
        oil = shop.create_product(village, name="食用油", spec="1.8L", unit="桶", price_points=30, actor=cashier)
        shop.receive_purchase(rice, 50, "开业采购", actor=cashier)
        shop.receive_purchase(oil, 5, "", actor=cashier)
    return {"household": h.id, "rice": rice.id, "oil": oil.id}


def _login(client, username):
    client.post("/logout")
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302


def _key(client, number="0101"):
    html = client.get(f"/shop/counter?q={number}").get_data(as_text=True)
    return re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', html).group(1)


def _state(s):
    db.session.expire_all()
    h = db.session.get(Household, s["household"])
    return (balance_of(h), db.session.get(Product, s["rice"]).stock, db.session.get(Product, s["oil"]).stock,
            db.session.scalar(sa.select(sa.func.count(Redemption.id))),
            db.session.scalar(sa.select(sa.func.count(StockMovement.id))),
            db.session.scalar(sa.select(sa.func.count(Transfer.id))))


def _cart(s, key, rice="0", oil="0", action="confirm"):
    return {"idempotency_key": key, "household_id": s["household"], f"qty_{s['rice']}": rice,
            f"qty_{s['oil']}": oil, action: "1"}


def _post_form(client, url: str, data: dict):
    """Post a stock form as the browser would: with a fresh idempotency key unless the test gives one."""
    import secrets

    return client.post(url, data={"idempotency_key": secrets.token_urlsafe(12), **data})


def _clean():
    assert ledger.check() == []
    assert shop.check_stock() == []


def test_cashier_redeems_two_products_at_the_counter(client, shopfront):
    s = shopfront
    _login(client, "cash1")
    page = client.get("/shop/counter?q=0101").get_data(as_text=True)
    assert "张*丰" in page and "张三丰" not in page and "100" in page
    key = _key(client)
    # check shows the total and the balance after, without writing anything
    before = _state(s)
    r = client.post("/shop/counter", data=_cart(s, key, rice="２", oil="1", action="check"))
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert re.search(r"<th>\s*50\s*</th>", html)  # total 2×10 + 1×30
    assert _state(s) == before
    r = client.post("/shop/counter", data=_cart(s, key, rice="２", oil="1"))
    assert r.status_code == 302, r.get_data(as_text=True)
    red = db.session.scalar(sa.select(Redemption))
    assert r.headers["Location"].endswith(f"/shop/redemptions/{red.id}")
    balance, rice, oil, n, _m, _t = _state(s)
    assert (balance, rice, oil, n) == (50, 48, 4, 1)
    assert (red.balance_before, red.balance_after, red.total_points) == (100, 50, 50)
    page = client.get(f"/shop/redemptions/{red.id}").get_data(as_text=True)
    assert red.receipt_no in page and "大米" in page and "食用油" in page and "张*丰" in page
    assert f"/shop/redemptions/{red.id}/receipt.pdf" in page
    r = client.get(f"/shop/redemptions/{red.id}/receipt.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    from pypdf import PdfReader

    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    for needle in ("0101", "大米", "食用油", "100", "50", red.receipt_no):
        assert needle in text, needle
    _clean()


def test_the_counter_lists_recent_sales_and_names_the_head_only_where_it_shows(client, shopfront):
    """Bench figure 3: the recent list reads receipt, time, 户号, points and status as plain columns; a check
    sent by htmx and a confirm do not read the household's head, and a check drawn as the whole page (no
    scripts, or refused) still shows the head's masked name."""
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    with _statements() as sent:
        check = client.post("/shop/counter", data=_cart(s, key, rice="1", action="check"), headers=HTMX_CHECK)
        confirm = client.post("/shop/counter", data=_cart(s, key, rice="1"))
    assert check.status_code == 200 and confirm.status_code == 302
    assert not [q for q in sent if " people" in q]
    red = db.session.scalar(sa.select(Redemption))
    page = client.get("/shop/counter").get_data(as_text=True)
    assert re.search(rf'<a href="/shop/redemptions/{red.id}">{red.receipt_no}</a></td>\s*<td>[^<]+</td>'
                     r"<td>0101</td><td>10</td>\s*<td>已完成</td>", page)
    whole = client.post("/shop/counter", data=_cart(s, _key(client), rice="1", action="check"))
    assert "张*丰" in whole.get_data(as_text=True)
    refused = client.post("/shop/counter", data=_cart(s, _key(client), oil="4"))
    assert refused.status_code == 200 and "张*丰" in refused.get_data(as_text=True)
    _clean()


#: what htmx sends with the counter's check button (templates/shop/_basket.html)
HTMX_CHECK = {"HX-Request": "true", "HX-Target": "basket", "HX-Trigger-Name": "check"}


def test_a_check_from_the_browser_answers_with_the_basket_alone(client, shopfront):
    """With scripts on, the check button asks for the basket part only: the shelf and the boxes the cashier
    typed stay in the browser; the fragment has the total, the balance after, the confirm button (focused,
    so Enter confirms) and the spendable balance as it is now."""
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    before = _state(s)
    r = client.post("/shop/counter", data=_cart(s, key, rice="２", oil="1", action="check"), headers=HTMX_CHECK)
    assert r.status_code == 200 and "HX-Retarget" not in r.headers
    html = r.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="basket">') and "<html" not in html
    assert f'name="qty_{s["rice"]}"' not in html and "最近兑换" not in html  # no shelf, no recent list
    assert re.search(r"合计积分</th><th>50</th>", html) and re.search(r"兑换后积分</th><th>50</th>", html)
    assert re.search(r'<button type="submit" name="confirm" value="1" autofocus>确认兑换</button>', html)
    assert '<strong id="spendable" data-spendable hx-swap-oob="true">100</strong>' in html
    assert _state(s) == before
    # short of points: the reason, and no confirm button
    r = client.post("/shop/counter", data=_cart(s, key, oil="4", action="check"), headers=HTMX_CHECK)
    html = r.get_data(as_text=True)
    assert html.lstrip().startswith('<div id="basket">') and "积分不足" in html and 'name="confirm"' not in html
    # the basket's confirm is an ordinary post: it redeems what the boxes hold
    r = client.post("/shop/counter", data=_cart(s, key, rice="２", oil="1"))
    assert r.status_code == 302
    assert _state(s)[:4] == (50, 48, 4, 1)
    _clean()


@pytest.mark.parametrize("rice", ["abc", "0"], ids=["wrong quantity", "empty basket"])
def test_a_check_from_the_browser_that_needs_the_page_gets_the_whole_page(client, shopfront, rice):
    """A box to mark, or a message for the top of the page: htmx is told to put the whole page in place of
    the old one (a basket fragment could not mark the box)."""
    s = shopfront
    _login(client, "cash1")
    before = _state(s)
    r = client.post("/shop/counter", data=_cart(s, _key(client), rice=rice, action="check"), headers=HTMX_CHECK)
    assert r.status_code == 200
    assert r.headers["HX-Retarget"] == "body" and r.headers["HX-Reswap"].startswith("innerHTML")
    html = r.get_data(as_text=True)
    assert "<html" in html and f'name="qty_{s["oil"]}"' in html  # the whole shelf again
    if rice == "abc":
        assert re.search(rf'<input aria-invalid="true" id="qty_{s["rice"]}"', html)
    else:
        assert "请至少选择一种商品" in html
    assert _state(s) == before


def _checked(html: str) -> str:
    return re.search(r'name="checked" type="hidden" value="([^"]*)"', html).group(1)


def test_a_basket_changed_after_the_check_is_shown_again_not_sold(client, shopfront, village):
    """The household is charged only a total it was shown: a box edited after the check, or a price changed
    meanwhile, brings the new basket back with a message; its own confirm then sells it."""
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    before = _state(s)
    r = client.post("/shop/counter", data=_cart(s, key, rice="2", oil="1", action="check"), headers=HTMX_CHECK)
    shown = _checked(r.get_data(as_text=True))
    # the cashier types 3 bags instead of 2 and presses confirm without checking again
    r = client.post("/shop/counter", data={**_cart(s, key, rice="3", oil="1"), "checked": shown})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "核对之后购物篮有变动" in html and re.search(r"合计积分</th><th>60</th>", html)
    assert _state(s) == before
    # the page now carries the new basket: confirming it sells it
    r = client.post("/shop/counter", data={**_cart(s, key, rice="3", oil="1"), "checked": _checked(html)})
    assert r.status_code == 302
    assert _state(s)[:4] == (40, 47, 4, 1)
    # a price changed between the check and the confirm is a changed basket too
    key = _key(client)
    r = client.post("/shop/counter", data=_cart(s, key, rice="1", action="check"), headers=HTMX_CHECK)
    shown = _checked(r.get_data(as_text=True))
    with write_transaction():
        shop.update_product(db.session.get(Product, s["rice"]), name="大米", spec="5kg", unit="袋",
                            price_points=12, actor=None)
    before = _state(s)
    r = client.post("/shop/counter", data={**_cart(s, key, rice="1"), "checked": shown})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and "核对之后购物篮有变动" in html and re.search(r"合计积分</th><th>12</th>", html)
    assert _state(s) == before
    _clean()


def test_a_product_moved_on_the_shelf_after_the_check_is_the_same_basket(client, shopfront):
    """Only goods, quantities and prices make the basket: a category edited meanwhile (the shelf's order)
    does not stop the confirm."""
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    r = client.post("/shop/counter", data=_cart(s, key, rice="1", oil="1", action="check"), headers=HTMX_CHECK)
    shown = _checked(r.get_data(as_text=True))
    with write_transaction():
        # 大米 now sorts after 食用油 (category first)
        shop.update_product(db.session.get(Product, s["rice"]), name="大米", spec="5kg", unit="袋",
                            price_points=10, category="粮油", actor=None)
    r = client.post("/shop/counter", data={**_cart(s, key, rice="1", oil="1"), "checked": shown})
    assert r.status_code == 302
    assert _state(s)[:4] == (60, 49, 4, 1)


def test_double_submit_redeems_once(client, shopfront):
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    r1 = client.post("/shop/counter", data=_cart(s, key, rice="1"))
    r2 = client.post("/shop/counter", data=_cart(s, key, rice="1"))
    assert r1.status_code == r2.status_code == 302
    assert r1.headers["Location"] == r2.headers["Location"]
    balance, rice, _oil, n, _m, _t = _state(s)
    assert (balance, rice, n) == (90, 49, 1)
    _clean()


@contextlib.contextmanager
def _statements():
    """The SQL statements sent inside the block, whitespace collapsed."""
    sent: list[str] = []

    def on_execute(conn, cursor, statement, *args):
        sent.append(" ".join(statement.split()))

    sa.event.listen(db.engine, "before_cursor_execute", on_execute)
    try:
        yield sent
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", on_execute)


def test_a_confirm_reads_each_thing_it_sells_from_once(client, shopfront):
    """Bench figure 3 (the counter): in a village whose awards are spendable at approval, the confirm reads the
    goods' prices once inside the write (not the product rows again besides), both accounts in one statement,
    takes no lock for a hold there is none of, and does not look the key up twice (the redemption's look-up
    answers for its transfer). Fewer statements inside the write also hold the write lock for less time."""
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    with _statements() as sent:
        r = client.post("/shop/counter", data=_cart(s, key, rice="2", oil="1"))
    assert r.status_code == 302
    selects = [q for q in sent if q.startswith("SELECT")]
    # the basket's shelf rows for the form, then the goods inside the write
    assert len([q for q in selects if " FROM products" in q]) == 2
    assert len([q for q in selects if " FROM accounts" in q]) == 1
    assert not [q for q in selects if " FROM transfers" in q]
    assert _state(s)[:4] == (50, 48, 4, 1)
    _clean()


def test_a_confirm_writes_its_transfer_and_its_sale_to_the_audit_trail_together(client, shopfront):
    """Bench figure 3: the sale's two audit rows (the points moved, the goods handed over) go in together and
    move the chain head once; both name the cashier, the transfer's row comes first, and the chain verifies."""
    from app.audit.models import AuditLog
    from app.audit.services import verify

    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    with _statements() as sent:
        r = client.post("/shop/counter", data=_cart(s, key, rice="1", oil="1"))
    assert r.status_code == 302
    # the ORM sends the two rows as one INSERT on PostgreSQL; on SQLite it needs each new id back, one by one
    inserts = 1 if db.engine.dialect.name == "postgresql" else 2
    assert len([q for q in sent if q.startswith("INSERT INTO audit_log")]) == inserts
    assert len([q for q in sent if q.startswith("UPDATE audit_head")]) == 1
    rows = db.session.scalars(sa.select(AuditLog).order_by(AuditLog.seq.desc()).limit(2)).all()[::-1]
    assert [(row.action, row.actor_name) for row in rows] == [("ledger.redeem", "cash1"), ("shop.redeem", "cash1")]
    assert rows[1].prev_hash == rows[0].hash and rows[0].household_id == rows[1].household_id == s["household"]
    assert verify()[1] is None
    _clean()


def test_the_counter_page_and_a_check_read_the_balance_and_what_is_held_back_together(client, shopfront):
    """Bench figure 3: the balance, the village's policy and the held points shown at the counter come in one
    statement on the page and on each check."""
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    with _statements() as sent:
        page = client.get(f"/shop/counter?household={s['household']}")
        check = client.post("/shop/counter", data=_cart(s, key, rice="2", action="check"), headers=HTMX_CHECK)
    assert page.status_code == check.status_code == 200
    assert "100" in page.get_data(as_text=True) and re.search(r"<th>\s*20\s*</th>", check.get_data(as_text=True))
    policy = [q for q in sent if "FROM point_schemes" in q]
    assert len(policy) == 2 and all("FROM accounts" in q for q in policy)
    assert not [q for q in sent if "FROM accounts" in q and "point_schemes" not in q]


def test_a_resent_confirm_says_so_and_a_changed_basket_under_its_key_is_refused(client, shopfront):
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    r1 = client.post("/shop/counter", data=_cart(s, key, rice="1"))
    assert r1.status_code == 302
    r2 = client.post("/shop/counter", data=_cart(s, key, rice="1"), follow_redirects=True)
    assert "这笔兑换已经记录过了" in r2.get_data(as_text=True)
    before = _state(s)
    assert before[:4] == (90, 49, 5, 1)
    # Back to the counter, another basket, the same page (its key) confirmed again: refused
    r3 = client.post("/shop/counter", data=_cart(s, key, rice="1", oil="1"))
    assert r3.status_code == 200
    assert "这份表单已经用不同的内容提交过，本次没有做任何修改" in r3.get_data(as_text=True)
    assert _state(s) == before
    _clean()


def test_concurrent_duplicate_shows_the_earlier_receipt(client, shopfront, monkeypatch):
    """The same key confirmed twice at once: the loser's unique violation is tried again, which finds the
    winner's receipt by the form key (app.submission.run_write)."""
    from sqlalchemy.exc import IntegrityError

    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    r1 = client.post("/shop/counter", data=_cart(s, key, rice="1"))
    assert r1.status_code == 302
    real, calls = shop.redeem, []

    def racing(*a, **kw):
        calls.append(1)
        if len(calls) == 1:  # the first attempt lost the race to the request that recorded r1
            raise IntegrityError("INSERT INTO redemptions", {}, Exception(
                "UNIQUE constraint failed: redemptions.village_id, redemptions.idempotency_key"))
        return real(*a, **kw)

    monkeypatch.setattr(shop, "redeem", racing)
    r2 = client.post("/shop/counter", data=_cart(s, key, rice="1"))
    assert r2.status_code == 302 and r2.headers["Location"] == r1.headers["Location"] and len(calls) == 2
    balance, rice, _oil, n, _m, _t = _state(s)
    assert (balance, rice, n) == (90, 49, 1)
    _clean()


def test_short_of_points_gives_the_form_back_and_writes_nothing(client, shopfront):
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    before = _state(s)
    r = client.post("/shop/counter", data=_cart(s, key, oil="4"))  # 120 points, 100 held
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "积分不足" in html or "Not enough points" in html
    assert _state(s) == before
    _clean()


def test_short_of_stock_gives_the_form_back(client, shopfront):
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    with write_transaction():
        shop.write_off(db.session.get(Product, s["oil"]), 5, "过期")  # sold out after the form was shown
    before = _state(s)
    r = client.post("/shop/counter", data=_cart(s, key, rice="1", oil="1"))
    assert r.status_code == 200
    assert "食用油" in r.get_data(as_text=True)
    assert _state(s) == before
    _clean()


@pytest.mark.parametrize("raw", ["0", "-1", "1.5", "10000000", "١٢٣", "", "abc", "1e3"])
def test_hostile_quantities_are_refused_and_nothing_written(client, shopfront, raw):
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    before = _state(s)
    r = client.post("/shop/counter", data=_cart(s, key, rice=raw))
    assert r.status_code == 200
    assert _state(s) == before


def test_full_width_quantity_is_accepted(client, shopfront):
    s = shopfront
    _login(client, "cash1")
    r = client.post("/shop/counter", data=_cart(s, _key(client), rice="１０", oil="0"))
    assert r.status_code == 302
    balance, rice, oil, n, _m, _t = _state(s)
    assert (balance, rice, oil, n) == (0, 40, 5, 1)


def test_household_search_by_name_and_list(client, shopfront):
    _login(client, "cash1")
    html = client.get("/shop/counter?q=李四").get_data(as_text=True)
    assert "0102" in html and "idempotency_key" in html  # single match selects it
    html = client.get("/shop/counter?q=nobody-here").get_data(as_text=True)
    assert "idempotency_key" not in html


def test_a_scanned_household_card_selects_the_household_and_a_reissued_one_does_not(client, shopfront):
    from app.kiosk import services as kiosk
    from app.registry.models import Household

    with write_transaction():
        old = kiosk.issue_card(db.session.get(Household, shopfront["household"]))
    _login(client, "cash1")
    # a scanner may type the code with a dash or in lower case
    scanned = (old[:8] + "-" + old[8:]).lower()
    html = client.get("/shop/counter", query_string={"q": scanned}).get_data(as_text=True)
    assert "0101" in html and "idempotency_key" in html
    with write_transaction():
        kiosk.issue_card(db.session.get(Household, shopfront["household"]))
    html = client.get("/shop/counter", query_string={"q": old}).get_data(as_text=True)
    assert "idempotency_key" not in html and "0101" not in html


def test_roles(client, shopfront):
    s = shopfront
    _login(client, "grid1")
    assert client.get("/shop/counter").status_code == 403
    assert client.get("/shop/products").status_code == 403
    _login(client, "clerk1")
    assert client.get("/shop/products").status_code == 200
    assert client.get("/shop/counter").status_code == 403
    assert client.post("/shop/counter", data=_cart(s, "k" * 20, rice="1")).status_code == 403
    r = client.post(f"/shop/products/{s['rice']}", data={"name": "大米", "spec": "5kg", "unit": "袋",
                                                         "price_points": "１２", "reorder_level": "60",
                                                         "active": "y"})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert db.session.get(Product, s["rice"]).price_points == 12
    page = client.get("/shop/products").get_data(as_text=True)
    assert "low-stock" in page  # 50 bags at reorder level 60
    r = client.post("/shop/products/new", data={"name": "洗衣粉", "unit": "袋", "price_points": "8"})
    assert r.status_code == 302
    pid = db.session.scalar(sa.select(Product.id).where(Product.name == "洗衣粉"))
    r = _post_form(client, f"/shop/products/{pid}/purchase", {"qty": "20", "reason": "镇供销社"})
    assert r.status_code == 302
    assert db.session.get(Product, pid).stock == 20
    assert _post_form(client, f"/shop/products/{pid}/purchase", {"qty": "0"}).status_code == 200
    assert _post_form(client, f"/shop/products/{pid}/purchase", {"qty": "10001"}).status_code == 200
    _login(client, "rev1")
    assert client.get("/shop/products/new").status_code == 403
    _clean()


def test_cancel_restores_points_and_stock_once(client, shopfront):
    s = shopfront
    _login(client, "cash1")
    before = _state(s)
    r = client.post("/shop/counter", data=_cart(s, _key(client), rice="2", oil="1"))
    red_id = db.session.scalar(sa.select(Redemption.id))
    # a reason is required
    client.post(f"/shop/redemptions/{red_id}/cancel", data={"reason": ""})
    assert db.session.get(Redemption, red_id).status == "completed"
    _login(client, "clerk1")
    assert client.post(f"/shop/redemptions/{red_id}/cancel", data={"reason": "x"}).status_code == 403
    _login(client, "cash1")
    r = client.post(f"/shop/redemptions/{red_id}/cancel", data={"reason": "拿错了"})
    assert r.status_code == 302
    r = client.post(f"/shop/redemptions/{red_id}/cancel", data={"reason": "拿错了"})
    assert r.status_code == 302
    db.session.expire_all()
    assert db.session.get(Redemption, red_id).status == "cancelled"
    balance, rice, oil, _n, _m, _t = _state(s)
    assert (balance, rice, oil) == before[:3]
    assert "已撤销" in client.get(f"/shop/redemptions/{red_id}").get_data(as_text=True)
    r = client.get(f"/shop/redemptions/{red_id}/receipt.pdf")
    from pypdf import PdfReader

    assert "已撤销" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    _clean()


def _sold_on(client, s, when) -> int:
    """The cashier sells one bag of rice, then the redemption is moved back to `when` (UTC): a sale of an
    earlier day, as the counter itself cannot make one. Returns its id; the cashier stays logged in."""
    _login(client, "cash1")
    client.post("/shop/counter", data=_cart(s, _key(client), rice="1"))
    red_id = db.session.scalar(sa.select(Redemption.id))
    with write_transaction():
        db.session.execute(sa.text("UPDATE redemptions SET created_at = :t WHERE id = :i"),
                           {"t": when, "i": red_id})
    return red_id


def test_reviewer_cancels_an_earlier_day(client, shopfront):
    import datetime as dt

    s = shopfront
    red_id = _sold_on(client, s, dt.datetime(2020, 1, 1, 2, 0))
    client.post(f"/shop/redemptions/{red_id}/cancel", data={"reason": "补撤"})
    db.session.expire_all()
    assert db.session.get(Redemption, red_id).status == "completed"  # a cashier only the same day
    _login(client, "rev1")
    assert client.post(f"/shop/redemptions/{red_id}/cancel", data={"reason": "补撤"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Redemption, red_id).status == "cancelled"
    _clean()


def test_a_receipt_of_a_year_cleared_at_its_close_offers_no_cancel_or_return(client, shopfront, village):
    """Under the expire policy the close cleared the year's points: the receipt says why nothing can be given
    back instead of offering forms that would be refused, and a cancel posted anyway changes nothing."""
    import datetime as dt

    from app.points import services as pts

    s = shopfront
    red_id = _sold_on(client, s, dt.datetime(2020, 6, 1, 2, 0))
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        scheme.year_policy = "expire"
    _login(client, "rev1")
    page = client.get(f"/shop/redemptions/{red_id}").get_data(as_text=True)
    # before the close a reviewer may cancel the old redemption or take goods back
    assert f'action="/shop/redemptions/{red_id}/cancel"' in page and "/return/" in page
    with write_transaction():
        pts.close_year(db.session.merge(scheme), 2020)
    before = _state(s)
    page = client.get(f"/shop/redemptions/{red_id}").get_data(as_text=True)
    assert "2020年度已结算并清零积分" in page
    assert f'action="/shop/redemptions/{red_id}/cancel"' not in page and "/return/" not in page
    r = client.post(f"/shop/redemptions/{red_id}/cancel", data={"reason": "补撤"}, follow_redirects=True)
    assert "不能再退回" in r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(Redemption, red_id).status == "completed" and _state(s) == before
    _clean()


def test_the_counter_shelf_escapes_what_it_shows_and_keeps_a_wrong_quantity_beside_its_box(client, shopfront,
                                                                                           village):
    """The shelf's rows are drawn in Python (views.shelf_rows): a product name is text, never markup, and a
    quantity the cashier got wrong comes back in its box, marked, with the reason under it."""
    with write_transaction():
        shop.receive_purchase(shop.create_product(village, name='<b onclick="x()">红糖</b>', spec="500g&1",
                                                  unit="袋", price_points=5), 3, "")
    _login(client, "cash1")
    page = client.get(f"/shop/counter?household={shopfront['household']}").get_data(as_text=True)
    assert '&lt;b onclick=&#34;x()&#34;&gt;红糖&lt;/b&gt; 500g&amp;1' in page and "<b onclick" not in page
    assert f'<label for="qty_{shopfront["rice"]}">大米 5kg</label>' in page and "10 / 袋" in page
    r = client.post("/shop/counter", data=_cart(shopfront, _key(client), rice="<i>3</i>", action="check"))
    body = r.get_data(as_text=True)
    row = re.search(rf'<input aria-invalid="true" id="qty_{shopfront["rice"]}"[^>]*value="([^"]*)">'
                    r'<small class="field-error">([^<]+)</small>', body)
    assert row and row.group(1) == "&lt;i&gt;3&lt;/i&gt;", body[-3000:]
    assert "<i>3</i>" not in body
