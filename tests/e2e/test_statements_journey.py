"""In Chromium: a clerk prints one household's statement, then a village batch that runs in its own
process while htmx polls the progress, and downloads it; anyone checks a code at /verify."""
from __future__ import annotations

import io
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from app.db import local_today
from app.extensions import db
from app.points import services as pts
from app.statements.models import IssuedStatement
from app.submission import write_transaction
from tests.e2e.helpers import login as _login


@pytest.fixture
def village_with_points(village, make_user, make_household):
    make_user("wenshu", ("clerk", village))
    reviewer = make_user("jiandu", ("reviewer", village))
    h = make_household(village, "0501", "钱大有")
    make_household(village, "0502", "周德才")
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        cat = pts.create_category(scheme, "环境治理", "add")
        item = pts.create_item(cat, pts.ItemData(code="A01", text="参加村庄清洁日", points=2))
        entry = pts.record_entry(scheme, item, h, occurred_on=local_today())
        pts.approve(entry, reviewer)
    return h


def _pdf_text(download) -> str:
    with open(download.path(), "rb") as fh:
        return "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(fh.read())).pages)


def test_statements_in_the_browser(page: Page, live_server, village_with_points, outside_requests):
    _login(page, live_server, "wenshu")
    page.goto(f"{live_server}/points/households/{village_with_points.id}")
    page.locator("details.statement-form summary").click()
    page.locator("details.statement-form select[name=kind]").select_option("month")
    page.locator("details.statement-form select[name=month]").select_option(str(local_today().month))
    with page.expect_download() as info:
        page.locator("details.statement-form button[name=submit]").click()
    text = _pdf_text(info.value)
    assert "0501" in text and "钱*有" in text and re.search(r"参加村庄清洁日\s*\+2", text)

    # the batch: started, polled by htmx until the download appears (a separate process prints it)
    page.goto(f"{live_server}/statements/batch")
    page.locator("#kind").select_option("year")
    page.locator("main button[name=submit]").click()
    expect(page).to_have_url(re.compile(r"/statements/jobs/\d+$"))
    link = page.get_by_role("button", name="下载 PDF")
    expect(link).to_be_visible(timeout=120_000)
    expect(page.locator("#job-progress")).to_have_attribute("data-status", "done")
    with page.expect_download() as info:
        link.click()
    text = _pdf_text(info.value)
    assert text.index("0501") < text.index("0502")
    assert outside_requests == []

    # a villager with the paper checks its code, logged out
    db.session.remove()  # a fresh snapshot: the rows were written by the server's threads and the job
    code = db.session.scalars(sa.select(IssuedStatement).order_by(IssuedStatement.id)).first().code
    page.context.clear_cookies()
    page.goto(f"{live_server}/verify")
    page.locator("#code").fill(f"{code[:5]}-{code[5:]}".lower())
    page.locator("main form button[type=submit]").click()
    expect(page.locator("[data-verdict]")).to_have_attribute("data-verdict", "valid")
    expect(page.locator("main")).to_contain_text("钱*有")
