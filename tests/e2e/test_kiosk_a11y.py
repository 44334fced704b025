"""axe-core (vendored in tests/vendor, never served by the app) on every kiosk page in Chromium at the
kiosk's 1024×600 touch screen: no serious or critical violation. Also the touch-target and type sizes."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from app.kiosk import services as ks
from app.submission import write_transaction
from tests.conftest import valid_id
from tests.kiosk_helpers import PIN, seed

AXE = (Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js").read_text()


@pytest.fixture
def seeded(village, make_user, make_household):
    return seed(village, make_user, make_household, valid_id)


@pytest.fixture
def screen(browser: Browser, live_server):
    # axe is injected as a script, which the app's CSP (script-src 'self') would block: bypass it here
    ctx = browser.new_context(viewport={"width": 1024, "height": 600}, has_touch=True, locale="zh-CN",
                              bypass_csp=True)
    yield ctx
    ctx.close()


def _axe(page: Page) -> list[dict]:
    page.add_script_tag(content=AXE)
    result = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
    }""")
    return [v for v in result if v["impact"] in ("serious", "critical")]


def _sizes(page: Page) -> dict:
    return page.evaluate("""() => {
        const small = [];
        const sel = 'main button, main a, header button, main input:not([type=hidden]), main textarea, '
                    + 'main label.k-radio';
        for (const el of document.querySelectorAll(sel)) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 && r.height === 0) continue;
            const minSide = (el.type === 'radio') ? 0 : Math.min(r.width, r.height);
            if (el.type !== 'radio' && minSide < 60)
                small.push(el.outerHTML.slice(0, 80) + ' ' + r.width + 'x' + r.height);
        }
        const fs = parseFloat(getComputedStyle(document.body).fontSize);
        return {small, bodyPx: fs};
    }""")


def test_every_kiosk_page_passes_axe(app, screen, live_server, village, seeded):
    base = live_server
    page = screen.new_page()
    pages: list[tuple[str, Page]] = []
    problems: dict[str, list] = {}

    def check(label: str) -> None:
        page.wait_for_load_state("load")
        found = _axe(page)
        sizes = _sizes(page)
        if found:
            problems[label] = found
        if sizes["small"]:
            problems[label + " (targets < 60 px)"] = sizes["small"]
        if sizes["bodyPx"] < 24:  # 18 pt
            problems[label + " (body text)"] = [sizes["bodyPx"]]
        pages.append((label, page))

    page.goto(f"{base}/kiosk/")
    check("not enabled")
    with write_transaction():
        device, code = ks.create_device(village, "大厅")
    page.goto(f"{base}/kiosk/enrol/{code}")
    check("enrol")
    page.get_by_role("button").first.click()
    check("start")
    page.goto(f"{base}/kiosk/shop")
    check("shop")
    page.goto(f"{base}/kiosk/rules")
    check("rules")
    page.goto(f"{base}/kiosk/letters")
    check("letters")
    page.locator("#letters").fill("zs")
    page.locator("main form button[type=submit]").click()
    check("letters results")
    page.goto(f"{base}/kiosk/letters")
    page.locator("#letters").fill("qqq")
    page.locator("main form button[type=submit]").click()
    check("letters nothing found")
    page.goto(f"{base}/kiosk/number")
    check("number pad")
    page.locator("#number").fill("0502")
    page.locator("main form button[type=submit]").click()
    check("pin")
    for _ in range(5):
        page.locator("#pin").fill("9147")
        page.locator("main form button[type=submit]").click()
        page.wait_for_load_state("load")
    check("pin locked")
    page.goto(f"{base}/kiosk/number")
    page.locator("#number").fill("0501")
    page.locator("main form button[type=submit]").click()
    page.locator("#pin").fill("9147")
    page.locator("main form button[type=submit]").click()
    check("pin wrong")
    page.locator("#pin").fill(PIN)
    page.locator("main form button[type=submit]").click()
    check("home")
    page.goto(f"{base}/kiosk/entries")
    check("entries")
    page.goto(f"{base}/kiosk/posting")
    check("posting")
    page.goto(f"{base}/kiosk/posting/{seeded['entry_on_posting']}/object")
    check("objection")
    page.locator("main form button[type=submit]").click()
    check("objection without reason")
    page.get_by_text("日期不对").click()
    page.locator("main form button[type=submit]").click()
    check("objection sent")
    page.goto(f"{base}/kiosk/posting")
    check("posting with objection")
    page.goto(f"{base}/kiosk/posting/{seeded['entry_final']}/object")
    check("objection after posting")
    page.goto(f"{base}/kiosk/posting/999999/object")
    check("not found")
    page.goto(f"{base}/kiosk/shop")
    check("shop with household")
    assert len(pages) >= 20
    assert problems == {}
    # negative control: the same check does see a violation and a small target when there is one
    page.evaluate("document.querySelector('main').insertAdjacentHTML('beforeend', "
                  "'<button class=\"x\"></button><input id=\"y\">')")
    ids = {v["id"] for v in _axe(page)}
    assert {"button-name", "label"} <= ids
    assert _sizes(page)["small"]
