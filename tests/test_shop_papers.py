"""Shop papers read back from the PDF as a reader sees them: the donation receipt (一式两份 on one A4), the
stocktake sheet (盘点表) and the 村务公开 disclosure sheet (月初结存, and the label of a month not yet over)."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.auth.models import User
from app.extensions import db
from app.registry.models import Village
from app.shop import services as shop
from app.shop.models import Donation, Product
from app.submission import write_transaction
from tests.paper_helpers import broken_dates, layout, look, page_sizes_mm, pdf_text, words_outside
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
    for page, part in zip(pages, ("第一联：存根联", "第二联：交捐赠人")):
        text = "".join(page.lines)
        assert part in text and "捐赠品11" in text and "沿此线剪开" not in text
    assert words_outside(data, left=A4_SIDE, right=A4_SIDE) == []
