"""The clerk imports the village rules in Chromium (paste → check → save), records the adoption, publishes;
then anyone reads and searches them on the public page without logging in."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD

TEXT = (Path(__file__).parent.parent / "data" / "rules" / "chapters.txt").read_text(encoding="utf-8")


@pytest.fixture
def rules_clerk(village, make_user):
    make_user("wenshu", ("clerk", village))
    return village


def _step(page: Page, name: str, fields: dict[str, str], select: dict[str, str] | None = None) -> None:
    page.get_by_role("row", name=name).get_by_role("link").click()
    for field, value in fields.items():
        page.locator(f"#{field}").fill(value)
    for field, value in (select or {}).items():
        page.locator(f"#{field}").select_option(value)
    page.get_by_role("button", name="保存该步骤").click()


def test_clerk_imports_adopts_publishes_and_anyone_reads(page: Page, live_server, rules_clerk, outside_requests):
    page.goto(f"{live_server}/login")
    page.locator("#username").fill("wenshu")
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    page.get_by_role("link", name="村规民约").first.click()
    page.locator("a", has_text="导入规约文本").click()
    page.locator("#kind").select_option("village_rules")
    page.locator("#text").fill(TEXT)
    page.get_by_role("button", name="检查识别结果").click()
    preview = page.locator(".rules-preview")
    expect(preview).to_contain_text("第二章 社会秩序")
    expect(preview).to_contain_text("二〇二四年三月十五日")
    page.get_by_role("button", name="保存为草案").click()
    expect(page.locator(".flash-success")).to_contain_text("共 8 条")
    # marking it adopted now is refused, and the page says why
    page.get_by_role("button", name="标记为“已提议”").click()
    expect(page.locator(".flash-error")).to_contain_text("党组织提议")
    _step(page, "党组织提议", {"held_on": "2024-03-01", "body": "村党支部"})
    _step(page, "两委会商议", {"held_on": "2024-03-02", "body": "村两委"})
    _step(page, "党员大会审议", {"held_on": "2024-03-05", "eligible": "30", "present": "25", "votes_yes": "24"})
    _step(page, "乡镇合法性审查", {"held_on": "2024-03-08", "body": "青山镇人民政府"}, {"approved": "yes"})
    _step(page, "村民会议或村民代表会议决议",
          {"held_on": "2024-03-15", "eligible": "30", "present": "19", "votes_yes": "18"},
          {"assembly_kind": "representatives"})
    expect(page.locator(".flash-error")).to_contain_text("须不少于 2/3")
    _step(page, "村民会议或村民代表会议决议", {"present": "21", "women_present": "7", "votes_yes": "20"})
    _step(page, "决议公开", {"held_on": "2024-03-16", "body": "村务公开栏"})
    _step(page, "乡镇备案", {"held_on": "2024-03-20", "body": "青山镇人民政府"})
    for status in ("已提议", "已商议", "党员大会已审议", "已通过", "已备案", "已公布"):
        page.get_by_role("button", name=f"标记为“{status}”").click()
        expect(page.locator(".flash-success")).to_contain_text(status)
    page.context.clear_cookies()  # a visitor with no login
    page.goto(f"{live_server}/rules/public/v1")
    expect(page.get_by_role("heading", name="青山村村规民约")).to_be_visible()
    page.get_by_role("searchbox").fill("野外用火")
    page.get_by_role("button", name="查询").click()
    expect(page.locator("main")).to_contain_text("含“野外用火”的条款：1 条")
    assert outside_requests == []
