"""Redemption receipts read back from the PDF: 58 mm and A4, completed and cancelled (作废)."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from pypdf import PdfReader

from app.extensions import db
from app.shop.models import Redemption
from app.submission import write_transaction
from tests.test_shop_views import _cart, _key, _login, shopfront  # noqa: F401  (fixture re-used)


def _pdf_text(data: bytes) -> str:
    # drop the spaces pypdf puts between runs of text, so "兑换前余额： 100" and "兑换前余额：100" compare equal
    return re.sub(r"[ \t]+", "", "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages))


@pytest.fixture
def redeemed(client, shopfront):
    """Household 0101 (100 points) redeems 2 × 大米 (10) and 1 × 食用油 (30): 50 points, 50 left."""
    _login(client, "cash1")
    r = client.post("/shop/counter", data=_cart(shopfront, _key(client), rice="2", oil="1"))
    assert r.status_code == 302
    return db.session.scalar(sa.select(Redemption))


@pytest.mark.parametrize("path", ["receipt.pdf", "receipt-a4.pdf"])
def test_receipt_reads_back_household_items_and_balances(client, redeemed, path):
    r = client.get(f"/shop/redemptions/{redeemed.id}/{path}")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = _pdf_text(r.data)
    flat = text.replace("\n", "").replace("：", "")  # the A4 sheet puts labels in a table, without a colon
    assert f"小票号{redeemed.receipt_no}" in flat, text
    assert "户号0101" in flat and "户主张*丰" in flat and "张三丰" not in flat, text
    # each line: name, spec, quantity, (unit price on A4,) points
    if path == "receipt.pdf":
        assert "大米5kg220" in flat and "食用油1.8L130" in flat, text
    else:
        assert "大米5kg21020" in flat and "食用油1.8L13030" in flat, text
    for label, value in (("兑换前积分", 100), ("合计积分", 50), ("兑换后积分", 50)):
        assert re.search(rf"{label}{value}(?!\d)", flat), (label, text)
    assert "作废" not in text
    if path == "receipt-a4.pdf":
        assert "一号村" in text and "收银员" in text
        assert len(PdfReader(io.BytesIO(r.data)).pages) == 1


@pytest.mark.parametrize("path", ["receipt.pdf", "receipt-a4.pdf"])
def test_cancelled_receipt_says_void(client, redeemed, path):
    r = client.post(f"/shop/redemptions/{redeemed.id}/cancel", data={"reason": "拿错了"})
    assert r.status_code == 302
    text = _pdf_text(client.get(f"/shop/redemptions/{redeemed.id}/{path}").data)
    assert "已作废" in text and "拿错了" in text


def test_household_points_page_lists_its_redemptions(client, shopfront, redeemed):
    """Date, goods, points, the receipt link and whether it was cancelled; other households' stay out."""
    s = shopfront
    key = _key(client)
    r = client.post("/shop/counter", data=_cart(s, key, rice="1"))
    second = db.session.scalar(sa.select(Redemption).order_by(Redemption.id.desc()))
    client.post(f"/shop/redemptions/{second.id}/cancel", data={"reason": "多拿了"})
    _login(client, "clerk1")
    page = client.get(f"/points/households/{s['household']}").get_data(as_text=True)
    section = page.split('id="redemptions"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S)[1:]
    assert len(rows) == 2
    newest, oldest = rows
    assert second.receipt_no in newest and "已撤销" in newest and "多拿了" in newest
    assert f'href="/shop/redemptions/{second.id}"' in newest
    assert redeemed.receipt_no in oldest and "大米 5kg × 2" in oldest and "食用油 1.8L × 1" in oldest
    assert "-50" in oldest and "已完成" in oldest and f'href="/shop/redemptions/{redeemed.id}"' in oldest
    assert r.status_code == 302
    other = client.get("/points/households/2").get_data(as_text=True)
    assert redeemed.receipt_no not in other and "还没有兑换记录" in other


def test_household_points_page_pages_through_many_redemptions(client, shopfront):
    """A household that shops every week: the newest 20 visits first, the rest a click away, and the
    entries' own pager is left where it was."""
    from app.auth.models import User
    from app.ledger import services as ledger
    from app.ledger.models import AccountKind
    from app.registry.models import Household
    from app.shop import services as shop
    from app.shop.models import Product

    s = shopfront
    with write_transaction():
        household, rice = db.session.get(Household, s["household"]), db.session.get(Product, s["rice"])
        ledger.post_transfer(debit=ledger.system_account(household.village_id, AccountKind.ISSUANCE),
                             credit=ledger.household_account(household), amount=200, code="opening", key="more-0101")
        cashier = db.session.scalar(sa.select(User).where(User.username == "cash1"))
        receipts = [shop.redeem(household, [(rice, 1)], key=f"week-{i:02d}", actor=cashier).receipt_no
                    for i in range(23)]
    _login(client, "clerk1")

    def listed(page_html: str) -> list[str]:
        section = page_html.split('id="redemptions"', 1)[1].split("</table>", 1)[0]
        return sorted((no for no in receipts if no in section), key=section.index)

    first = client.get(f"/points/households/{s['household']}").get_data(as_text=True)
    assert listed(first) == receipts[::-1][:20]
    assert f'href="/points/households/{s["household"]}?rpage=2#redemptions"' in first
    assert "共 2 页（共 23 条）" in first.split('id="redemptions"', 1)[1], first
    second = client.get(f"/points/households/{s['household']}?rpage=2").get_data(as_text=True)
    assert listed(second) == receipts[::-1][20:]
    assert client.get(f"/points/households/{s['household']}?rpage=x").status_code == 200


# --- the 58 mm roll: as long as its content ---------------------------------------------------------------

def _redeem_lines(shopfront, n: int) -> Redemption:
    """A redemption of `n` different goods (1 point each) by household 0101."""
    from app.registry.models import Household, Village
    from app.shop import services as shop
    from app.auth.models import User

    with write_transaction():
        cashier = db.session.scalar(sa.select(User).where(User.username == "cash1"))
        h = db.session.get(Household, shopfront["household"])
        village = db.session.get(Village, h.village_id)
        goods = []
        for i in range(n):
            p = shop.create_product(village, name=f"商品{i + 1:02d}", spec=f"{n}件", unit="件", price_points=1,
                                    actor=cashier)
            shop.receive_purchase(p, 5, "", actor=cashier)
            goods.append((p, 1))
        red = shop.redeem(h, goods, key=f"roll-{n}", actor=cashier)
    return red


def test_roll_receipt_is_as_long_as_its_content(client, shopfront):
    """A 1-line and a 20-line receipt: 58 mm wide, one page each, the longer one longer, no blank tail; every
    line, the balances and the signature line on it, nothing past the paper's edges."""
    from tests.paper_helpers import layout, look, page_sizes_mm, words_outside

    _login(client, "cash1")
    sizes = {}
    for n in (1, 20):
        red = _redeem_lines(shopfront, n)
        data = client.get(f"/shop/redemptions/{red.id}/receipt.pdf").data
        look(data, f"receipt-{n}")
        (width, height), = page_sizes_mm(data)
        assert abs(width - 58) < 0.1
        sizes[n] = height
        text = _pdf_text(data)
        for i in range(n):
            assert re.search(rf"商品{i + 1:02d}{n}件11", text), (i, text)
        assert f"合计积分：{n}" in text and f"兑换后积分：{red.balance_after}" in text
        assert "领取人（农户签字）：" in text, text
        # no blank tail: the last word ends within 6 mm of the paper's end (3 mm margin + rounding)
        page, = layout(data)
        assert page.height - max(w.y1 for w in page.words) < 6, (page.height, max(w.y1 for w in page.words))
        assert words_outside(data, left=2, right=2, top=2.5, bottom=2.5) == []
    assert sizes[20] - sizes[1] > 20 * 3, sizes  # each goods line takes at least 3 mm
    assert sizes[1] < 150, sizes  # the old fixed page was 200 mm
