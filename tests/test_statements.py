"""Points statements: the PDF equals the ledger, codes verify (and go stale after a correction),
batches print one statement per household (CLI, browser job, real subprocess), bad input and roles."""
from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
import time

import pytest
import sqlalchemy as sa
from pypdf import PdfReader
from sqlalchemy import event

from app.db import local_midnight_utc, local_today, utcnow
from app.extensions import db
from app.filters import signed
from app.idempotency import new_key
from app.ledger.queries import balance_of
from app.ledger.models import Account, Transfer
from app.points import queries as pq
from app.points import services as pts
from app.points.models import PointEntry
from app.registry.models import Household
from app.registry.services import create_group
from app.shop import services as shop
from app.statements import services as svc
from app.statements.models import IssuedStatement, StatementJob
from app.submission import write_transaction
from tests.conftest import PASSWORD
from tests.paper_helpers import layout
from tests.print_checks import boxes_outside_page

#: the village's day as the running test started (the autouse `_today` fixture sets it)
TODAY: dt.date


@pytest.fixture(autouse=True)
def _today():
    """The village's day as each test starts, not as the module was imported: a run that crossed the village's
    midnight (16:00 UTC) dated the fixtures' entries a day before the app posted them ("发生于" the day before,
    last month's quarter) and failed eight tests."""
    global TODAY
    TODAY = local_today()


@contextlib.contextmanager
def backdated(days: int):
    """Make the ledger's transfers look `days` old (as if posted then), for an opening balance."""
    def _set(_mapper, _conn, target):
        target.created_at = utcnow() - dt.timedelta(days=days)

    event.listen(Transfer, "before_insert", _set)
    try:
        yield
    finally:
        event.remove(Transfer, "before_insert", _set)


@pytest.fixture
def world(app, village, make_user, make_household):
    """Three households in two groups; 0101 earned, lost and redeemed points 40 days ago and today."""
    clerk = make_user("clerk1", ("clerk", village))
    reviewer = make_user("rev1", ("reviewer", village))
    cashier = make_user("cash1", ("cashier", village))
    with write_transaction():
        g1 = create_group(village, "一组")
        g2 = create_group(village, "二组")
    h1 = make_household(village, "0101", "张三丰", group=g1)
    h2 = make_household(village, "0102", "李四", group=g1)
    h3 = make_household(village, "0201", "王五", group=g2)
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则", star_bands="5:1,10:2")
        add = pts.create_category(scheme, "热心公益", "add")
        ded = pts.create_category(scheme, "综合扣分", "deduct")
        items = {"clean": pts.create_item(add, pts.ItemData(code="A01", text="参加村庄清洁日", points=20)),
                 "help": pts.create_item(add, pts.ItemData(code="A02", text="帮扶独居老人", points=15)),
                 "burn": pts.create_item(ded, pts.ItemData(code="D01", text="焚烧秸秆", points=-8))}
        rice = shop.create_product(village, name="大米", spec="5kg", unit="袋", price_points=10, actor=cashier)
        shop.receive_purchase(rice, 50, "开业采购", actor=cashier)

    def award(key, household, day=TODAY):
        with write_transaction():
            e = pts.record_entry(scheme, items[key], household, occurred_on=day, actor=clerk, today=TODAY)
            pts.approve(e, reviewer, today=TODAY)
        return e

    with backdated(40):
        old = award("clean", h1, TODAY - dt.timedelta(days=40))
    opening = balance_of(h1)
    help_entry = award("help", h1)
    burn = award("burn", h1, TODAY - dt.timedelta(days=3))  # approved (and posted) 3 days after the deed
    with write_transaction():
        shop.redeem(db.session.get(Household, h1.id), [(rice, 1)], key="r1", actor=cashier)
    award("clean", h2)
    return type("W", (), dict(village=village, h1=h1, h2=h2, h3=h3, g1=g1, g2=g2, clerk=clerk,
                              reviewer=reviewer, cashier=cashier, scheme=scheme, opening=opening,
                              old=old, help=help_entry, burn=burn))


def _login(client, username):
    client.post("/logout")
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302


def _text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def _figures(text: str) -> tuple[int, int]:
    """(opening, closing) as the statement prints them."""
    opening = re.search(r"期初余额（\d{4}-\d{2}-\d{2}）\s*(\d+)", text)
    closing = re.search(r"期末余额（\d{4}-\d{2}-\d{2}）\s*(\d+)", text)
    assert opening and closing, text
    return int(opening.group(1)), int(closing.group(1))


def _month_form(**kw):
    """The period form as the page sends it (a fresh form key each time, as a freshly shown page has)."""
    return {"kind": "month", "year": str(TODAY.year), "month": str(TODAY.month), "quarter": "1",
            "paper": "a4", "submit": "1", "idempotency_key": new_key(), **kw}


def _ledger_lines(household, start: dt.date):
    """The household account's transfers since `start` (local), read straight from the ledger."""
    acct = db.session.scalar(sa.select(Account).where(Account.household_id == household.id))
    since = local_midnight_utc(start)
    rows = db.session.scalars(sa.select(Transfer).where(
        sa.or_(Transfer.debit_account_id == acct.id, Transfer.credit_account_id == acct.id),
        Transfer.created_at >= since).order_by(Transfer.created_at, Transfer.id))
    return [t.amount if t.credit_account_id == acct.id else -t.amount for t in rows]


# --- one statement --------------------------------------------------------------------------------

