"""In Chromium, a month's points done the short way (issue 18): one entry found by pinyin initials in the
grouped item list, a batch for a whole villager group ticked with one button, and the pending entries
approved together, a capped one refused alone with its reason. The entry form keeps each label above its box."""
from __future__ import annotations


import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.db import local_today
from app.extensions import db
from app.points import services as pts
from app.points.models import PointEntry, PointItem
from app.registry.services import create_group
from app.submission import write_transaction
from tests.e2e.helpers import laid_out_box
from tests.e2e.helpers import login as _login


@pytest.fixture
def month(village, make_user, make_household):
    clerk = make_user("wenshu", ("clerk", village))
    reviewer = make_user("jiandu", ("reviewer", village))
    with write_transaction():
        second, first = create_group(village, "第二组"), create_group(village, "第一组")
    h = make_household(village, "0101", "钱大有", members=[("孙秀兰", "spouse")], group=first)
    make_household(village, "0102", "周德才", group=first)
    make_household(village, "0201", "吴小明", group=second)
    today = local_today()
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        add = pts.create_category(scheme, "环境治理", "add")
        pts.create_item(add, pts.ItemData(code="A01", text="参加村庄清洁日", points=2, cap_period="month",
                                          cap_points=4))
        pts.create_item(add, pts.ItemData(code="A02", text="义务献血", points=5))
        cut = pts.create_category(scheme, "违反村规", "deduct")
        pts.create_item(cut, pts.ItemData(code="B01", text="乱扔垃圾", points=-3))
    with write_transaction():
        # earlier this month 钱大有 already had one clean-up day approved
        item = db.session.scalar(sa.select(PointItem).where(PointItem.code == "A01"))
        first_day = pts.record_entry(pts_scheme(village), item, h, occurred_on=today.replace(day=1), actor=clerk)
        pts.approve(first_day, reviewer, today=today)
    return h


def pts_scheme(village):
    from app.points.queries import village_scheme

    return village_scheme(village.id)


def test_record_batch_by_group_and_bulk_review(page: Page, live_server, month, outside_requests):
    today = local_today().isoformat()
    _login(page, live_server, "wenshu")

    # one entry: the item found by its pinyin initials (清洁 → qj) in the grouped list
    page.goto(f"{live_server}/points/entries/new")
    expect(page.locator("#item_id optgroup")).to_have_count(2)
    page.locator("#household_number").fill("0101")
    page.locator("#item_id-filter").fill("qj")
    expect(page.locator("#item_id option:not([hidden])")).to_have_count(1)
    expect(page.locator("#item_id option:checked")).to_contain_text("A01 参加村庄清洁日")
    page.locator("#occurred_on").fill(today)
    # label above its own box, in one column
    label, box = laid_out_box(page.locator("label[for=occurred_on]")), laid_out_box(page.locator("#occurred_on"))
    assert abs(label["x"] - box["x"]) < 4 and label["y"] < box["y"]
    page.locator("#note").fill("十二月清洁日")
    page.locator("main button[name=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()

    # a batch for everyone of 第一组, ticked with one button
    page.goto(f"{live_server}/points/entries/batch")
    page.locator("select[name=group]").select_option(label="全部小组")
    page.get_by_role("button", name="列出人员").click()
    headings = page.locator(".batch-group h3")
    expect(headings.first).to_contain_text("第一组")
    expect(headings.nth(1)).to_contain_text("第二组")
    page.locator("#item_id").select_option(label="A01 参加村庄清洁日（+2，每月最多 4 分）")
    page.locator("#occurred_on").fill(today)
    page.locator(".batch-group").filter(has_text="第一组").get_by_role("button", name="选本组").click()
    expect(page.locator(".batch-count")).to_have_text("已选 3 人")
    page.get_by_role("button", name="全选").click()
    expect(page.locator(".batch-count")).to_have_text("已选 4 人")
    page.get_by_role("button", name="清空").click()
    page.locator(".batch-group").filter(has_text="第一组").get_by_role("button", name="选本组").click()
    page.locator("main button[name=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("3")

    # the reviewer ticks the whole page and approves it in one go
    page.locator("details.dropdown summary").last.click()
    page.get_by_role("button", name="退出登录").click()
    _login(page, live_server, "jiandu")
    page.goto(f"{live_server}/points/entries?status=pending")
    expect(page.locator("td", has_text="十二月清洁日")).to_be_visible()
    page.get_by_label("勾选本页所有记录").check()
    page.get_by_role("button", name="批准勾选的记录").click()
    expect(page.locator(".flash-success")).to_contain_text("已批准 3 条记录")
    expect(page.locator(".flash-error").first).to_contain_text("以下 1 条记录没有审核")
    expect(page.locator(".flash-error").nth(1)).to_contain_text("A01")
    db.session.rollback()  # end the test's own read, which still sees the database as it was
    statuses = sorted(db.session.scalars(sa.select(PointEntry.status)))
    assert statuses == ["pending", "posted", "posted", "posted", "posted"]
    # the capped entry is still in the list, waiting for a decision
    expect(page.locator("input[name=entry_ids]")).to_have_count(1)
    assert outside_requests == []
