"""Exports to .xlsx and .csv (app.tabular.export): T14 formula escaping in both formats, numbers and dates kept,
Chinese file names, who may download what, the ledger as of a day, and mediation statistics without a name."""
from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import re
import zipfile
from urllib.parse import unquote

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook
from sqlalchemy import event

from app.audit.models import AuditLog
from app.db import local_today, utcnow
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.models import AccountKind, Transfer
from app.registry.models import Household
from app.registry.services import PersonData, add_person
from app.submission import write_transaction
from app.tabular.export import Sheet, table_bytes
from tests.test_import_export import groups, hostile_register  # noqa: F401  (fixtures)
from tests.test_mediation_services import _case, desk  # noqa: F401  (fixture)
from tests.test_patrol_services import _walked_shift, team  # noqa: F401  (fixture)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
BOM = b"\xef\xbb\xbf"
HOSTILE = ["=1+2", "+8613800000000", "@SUM(A1)", "-2+3+cmd|'/C calc'!A0", "\t=1", "\r=1", "  =HYPERLINK(\"x\")",
           "-50"]
TRIGGERS = ("=", "+", "-", "@")
NUMBER = re.compile(r"-?\d+(\.\d+)?")


# --- reading a download back ------------------------------------------------------------------------

def xlsx_sheets(data: bytes) -> dict[str, list[list]]:
    """{sheet title: rows of openpyxl cells}."""
    wb = load_workbook(io.BytesIO(data))
    return {ws.title: [list(r) for r in ws.iter_rows()] for ws in wb.worksheets}


def csv_rows(data: bytes) -> list[list[str]]:
    assert data.startswith(BOM), "Excel needs the byte-order mark to read UTF-8"
    return list(csv.reader(io.StringIO(data[len(BOM):].decode("utf-8"), newline="")))


def assert_xlsx_safe(data: bytes) -> None:
    """T14: no text cell starts with a formula character (also after leading spaces), no formula cell."""
    for title, rows in xlsx_sheets(data).items():
        for row in rows:
            for c in row:
                assert c.data_type != "f", (title, c.coordinate, c.value)
                if isinstance(c.value, str):
                    assert c.value.lstrip()[:1] not in TRIGGERS, (title, c.coordinate, c.value)
                    assert c.value[:1] not in ("\t", "\r", "\n"), (title, c.coordinate, c.value)


def assert_csv_safe(data: bytes) -> None:
    """T14 in a CSV: a field is a plain number (Excel reads -30 as the number −30) or starts harmlessly."""
    for row in csv_rows(data):
        for v in row:
            if NUMBER.fullmatch(v):
                continue
            assert v.lstrip()[:1] not in TRIGGERS, v
            assert v[:1] not in ("\t", "\r", "\n"), v


def file_name(resp) -> tuple[str, str]:
    """(the UTF-8 file name, the ASCII fallback) of a download."""
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    fallback = disposition.split('filename="')[1].split('"')[0]
    assert fallback.isascii()
    return unquote(disposition.split("filename*=UTF-8''")[1]), fallback


def login(client, auth, make_user, village, role: str):
    make_user(f"{role}1", (role, village))
    assert auth.login(f"{role}1").status_code == 302
    return client


# --- the helper -------------------------------------------------------------------------------------

