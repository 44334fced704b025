"""Shop stock pages: donations (with the printed receipt), stocktake, write-off, reports and the disclosure sheet."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.db import local_today
from app.extensions import db
from app.shop import services as shop
from app.shop.models import Donation, Product, StockMovement, Stocktake
from app.submission import write_transaction
from tests.test_shop_views import _cart, _key, _login, _post_form, shopfront  # noqa: F401  (fixture re-used)


def _pdf_text(data: bytes) -> str:
    return "".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages)


def _movements() -> int:
    db.session.rollback()
    return db.session.scalar(sa.select(sa.func.count(StockMovement.id)))


def _stock(pid: int) -> int:
    db.session.expire_all()
    return db.session.get(Product, pid).stock


def _clean():
    from app.ledger import services as ledger

    assert ledger.check() == []
    assert shop.check_stock() == []


def test_donation_is_recorded_listed_and_printed(client, shopfront):
    s = shopfront
    _login(client, "clerk1")
    page = client.get("/shop/donations/new").get_data(as_text=True)
    assert "捐赠" in page and f"qty_{s['rice']}" in page
    r = _post_form(client, "/shop/donations/new", {
        "donor_kind": "bank", "donor_name": "县农商银行", "received_on": "2026年11月20日", "receipt_no": "",
        f"qty_{s['rice']}": "２０", f"cond_{s['rice']}": "全新", f"qty_{s['oil']}": "6", f"cond_{s['oil']}": "完好",
        "note": "重阳节捐赠"})
    assert r.status_code == 302, r.get_data(as_text=True)
    don = db.session.scalar(sa.select(Donation))
    assert (don.donor_name, don.donor_kind, str(don.received_on)) == ("县农商银行", "bank", "2026-11-20")
    assert re.fullmatch(r"v1-D-\d{4}-000001", don.receipt_no)
    assert (_stock(s["rice"]), _stock(s["oil"])) == (70, 11)
    listing = client.get("/shop/donations").get_data(as_text=True)
    assert "县农商银行" in listing and don.receipt_no in listing and "银行" in listing
    r = client.get(f"/shop/donations/{don.id}/receipt.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = _pdf_text(r.data)
    for needle in ("捐赠物品接收单", "县农商银行", don.receipt_no, "大米", "20", "全新", "食用油", "完好",
                   "捐赠方", "一号村村民委员会", "2026年11月20日"):
        assert needle in text, needle
    _clean()


def test_donation_with_a_used_receipt_number_is_refused(client, shopfront):
    s = shopfront
    _login(client, "cash1")
    data = {"donor_kind": "person", "donor_name": "王五", "receipt_no": "JZ-001", f"qty_{s['rice']}": "1"}
    assert _post_form(client, "/shop/donations/new", data).status_code == 302
    before = _movements()
    r = _post_form(client, "/shop/donations/new", {**data, "donor_name": "赵六"})
    page = r.get_data(as_text=True)
    # the message stands under the receipt number field, which is marked for a screen reader too
    assert r.status_code == 200 and re.search(r'id="receipt_no-err">[^<]*JZ-001', page), page
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="receipt_no"|<input[^>]*id="receipt_no"[^>]*aria-invalid',
                     page)
    assert _movements() == before
    r = _post_form(client, "/shop/donations/new", {**data, "receipt_no": "JZ-002", f"qty_{s['rice']}": ""})
    assert r.status_code == 200 and "至少" in r.get_data(as_text=True)
    assert _movements() == before


def test_stocktake_posts_each_difference_with_its_reason(client, shopfront):
    s = shopfront
    _login(client, "cash1")
    page = client.get("/shop/stocktake").get_data(as_text=True)
    assert "50" in page and f"counted_{s['rice']}" in page
    before = _movements()
    # a difference without a reason is refused, nothing written
    r = _post_form(client, "/shop/stocktake", {f"counted_{s['rice']}": "48"})
    page = r.get_data(as_text=True)
    # the message stands in the rice row's reason cell, not only at the top of the sheet
    assert r.status_code == 200 and re.search(
        rf'id="reason_{s["rice"]}"[^>]*>\s*<small class="field-error">[^<]*原因', page), page
    assert _movements() == before and db.session.scalar(sa.select(sa.func.count(Stocktake.id))) == 0
    r = _post_form(client, "/shop/stocktake", {f"counted_{s['rice']}": "48", f"reason_{s['rice']}": "鼠咬破袋",
                                             f"counted_{s['oil']}": "5", "note": "月末盘点"})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert (_stock(s["rice"]), _stock(s["oil"])) == (48, 5)
    assert _movements() == before + 1  # only the rice differed
    take = db.session.scalar(sa.select(Stocktake))
    assert sorted((ln.book_qty, ln.counted_qty, ln.diff) for ln in take.lines) == [(5, 5, 0), (50, 48, -2)]
    view = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "鼠咬破袋" in view and "-2" in view
    _clean()


def test_write_off_needs_a_reason_and_stock(client, shopfront):
    s = shopfront
    _login(client, "clerk1")
    before = _movements()
    r = _post_form(client, "/shop/write-off", {"product_id": s["oil"], "qty": "6", "kind": "expired",
                                             "reason": "过期"})
    assert r.status_code == 200 and "食用油" in r.get_data(as_text=True)
    r = _post_form(client, "/shop/write-off", {"product_id": s["oil"], "qty": "2", "kind": "expired", "reason": ""})
    assert r.status_code == 200
    assert _movements() == before
    r = _post_form(client, "/shop/write-off", {"product_id": s["oil"], "qty": "2", "kind": "damaged",
                                             "reason": "运输压坏"})
    assert r.status_code == 302
    assert _stock(s["oil"]) == 3
    mv = db.session.scalar(sa.select(StockMovement).order_by(StockMovement.id.desc()))
    assert (mv.kind, mv.qty) == ("damage", -2) and "运输压坏" in mv.reason and "损坏" in mv.reason
    _clean()


def test_reports_and_disclosure(client, shopfront):
    s = shopfront
    _login(client, "cash1")
    client.post("/shop/counter", data=_cart(s, _key(client), rice="3", oil="1"))
    key = _key(client)
    client.post("/shop/counter", data=_cart(s, key, rice="2"))
    _post_form(client, "/shop/donations/new", {"donor_kind": "unit", "donor_name": "某某超市有限公司",
                                             f"qty_{s['oil']}": "4"})
    _post_form(client, "/shop/write-off", {"product_id": s["oil"], "qty": "8", "kind": "lost", "reason": "丢失"})
    today = local_today()
    page = client.get(f"/shop/reports?year={today.year}").get_data(as_text=True)
    # oil: 5 + 4 donated − 1 redeemed − 8 lost = 0 (at its reorder level 0): low; rice (45) is not
    low = re.findall(r'<tr class="low-stock"><td>(.*?)</td>', page)
    assert low == ["食用油 1.8L"]
    months = re.search(r'<table id="per-month">.*?</table>', page, re.S).group(0)
    row = re.findall(r"<tr>(.*?)</tr>", months, re.S)[today.month]
    cells = [c.strip() for c in re.findall(r"<td>(.*?)</td>", row, re.S)]
    assert cells[1:5] == ["2", "1", "6", "80"]  # 2 redemptions, 1 household, 6 items, 30 + 20 + 30 points
    top = re.search(r'<table id="top-goods">.*?</table>', page, re.S).group(0)
    assert top.index("大米") < top.index("食用油")
    page = client.get(f"/shop/reports/disclosure?year={today.year}&month={today.month}").get_data(as_text=True)
    assert "某某超市有限公司" in page and "80" in page
    r = client.get(f"/shop/reports/disclosure.pdf?year={today.year}&month={today.month}")
    assert r.status_code == 200
    text = _pdf_text(r.data)
    for needle in ("村务公开", "某某超市有限公司", "大米", "80", "一号村村民委员会"):
        assert needle in text, needle
    assert "张三丰" not in text and "0101" not in text
    # a hostile month does not break the page
    assert client.get("/shop/reports/disclosure?year=x&month=99").status_code == 200
    _clean()


@pytest.mark.parametrize("url", ["/shop/donations/new", "/shop/stocktake", "/shop/write-off"])
def test_stock_pages_need_the_stock_permission(client, shopfront, url):
    _login(client, "rev1")
    assert client.get(url).status_code == 403
    assert client.get("/shop/donations").status_code == 200
    assert client.get("/shop/reports").status_code == 200
    _login(client, "grid1")
    assert client.get("/shop/reports").status_code == 403


def test_another_villages_donations_and_stocktakes_are_not_found(client, shopfront, make_village, make_user):

    other = make_village("v2", "二号村")
    make_user("cash2", ("cashier", other))
    with write_transaction():
        soap = shop.create_product(other, name="肥皂", unit="块", price_points=2)
        don = shop.receive_donation(other, donor_name="外村", donor_kind="person", lines=[(soap, 5)])
        take = shop.stocktake(other, {soap: 5})
    _login(client, "cash1")
    for url in (f"/shop/donations/{don.id}", f"/shop/donations/{don.id}/receipt.pdf",
                f"/shop/stocktake/{take.id}"):
        assert client.get(url).status_code == 404, url
    before = _movements()
    r = _post_form(client, "/shop/write-off", {"product_id": soap.id, "qty": "1", "kind": "lost", "reason": "x"})
    assert r.status_code in (200, 404) and _movements() == before
    assert "外村" not in client.get("/shop/donations").get_data(as_text=True)


STOCK_FORMS = {
    # form: (url, data, a changed field)
    "purchase": ("/shop/products/{rice}/purchase", {"qty": "5", "reason": "镇供销社"}, ("qty", "6")),
    "donation": ("/shop/donations/new", {"donor_kind": "person", "donor_name": "王五", "qty_{rice}": "2"},
                 ("qty_{rice}", "3")),
    "stocktake": ("/shop/stocktake", {"counted_{rice}": "48", "reason_{rice}": "盘亏"}, ("counted_{rice}", "47")),
    "write_off": ("/shop/write-off", {"product_id": "{rice}", "qty": "2", "kind": "damaged", "reason": "压坏"},
                  ("qty", "3")),
}


def _form(s, name):
    url, data, (field, changed) = STOCK_FORMS[name]
    fmt = {"rice": s["rice"]}
    return (url.format(**fmt), {k.format(**fmt): str(v).format(**fmt) for k, v in data.items()},
            field.format(**fmt), changed)


@pytest.mark.parametrize("name", sorted(STOCK_FORMS))
def test_stock_forms_carry_a_key_and_a_double_submit_counts_once(client, shopfront, name):
    s = shopfront
    _login(client, "cash1")
    url, data, field, changed = _form(s, name)
    page = client.get(url).get_data(as_text=True)
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    before = _movements()
    r1 = client.post(url, data={**data, "idempotency_key": key})
    r2 = client.post(url, data={**data, "idempotency_key": key})
    assert r1.status_code == r2.status_code == 302, r1.get_data(as_text=True)[-1500:]
    assert r1.headers["Location"] == r2.headers["Location"]
    assert _movements() == before + 1
    assert "已经记录" in client.get(r2.headers["Location"]).get_data(as_text=True)
    # the same key with other contents: refused, nothing written
    r3 = client.post(url, data={**data, field: changed, "idempotency_key": key})
    assert r3.status_code == 200 and "不同" in r3.get_data(as_text=True)
    assert _movements() == before + 1
    _clean()


def test_stocktake_marks_every_difference_without_a_reason(client, shopfront):
    """Two counted lines differ and neither has a reason: both rows carry the message, nothing is written."""
    s = shopfront
    _login(client, "cash1")
    before = _movements()
    r = _post_form(client, "/shop/stocktake", {f"counted_{s['rice']}": "48", f"counted_{s['oil']}": "3"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    for pid in (s["rice"], s["oil"]):
        assert re.search(rf'id="reason_{pid}"[^>]*>\s*<small class="field-error">[^<]*原因', page), pid
    assert _movements() == before and db.session.scalar(sa.select(sa.func.count(Stocktake.id))) == 0
    # a line counted right needs no reason and is not marked
    r = _post_form(client, "/shop/stocktake", {f"counted_{s['rice']}": "50", f"counted_{s['oil']}": "3"})
    page = r.get_data(as_text=True)
    assert re.search(rf'id="reason_{s["oil"]}"[^>]*>\s*<small class="field-error">', page)
    assert not re.search(rf'id="reason_{s["rice"]}"[^>]*>\s*<small class="field-error">', page)
