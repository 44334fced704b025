"""In Chromium at a 1024×600 touch screen: a clerk enables the kiosk, villagers find their household by
card code, number pad and pinyin letters, type the PIN with taps; wrong PINs lock; objections reach the
reviewers; the kiosk returns to its start page when left alone."""
from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Browser, Page, expect
from pypdf import PdfReader

from app.extensions import db
from app.kiosk import services as ks
from app.registry.models import Household
from app.submission import write_transaction
from tests.conftest import valid_id
from tests.e2e.helpers import login as _login
from tests.e2e.helpers import tap_keys
from tests.kiosk_helpers import PIN, seed

IDLE = 4


@pytest.fixture
def app_config() -> dict:
    return {"WTF_CSRF_ENABLED": True}


@pytest.fixture
def seeded(village, make_user, make_household):
    return seed(village, make_user, make_household, valid_id)


@pytest.fixture
def touch(browser: Browser, live_server):
    """A new 1024×600 touch-screen browser context; every request it makes is checked to stay local."""
    contexts = []
    outside: list[str] = []

    def make(**kw):
        ctx = browser.new_context(viewport={"width": 1024, "height": 600}, has_touch=True, locale="zh-CN",
                                  **kw)
        contexts.append(ctx)
        ctx.on("request", lambda req: outside.append(req.url)
               if not req.url.startswith(live_server) and not req.url.startswith("data:") else None)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()
    assert outside == []


@pytest.fixture
def kiosk(touch, live_server, seeded) -> Page:
    """The clerk creates a kiosk in the clerk pages; the touch screen opens the link and is enabled."""
    clerk = touch()
    _login(clerk, live_server, "wenshu")
    clerk.goto(f"{live_server}/kiosk-admin/devices")
    clerk.locator("#name").fill("村委会大厅")
    clerk.locator("main button[type=submit]").first.click()
    link = clerk.locator("[data-enrol-link]").inner_text().strip()
    assert link.startswith(live_server + "/kiosk/enrol/")
    page = touch()
    page.goto(link)
    page.get_by_role("button", name="是的，开通这块屏幕").tap()
    expect(page.get_by_role("heading", name="查询我家的积分")).to_be_visible()
    return page


def _type_pin(page: Page, pin: str) -> None:
    expect(page.get_by_role("heading", name="请输入查询密码")).to_be_visible()
    tap_keys(page, ".k-pad", pin)
    page.get_by_role("button", name="确定").tap()


def test_number_pad_and_pin_show_balance_and_entries(kiosk: Page, seeded):
    kiosk.get_by_role("link", name="输入户号").tap()
    tap_keys(kiosk, ".k-pad", "0501")
    expect(kiosk.locator("#number")).to_have_value("0501")
    kiosk.get_by_role("button", name="下一步").tap()
    _type_pin(kiosk, PIN)
    expect(kiosk.locator("[data-balance]")).to_have_text("8")
    expect(kiosk.locator("[data-score]")).to_have_text("8")
    expect(kiosk.get_by_text("钱*有")).to_be_visible()
    kiosk.get_by_role("link", name="我家的积分记录").tap()
    expect(kiosk.locator(".k-entries li")).to_have_count(2)
    expect(kiosk.locator(".k-entries")).to_contain_text("参加村庄清洁日")
    expect(kiosk.locator(".k-entries")).to_contain_text("依据：《和美村村规民约》第五条")
    # the cited rule's own text is one tap away, and from it the kiosk's rules page
    kiosk.get_by_text("依据：《和美村村规民约》第五条").tap()
    expect(kiosk.locator(".k-cite")).to_contain_text("每月第一个周六为村庄清洁日")
    kiosk.get_by_role("link", name="在村规民约中查看").tap()
    expect(kiosk.locator(".k-rules")).to_contain_text("每月第一个周六为村庄清洁日")
    assert kiosk.url.endswith(f"/kiosk/rules#a{seeded['article']}")
    # finish is one tap away on every page
    kiosk.get_by_role("button", name="结束").tap()
    expect(kiosk.get_by_role("heading", name="查询我家的积分")).to_be_visible()
    kiosk.goto(kiosk.url.rsplit("/kiosk/", 1)[0] + "/kiosk/home")
    expect(kiosk.get_by_role("heading", name="查询我家的积分")).to_be_visible()


def test_card_code_typed_by_the_scanner(kiosk: Page, village, seeded):
    with write_transaction():
        code = ks.issue_card(db.session.get(Household, seeded["households"]["0501"]))
    # a USB scanner is a keyboard: it types the code into the focused box and presses Enter
    expect(kiosk.locator("#code")).to_be_focused()
    kiosk.keyboard.type(code)
    kiosk.keyboard.press("Enter")
    _type_pin(kiosk, PIN)
    expect(kiosk.locator("[data-balance]")).to_have_text("8")