def test_statement_pdf_equals_the_ledger(client, world):
    _login(client, "clerk1")
    r = client.post(f"/statements/households/{world.h1.id}", data=_month_form())
    assert r.status_code == 200, r.get_data(as_text=True)
    assert r.mimetype == "application/pdf"
    pages = _text(r.data)
    text = "\n".join(pages)
    issued = db.session.scalar(sa.select(IssuedStatement))
    month_start = TODAY.replace(day=1)
    lines = _ledger_lines(world.h1, month_start)
    closing = balance_of(world.h1)
    # the month's transfers: +15 help, −8 deduction, −10 rice (the 40-day-old award is before the month)
    assert lines == [15, -8, -10]
    assert world.opening == 20 and closing == 17
    assert _figures(text) == (world.opening, closing)
    # the account by category: 1 award +15, 1 deduction −8 (what the ledger moved), 1 redemption −10
    assert re.search(r"获得积分\s*热心公益\s*1\s*\+15", text), text
    assert re.search(r"扣分\s*综合扣分\s*1\s*−8", text), text
    assert re.search(r"超市兑换\s*兑换商品\s*1\s*−10", text), text
    # a month's statement still lists its entries, each naming the member (masked, as the head is) and
    # their relation to the head
    assert re.search(r"张\*丰\s*户主\s*帮扶独居老人\s*\+15", text), text
    assert re.search(rf"张\*丰\s*户主\s*焚烧秸秆\s*发生于 {(TODAY - dt.timedelta(days=3)).isoformat()}\s*−8", text), text
    assert re.search(r"大米×1\s*−10", text)
    assert "参加村庄清洁日" not in text  # before the period: in the opening balance only
    assert "0101" in text and "张*丰" in text and "张三丰" not in text
    assert "http://localhost/verify" in text  # where the QR code and the notice send the reader
    assert re.search(r"截至\s*\d{4}年\d{1,2}月\d{1,2}日", text)  # the month is still running
    assert svc.format_code(issued.code) in text
    assert "第 1 页" in pages[0] and f"共 {len(pages)} 页" in pages[0]
    # the score of the year counts the deduction in full; the stored statement holds the same numbers
    assert (issued.opening_balance, issued.closing_balance, issued.line_count) == (20, 17, 3)
    assert (issued.total_earned, issued.total_deducted, issued.total_redeemed, issued.total_expired) == \
        (15, -8, -10, 0)
    assert issued.household_id == world.h1.id and issued.issued_by_id == world.clerk.id
    from app.audit.models import AuditLog

    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "statements.issue", AuditLog.household_id == world.h1.id)) == 1
    year_score = pq.year_score(world.h1.id, TODAY.year)
    # the deduction counts in full in the score (entries of this year only: early in January the
    # 40-day-old award and the deduction belong to last year)
    expected = sum(e.points for e in (world.old, world.help, world.burn) if e.occurred_on.year == TODAY.year)
    stars = world.scheme.stars_for(expected)
    assert year_score == expected
    assert re.search(rf"{TODAY.year}\s*年度得分\s*{re.escape(signed(expected))}\s*星级\s*"
                     + "★" * stars + "☆" * (5 - stars), text), text


def test_a5_and_quarter_and_dates(client, world):
    _login(client, "rev1")
    q = (TODAY.month - 1) // 3 + 1
    r = client.post(f"/statements/households/{world.h1.id}",
                    data=_month_form(kind="quarter", quarter=str(q), paper="a5"))
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    page = PdfReader(io.BytesIO(r.data)).pages[0]
    assert round(float(page.mediabox.width) / 72 * 25.4) == 148  # A5 portrait
    r = client.post(f"/statements/households/{world.h1.id}", data=_month_form(
        kind="range", start=(TODAY - dt.timedelta(days=60)).isoformat(), end=TODAY.isoformat()))
    assert r.status_code == 200
    text = "\n".join(_text(r.data))
    assert "参加村庄清洁日" in text  # the older award is inside these dates
    assert _figures(text) == (0, 17)


# --- verification ---------------------------------------------------------------------------------

def _verdict(client, code):
    r = client.get(f"/verify/{code}")
    m = re.search(r'data-verdict="(\w+)"', r.get_data(as_text=True))
    return r, m.group(1) if m else None


def test_verify_valid_then_superseded_after_a_correction(app, client, world):
    _login(client, "clerk1")
    assert client.post(f"/statements/households/{world.h1.id}", data=_month_form()).status_code == 200
    old = db.session.scalar(sa.select(IssuedStatement))
    client.post("/logout")
    r, verdict = _verdict(client, old.code)
    assert (r.status_code, verdict) == (200, "valid")
    page = r.get_data(as_text=True)
    assert "张*丰" in page and svc.Period("month", old.period_start, old.period_end).label in page
    # nothing else: no household number, no name, no entries
    for secret in ("0101", "张三丰", "帮扶独居老人", "焚烧秸秆", "大米", "clerk1"):
        assert secret not in page
    # a villager's objection is decided "corrected": the entry is reversed in the ledger
    with write_transaction():
        entry = db.session.get(PointEntry, world.help.id)
        obj = pts.file_objection(entry, reason="没有去", actor=world.clerk)
        pts.decide_objection(obj, world.reviewer, decision="corrected", reply_text="核实后撤销")
    assert _verdict(client, old.code)[1] == "superseded"
    assert _verdict(client, svc.format_code(old.code).lower())[1] == "superseded"  # as typed from paper
    # a fresh statement shows the reversal and verifies
    _login(client, "clerk1")
    r = client.post(f"/statements/households/{world.h1.id}", data=_month_form())
    text = "\n".join(_text(r.data))
    assert re.search(r"帮扶独居老人\s*\+15", text) and re.search(r"撤销：帮扶独居老人\s*−15", text), text
    new = db.session.scalars(sa.select(IssuedStatement).order_by(IssuedStatement.id.desc())).first()
    assert new.code != old.code and new.closing_balance == balance_of(world.h1) == 2
    client.post("/logout")
    assert _verdict(client, new.code)[1] == "valid"
    # tampered, unknown, hostile: the same "not found" page
    tampered = ("1" if old.code[0] != "1" else "2") + old.code[1:]
    for code in (tampered, "0000000000", "x", "ABCDE-FGHJK-MN", "' OR 1=1 --", "张三丰"):
        r, verdict = _verdict(client, code)
        assert (r.status_code, verdict) == (404, "not_found"), code
        assert "张*丰" not in r.get_data(as_text=True)
    r = client.get("/verify/%00")  # a NUL byte is refused at the edge, before the lookup
    assert r.status_code == 400 and "张*丰" not in r.get_data(as_text=True)
    r = client.get("/verify?code=" + svc.format_code(new.code))
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/verify/{new.code}")


