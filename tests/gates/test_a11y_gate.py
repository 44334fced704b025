"""Accessibility (issue 22): axe-core (tests/vendor/axe.min.js, vendored for the tests, never served by the app)
in Chromium on one page of every kind — login, the error page, the public pages, every role's desk pages
(clerk, reviewer, cashier's counter, mediation, admin), the patrol and grid phone pages at 390 px and the
kiosk's pages at its 1024 × 600 screen: 0 serious or critical violations. Full runs (XIANGYUE_GATES=full) crawl
every page each role's links reach instead. tests/e2e/test_kiosk_a11y.py walks every kiosk state."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa
from playwright.sync_api import Browser, Page
from playwright.sync_api import Error as PlaywrightError

from app.db import local_today
from app.demo import DEMO_PASSWORD
from app.extensions import db
from tests.conftest import BACKENDS
from tests.e2e.conftest import (  # noqa: F401  (the browser fixtures of tests/e2e)
    app_config, browser_context_args, browser_type_launch_args, live_server)

from .misc import gates_full

pytestmark = [pytest.mark.e2e, pytest.mark.gates]

AXE = (Path(__file__).resolve().parent.parent / "vendor" / "axe.min.js").read_text()
PHONE = {"width": 390, "height": 844}
DESK = {"width": 1280, "height": 900}
KIOSK = {"width": 1024, "height": 600}
SKIP_PREFIXES = ("/logout", "/lang/", "/static/", "/kiosk/finish", "/kiosk/enrol")


def _axe(page: Page) -> list[dict]:
    page.add_script_tag(content=AXE)
    found = page.evaluate("""async () => {
        const r = await axe.run(document, {resultTypes: ['violations']});
        return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                       nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 3)}));
    }""")
    return [v for v in found if v["impact"] in ("serious", "critical")]


@pytest.fixture(params=BACKENDS if gates_full() else ["sqlite"])
def backend(request) -> str:
    # the markup does not depend on the database: sampled runs check it once (on SQLite),
    # full runs on every backend
    return request.param


@pytest.fixture
def demo(app):
    from app.demo import seed_demo

    with app.test_request_context():
        seed_demo(households=12)
    db.session.remove()
    return app


def _ids() -> dict:
    from app.mediation import services as ms
    from app.points.models import PointEntry
    from app.registry.models import Household, Village
    from app.rules.models import RuleVersion
    from app.auth.models import User
    from app.submission import write_transaction

    village = db.session.scalar(sa.select(Village).where(Village.code == "demo"))
    household = db.session.scalar(sa.select(Household).where(Household.village_id == village.id)
                                  .order_by(Household.id))
    mediator = db.session.scalar(sa.select(User).where(User.username == "mediator"))
    with write_transaction():
        case = ms.register_case(village, ms.CaseData(received_on=local_today(), intake="desk",
                                                     dispute_type="homestead", summary="围墙边界争执"),
                                [ms.PartyData(role="applicant", name="甲"), ms.PartyData(role="respondent", name="乙")],
                                mediators=[mediator], today=local_today())
    ids = {"household": household.id, "case": case.id, "village": village,
           "entry": db.session.scalar(sa.select(sa.func.min(PointEntry.id))),
           "version": db.session.scalar(sa.select(sa.func.min(RuleVersion.id)))}
    db.session.remove()
    return ids


def _pages(ids: dict) -> dict[str | None, list[tuple[str, dict]]]:
    """login (None = anonymous) → [(url, viewport)]: one page of every kind."""
    h, case, entry, version = ids["household"], ids["case"], ids["entry"], ids["version"]
    return {
        None: [("/login", DESK), ("/login", PHONE), ("/no-such-page", DESK), ("/verify/0000000000", PHONE)],
        "clerk": [("/", DESK), ("/registry/households", DESK), (f"/registry/households/{h}", DESK),
                  ("/registry/households/new", DESK), ("/points/entries/new", DESK), ("/points/posting", DESK),
                  ("/rules/", DESK), (f"/rules/versions/{version}", DESK), ("/registry/import", DESK),
                  ("/audit/", DESK)],
        "reviewer": [("/points/entries", DESK), (f"/points/entries/{entry}", DESK), ("/points/objections", DESK)],
        "cashier": [("/shop/counter", DESK), ("/shop/products", DESK), ("/shop/redemptions", DESK),
                    ("/shop/donations/new", PHONE), ("/shop/reports", PHONE), ("/shop/stocktake", DESK)],
        "patrol": [("/patrol/me", PHONE), ("/patrol/", DESK), ("/patrol/reports", PHONE)],
        "grid": [("/grid/today", PHONE), (f"/grid/households/{h}/visit", PHONE), ("/grid/events/new", PHONE),
                 ("/grid/events", PHONE), ("/grid/grids", PHONE)],
        "mediator": [("/mediation/", DESK), (f"/mediation/cases/{case}", DESK), ("/mediation/new", DESK),
                     ("/mediation/statistics", PHONE)],
        "admin": [("/admin/users", DESK), ("/admin/villages", DESK), ("/township", DESK)],
        "township": [("/", DESK)],
    }


def _login(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/login")
    page.locator("#username").fill(username)
    page.locator("#password").fill(DEMO_PASSWORD)
    page.locator("button[type=submit]").click()
    page.wait_for_load_state("load")
    assert "/login" not in page.url, username


def _crawl_urls(page: Page, base: str, start: str, limit: int = 150) -> list[str]:
    """Every same-site page the links reach from `start` (full runs)."""
    seen, queue, out = {start}, [start], []
    while queue and len(out) < limit:
        url = queue.pop(0)
        try:
            resp = page.goto(base + url)
        except PlaywrightError as e:  # a file to download (an export, a template), not a page
            if "Download is starting" in str(e):
                continue
            raise
        if resp is None or resp.status != 200 or "text/html" not in (resp.headers.get("content-type") or ""):
            continue
        out.append(url)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.getAttribute('href'))"):
            parts = urlsplit(href)
            if parts.netloc or parts.scheme or not parts.path.startswith("/"):
                continue
            link = parts.path + (f"?{parts.query}" if parts.query else "")
            if link not in seen and not link.startswith(SKIP_PREFIXES) and not parts.path.endswith(
                    (".pdf", ".xlsx", ".csv")):
                seen.add(link)
                queue.append(link)
    return out


def test_one_page_of_every_kind_has_no_serious_axe_violation(browser: Browser, live_server, demo):
    ids = _ids()
    problems: dict[str, list] = {}
    checked = 0
    for login, pages in _pages(ids).items():
        ctx = browser.new_context(viewport=DESK, locale="zh-CN", bypass_csp=True)  # axe is an injected script
        page = ctx.new_page()
        if login:
            _login(page, live_server, login)
        if gates_full() and login:
            pages = pages + [(u, DESK) for u in _crawl_urls(page, live_server, "/")]
        for url, viewport in pages:
            page.set_viewport_size(viewport)
            resp = page.goto(live_server + url)
            assert resp is not None and resp.status in (200, 404), (login, url, resp and resp.status)
            found = _axe(page)
            checked += 1
            if found:
                problems[f"{login} {url} @{viewport['width']}"] = found
        ctx.close()
    # the kiosk: start page of an enrolled device, then a household's home
    from app.kiosk import services as ks
    from app.kiosk.demo import DEMO_PINS
    from app.registry.models import Household
    from app.submission import write_transaction

    with write_transaction():
        _device, code = ks.create_device(db.session.merge(ids["village"]), "大厅")
    number = db.session.scalar(sa.select(Household.number).order_by(Household.number))
    db.session.remove()
    ctx = browser.new_context(viewport=KIOSK, locale="zh-CN", bypass_csp=True, has_touch=True)
    page = ctx.new_page()
    page.goto(f"{live_server}/kiosk/enrol/{code}")
    page.get_by_role("button").first.click()
    page.goto(f"{live_server}/kiosk/number")
    page.locator("#number").fill(number)
    page.locator("main form button[type=submit]").click()
    page.locator("#pin").fill(DEMO_PINS[0])
    page.locator("main form button[type=submit]").click()
    for url in ("/kiosk/", "/kiosk/entries", "/kiosk/shop"):
        page.goto(live_server + url)
        found = _axe(page)
        checked += 1
        if found:
            problems[f"kiosk {url}"] = found
    ctx.close()
    assert checked >= 30
    assert problems == {}, "\n".join(f"{k}: {[(v['id'], v['nodes']) for v in vs]}" for k, vs in problems.items())