def test_pinyin_letters_and_masked_names(kiosk: Page):
    kiosk.get_by_role("link", name="按姓名拼音查找").tap()
    tap_keys(kiosk, ".k-letters", "zs")
    expect(kiosk.locator("#letters")).to_have_value("zs")
    kiosk.get_by_role("button", name="查找").tap()
    expect(kiosk.get_by_role("button", name="张*芳 · 第一村民小组")).to_be_visible()
    expect(kiosk.get_by_role("button", name="张*菲 · 第二村民小组")).to_be_visible()
    kiosk.get_by_role("button", name="张*菲 · 第二村民小组").tap()
    expect(kiosk.get_by_text("张*菲（第二村民小组）")).to_be_visible()


def test_five_wrong_pins_lock_the_household(kiosk: Page):
    kiosk.get_by_role("link", name="输入户号").tap()
    tap_keys(kiosk, ".k-pad", "0501")
    kiosk.get_by_role("button", name="下一步").tap()
    for _ in range(4):
        _type_pin(kiosk, "9147")
        expect(kiosk.locator("[data-pin-result]")).to_have_attribute("data-pin-result", "wrong")
        expect(kiosk.get_by_role("alert")).to_contain_text("户号或密码不对")
    _type_pin(kiosk, "9147")
    expect(kiosk.get_by_role("alert")).to_contain_text("锁定 15 分钟")
    _type_pin(kiosk, PIN)
    expect(kiosk.locator("[data-pin-result]")).to_have_attribute("data-pin-result", "locked")
    expect(kiosk.locator("[data-balance]")).to_have_count(0)


def test_objection_reaches_the_reviewers_queue(kiosk: Page, touch, live_server):
    kiosk.get_by_role("link", name="输入户号").tap()
    tap_keys(kiosk, ".k-pad", "0501")
    kiosk.get_by_role("button", name="下一步").tap()
    _type_pin(kiosk, PIN)
    kiosk.get_by_role("link", name="公示与异议").tap()
    row = kiosk.locator(".k-entries li").filter(has_text="照料独居老人")
    row.get_by_role("link", name="我有异议").tap()
    kiosk.get_by_text("分数不对").tap()
    kiosk.get_by_role("button", name="提交异议").tap()
    done = kiosk.locator("[data-objection-due]")
    expect(done).to_contain_text("前答复")
    due = done.get_attribute("data-objection-due")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", due)

    reviewer = touch()
    _login(reviewer, live_server, "jiandu")
    reviewer.goto(f"{live_server}/points/objections")
    line = reviewer.get_by_role("row").filter(has_text="分数不对")
    expect(line).to_have_count(1)
    expect(line).to_contain_text("0501")
    expect(line).to_contain_text(due)

    # … the reviewer decides it and prints the written reply, which names the household that objected
    line.get_by_role("link").first.click()
    reviewer.locator("#decision").select_option("upheld")
    reviewer.locator("#reply_text").fill("经核实，该户确实照料独居老人，积分无误。")
    reviewer.get_by_role("button", name="提交处理结果").click()
    expect(reviewer.locator(".flash-success")).to_be_visible()
    with reviewer.expect_download() as download:
        reviewer.get_by_role("button", name="打印答复书（PDF）").click()
    text = "".join(p.extract_text() for p in PdfReader(download.value.path()).pages)
    assert "户号 0501（户主 钱*有）" in text and "经核实" in text, text
    assert "户*" not in text


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True, "KIOSK_IDLE_SECONDS": IDLE}])
def test_a_pin_the_server_is_slow_to_check_still_opens_the_household(kiosk: Page, monkeypatch):
    """The idle countdown is for a screen no one touches, not for one waiting for its answer: a PIN whose
    check takes longer than the idle time (a busy machine hashing it) opens the household, and the countdown
    starts again on the household's page."""
    checked = ks.open_at_kiosk

    def slow(*args, **kwargs):
        time.sleep(IDLE + 2)
        return checked(*args, **kwargs)

    monkeypatch.setattr(ks, "open_at_kiosk", slow)
    kiosk.get_by_role("link", name="输入户号").tap()
    tap_keys(kiosk, ".k-pad", "0501")
    kiosk.get_by_role("button", name="下一步").tap()
    _type_pin(kiosk, PIN)
    expect(kiosk.locator("[data-balance]")).to_be_visible(timeout=(IDLE + 5) * 1000)
    expect(kiosk.locator("#k-idle")).to_be_visible(timeout=IDLE * 1000)


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True, "KIOSK_IDLE_SECONDS": IDLE}])
def test_idle_kiosk_returns_to_the_start_page(kiosk: Page):
    kiosk.get_by_role("link", name="输入户号").tap()
    tap_keys(kiosk, ".k-pad", "0501")
    kiosk.get_by_role("button", name="下一步").tap()
    _type_pin(kiosk, PIN)
    expect(kiosk.locator("[data-balance]")).to_be_visible()
    banner = kiosk.locator("#k-idle")
    expect(banner).to_be_visible(timeout=IDLE * 1000)
    expect(banner).to_contain_text("秒后回到首页")
    expect(kiosk.get_by_role("heading", name="查询我家的积分")).to_be_visible(timeout=(IDLE + 5) * 1000)
    assert kiosk.url.endswith("/kiosk/")
    # the household's session ended with it
    kiosk.goto(kiosk.url + "home")
    expect(kiosk.get_by_role("heading", name="查询我家的积分")).to_be_visible()