def test_shop_cancellation_supersedes_too(client, world):
    _login(client, "clerk1")
    client.post(f"/statements/households/{world.h1.id}", data=_month_form())
    old = db.session.scalar(sa.select(IssuedStatement))
    from app.shop.models import Redemption

    with write_transaction():
        shop.cancel_redemption(db.session.scalar(sa.select(Redemption)), actor=world.cashier, reason="退货")
    assert svc.verify(old.code).status == "superseded"


@pytest.fixture
def limited(app_config):
    app_config["RATELIMIT_ENABLED"] = True


def test_verify_is_rate_limited(limited, client, world):
    codes = [client.get("/verify/0000000000").status_code for _ in range(32)]
    assert codes[:30] == [404] * 30 and codes[-1] == 429


# --- batches --------------------------------------------------------------------------------------

def _households_in(pdf_path_or_bytes) -> list[str]:
    from pathlib import Path

    data = pdf_path_or_bytes if isinstance(pdf_path_or_bytes, bytes) else Path(pdf_path_or_bytes).read_bytes()
    found = []
    for text in _text(data):
        m = re.search(r"户号\s*(\d{4})", text)
        if m and "验证码" in text:  # the first page of each statement carries the code
            found.append(m.group(1))
    return found


def test_cli_prints_one_statement_per_household(runner, world, tmp_path):
    out = tmp_path / "all.pdf"
    r = runner.invoke(args=["statements", "print", "--village", "v1", "--period", str(TODAY.year),
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert _households_in(out) == ["0101", "0102", "0201"]
    # each statement numbers its own pages, though the three share one document
    assert all("第 1 页 / 共 1 页" in text for text in _text(out.read_bytes()))
    assert db.session.scalar(sa.select(sa.func.count(IssuedStatement.id))) == 3
    # every code in the file verifies against the ledger
    for issued in db.session.scalars(sa.select(IssuedStatement)):
        assert svc.verify(issued.code).status == "valid"
    out2 = tmp_path / "g2.pdf"
    r = runner.invoke(args=["statements", "print", "--village", "v1", "--period", f"{TODAY.year}-Q"
                            f"{(TODAY.month - 1) // 3 + 1}", "--group", "二组", "--out", str(out2)])
    assert r.exit_code == 0, r.output
    assert _households_in(out2) == ["0201"]
    for args, _message in ((["--period", "2026-13"], "month"), (["--period", "soon"], "2026-Q3"),
                          (["--group", "九组"], "no villager group"), (["--village", "nope"], "no village")):
        base = {"--village": "v1", "--period": str(TODAY.year), "--out": str(tmp_path / "x.pdf")}
        base.update(dict(zip(args[::2], args[1::2])))
        r = runner.invoke(args=["statements", "print", *[x for kv in base.items() for x in kv]])
        assert r.exit_code == 1 and not (tmp_path / "x.pdf").exists(), r.output


def test_chunks_on_a_process_pool_merge_in_order(app, runner, world, tmp_path):
    app.config.update(STATEMENT_CHUNK=1, STATEMENT_WORKERS=2)  # three chunks on two spawned workers
    out = tmp_path / "pool.pdf"
    r = runner.invoke(args=["statements", "print", "--village", "v1", "--period", str(TODAY.year),
                            "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert _households_in(out) == ["0101", "0102", "0201"]
    assert not list(tmp_path.glob(".chunks-*"))


@pytest.fixture
def inline_jobs(app_config):
    app_config["STATEMENT_JOBS_INLINE"] = True


def test_batch_in_the_browser(inline_jobs, client, world):
    _login(client, "clerk1")
    page = client.get("/statements/batch").get_data(as_text=True)
    assert "一组" in page and "二组" in page
    r = client.post("/statements/batch", data={**_month_form(kind="year"), "group_id": str(world.g1.id)})
    assert r.status_code == 302, r.get_data(as_text=True)
    job = db.session.scalar(sa.select(StatementJob))
    assert r.headers["Location"].endswith(f"/statements/jobs/{job.id}")
    page = client.get(f"/statements/jobs/{job.id}").get_data(as_text=True)
    assert 'data-status="done"' in page
    frag = client.get(f"/statements/jobs/{job.id}/progress").get_data(as_text=True)
    assert 'data-status="done"' in frag and "hx-trigger" not in frag and "/download" in frag
    r = client.get(f"/statements/jobs/{job.id}/download")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    pdf = r.data
    r.close()
    assert _households_in(pdf) == ["0101", "0102"]
    assert {i.job_id for i in db.session.scalars(sa.select(IssuedStatement))} == {job.id}
    assert f"/statements/jobs/{job.id}" in client.get("/statements/batch").get_data(as_text=True)


@pytest.fixture
def real_jobs(app_config, monkeypatch):
    app_config["STATEMENT_JOBS_INLINE"] = False
    monkeypatch.setenv("STATEMENT_CHUNK", "2")  # read by the job's own process: two chunks, merged


def test_batch_job_runs_in_its_own_process(real_jobs, client, world):
    _login(client, "clerk1")
    r = client.post("/statements/batch", data={**_month_form(kind="year"), "group_id": "0"})
    assert r.status_code == 302, r.get_data(as_text=True)
    job_id = int(r.headers["Location"].rsplit("/", 1)[1])
    first = client.get(f"/statements/jobs/{job_id}/progress").get_data(as_text=True)
    assert 'data-status="' in first
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        db.session.remove()
        frag = client.get(f"/statements/jobs/{job_id}/progress").get_data(as_text=True)
        if 'data-status="done"' in frag or 'data-status="failed"' in frag:
            break
        assert "hx-trigger" in frag  # still polling
        time.sleep(0.5)
    assert 'data-status="done"' in frag, frag
    job = db.session.get(StatementJob, job_id)
    assert job.pid and job.pid > 0 and (job.done, job.total) == (3, 3)
    # running the finished job again changes nothing
    from app.statements.batch import run_job

    with pytest.raises(LookupError):
        run_job(job_id)
    assert db.session.scalar(sa.select(sa.func.count(IssuedStatement.id))) == 3
    r = client.get(f"/statements/jobs/{job_id}/download")
    assert r.status_code == 200
    pdf = r.data
    r.close()
    assert _households_in(pdf) == ["0101", "0102", "0201"]


# --- hostile input --------------------------------------------------------------------------------

#: stands for next year's number, read as the test runs (the village's year may turn during a long run)
NEXT_YEAR = "<next year>"

HOSTILE = [
    ({"kind": "range", "start": "2026-02-30", "end": "2026-03-01"}, "2026-11-25"),
    ({"kind": "range", "start": "2026-03-01", "end": "2026-02-01"}, "不能早于"),
    ({"kind": "range", "start": "", "end": ""}, "第一天"),
    ({"kind": "range", "start": "1990-01-01", "end": "2026-01-01"}, "十年"),
    ({"kind": "range", "start": "<script>", "end": "2026-01-01"}, "2026-11-25"),
    ({"year": "99999"}, "2200"),
    ({"year": "1999"}, "2000"),
    ({"year": "abc"}, ""),
    ({"year": "１２３４５６７８９０１２３４５６７８９０"}, ""),
    ({"year": ""}, "年份"),
    ({"year": NEXT_YEAR}, "尚未开始"),
    ({"kind": "bogus"}, ""),
    ({"kind": "quarter", "quarter": "7"}, ""),
    ({"kind": "month", "month": "13"}, ""),
    ({"paper": "a3"}, ""),
]


@pytest.mark.parametrize("bad,message", HOSTILE)
def test_hostile_statement_input_gets_a_message(client, world, bad, message):
    _login(client, "clerk1")
    if bad.get("year") == NEXT_YEAR:
        bad = {"year": str(TODAY.year + 1)}
    data = {**_month_form(kind="year"), **bad}
    r = client.post(f"/statements/households/{world.h1.id}", data=data)
    page = r.get_data(as_text=True)
    assert r.status_code == 422 and r.mimetype == "text/html"
    assert "field-error" in page and message in page
    r = client.post("/statements/batch", data={**data, "group_id": "0"})
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(IssuedStatement.id))) == 0
    assert db.session.scalar(sa.select(sa.func.count(StatementJob.id))) == 0


@pytest.mark.parametrize("group", ["999999", "abc", "-1", "1e3", ""])
def test_unknown_group_gets_a_message(client, world, group):
    _login(client, "clerk1")
    r = client.post("/statements/batch", data={**_month_form(kind="year"), "group_id": group})
    assert r.status_code == 422 and "field-error" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count(StatementJob.id))) == 0


