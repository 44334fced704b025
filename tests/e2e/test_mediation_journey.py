"""In Chromium: a patrol finding turned over to mediation becomes a case, a session is recorded, the agreement
is recorded and printed, and a follow-up visit lets the mediator close the case."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect

from app.db import local_today
from app.extensions import db
from app.mediation.models import MediationCase
from app.patrol import services as ps
from app.submission import write_transaction
from tests.e2e.helpers import login


@pytest.fixture
def finding(village, make_user, make_household):
    make_user("tiaojie", ("mediator", village))
    make_household(village, "0901", "孙有田")
    with write_transaction():
        team = ps.create_team(village, name="巡逻队")
        (shift,) = ps.add_shifts(team, first_day=local_today() - dt.timedelta(days=1),
                                 last_day=local_today() - dt.timedelta(days=1), start=dt.time(20),
                                 end=dt.time(22), needed=1)
        found = ps.record_finding(shift, kind="dispute", text="孙周两家为排水沟争吵", action="to_mediation")
        # the id, not the row: reading a row's attribute later would open a read snapshot older than the
        # browser's writes (SQLite WAL), and the test would not see them
        return found.id


def test_from_a_patrol_finding_to_a_closed_case(page: Page, live_server, finding, outside_requests):
    login(page, live_server, "tiaojie")
    page.goto(f"{live_server}/mediation/new?finding={finding}")
    expect(page.locator("#summary")).to_have_value("孙周两家为排水沟争吵")
    page.locator("#a_name").fill("孙有田")
    page.locator("#a_number").fill("0901")
    page.locator("#r_name").fill("周满仓")
    page.get_by_role("button", name="受理登记").click()
    expect(page.locator(".flash-success")).to_contain_text("已受理")

    page.locator("#move-action").select_option("mediate")
    page.locator("form[action$='/move'] button").click()
    expect(page.locator(".flash-success")).to_be_visible()

    page.get_by_text("记录调解").click()
    page.locator("#session-kind").select_option("joint")
    page.locator("#session-time").fill("15:00")
    page.locator("#session-place").fill("村委会")
    page.locator("#session-attendees").fill("调解员、村支书、民警")
    page.locator("#session-record").fill("双方同意共同清理排水沟")
    page.get_by_role("button", name="保存笔录").click()
    expect(page.locator(".flash-success")).to_contain_text("调解笔录已保存")

    page.get_by_text("登记调解协议").first.click()
    page.locator("#agreement-facts").fill("排水沟堵塞致积水")
    page.locator("#agreement-terms").fill("双方各出一人清理排水沟")
    page.locator("#agreement-performance").fill("三日内共同清理")
    page.locator("form[action$='/agreement'] button[type=submit]").click()
    expect(page.locator(".flash-success")).to_contain_text("司法确认")
    with page.expect_download() as download:
        page.get_by_role("button", name="打印调解协议书（PDF）").click()
    assert download.value.suggested_filename.endswith(".pdf")

    page.get_by_text("登记回访").click()
    page.locator("#follow-visited").fill("周满仓")
    page.locator("#follow-findings").fill("已清理，未再积水")
    page.get_by_role("button", name="保存回访记录").click()
    expect(page.locator(".flash-success")).to_contain_text("回访记录已保存")
    page.locator("#move-action").select_option("close")
    page.locator("form[action$='/move'] button").click()
    expect(page.locator("main")).to_contain_text("已结案")

    db.session.rollback()  # see the browser's writes, not the snapshot of the fixture's session
    case = db.session.scalars(sa.select(MediationCase)).one()
    assert (case.status, case.source_kind, case.source_id) == ("closed", "patrol_finding", finding)
    assert outside_requests == []