def test_t14_the_helper_escapes_text_and_keeps_numbers_and_dates_in_both_formats(app):
    day, moment = dt.date(2026, 11, 30), dt.datetime(2026, 11, 30, 21, 5)
    rows = [[text, -30, 12, 1.5, day, moment, None] for text in HOSTILE]
    sheets = lambda: [Sheet("台账", ["名称", "积分", "数量", "比例", "日期", "时间", "空"], iter(rows)),  # noqa: E731
                      Sheet("=危险标题", ["@表头"], [["二"]])]
    with app.test_request_context():
        xlsx, text = table_bytes(sheets(), "xlsx"), table_bytes(sheets(), "csv")

    assert_xlsx_safe(xlsx)
    books = xlsx_sheets(xlsx)
    assert list(books) == ["台账", "=危险标题"]  # a sheet's name is never evaluated
    body = books["台账"][1:]
    assert [r[0].value for r in body] == ["'=1+2", "'+8613800000000", "'@SUM(A1)", "'-2+3+cmd|'/C calc'!A0", "'\t=1",
                                          "'\n=1", "'  =HYPERLINK(\"x\")", "'-50"]  # XML reads a raw CR back as LF
    for r in body:
        assert r[0].data_type == "s"
        assert r[1].value == -30 and r[1].data_type == "n"  # negative numbers stay numbers
        assert r[2].value == 12 and r[3].value == 1.5
        assert r[4].is_date and r[4].value == dt.datetime(2026, 11, 30) and r[4].number_format == "yyyy-mm-dd"
        assert r[5].is_date and r[5].value == moment
        assert r[6].value is None
    assert books["=危险标题"][0][0].value == "'@表头"

    assert_csv_safe(text)
    lines = csv_rows(text)
    assert lines[0] == ["台账"] and lines[1] == ["名称", "积分", "数量", "比例", "日期", "时间", "空"]
    assert lines[2] == ["'=1+2", "-30", "12", "1.5", "2026-11-30", "2026-11-30 21:05", ""]
    assert [r[0] for r in lines[2:10]] == ["'" + h for h in HOSTILE]  # the CR is kept inside quotes
    assert lines[10] == [] and lines[11] == ["'=危险标题"] and lines[12] == ["'@表头"] and lines[13] == ["二"]


def test_a_single_table_csv_has_no_title_line(app):
    with app.test_request_context():
        text = table_bytes([Sheet("户籍", ["户号", "姓名"], [["0101", "张三"]])], "csv")
    assert text == BOM + "户号,姓名\r\n0101,张三\r\n".encode()


# --- the register -----------------------------------------------------------------------------------

def test_t14_the_register_downloads_as_csv_masked_and_escaped(app, clerk_client, village, hostile_register):
    with clerk_client.get("/registry/export.csv") as r:
        assert r.status_code == 200 and r.mimetype == "text/csv"
        data = r.data
        name, fallback = file_name(r)
    today = f"{local_today():%Y%m%d}"
    assert name == f"一号村户籍-{today}.csv" and fallback == f"huji-v1-{today}.csv"
    assert_csv_safe(data)
    rows = csv_rows(data)
    assert rows[0][:5] == ["户号", "村民小组", "地址", "户标签", "姓名"]
    names = [r[4] for r in rows[1:]]
    assert "'=1+2" in names and "'-2+3+cmd|' /C calc'!A0" in names and "'\t=1" in names and "'\r=1" in names
    assert "'-50" in names
    assert not re.search(rb"\d{17}[\dX]", data)  # ID numbers masked, as in the workbook
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.action == "registry.export", AuditLog.details.like('%"kind": "csv"%'))) == 1


def test_the_register_workbook_has_the_chinese_file_name(app, clerk_client, village, hostile_register):
    with clerk_client.get("/registry/export.xlsx") as r:
        assert r.mimetype == XLSX
        assert file_name(r)[0] == f"一号村户籍-{local_today():%Y%m%d}.xlsx"
        assert_xlsx_safe(r.data)


# --- the ledger as of a day -------------------------------------------------------------------------

@contextlib.contextmanager
def backdated(days: int):
    """Transfers posted inside the block look `days` old."""
    def _set(_mapper, _conn, target):
        target.created_at = utcnow() - dt.timedelta(days=days)

    event.listen(Transfer, "before_insert", _set)
    try:
        yield
    finally:
        event.remove(Transfer, "before_insert", _set)