# --- permissions ----------------------------------------------------------------------------------

def test_who_may_print(client, world, make_village, make_user, make_household):
    url = f"/statements/households/{world.h1.id}"
    r = client.get(url)
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    _login(client, "cash1")
    assert client.get(url).status_code == 403
    assert client.post(url, data=_month_form()).status_code == 403
    assert client.get("/statements/batch").status_code == 403
    assert client.post("/statements/batch", data={**_month_form(), "group_id": "0"}).status_code == 403
    _login(client, "rev1")
    assert client.get(url).status_code == 200
    assert client.post(url, data=_month_form()).mimetype == "application/pdf"
    # the clerk sees the form on the household's points page
    _login(client, "clerk1")
    assert f'action="{url}"' in client.get(f"/points/households/{world.h1.id}").get_data(as_text=True)
    # another village's clerk cannot print this household nor see its jobs
    other = make_village("v2", "二号村")
    make_user("clerk2", ("clerk", other))
    with write_transaction():
        job = StatementJob(village_id=world.village.id, period_kind="year",
                           period_start=dt.date(TODAY.year, 1, 1), period_end=dt.date(TODAY.year, 12, 31),
                           paper="a4", status="done", base_url="x", result_file="nothing.pdf")
        db.session.add(job)
    _login(client, "clerk2")
    assert client.get(url).status_code == 404
    assert client.post(url, data=_month_form()).status_code == 404
    for path in ("", "/progress", "/download"):
        assert client.get(f"/statements/jobs/{job.id}{path}").status_code == 404
    assert db.session.scalar(sa.select(sa.func.count(IssuedStatement.id))) == 1


def test_period_text_for_the_command_line():
    today = dt.date(2026, 11, 26)
    assert svc.parse_period("2025", today) == svc.Period("year", dt.date(2025, 1, 1), dt.date(2025, 12, 31))
    assert svc.parse_period("2026-Q3", today) == \
        svc.Period("quarter", dt.date(2026, 7, 1), dt.date(2026, 9, 30))
    assert svc.parse_period("2024-02", today) == \
        svc.Period("month", dt.date(2024, 2, 1), dt.date(2024, 2, 29))
    assert svc.parse_period("2026-01-01..2026-03-31", today).end == dt.date(2026, 3, 31)
    for bad in ("2027", "2026-Q5", "2026-00", "99999", "2026-03-01..2026-02-01", "x..y", ""):
        with pytest.raises(svc.StatementError):
            svc.parse_period(bad, today)


