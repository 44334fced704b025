"""In Chromium: a clerk records a batch entry, a reviewer approves it, the household page shows it."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.db import local_today
from app.extensions import db
from app.points import services as pts
from app.points.models import PointEntry
from app.submission import write_transaction
from tests.e2e.helpers import login as _login


@pytest.fixture
def cleanup_day(village, make_user, make_household):
    make_user("wenshu", ("clerk", village))
    make_user("jiandu", ("reviewer", village))
    h = make_household(village, "0501", "钱大有", members=[("孙秀兰", "spouse")])
    make_household(village, "0502", "周德才")
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        cat = pts.create_category(scheme, "环境治理", "add")
        pts.create_item(cat, pts.ItemData(code="A01", text="参加村庄清洁日", points=2, article_ref="村规民约第五条"))
    return h


def test_batch_entry_approved_shows_on_household_page(page: Page, live_server, cleanup_day, outside_requests):
    _login(page, live_server, "wenshu")
    page.goto(f"{live_server}/points/entries/batch?q=05")
    page.locator("#item_id").select_option(label="A01 参加村庄清洁日（+2）")
    page.locator("#occurred_on").fill(local_today().isoformat())
    page.locator("#note").fill("十一月环境清洁日")
    for name in ("钱大有", "孙秀兰", "周德才"):
        page.get_by_label(name, exact=False).check()
    page.locator("main button[name=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("3")

    page.locator("details.dropdown summary").last.click()
    page.get_by_role("button", name="退出登录").click()
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    _login(page, live_server, "jiandu")
    page.goto(f"{live_server}/points/entries?status=pending")
    for _ in range(3):
        page.locator("tr.review-row form button[name=approve]").first.click()
        expect(page.locator(".flash-success")).to_be_visible()

    page.goto(f"{live_server}/points/households/{cleanup_day.id}")
    expect(page.locator("article").filter(has_text="可用余额").locator("strong")).to_have_text("4")
    rows = page.get_by_role("row").filter(has_text="参加村庄清洁日")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("公示中")
    assert outside_requests == []


def test_back_and_resubmit_of_a_batch_records_each_entry_once(page: Page, live_server, cleanup_day,
                                                             outside_requests):
    _login(page, live_server, "wenshu")
    page.goto(f"{live_server}/points/entries/batch?q=05")
    page.locator("#item_id").select_option(label="A01 参加村庄清洁日（+2）")
    page.locator("#occurred_on").fill(local_today().isoformat())
    for name in ("钱大有", "孙秀兰", "周德才"):
        page.get_by_label(name, exact=False).check()
    page.locator("main button[name=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("3")

    # the clerk presses Back and submits the same page again
    page.go_back()
    page.locator("main button[name=submit]").click()
    expect(page.locator(".flash-info")).to_contain_text("已经记录过了")
    db.session.expire_all()
    assert db.session.scalar(sa.select(sa.func.count(PointEntry.id))) == 3
    assert outside_requests == []


def test_entry_form_keeps_the_chosen_member_through_a_reload_and_a_refusal(page: Page, live_server, cleanup_day,
                                                                        outside_requests):
    """The person list reloads as 户号 is typed; leaving the field or a refused submit keeps the member chosen."""
    _login(page, live_server, "wenshu")
    page.goto(f"{live_server}/points/entries/new")
    page.locator("#household_number").press_sequentially("0501")
    expect(page.locator("#person_id option", has_text="孙秀兰")).to_have_count(1)
    page.locator("#person_id").select_option(label="孙秀兰")
    page.locator("#item_id").select_option(label="A01 参加村庄清洁日（+2）")
    # 户号 loses focus: its change event asks for the list again
    with page.expect_response(lambda r: "household-people" in r.url):
        page.locator("#household_number").focus()
        page.locator("#occurred_on").click()
    page.wait_for_load_state("networkidle")
    expect(page.locator("#person_id option:checked")).to_have_text("孙秀兰")
    page.locator("#occurred_on").fill((local_today() + dt.timedelta(days=1)).isoformat())
    page.locator("main button[name=submit]").click()
    expect(page.locator(".field-error")).to_contain_text("日期不能晚于今天")
    expect(page.locator("#person_id option:checked")).to_have_text("孙秀兰")
    page.locator("#occurred_on").fill(local_today().isoformat())
    page.locator("main button[name=submit]").click()
    expect(page.locator(".flash-success")).to_be_visible()
    db.session.expire_all()
    entry = db.session.scalar(sa.select(PointEntry))
    assert entry.person is not None and entry.person.name == "孙秀兰"
    assert outside_requests == []