@pytest.fixture
def ledger_world(app, village, make_household):
    """0101 (head "=1+2", a member "\\t=1"): 100 opened and 30 deducted ten days ago, 999 more today;
    0102 (head "@SUM(A1)"): 50 earned five days ago with a hostile memo; 0103 never moved."""
    h1 = make_household(village, "0101", "=1+2")
    h2 = make_household(village, "0102", "@SUM(A1)")
    make_household(village, "0103", "\r=1")
    with write_transaction():
        add_person(db.session.get(Household, h1.id), PersonData(name="\t=1", relation="spouse"))

    def post(h, amount, code, key, memo=None):
        with write_transaction():
            acct = ledger.household_account(db.session.get(Household, h.id))
            issuance = ledger.system_account(village.id, AccountKind.ISSUANCE)
            debit, credit = (acct, issuance) if code == "deduct" else (issuance, acct)
            ledger.post_transfer(debit=debit, credit=credit, amount=amount, code=code, key=key, memo=memo)

    with backdated(10):
        post(h1, 100, "opening", "o1", memo="-2+3+cmd|'/C calc'!A0")
        post(h1, 30, "deduct", "d1", memo="=1+2")
    with backdated(5):
        post(h2, 50, "earn", "e1", memo="+8613800000000")
    post(h1, 999, "earn", "late")  # after the chosen day: not counted
    return local_today() - dt.timedelta(days=3)


def _ledger(client, day, fmt="xlsx"):
    return client.get("/points/ledger-export", query_string={"on": day.isoformat(), "fmt": fmt, "submit": "1"})


def test_t14_the_ledger_as_of_a_day_counts_only_what_was_posted_by_its_end(app, clerk_client, village,
                                                                          ledger_world):
    day = ledger_world
    with _ledger(clerk_client, day) as r:
        assert r.status_code == 200 and r.mimetype == XLSX
        data = r.data
        name, fallback = file_name(r)
    assert name == f"一号村积分台账（截至{day.isoformat()}）.xlsx"
    assert fallback == f"ledger-v1-{day:%Y%m%d}.xlsx"
    assert_xlsx_safe(data)
    balances, movements = xlsx_sheets(data).values()
    got = {row[0].value: (row[1].value, row[4].value) for row in balances[1:]}
    assert got == {"0101": ("'=1+2", 70), "0102": ("'@SUM(A1)", 50), "0103": ("'\n=1", 0)}
    assert all(row[4].data_type == "n" for row in balances[1:])
    lines = [(row[2].value, row[5].value, row[6].value) for row in movements[1:]]
    assert lines == [("0101", 100, "'-2+3+cmd|'/C calc'!A0"), ("0101", -30, "'=1+2"), ("0102", 50, "'+8613800000000")]
    deduction = movements[2]
    assert deduction[5].value == -30 and deduction[5].data_type == "n"  # a negative amount stays a number
    assert deduction[1].is_date
    # the same as of today counts the late award
    with _ledger(clerk_client, local_today()) as r:
        today_rows = xlsx_sheets(r.data)
    assert [row[4].value for row in list(today_rows.values())[0][1:]] == [1069, 50, 0]
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.action == "points.ledger_export")) == 2


def test_t14_the_ledger_csv(app, clerk_client, village, ledger_world):
    with _ledger(clerk_client, ledger_world, "csv") as r:
        assert r.status_code == 200 and r.mimetype == "text/csv"
        data = r.data
        assert file_name(r)[0].endswith(".csv")
    assert_csv_safe(data)
    rows = csv_rows(data)
    assert rows[0] == [f"{ledger_world.isoformat()}余额"]
    assert ["0101", "'=1+2", "", "正常", "70"] in rows
    deduction = next(r for r in rows if len(r) > 6 and r[6] == "'=1+2")
    assert deduction[5] == "-30"


def test_the_ledger_form_takes_a_loose_date_and_refuses_bad_ones(app, clerk_client, village, ledger_world):
    page = clerk_client.get("/points/ledger-export")
    assert page.status_code == 200 and 'id="ledger-export-form"' in page.get_data(as_text=True)
    for bad in ("2026-13-45", "yesterday", ""):
        r = clerk_client.get("/points/ledger-export", query_string={"on": bad, "fmt": "xlsx"})
        assert r.status_code == 400 and 'id="ledger-export-form"' in r.get_data(as_text=True)
    r = clerk_client.get("/points/ledger-export", query_string={"on": "2026-13-45", "fmt": "xlsx"})
    assert "2026-11-25" in r.get_data(as_text=True)  # "please enter a date like 2026-11-25"
    future = local_today() + dt.timedelta(days=1)
    r = clerk_client.get("/points/ledger-export", query_string={"on": future.isoformat(), "fmt": "xlsx"})
    assert r.status_code == 400 and r.mimetype == "text/html"
    r = clerk_client.get("/points/ledger-export", query_string={"on": "2026-11-30", "fmt": "pdf"})
    assert r.status_code == 400
    loose = f"{ledger_world.year}年{ledger_world.month}月{ledger_world.day}日"
    with clerk_client.get("/points/ledger-export", query_string={"on": loose, "fmt": "xlsx"}) as r:
        assert r.status_code == 200 and r.mimetype == XLSX
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.action == "points.ledger_export")) == 1  # refusals write nothing