def test_pre_subset_font_shrinks_the_statement_and_rare_characters_fall_back(app, client, world):
    import uuid

    from app.statements.fonts import FONTS_DIR, build_subset_font

    _login(client, "clerk1")
    app.config["STATEMENT_FONT"] = "not-built.otf"  # the system face, whatever this machine has built
    plain = client.post(f"/statements/households/{world.h1.id}", data=_month_form()).data
    text = "\n".join(_text(plain))
    name = f"test-{uuid.uuid4().hex[:8]}.otf"
    try:
        # a face without 焚: that character must still print, from the full Noto face
        build_subset_font(FONTS_DIR / name, text="".join(sorted(set(text) - {"焚"})) + "0123456789")
        app.config["STATEMENT_FONT"] = name
        small = client.post(f"/statements/households/{world.h1.id}", data=_month_form()).data
    finally:
        (FONTS_DIR / name).unlink(missing_ok=True)
    fonts = set()
    for page in PdfReader(io.BytesIO(small)).pages:
        for f in page["/Resources"]["/Font"].values():
            fonts.add(str(f.get_object()["/BaseFont"]))
    assert any("XY-GB2312-Serif" in f for f in fonts) and any("Noto" in f for f in fonts), fonts
    assert len(small) < len(plain)
    small_text = "\n".join(_text(small))
    assert re.search(r"焚烧秸秆\s*发生于 \S+\s*−8", small_text) and re.search(r"帮扶独居老人\s*\+15", small_text)
    assert _figures(small_text) == (20, 17)


def test_year_end_expiry_shows_as_its_own_section(client, world):
    with write_transaction():
        scheme = db.session.get(type(world.scheme), world.scheme.id)
        scheme.year_policy = "expire"
        pts.close_year(scheme, TODAY.year - 1, actor=world.clerk, today=TODAY)
    assert balance_of(world.h1) == 0
    _login(client, "clerk1")
    text = "\n".join(_text(client.post(f"/statements/households/{world.h1.id}", data=_month_form()).data))
    expiry = text[text.index("年终清零\n"):]
    assert re.search(rf"{TODAY.year - 1}年度年终清零\s*−17", expiry), expiry
    assert _figures(text) == (20, 0)
    assert re.search(r"年终清零\s*清零积分\s*1\s*−17", text), text
    issued = db.session.scalar(sa.select(IssuedStatement))
    assert issued.closing_balance == 0 and svc.verify(issued.code).status == "valid"


def test_a_job_whose_process_cannot_start_is_failed(real_jobs, client, world, monkeypatch):
    def cannot_start(*args, **kwargs):
        raise OSError("no interpreter")

    monkeypatch.setattr("app.statements.batch.subprocess.Popen", cannot_start)
    _login(client, "clerk1")
    r = client.post("/statements/batch", data={**_month_form(kind="year"), "group_id": "0"})
    assert r.status_code == 302
    job = db.session.scalar(sa.select(StatementJob))
    assert job.status == "failed" and job.error == "OSError"
    frag = client.get(f"/statements/jobs/{job.id}/progress").get_data(as_text=True)
    assert 'data-status="failed"' in frag and "hx-trigger" not in frag


# --- the paper: one page for a year, every figure the ledger's, nothing outside the page or broken ---------------

#: the page's content area: (top, right, bottom, left) margins in mm, as print.css sets them
MARGINS = {"a4": (20, 16, 18, 16), "a5": (16, 12, 14, 12)}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
CODE = re.compile(r"[0-9A-Z]{5}-[0-9A-Z]{5}")


def _paper_problems(pdf: bytes, paper: str) -> list[str]:
    """Words outside the page's content width (or off the page), and dates or codes broken across words."""
    top, right, bottom, left = MARGINS[paper]
    problems = []
    for n, page in enumerate(layout(pdf), start=1):
        assert round(page.width) == {"a4": 210, "a5": 148}[paper]
        for w in page.words:
            if w.x0 < left - 0.2 or w.x1 > page.width - right + 0.2 or w.y0 < 0 or w.y1 > page.height:
                problems.append(f"page {n}: {w.text!r} at x {w.x0:.1f}–{w.x1:.1f} mm")
        texts = [w.text for w in page.words]
        for pattern in (DATE, CODE):
            whole = sum(len(pattern.findall(text)) for text in texts)
            joined = len(pattern.findall("".join(texts)))
            if whole != joined:
                problems.append(f"page {n}: {joined - whole} broken {pattern.pattern}")
    return problems


def _boxes_outside(html: str) -> list[str]:
    """Every box of WeasyPrint's layout tree that leaves its page's content area (tests/print_checks.py)."""
    from app.printing import _lay_out, _render_lock

    with _render_lock:
        return boxes_outside_page(_lay_out(html))


