"""Shop papers read back from the PDF as a reader sees them: the donation receipt (一式两份 on one A4), the
stocktake sheet (盘点表) and the 村务公开 disclosure sheet (月初结存, and the label of a month not yet over)."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.auth.models import User
from app.extensions import db
from app.registry.models import Village
from app.shop import services as shop
from app.shop.models import Donation, Product
from app.submission import write_transaction
from tests.paper_helpers import broken_dates, layout, look, page_sizes_mm, pdf_text, visual_lines, words_outside
from tests.test_shop_views import _login, shopfront  # noqa: F401  (fixture re-used)

A4_SIDE = 16  # print.css: A4 side margins, mm


def _donation(shopfront, n_lines: int, *, note: str = "重阳节捐赠") -> Donation:
    with write_transaction():
        clerk = db.session.scalar(sa.select(User).where(User.username == "clerk1"))
        rice = db.session.get(Product, shopfront["rice"])
        village = db.session.get(Village, rice.village_id)
        lines = [(rice, 20, "全新", 1000)]
        for i in range(n_lines - 1):
            p = shop.create_product(village, name=f"捐赠品{i + 1:02d}", spec=f"{n_lines}件", unit="件",
                                    price_points=5, actor=clerk)
            lines.append((p, i + 1, "完好", None))
        return shop.receive_donation(village, donor_name="县农商银行", donor_kind="bank", lines=lines,
                                     received_on=dt.date(2026, 11, 20), note=note, actor=clerk)


def test_donation_receipt_prints_two_copies_on_one_a4_with_level_date_lines(client, shopfront):
    don = _donation(shopfront, 4)
    _login(client, "clerk1")
    data = client.get(f"/shop/donations/{don.id}/receipt.pdf").data
    look(data, "donation-4")
    assert [(round(w), round(h)) for w, h in page_sizes_mm(data)] == [(210, 297)]
    text = pdf_text(data)
    assert text.count("捐赠物品接收单") >= 2  # the running header names it too
    assert "第一联：存根联" in text and "第二联：交捐赠人" in text and "沿此线剪开" in text
    for needle in ("县农商银行", don.receipt_no, "大米", "全新", "1000", "捐赠品01", "捐赠品03", "重阳节捐赠",
                   "一号村村民委员会（盖章）", "2026年11月20日"):
        assert text.count(needle) >= 2, needle  # on both copies
    page, = layout(data)
    # the donor's and the village's date lines: two per copy, each pair on one level
    dates = sorted((w for w in page.words if w.text.startswith("日期")), key=lambda w: (w.y0, w.x0))
    assert len(dates) == 4, [w.text for w in dates]
    for left, right in (dates[:2], dates[2:]):
        assert abs(left.y0 - right.y0) < 0.5 and left.x0 < right.x0
    cut = next(w for w in page.words if "沿此线剪开" in w.text)
    assert dates[1].y1 < cut.y0 < dates[2].y0  # the cut line parts the copies
    assert words_outside(data, left=A4_SIDE, right=A4_SIDE) == []
    assert broken_dates(data, ["2026年11月20日"]) == []


def test_a_long_donation_receipt_prints_each_copy_on_its_own_page(client, shopfront):
    don = _donation(shopfront, 12)
    _login(client, "clerk1")
    data = client.get(f"/shop/donations/{don.id}/receipt.pdf").data
    look(data, "donation-12")
    pages = layout(data)
    assert len(pages) == 2
    for page, part in zip(pages, ("第一联：存根联", "第二联：交捐赠人"), strict=True):
        text = "".join(page.lines)
        assert part in text and "捐赠品11" in text and "沿此线剪开" not in text
    assert words_outside(data, left=A4_SIDE, right=A4_SIDE) == []


def test_stocktake_sheet_lists_the_book_quantities_with_empty_columns_and_three_signatures(client, shopfront):
    _login(client, "cash1")
    page = client.get("/shop/stocktake").get_data(as_text=True)
    assert 'href="/shop/stocktake/sheet.pdf"' in page
    r = client.get("/shop/stocktake/sheet.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    look(r.data, "stocktake-sheet")
    rows = visual_lines(r.data)
    products = {p.name: p for p in db.session.scalars(sa.select(Product))}
    for n, name in enumerate(sorted(products, key=lambda k: (products[k].category, k)), start=1):
        p = products[name]
        row = next(line for line in rows if line.startswith(f"{n}{p.name}"))
        # number, name, spec, unit, the book quantity, and nothing after it: counted, difference, note are blank
        assert row == f"{n}{p.name}{p.spec}{p.unit}{p.stock}", row
    text = pdf_text(r.data)
    for needle in ("幸福超市盘点表", "账面数量", "实盘数量", "差异", "盘点人（签字）", "监盘人（签字）", "负责人（签字）"):
        assert needle in text, needle
    assert words_outside(r.data, left=A4_SIDE, right=A4_SIDE) == []
    _login(client, "grid1")
    assert client.get("/shop/stocktake/sheet.pdf").status_code == 403


def test_disclosure_opens_with_the_months_opening_stock_and_says_as_of_today_while_the_month_runs(
        client, shopfront, monkeypatch):
    """This month: 50 rice and 5 oil bought, 3 rice redeemed. Seen from the 5th of next month (the stock can
    only be booked now, so the clock moves instead), this month is over (月末结存, from an opening of 0) and
    next month runs: it opens with what this month left and says 截至 the 5th."""
    from app.db import local_today
    from tests.test_shop_views import _cart, _key

    _login(client, "cash1")
    assert client.post("/shop/counter", data=_cart(shopfront, _key(client), rice="3")).status_code == 302
    this = local_today()
    nxt = (this.replace(day=1) + dt.timedelta(days=32)).replace(day=5)
    monkeypatch.setattr("app.shop.services.local_today", lambda: nxt)
    monkeypatch.setattr("app.shop.report_views.local_today", lambda: nxt)

    data = client.get(f"/shop/reports/disclosure.pdf?year={nxt.year}&month={nxt.month}").data
    look(data, "disclosure-running")
    rows = visual_lines(data)
    # product, opening, bought, donated, redeemed, stocktake and write-off, left
    assert "大米5kg（袋）47" + "0000" + "47" in rows, rows
    assert "食用油1.8L（桶）5" + "0000" + "5" in rows, rows
    text = pdf_text(data).replace("\n", "")  # the column heads wrap inside their cells
    assert "月初结存" in text and f"截至{nxt.month}月5日结存" in text and "月末结存" not in text
    assert f"数据截至{nxt.year}年{nxt.month}月5日" in text
    assert broken_dates(data, [f"{nxt.year}年{nxt.month}月5日", f"{nxt.year}年{nxt.month}月1日"]) == []
    assert words_outside(data, left=A4_SIDE, right=A4_SIDE) == []

    data = client.get(f"/shop/reports/disclosure.pdf?year={this.year}&month={this.month}").data
    look(data, "disclosure-over")
    rows = visual_lines(data)
    assert "大米5kg（袋）05003047" in rows, rows
    text = pdf_text(data).replace("\n", "")
    last = nxt.replace(day=1) - dt.timedelta(days=1)
    assert "月末结存" in text and "截至" not in text and f"{last.year}年{last.month}月{last.day}日" in text
    page = client.get(f"/shop/reports/disclosure?year={nxt.year}&month={nxt.month}").get_data(as_text=True)
    assert "月初结存" in page and f"截至{nxt.month}月5日结存" in page
