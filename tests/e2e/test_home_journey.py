"""In Chromium: the reviewer's home page shows the entries waiting; approving them from the linked list
brings the count to zero, and a zero count is not shown."""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.helpers import laid_out_box, login
from tests.home_helpers import seed_village


@pytest.fixture
def waiting(village, make_user, make_household):
    return seed_village(village, make_user, make_household, suffix="1", pending=3, only_pending=True)


def test_reviewer_clears_the_waiting_entries_from_the_home_page(page: Page, live_server, waiting, outside_requests):
    login(page, live_server, "rev1")
    item = page.locator("#today-reviewer [data-key=pending]")
    expect(item.locator(".today-count")).to_have_text("3")
    expect(item).to_contain_text("待审核的积分")
    item.locator("a").click()
    approve = page.locator("tr.review-row form button[name=approve]")  # each entry's own button, not the bulk bar
    expect(approve).to_have_count(3)
    for left in (2, 1, 0):
        approve.first.click()
        expect(page.locator(".flash-success")).to_be_visible()
        expect(approve).to_have_count(left)
    page.goto(live_server + "/")
    expect(page.locator("#today-reviewer")).to_be_visible()
    expect(page.locator("#today-reviewer [data-key=pending]")).to_have_count(0)
    expect(page.locator("#today-reviewer .today-none")).to_be_visible()
    assert outside_requests == []


@pytest.mark.parametrize("username, role", [("leader1", "patrol_leader"), ("med1", "mediator"),
                                            ("wgy1", "grid_worker")])
def test_the_field_roles_home_fits_a_phone_with_large_tap_targets(page: Page, live_server, village, make_user,
                                                                  make_household, username, role):
    seed_village(village, make_user, make_household, suffix="1")
    page.set_viewport_size({"width": 390, "height": 844})
    login(page, live_server, username)
    links = page.locator(f"#today-{role} .today-items a")
    expect(links.first).to_be_visible()
    first = links.first.get_attribute("href")
    for i in range(links.count()):
        box = laid_out_box(links.nth(i))
        assert box["height"] >= 48 and box["width"] >= 300, box
    # the overdue line comes first, in red with its days
    expect(page.locator(f"#today-{role} .today-item").first).to_have_class("today-item overdue")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    links.first.click()
    page.wait_for_url(f"**{first.split('#')[0]}*")