@pytest.fixture
def busy(world, make_household):
    """Household 0301 of three members: 46 entries of the year in three categories (one corrected), four
    redemptions (one cancelled), from a balance carried in before the year."""
    from app.points.models import PointItem
    from app.registry.models import Person
    from app.shop.models import Product, Redemption

    h = make_household(world.village, "0301", "赵大明", members=[("赵小红", "child"), ("赵小军", "child")],
                       group=world.g2)
    people = list(db.session.scalars(sa.select(Person).where(Person.household_id == h.id).order_by(Person.id)))
    items = {i.code: i for i in db.session.scalars(sa.select(PointItem))}
    with write_transaction():
        scheme = db.session.get(type(world.scheme), world.scheme.id)
        cat = pts.create_category(scheme, "美丽庭院", "add")
        items["B01"] = pts.create_item(cat, pts.ItemData(code="B01", text="庭院整洁评比达标", points=5))
    first = dt.date(TODAY.year, 1, 1)
    with backdated(400):  # carried in from last year: the opening balance
        with write_transaction():
            e = pts.record_entry(scheme, items["A01"], h, occurred_on=TODAY - dt.timedelta(days=400),
                                 actor=world.clerk, today=TODAY)
            pts.approve(e, world.reviewer, today=TODAY)
    entries = []
    for k in range(46):
        code = ("A01", "A02", "B01", "D01")[k % 4]
        day = max(first, TODAY - dt.timedelta(days=k))
        with write_transaction():
            e = pts.record_entry(scheme, items[code], h, person=people[k % 3], occurred_on=day,
                                 actor=world.clerk, today=TODAY)
            pts.approve(e, world.reviewer, today=TODAY)
        entries.append(e)
    with write_transaction():
        obj = pts.file_objection(db.session.get(PointEntry, entries[1].id), reason="记错了", actor=world.clerk)
        pts.decide_objection(obj, world.reviewer, decision="corrected", reply_text="核实后撤销")
    rice = db.session.scalar(sa.select(Product))
    for k in range(4):
        with write_transaction():
            shop.redeem(db.session.get(Household, h.id), [(rice, 1 + k % 2)], key=f"busy-{k}", actor=world.cashier)
    with write_transaction():
        first_redemption = db.session.scalar(sa.select(Redemption).where(Redemption.household_id == h.id)
                                             .order_by(Redemption.id))
        shop.cancel_redemption(first_redemption, actor=world.cashier, reason="退货")
    return h


def _ledger_account(household, start: dt.date) -> dict:
    """What the ledger says of the household's year, read straight from the transfers (not the statement's
    code): opening, the category rows {(group, label): [count, points]}, the four totals and closing."""
    acct = db.session.scalar(sa.select(Account).where(Account.household_id == household.id))
    since = local_midnight_utc(start)
    rows = list(db.session.scalars(sa.select(Transfer).where(
        sa.or_(Transfer.debit_account_id == acct.id, Transfer.credit_account_id == acct.id))
        .order_by(Transfer.id)))
    side = {t.id: (t.amount if t.credit_account_id == acct.id else -t.amount) for t in rows}
    opening = sum(side[t.id] for t in rows if t.created_at < since)
    by_id = {t.id: t for t in rows}
    account: dict = {}
    for t in rows:
        if t.created_at < since:
            continue
        base = by_id[t.reverses_transfer_id] if t.reverses_transfer_id else t
        group = {"earn": "获得积分", "deduct": "扣分", "redeem": "超市兑换", "expire": "年终清零"}[base.code]
        if t.reverses_transfer_id:
            label = "取消兑换" if base.code == "redeem" else "更正"
        elif base.code == "redeem":
            label = "兑换商品"
        else:
            label = db.session.get(PointEntry, t.entry_id).category_name
        count_points = account.setdefault((group, label), [0, 0])
        count_points[0] += 1
        count_points[1] += side[t.id]
    totals = {}
    for (group, _label), (_n, points) in account.items():
        totals[group] = totals.get(group, 0) + points
    return {"opening": opening, "rows": account, "totals": totals, "closing": sum(side.values())}


def test_a_year_statement_is_one_page_whose_every_figure_is_the_ledgers(client, world, busy):
    _login(client, "clerk1")
    for paper in ("a4", "a5"):
        r = client.post(f"/statements/households/{busy.id}", data=_month_form(kind="year", paper=paper))
        assert r.status_code == 200 and r.mimetype == "application/pdf"
        pages = _text(r.data)
        assert len(pages) == 1, f"{paper}: {len(pages)} pages"
        text = pages[0]
        ledger = _ledger_account(busy, dt.date(TODAY.year, 1, 1))
        assert ledger["rows"][("获得积分", "更正")] == [1, -15]  # the corrected award, netted in
        assert ledger["rows"][("超市兑换", "取消兑换")] == [1, 10]
        assert _figures(text) == (ledger["opening"], ledger["closing"]) == (20, balance_of(busy))
        for (_group, label), (count, points) in ledger["rows"].items():
            assert re.search(rf"{label}\s*{count}\s*{re.escape(signed(points))}", text), (label, text)
        # a group of several rows carries its subtotal; the paper's totals are the ledger's
        assert re.search(r"获得积分\s*热心公益\s*\d+\s*\S+\s*(更正|美丽庭院)", text), text
        for group, total in ledger["totals"].items():
            rows = [v for (g, _l), v in ledger["rows"].items() if g == group]
            if len(rows) > 1:
                assert re.search(rf"小计\s*{sum(n for n, _p in rows)}\s*{re.escape(signed(total))}", text), text
        assert ledger["opening"] + sum(ledger["totals"].values()) == ledger["closing"]
        # no entry is listed and no member is named on the one-page statement
        for name in ("赵*红", "赵*军", "参加村庄清洁日", "clerk1"):
            assert name not in text
        score = pq.year_score(busy.id, TODAY.year)
        stars = world.scheme.stars_for(score)
        assert re.search(rf"{TODAY.year}\s*年度得分\s*{re.escape(signed(score))}\s*星级\s*"
                         + "★" * stars + "☆" * (5 - stars), text), text
        issued = db.session.scalars(sa.select(IssuedStatement).order_by(IssuedStatement.id.desc())).first()
        assert svc.format_code(issued.code) in text and "盖章" in text and "签字" in text
        assert (issued.total_earned, issued.total_deducted, issued.total_redeemed, issued.total_expired) == \
            tuple(ledger["totals"].get(g, 0) for g in ("获得积分", "扣分", "超市兑换", "年终清零"))
        assert _paper_problems(r.data, paper) == []