def test_a_reviewer_may_export_the_ledger_a_cashier_may_not(app, client, auth, make_user, village, ledger_world):
    login(client, auth, make_user, village, "reviewer")
    with _ledger(client, ledger_world) as r:
        assert r.status_code == 200
    auth.logout()
    login(client, auth, make_user, village, "cashier")
    with _ledger(client, ledger_world) as r:
        assert r.status_code == 403
    assert client.get("/points/ledger-export").status_code == 403
    assert client.get("/registry/export.csv").status_code == 403


# --- goods and stock --------------------------------------------------------------------------------

@pytest.fixture
def shelf(app, village, make_user):
    from app.shop import services as shop

    with write_transaction():
        p = shop.create_product(village, name="=1+2", unit="袋", price_points=15, spec="@SUM(A1)", category="+粮油")
        shop.receive_purchase(p, 10, "-2+3+cmd|'/C calc'!A0")
        shop.write_off(p, 3, "=HYPERLINK(\"x\")")
        shop.create_product(village, name="酱油", unit="瓶", price_points=8, spec="500ml")
    return p


def test_t14_goods_and_stock(app, client, auth, make_user, village, shelf):
    login(client, auth, make_user, village, "clerk")
    for fmt in ("xlsx", "csv"):
        with client.get(f"/shop/reports/stock.{fmt}") as r:
            assert r.status_code == 200
            data = r.data
            assert file_name(r)[0] == f"一号村幸福超市商品与库存{local_today().isoformat()}.{fmt}"
        if fmt == "xlsx":
            assert_xlsx_safe(data)
            goods, moves = xlsx_sheets(data).values()
            row = next(r_ for r_ in goods[1:] if r_[0].value == "'=1+2")
            assert [c.value for c in row[1:7]] == ["'@SUM(A1)", "袋", "'+粮油", 15, 7, 0]
            assert [(m[3].value, m[4].value, m[5].value) for m in moves[1:]] == [
                ("购入", 10, "'-2+3+cmd|'/C calc'!A0"), ("报损", -3, "'=HYPERLINK(\"x\")")]
            assert moves[2][4].data_type == "n"
        else:
            assert_csv_safe(data)
            assert ["'=1+2", "'@SUM(A1)", "袋", "'+粮油", "15", "7", "0", "是", ""] in csv_rows(data)
    assert client.get("/shop/products").get_data(as_text=True).count("/shop/reports/stock.") == 2


def test_goods_export_follows_the_shop_pages(app, client, auth, make_user, village, shelf):
    login(client, auth, make_user, village, "grid_worker")
    assert client.get("/shop/reports/stock.xlsx").status_code == 403
    auth.logout()
    login(client, auth, make_user, village, "cashier")
    with client.get("/shop/reports/stock.csv") as r:
        assert r.status_code == 200  # the shop's goods list is the cashier's page too: no personal data


# --- patrol attendance ------------------------------------------------------------------------------

