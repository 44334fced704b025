"""In Chromium at a 1024×600 touch screen, the kiosk's long pages: 结束 and 返回 stay on screen while the records
scroll, a rejected entry stands apart from the points that count, the home page's boxes open what they count,
and the rules page starts with an index whose buttons jump to each chapter."""
from __future__ import annotations

import datetime as dt

import pytest
from playwright.sync_api import Browser, expect

from app.auth.models import User
from app.db import local_today
from app.extensions import db
from app.points import services as pts
from app.points.models import PointItem, PointScheme
from app.registry.models import Household
from app.rules import services as rules
from app.rules.models import VersionStatus
from app.rules.parser import parse_rules
from app.submission import write_transaction
from tests.conftest import valid_id
from tests.kiosk_helpers import PIN, device_cookie, new_device, seed
from tests.e2e.helpers import laid_out_box, tap_keys

CHAPTERED = """和美村村规民约（修订）
第一章 总则
第一条 村民应当遵守法律法规。
第二条 村民享有平等权利。
第二章 环境卫生
第三条 垃圾分类投放。
第四条 每月第一个周六为村庄清洁日，每户至少一人参加。
第三章 附则
第五条 本规约自通过之日起施行。"""


@pytest.fixture
def long_records(village, make_user, make_household):
    ids = seed(village, make_user, make_household, valid_id)
    with write_transaction():
        clerk = db.session.scalar(db.select(User).where(User.username == "wenshu"))
        reviewer = db.session.scalar(db.select(User).where(User.username == "jiandu"))
        scheme = db.session.scalar(db.select(PointScheme))
        item = db.session.scalar(db.select(PointItem).where(PointItem.code == "A02"))
        home = db.session.get(Household, ids["households"]["0501"])
        today = local_today()
        for n in range(18):
            e = pts.record_entry(scheme, item, home, occurred_on=today - dt.timedelta(days=n + 1), actor=clerk)
            pts.approve(e, reviewer)
        refused = pts.record_entry(scheme, item, home, occurred_on=today - dt.timedelta(days=25), actor=clerk,
                                   note="照料老人")
        pts.reject(refused, reviewer, reason="当日未参加")
        ruleset = rules.create_ruleset(village, "village_rules", "和美村村规民约（修订）")
        version = rules.import_version(ruleset, parse_rules(CHAPTERED), CHAPTERED, actor=clerk)
        version.status = VersionStatus.PUBLISHED.value
        chapter_two = next(c for c in version.chapters if c.label == "第二章")
    return {**ids, "chapter_two": chapter_two.id}


def test_long_kiosk_pages_keep_finish_and_back_on_screen(browser: Browser, live_server, app, village, long_records):
    device_id, token = new_device(village)
    ctx = browser.new_context(viewport={"width": 1024, "height": 600}, has_touch=True, locale="zh-CN")
    ctx.add_cookies([{"name": "xy_kiosk_device", "value": device_cookie(app, device_id, token),
                      "url": f"{live_server}/kiosk/"}])
    page = ctx.new_page()
    page.goto(f"{live_server}/kiosk/")
    page.get_by_role("link", name="输入户号").tap()
    tap_keys(page, ".k-pad", "0501")
    page.get_by_role("button", name="下一步").tap()
    expect(page.locator("#pin")).to_be_visible()
    tap_keys(page, ".k-pad", PIN)
    page.get_by_role("button", name="确定").tap()

    # the balance box is a link to the records, the posting box to the posting page
    page.locator("a.k-tile", has_text="正在公示").tap()
    expect(page).to_have_url(f"{live_server}/kiosk/posting")
    page.go_back()
    page.locator("a.k-tile", has_text="可用积分").tap()
    expect(page).to_have_url(f"{live_server}/kiosk/entries")

    counted = page.locator(".k-entries li")
    expect(counted).to_have_count(19)  # the 20 latest entries, less the rejected one listed apart
    expect(page.locator(".k-rejected li")).to_have_count(1)
    expect(page.locator(".k-entries")).not_to_contain_text("审核未通过")
    page.mouse.wheel(0, 20000)
    page.wait_for_timeout(200)
    assert page.evaluate("window.scrollY") > 600, "the records page must be long enough to scroll"
    for button in (page.get_by_role("button", name="结束"), page.get_by_role("link", name="返回")):
        box = laid_out_box(button)
        assert box is not None and 0 <= box["y"] and box["y"] + box["height"] <= 600, box

    page.get_by_role("link", name="返回").tap()
    page.get_by_role("link", name="村规民约").tap()
    index = page.locator(".k-index").filter(has_text="和美村村规民约（修订）")
    expect(index.get_by_role("link")).to_have_count(3)
    index.get_by_role("link", name="第二章 环境卫生").tap()
    expect(page).to_have_url(f"{live_server}/kiosk/rules#c{long_records['chapter_two']}")
    heading = page.locator(f"#c{long_records['chapter_two']}")
    box = laid_out_box(heading)
    assert box is not None and 76 <= box["y"] <= 600, box  # below the sticky header, on screen
    ctx.close()