def test_the_detailed_statement_lists_every_entry_naming_the_member(client, world, busy):
    _login(client, "clerk1")
    r = client.post(f"/statements/households/{busy.id}", data=_month_form(kind="year", detailed="y"))
    pages = _text(r.data)
    text = "\n".join(pages)
    assert len(pages) > 1  # 46 entries and 4 redemptions do not fit one page
    # the account first, then each entry with the member who earned it
    assert text.index("本期积分账目") < text.index("积分记录")
    # k % 3 over 46 entries; 赵小红's corrected award also names her on its reversal
    for member, count in (("赵*明", 16), ("赵*红", 16), ("赵*军", 15)):
        assert len(re.findall(rf"\d{{4}}-\d{{2}}-\d{{2}}\s*{re.escape(member)}\s*\S", text)) == count, member
    # with their relation to the head, so the two children (赵*红, 赵*军) and the head are told apart at a glance
    for member, relation in (("赵*明", "户主"), ("赵*红", "子女"), ("赵*军", "子女")):
        assert re.search(rf"{re.escape(member)}\s*{relation}", text), member
    assert len(re.findall(r"庭院整洁评比达标(?:\s*发生于 \S+)?\s*\+5", text)) == 11
    assert re.search(r"撤销：帮扶独居老人(?:\s*发生于 \S+)?\s*−15", text), text
    assert f"第 1 页 / 共 {len(pages)} 页" in pages[0] and "盖章" in pages[-1]
    assert _paper_problems(r.data, "a4") == []


def test_the_one_page_and_the_detailed_statement_keep_the_same_figures(client, world, busy):
    """The one-page statement reads only what its account shows; both agree on every figure and on the digest
    /verify compares, so a detailed paper's code checks out against the ledger as well."""
    period = svc.resolve_period("year", year=TODAY.year)
    household = db.session.get(Household, busy.id)
    page = svc.build_statement(household, period)
    full = svc.build_statement(household, period, cutoff=page.cutoff, detailed=True)
    assert (page.listed, full.listed) == (False, True)
    assert page.digest() == full.digest()
    assert (page.opening, page.totals, page.closing, page.subtotals) == \
        (full.opening, full.totals, full.closing, full.subtotals)
    rows = [[(r.label, r.count, r.points) for r in page.summary[name]] for name in svc.TOTALS]
    assert rows == [[(r.label, r.count, r.points) for r in full.summary[name]] for name in svc.TOTALS]
    assert ("更正", 1, -15) in rows[0] and ("取消兑换", 1, 10) in rows[2]
    # only the detailed one describes its lines: the one-page one never read them
    assert all(ln.text for ln in full.lines) and not any(ln.text or ln.member for ln in page.lines)
    _login(client, "clerk1")
    r = client.post(f"/statements/households/{busy.id}", data=_month_form(kind="year", detailed="y"))
    assert r.status_code == 200 and len(_text(r.data)) > 1
    issued = db.session.scalars(sa.select(IssuedStatement).order_by(IssuedStatement.id.desc())).first()
    assert issued.line_count == len(full.lines)
    client.post("/logout")
    # /verify rebuilds it as the one-page statement is built, and finds the same digest
    assert _verdict(client, issued.code)[1] == "valid"


@pytest.mark.parametrize("detailed", [False, True])
def test_a_batch_reads_every_household_together_and_each_statement_is_its_ledgers(world, busy, detailed,
                                                                                    monkeypatch):
    """A batch builds its statements a few households at a time, each read from the ledger once for all of
    them: every statement still carries its own household's figures, lines and score (checked against the
    transfers themselves), a household printed again keeps its own cutoff, and the reads do not grow with
    the number of households."""
    period = svc.resolve_period("year", year=TODAY.year)
    households = svc.batch_households(world.village.id)  # as a batch loads them: each with its head and group
    assert [h.number for h in households] == ["0101", "0102", "0201", "0301"]
    early = utcnow() - dt.timedelta(days=2)  # 0101 printed again as issued two days ago
    sent: list[str] = []
    counting = lambda *args: sent.append(args[2])  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", counting)
    try:
        svc.build_statements(households[3:], period, detailed=detailed)
        sent.clear()
        svc.build_statements(households[3:], period, detailed=detailed)
        reads_of_one = list(sent)
        sent.clear()
        datas = svc.build_statements(households, period, detailed=detailed, cutoffs={world.h1.id: early})
        reads_of_four = list(sent)
    finally:
        event.remove(db.engine, "before_cursor_execute", counting)
    assert len(reads_of_four) == len(reads_of_one), (reads_of_one, reads_of_four)
    assert [d.household.id for d in datas] == [h.id for h in households]
    for data, household in zip(datas, households):
        alone = svc.build_statement(household, period, cutoff=data.cutoff, detailed=detailed)
        assert data.digest() == alone.digest()
        assert [(ln.transfer_id, ln.points, ln.reversed, ln.text, ln.member) for ln in data.lines] == \
            [(ln.transfer_id, ln.points, ln.reversed, ln.text, ln.member) for ln in alone.lines]
        assert data.score == pq.year_score(household.id, TODAY.year)
        assert data.stars == world.scheme.stars_for(data.score)
        if household.id == world.h3.id:  # never had points, nor an account
            assert (data.opening, data.lines, data.closing, data.score) == (0, [], 0, 0)
            continue
        ledger = _ledger_account(household, dt.date(TODAY.year, 1, 1))
        if household.id == world.h1.id:
            # only what was posted by its cutoff: the award 40 days ago, not today's or the redemption
            assert data.cutoff == early and data.opening == ledger["opening"]
            assert [ln.points for ln in data.lines] == ([20] if TODAY - dt.timedelta(days=40) >= period.start
                                                        else [])
            continue
        assert (data.opening, data.closing) == (ledger["opening"], ledger["closing"])
        for group, name in (("获得积分", "earned"), ("扣分", "deducted"), ("超市兑换", "redeemed")):
            assert data.totals[name] == ledger["totals"].get(group, 0), (household.number, name)
        rows = {(r.label, r.count, r.points) for name in svc.TOTALS for r in data.summary[name]}
        assert rows == {(label, n, points) for (_g, label), (n, points) in ledger["rows"].items()}
    # issued together: one code each, in order, every one of them verifying
    issued = svc.issue_statements(datas[1:], printed=False)
    assert [i.household_id for i in issued] == [h.id for h in households[1:]]
    assert len({i.code for i in issued}) == 3 and all(i.printed_at is None for i in issued)
    db.session.commit()
    assert {svc.verify(i.code).status for i in issued} == {"valid"}


