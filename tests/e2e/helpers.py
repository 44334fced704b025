"""Steps the browser journeys share."""
from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.conftest import PASSWORD


def login(page: Page, base: str, username: str) -> None:
    """Log in through the real form and wait for the greeting of the home page."""
    page.goto(f"{base}/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.locator("button[type=submit]").click()
    expect(page.get_by_role("heading", name="您好", exact=False)).to_be_visible()


def laid_out_box(locator) -> dict:
    """The element's box once its page has loaded: Playwright can read a box while a stylesheet is still on
    its way (a busy machine), which measures the page without its styles (a 25 px button instead of 48)."""
    locator.page.wait_for_load_state("load")
    return locator.bounding_box()


def tap_keys(page: Page, pad: str, keys: str) -> None:
    """Tap the kiosk's on-screen keys in `pad` one by one; the input the pad types into then holds `keys`.

    The keys type through kiosk.js, a deferred script: on a busy machine a page is painted (its heading
    visible) before the script has run, and a tap then types nothing. So the pad is first waited for (the page
    that holds it is the one shown: a caller coming from another page with a pad waits for its own page), then
    DOMContentLoaded, by which every deferred script has run. The keys' own effect is checked at the end."""
    keypad = page.locator(pad)
    expect(keypad).to_be_visible()
    page.wait_for_load_state("domcontentloaded")
    for k in keys:
        keypad.locator(f"[data-key='{k}']").tap()
    expect(page.locator(f"#{keypad.get_attribute('data-target')}")).to_have_value(keys)