def test_t14_patrol_attendance_per_member_and_month(app, client, auth, make_user, village, team, make_household):
    from app.patrol import services as ps

    h = make_household(village, "0199", "=1+2")
    with write_transaction():
        hostile = ps.add_member(db.session.merge(team.team), db.session.get(Household, h.id).head,
                                joined_on=dt.date(2026, 1, 1), badge_no="-7")
    team.members[3] = hostile
    for day, marks in ((dt.date(2026, 10, 20), ["present", "late", "absent", "absent"]),
                       (dt.date(2026, 11, 21), [None, "leave", "present", "absent"])):
        sid = _walked_shift(team, day, marks)
        with write_transaction():
            from app.patrol.models import PatrolShift
            ps.confirm(db.session.get(PatrolShift, sid), actor=db.session.merge(team.leader))
    _walked_shift(team, dt.date(2026, 11, 22), ["present"] * 4)  # not confirmed: not counted

    login(client, auth, make_user, village, "reviewer")
    assert "/patrol/reports/attendance-2026.xlsx" in client.get("/patrol/reports?year=2026").get_data(as_text=True)
    with client.get("/patrol/reports/attendance-2026.xlsx") as r:
        assert r.status_code == 200
        data = r.data
        assert file_name(r) == ("一号村巡逻出勤2026.xlsx", "patrol-attendance-v1-2026.xlsx")
    assert_xlsx_safe(data)
    (rows,) = xlsx_sheets(data).values()
    assert [c.value for c in rows[0]][5:8] == ["排班次数", "实际巡逻", "迟到"]
    got = {(r_[3].value, r_[1].value): [c.value for c in r_[5:11]] for r_ in rows[1:]}
    assert got[("'=1+2", 10)] == [1, 0, 0, 1, 0, 0]
    assert got[("'=1+2", 11)] == [1, 0, 0, 1, 0, 0]
    assert got[("王一", 11)] == [1, 1, 0, 0, 0, 100]
    assert got[("王二", 10)] == [1, 1, 1, 0, 0, 100]
    assert got[("王二", 11)] == [1, 0, 0, 0, 1, None]
    assert len(got) == 8
    with client.get("/patrol/reports/attendance-2026.csv") as r:
        assert_csv_safe(r.data)
        assert any(row[3] == "'=1+2" and row[4] == "'-7" for row in csv_rows(r.data))
    auth.logout()
    login(client, auth, make_user, village, "cashier")
    assert client.get("/patrol/reports/attendance-2026.xlsx").status_code == 403
    assert client.get("/patrol/reports/attendance-1999.xlsx").status_code in (403, 404)


# --- mediation statistics ---------------------------------------------------------------------------

def _all_text(data: bytes) -> bytes:
    """The download's bytes, and for a workbook every part decompressed."""
    if data[:4] != b"PK\x03\x04":
        return data
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return data + b"".join(zf.read(n) for n in zf.namelist())


def test_mediation_statistics_export_holds_counts_and_no_name(app, client, auth, make_user, village, desk):
    from app.mediation import services as ms

    parties = [ms.PartyData(role="applicant", name="欧阳独一无二", phone="13912345678"),
               ms.PartyData(role="respondent", name="=1+2", phone="13987654321")]
    case = _case(desk, parties=parties)
    _case(desk, day=dt.date(2026, 3, 2))
    login(client, auth, make_user, village, "reviewer")
    page = client.get("/mediation/statistics?year=2026").get_data(as_text=True)
    assert "/mediation/statistics/2026.xlsx" in page and "/mediation/statistics/2026.csv" in page
    for fmt in ("xlsx", "csv"):
        with client.get(f"/mediation/statistics/2026.{fmt}") as r:
            assert r.status_code == 200
            data = r.data
            assert file_name(r) == (f"一号村人民调解统计2026.{fmt}", f"mediation-statistics-v1-2026.{fmt}")
        everything = _all_text(data)
        for secret in ("欧阳独一无二", "孙有田", "周满仓", "宅基地边界", "13912345678", case.number, "=1+2"):
            assert secret.encode() not in everything, (fmt, secret)
        if fmt == "xlsx":
            assert_xlsx_safe(data)
            by_type, by_month, by_status = xlsx_sheets(data).values()
            total = by_type[-1]
            assert total[0].value == "合计" and total[1].value == 2
            months = {row[1].value: row[2].value for row in by_month[1:]}
            assert months[3] == 1 and months[11] == 1 and sum(months.values()) == 2
            assert {row[0].value: row[1].value for row in by_status[1:]}["已受理"] == 2
        else:
            assert_csv_safe(data)
    auth.logout()
    login(client, auth, make_user, village, "cashier")
    assert client.get("/mediation/statistics/2026.xlsx").status_code == 403