@pytest.mark.parametrize("paper", ["a4", "a5"])
@pytest.mark.parametrize("kind,detailed", [("year", False), ("year", True), ("month", False)])
def test_every_box_stays_inside_the_page_and_no_date_or_code_breaks(app, client, world, busy, paper, kind,
                                                                    detailed):
    from app.printing import render_html
    from app.statements import batch

    _login(client, "clerk1")
    form = _month_form(kind=kind, paper=paper, **({"detailed": "y"} if detailed else {}))
    r = client.post(f"/statements/households/{busy.id}", data=form)
    assert r.status_code == 200
    assert _paper_problems(r.data, paper) == []
    issued = db.session.scalars(sa.select(IssuedStatement).order_by(IssuedStatement.id.desc())).first()
    period = svc.Period(issued.period_kind, issued.period_start, issued.period_end)
    data = svc.build_statement(db.session.get(Household, busy.id), period, cutoff=issued.cutoff_at,
                               detailed=detailed)
    html = render_html("statement.html", **batch.statement_context(data, issued, "http://localhost/"))
    assert _boxes_outside(html) == []
    # the month lists its entries without being asked; the year only as the detailed statement
    assert ("积分记录" in "\n".join(_text(r.data))) == (kind == "month" or detailed)


def test_verify_shows_the_figures_the_paper_carries(client, world, busy):
    _login(client, "clerk1")
    pdf = client.post(f"/statements/households/{busy.id}", data=_month_form(kind="year")).data
    text = _text(pdf)[0]
    issued = db.session.scalars(sa.select(IssuedStatement).order_by(IssuedStatement.id.desc())).first()
    client.post("/logout")
    r, verdict = _verdict(client, issued.code)
    assert verdict == "valid"
    page = r.get_data(as_text=True)
    shown = dict(re.findall(r'data-figure="(\w+)">([^<]+)<', page))
    ledger = _ledger_account(busy, dt.date(TODAY.year, 1, 1))
    assert shown == {"opening": str(ledger["opening"]), "closing": str(ledger["closing"]),
                     **{key: signed(ledger["totals"].get(group, 0)) for key, group in (
                         ("earned", "获得积分"), ("deducted", "扣分"), ("redeemed", "超市兑换"),
                         ("expired", "年终清零"))}}
    # each is the figure printed on the paper
    assert _figures(text) == (int(shown["opening"]), int(shown["closing"]))
    for value in shown.values():
        assert value in text
    # still no name, number or entry
    for secret in ("0301", "赵大明", "赵*红", "庭院整洁", "大米", "clerk1"):
        assert secret not in page
    # a correction after printing: superseded, and the page still shows what the paper said
    with write_transaction():
        entry = db.session.scalars(sa.select(PointEntry).where(PointEntry.household_id == busy.id,
                                                               PointEntry.status == "posted")
                                   .order_by(PointEntry.id.desc())).first()
        obj = pts.file_objection(entry, reason="没有去", actor=world.clerk)
        pts.decide_objection(obj, world.reviewer, decision="corrected", reply_text="核实后撤销")
    r, verdict = _verdict(client, issued.code)
    assert verdict == "superseded"
    assert dict(re.findall(r'data-figure="(\w+)">([^<]+)<', r.get_data(as_text=True))) == shown


def test_the_command_line_prints_the_detailed_statement_when_asked(runner, world, busy, tmp_path):
    summary, detailed = tmp_path / "summary.pdf", tmp_path / "detailed.pdf"
    for out, extra in ((summary, []), (detailed, ["--detailed"])):
        r = runner.invoke(args=["statements", "print", "--village", "v1", "--period", str(TODAY.year),
                                "--group", "二组", "--out", str(out), *extra])
        assert r.exit_code == 0, r.output
    assert _households_in(summary) == _households_in(detailed) == ["0201", "0301"]
    short, full = _text(summary.read_bytes()), _text(detailed.read_bytes())
    assert len(short) == 2  # one page each
    assert len(full) > 2 and "赵*红" in "\n".join(full) and "赵*红" not in "\n".join(short)


def test_a_batch_parses_the_stylesheets_once_and_lays_out_the_same(app, client, world, busy):
    """html_documents_to_pdf(shared_css=…) applies print.css and statement.css parsed once per process: the
    same words in the same places as when each document parses its own."""
    from app.printing import html_documents_to_pdf, render_html
    from app.statements import batch

    _login(client, "clerk1")
    htmls = []
    for detailed in (False, True):
        client.post(f"/statements/households/{busy.id}", data=_month_form(kind="year", paper="a5",
                                                                           **({"detailed": "y"} if detailed else {})))
        issued = db.session.scalars(sa.select(IssuedStatement).order_by(IssuedStatement.id.desc())).first()
        period = svc.Period(issued.period_kind, issued.period_start, issued.period_end)
        data = svc.build_statement(db.session.get(Household, busy.id), period, cutoff=issued.cutoff_at,
                                   detailed=detailed)
        htmls.append(render_html("statement.html", **batch.statement_context(data, issued, "http://localhost/")))
    own = layout(html_documents_to_pdf(htmls))
    shared = layout(html_documents_to_pdf(htmls, shared_css=batch.SHARED_CSS))
    assert len(own) == len(shared) > 2
    assert [[(w.text, round(w.x0), round(w.y0)) for w in page.words] for page in shared] == \
        [[(w.text, round(w.x0), round(w.y0)) for w in page.words] for page in own]
