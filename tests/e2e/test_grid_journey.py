"""On a 390 × 844 phone in Chromium: a grid worker sees a due visit, records it with a photo taken on the phone,
reports an event; the clerk, on a desktop, accepts and assigns it; the worker resolves it; the clerk records the
return visit and closes it; the worker sees it closed."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import Browser, expect

from app.db import local_today
from app.extensions import db
from app.grid import services as gs
from app.grid.models import GridEvent, Visit
from app.registry.models import Household
from app.registry.services import create_group
from app.submission import write_transaction
from tests.conftest import PASSWORD
from tests.e2e.helpers import laid_out_box

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}


@pytest.fixture
def round_(village, make_user, make_household):
    make_user("wenshu", ("clerk", village))
    worker = make_user("wangge", ("grid_worker", village))
    with write_transaction():
        group = create_group(village, "一组")
    elder = make_household(village, "0301", "孙奶奶", group=group, tags=["elderly_alone"],
                           address="一组后山脚")
    with write_transaction():
        grid = gs.create_grid(village, name="第一网格", chief_name="王书记")
        gs.assign_worker(grid, db.session.merge(worker))
        gs.place_household(db.session.get(Household, elder.id), grid, on=local_today() - dt.timedelta(days=40))
    return elder.id


def _login(page, username):
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= 390")


def _photo(tmp_path) -> str:
    path = tmp_path / "IMG_2031.jpg"
    Image.new("RGB", (1200, 900), (90, 140, 60)).save(path, "JPEG")
    return str(path)


def test_a_round_of_visits_and_an_event_to_closure(browser: Browser, live_server, round_, tmp_path):
    outside: list[str] = []

    def page_for(**context):
        page = browser.new_context(**context).new_page()
        page.on("request", lambda req: outside.append(req.url)
                if not req.url.startswith((live_server, "data:")) else None)
        return page

    worker = page_for(**PHONE)
    worker.goto(f"{live_server}/grid/")
    _login(worker, "wangge")
    worker.goto(f"{live_server}/grid/")
    expect(worker.get_by_role("heading", name="今日走访")).to_be_visible()
    due = worker.locator("article.grid-due").filter(has_text="孙奶奶")
    expect(due).to_contain_text("已超期")
    record = due.get_by_role("button", name="登记走访")
    assert laid_out_box(record)["height"] >= 48 and _fits(worker)
    record.click()

    expect(worker.get_by_role("heading", name="走访 0301 户")).to_be_visible()
    worker.get_by_label("走访情况").fill("老人独居，身体尚可；厨房电线老化")
    worker.get_by_label("群众诉求（如有）").fill("希望帮忙检查电线")
    worker.locator("input[type=file]").set_input_files(_photo(tmp_path))
    save = worker.get_by_role("button", name="保存走访记录")
    assert laid_out_box(save)["height"] >= 48 and _fits(worker)
    save.click()
    expect(worker.locator(".flash-success")).to_contain_text("0301 户的走访记录已保存")
    expect(worker.locator("article.grid-due")).to_have_count(0)
    db.session.rollback()
    visit = db.session.scalars(sa.select(Visit)).one()
    assert visit.photo_file and visit.findings.startswith("老人独居")

    worker.get_by_role("button", name="上报事件").click()  # a link styled as a button
    worker.get_by_label("事件类别").select_option(label="安全隐患")
    worker.get_by_label("事件描述").fill("孙奶奶家厨房电线老化，有起火危险")
    worker.get_by_label("地点").fill("一组后山脚 0301 户")
    worker.get_by_label("户号（涉及某户时填写）").fill("0301")
    worker.get_by_label("紧急程度").select_option("high")
    assert _fits(worker)
    worker.get_by_role("button", name="上报事件").click()
    expect(worker.locator(".flash-success")).to_contain_text("已上报")
    expect(worker.locator(".grid-status")).to_contain_text("已上报")
    db.session.rollback()
    event_id = db.session.scalars(sa.select(GridEvent.id)).one()

    clerk = page_for(locale="zh-CN")
    clerk.goto(f"{live_server}/login")
    _login(clerk, "wenshu")
    clerk.goto(f"{live_server}/grid/")
    clerk.get_by_role("link", name=f"{local_today().year}-网-0001").first.click()
    clerk.get_by_role("button", name="受理").click()
    expect(clerk.locator(".flash-success")).to_contain_text("事件已受理")
    clerk.get_by_label("交办给").select_option(label="wangge")
    clerk.get_by_label("交办说明").fill("请联系电工上门")
    clerk.get_by_role("button", name="交办", exact=True).click()
    expect(clerk.locator(".grid-status")).to_contain_text("已交办")

    worker.goto(f"{live_server}/grid/today")
    worker.locator("a", has_text=f"{local_today().year}-网-0001").click()
    worker.get_by_role("button", name="开始处理").click()
    expect(worker.locator(".grid-status")).to_contain_text("处理中")
    worker.get_by_label("处理结果").fill("电工已更换厨房电线")
    worker.get_by_role("button", name="办结").click()
    expect(worker.locator(".grid-status")).to_contain_text("已办结，待回访")
    assert _fits(worker)

    clerk.reload()
    clerk.get_by_label("群众反馈").fill("老人说电线换好了，很满意")
    clerk.get_by_label("满意：结案").check()
    clerk.get_by_role("button", name="保存回访").click()
    expect(clerk.locator(".grid-status")).to_contain_text("已回访结案")

    worker.goto(f"{live_server}/grid/events/{event_id}")
    expect(worker.locator(".grid-steps li")).to_have_count(6)
    expect(worker.locator(".grid-status")).to_contain_text("已回访结案")
    db.session.rollback()
    assert db.session.get(GridEvent, event_id).status == "closed"
    assert outside == []
