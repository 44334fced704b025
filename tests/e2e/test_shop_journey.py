"""In Chromium: a cashier finds a household by pinyin initials, redeems two products, downloads the
receipt PDF; the household's points page then shows the redemption."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from app.ledger import services as ledger
from app.ledger.models import AccountKind
from app.shop import services as shop
from app.submission import write_transaction
from tests.e2e.helpers import login as _login


@pytest.fixture
def shop_day(village, make_user, make_household):
    make_user("shouyin", ("cashier", village))
    make_user("wenshu", ("clerk", village))
    h = make_household(village, "0301", "欧阳春花")
    make_household(village, "0302", "王建国")
    with write_transaction():
        ledger.post_transfer(debit=ledger.system_account(village.id, AccountKind.ISSUANCE),
                             credit=ledger.household_account(h), amount=120, code="opening", key="open-0301")
        rice = shop.create_product(village, name="大米", spec="5kg", unit="袋", price_points=40)
        soap = shop.create_product(village, name="洗衣皂", unit="块", price_points=5)
        shop.receive_purchase(rice, 10, "")
        shop.receive_purchase(soap, 30, "")
    return h


def test_cashier_redeems_and_the_household_page_shows_it(page: Page, live_server, shop_day, outside_requests):
    _login(page, live_server, "shouyin")
    page.get_by_role("link", name="幸福超市").first.click()
    expect(page.get_by_role("heading", name="幸福超市收银台")).to_be_visible()
    page.locator("#q").fill("oych")  # 欧阳春花 by pinyin initials
    page.get_by_role("button", name="查找农户").click()
    expect(page.locator("article")).to_contain_text("0301")
    expect(page.locator("article")).to_contain_text("120")
    page.get_by_label("大米 5kg").fill("2")
    page.get_by_label("洗衣皂").fill("３")  # full-width, as a Chinese keyboard types it
    page.evaluate("window.stillTheSamePage = true")
    page.get_by_role("button", name="核算积分").click()
    expect(page.locator("table").filter(has_text="兑换清单")).to_contain_text("95")
    # htmx drew the basket alone: the page was not reloaded, the boxes hold what was typed, and the confirm
    # button has the focus, so the cashier's Enter confirms
    assert page.evaluate("window.stillTheSamePage") is True
    expect(page.get_by_label("洗衣皂")).to_have_value("３")
    expect(page.get_by_role("button", name="确认兑换")).to_be_focused()
    page.get_by_role("button", name="确认兑换").click()
    expect(page.locator(".flash-success")).to_contain_text("95")
    receipt_no = re.search(r"v1-\d{4}-\d{6}", page.locator("h1").inner_text()).group(0)

    with page.expect_download() as info:
        page.get_by_role("button", name="打印小票（PDF）").click()
    download = info.value
    assert download.suggested_filename.endswith(".pdf")
    pdf = Path(download.path()).read_bytes()
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages).replace(" ", "")
    for needle in ("0301", "大米", "洗衣皂", receipt_no, "兑换前积分：120", "兑换后积分：25"):
        assert needle in text, (needle, text)

    page.locator("details.dropdown summary").last.click()
    page.get_by_role("button", name="退出登录").click()
    _login(page, live_server, "wenshu")
    page.goto(f"{live_server}/points/households/{shop_day.id}")
    expect(page.locator("article").filter(has_text="可用余额").locator("strong")).to_have_text("25")
    row = page.get_by_role("row").filter(has_text=receipt_no)
    expect(row).to_contain_text("大米 5kg × 2")
    expect(row).to_contain_text("洗衣皂 × 3")
    expect(row).to_contain_text("-95")
    expect(row).to_contain_text("已完成")
    row.get_by_role("link", name=receipt_no).click()
    expect(page.get_by_role("heading", name=receipt_no, exact=False)).to_be_visible()
    assert outside_requests == []


def test_a_wrong_quantity_at_the_check_comes_back_marked_beside_its_box(page: Page, live_server, shop_day,
                                                                        outside_requests):
    """The basket alone cannot mark a box: htmx puts the whole page back, the box marked with its reason, and
    a corrected basket then checks and confirms."""
    _login(page, live_server, "shouyin")
    page.goto(f"{live_server}/shop/counter?household={shop_day.id}")
    page.get_by_label("大米 5kg").fill("两袋")
    page.get_by_role("button", name="核算积分").click()
    box = page.get_by_label("大米 5kg")
    expect(box).to_have_attribute("aria-invalid", "true")
    expect(box).to_have_value("两袋")
    expect(page.locator(".field-error")).to_be_visible()
    box.fill("1")
    page.get_by_role("button", name="核算积分").click()
    expect(page.locator("table").filter(has_text="兑换清单")).to_contain_text("40")
    page.get_by_role("button", name="确认兑换").click()
    expect(page.locator(".flash-success")).to_contain_text("40")
    assert outside_requests == []


def test_a_box_edited_after_the_check_is_not_sold_until_its_total_is_shown(page: Page, live_server, shop_day,
                                                                           outside_requests):
    """The cashier checks 1 bag, then types 2 and presses confirm at once: nothing is sold, the new total is on
    screen with the reason, and the next confirm sells the 2 bags."""
    _login(page, live_server, "shouyin")
    page.goto(f"{live_server}/shop/counter?household={shop_day.id}")
    page.get_by_label("大米 5kg").fill("1")
    page.get_by_role("button", name="核算积分").click()
    basket = page.locator("table").filter(has_text="兑换清单")
    expect(basket).to_contain_text("40")
    page.get_by_label("大米 5kg").fill("2")
    page.get_by_role("button", name="确认兑换").click()
    expect(page.locator("[data-basket-changed]")).to_be_visible()
    expect(page.locator(".flash-success")).to_have_count(0)
    expect(basket).to_contain_text("80")
    expect(page.get_by_label("大米 5kg")).to_have_value("2")
    page.get_by_role("button", name="确认兑换").click()
    expect(page.locator(".flash-success")).to_contain_text("80")
    assert outside_requests == []
