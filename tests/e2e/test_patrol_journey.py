"""On a 390 × 844 phone in Chromium: a patrol member opens a checkpoint's address, logs in, checks in; the
leader confirms the shift on the phone; the member's household's entry waits for review."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, expect

from app.db import local_today, utcnow
from app.extensions import db
from app.patrol import services as ps
from app.patrol.models import PatrolShift
from app.points import services as pts
from app.points.models import PointEntry
from app.submission import write_transaction
from tests.conftest import PASSWORD
from tests.e2e.helpers import laid_out_box

PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}


@pytest.fixture
def night(village, make_user, make_household):
    make_user("duizhang", ("patrol_leader", village))
    make_user("shenhe", ("reviewer", village))
    member_user = make_user("zhaoda")
    household = make_household(village, "0601", "赵大")
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        add = pts.create_category(scheme, "平安建设", "add")
        item = pts.create_item(add, pts.ItemData(code="P01", text="参加义务巡逻", points=2))
        team = ps.create_team(village, name="一号村义务巡逻队", shift_item=item)
        ps.add_member(team, db.session.merge(household).head, joined_on=dt.date(2026, 1, 1),
                      user=db.session.merge(member_user))
        route = ps.add_route(team, "村主干道")
        point = ps.add_checkpoint(route, "村小学门口")
        today = local_today()
        (shift,) = ps.add_shifts(team, first_day=today, last_day=today, start=dt.time(0), end=dt.time(23),
                                 needed=1, route=route)
        shift.starts_at, shift.ends_at = utcnow() - dt.timedelta(hours=1), utcnow() + dt.timedelta(hours=1)
        ps.book(shift, team.members[0])
    return type("N", (), {"token": point.token, "shift_id": shift.id, "household": household})


def _phone_login(page, username):
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()


def _fits(page) -> bool:
    # a mobile browser widens its layout viewport to overflowing content: compare with the phone's 390 px
    return page.evaluate("document.documentElement.scrollWidth <= 390")


def _page(browser, live_server, outside, **context):
    page = browser.new_context(**context).new_page()
    page.on("request", lambda req: outside.append(req.url) if not req.url.startswith((live_server, "data:"))
            else None)
    return page


def test_a_night_on_the_phone(browser: Browser, live_server, night):
    outside: list[str] = []
    member = _page(browser, live_server, outside, **PHONE)
    member.goto(f"{live_server}/patrol/c/{night.token}")
    expect(member.get_by_role("heading", name="登录")).to_be_visible()
    _phone_login(member, "zhaoda")
    expect(member.get_by_role("heading", name="村小学门口")).to_be_visible()
    button = member.get_by_role("button", name="在这里签到")
    assert laid_out_box(button)["height"] >= 48 and _fits(member)
    button.click()
    expect(member.locator(".flash-success")).to_contain_text("已签到")
    member.get_by_role("button", name="我的班次").click()  # a link styled as a button
    expect(member.locator(".patrol-points")).to_contain_text("已到达 村小学门口")
    assert _fits(member)

    # the night is over
    with write_transaction():
        db.session.get(PatrolShift, night.shift_id).ends_at = utcnow() - dt.timedelta(minutes=5)

    leader = _page(browser, live_server, outside, **PHONE, color_scheme="dark")  # at night
    leader.goto(f"{live_server}/patrol/shifts/{night.shift_id}")
    _phone_login(leader, "duizhang")
    leader.goto(f"{live_server}/patrol/shifts/{night.shift_id}")
    expect(leader.locator(".patrol-points")).to_contain_text("已到达 村小学门口")
    confirm = leader.get_by_role("button", name="确认班次")
    assert laid_out_box(confirm)["height"] >= 48 and _fits(leader)
    confirm.click()
    expect(leader.locator(".flash-success")).to_contain_text("班次已确认")

    entry = db.session.scalars(sa.select(PointEntry)).one()
    assert (entry.household_id, entry.status) == (night.household.id, "pending")
    reviewer = _page(browser, live_server, outside, locale="zh-CN")
    reviewer.goto(f"{live_server}/login")
    _phone_login(reviewer, "shenhe")
    reviewer.goto(f"{live_server}/points/entries?status=pending")
    expect(reviewer.get_by_role("row").filter(has_text="参加义务巡逻")).to_contain_text("赵大")
    assert outside == []
