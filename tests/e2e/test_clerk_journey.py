"""A clerk's first day, in Chromium: log in, import households from Excel, find one, switch language."""
from __future__ import annotations


import openpyxl
import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD, valid_id

HEADERS = ["户号", "村民小组", "地址", "户标签", "姓名", "与户主关系", "性别", "出生日期", "身份证号", "联系电话"]


def _workbook(path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "户籍导入"
    ws.append(HEADERS)
    rows = [
        ["0301", "", "东街1号", "低保户", "张三丰", "户主", "男", "1960-05-01", valid_id(11, "19600501"), "13800138001"],
        ["0301", "", "", "", "李秀英", "配偶", "女", "1962-03-08", valid_id(12, "19620308"), ""],
        ["0302", "", "东街2号", "", "王建国", "户主", "男", "1975-10-01", valid_id(13, "19751001"), "13900139002"],
        ["0303", "", "西街5号", "独居老人", "赵桂兰", "户主", "女", "1940-01-20", valid_id(14, "19400120"), ""],
    ]
    for r in rows:
        ws.append(r)
    for row in ws.iter_rows(min_row=2):
        for cell in row:
            cell.number_format = "@"
    wb.save(path)
    return rows


@pytest.fixture
def journey_users(village, make_user):
    make_user("wenshu", ("clerk", village))
    return village


def test_clerk_imports_finds_and_switches_language(page: Page, live_server, journey_users, tmp_path,
                                                   outside_requests):
    rows = _workbook(tmp_path / "households.xlsx")
    page.goto(f"{live_server}/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="登录")).to_be_visible()
    page.locator("#username").fill("wenshu")
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    expect(page.get_by_role("heading", name="您好", exact=False)).to_be_visible()

    # import: dry run first, then confirm
    page.goto(f"{live_server}/registry/import")
    page.locator("input[type=file]").set_input_files(str(tmp_path / "households.xlsx"))
    page.locator("#import-form button[type=submit]").click()
    expect(page.get_by_text("3", exact=False).first).to_be_visible()
    confirm = page.get_by_role("button", name="确认导入")
    expect(confirm).to_be_visible()
    confirm.click()
    expect(page.locator(".flash-success")).to_be_visible()

    # find a household by pinyin initials, open it, see the masked ID number
    page.goto(f"{live_server}/registry/households")
    page.get_by_role("searchbox").fill("zsf")
    page.get_by_role("button", name="查询").click()
    row = page.get_by_role("row").filter(has_text="张三丰")
    expect(row).to_have_count(1)
    row.get_by_role("link", name="0301").click()
    full_id = rows[0][8]
    masked = full_id[:4] + "*" * 10 + full_id[-4:]
    expect(page.get_by_text(masked)).to_be_visible()
    assert full_id not in page.content()

    # English one click away, and back
    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name="Household 0301", exact=False)).to_be_visible()
    page.get_by_role("link", name="中文").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", name="0301", exact=False)).to_be_visible()
    assert outside_requests == []
