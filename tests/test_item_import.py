"""Importing scheme items: pasted tables, .xlsx and .csv files, dry run, confirmation and the command line.

Messages are asserted in English (the client switches with /lang/en first, service calls run under
force_locale("en")); column headers and row numbers are Chinese data / numbers and are asserted as they are.
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from openpyxl import Workbook

from app.audit.models import AuditLog
from app.extensions import db
from app.points import item_import as imp
from app.points import services as pts
from app.points.models import PointCategory, PointItem, PointScheme
from app.submission import write_transaction
from app.tabular import store_upload
from tests.conftest import FreshContextClient

HEADER = "类别\t加扣\t编号\t内容\t分值\t单位\t上限周期\t上限分值\t层级\t对象\t需要佐证\t依据条款"
#: tab and | lines, a header line, full-width digits, 扣5分, 2分/次, an empty (merged) category cell
GOOD_PASTE = "\n".join([
    HEADER,
    "公益服务\t加分\tA01\t参加村庄清洁日\t２分/次\t\t每月\t１０\t村级\t个人\t否\t村规民约第五条",
    "\t\tA02\t无偿献血\t+10分\t\t每年\t20\t\t\t是\t",
    "| 不良行为 | 扣分 | B01 | 乱倒垃圾 | 扣5分 | | | | | 家庭 | 是 | 村规民约第十二条 |",
    "| 不良行为 |  | B02 | 违规建房 | －２０ | | | | 上级 | 家庭 | | |",
    "",
    "孝老爱亲 | 加分 | Ｃ01 | 照顾孤寡老人 | 5分/月 | | 每季度 | 15 | 共享 | | 否 | ",
])
#: (code, category, points, unit, cap_period, cap_points, level, applies_to, evidence, article)
GOOD_ITEMS = {
    ("A01", "公益服务", 2, "per_event", "month", 10, "village", "person", False, "村规民约第五条"),
    ("A02", "公益服务", 10, "per_event", "year", 20, "village", "person", True, None),
    ("B01", "不良行为", -5, "per_event", "none", None, "village", "household", True, "村规民约第十二条"),
    ("B02", "不良行为", -20, "per_event", "none", None, "upper", "household", False, None),
    ("C01", "孝老爱亲", 5, "per_month", "quarter", 15, "shared", "person", False, None),
}
FILE_HEADERS = ["序号", "类别", "加扣", "编号", "内容", "分值", "单位", "上限周期", "上限分值", "层级", "对象",
                "需要佐证", "依据条款"]


# --- helpers --------------------------------------------------------------------------------------




@pytest.fixture
def client(app):
    app.test_client_class = FreshContextClient
    return app.test_client()


@pytest.fixture
def en(clerk_client):
    clerk_client.get("/lang/en")
    return clerk_client



def paste(client, text: str):
    return client.post("/points/items/import", data={"text": text, "submit": "1"})


def upload(client, data: bytes, name: str):
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename=name), "text": "",
                                       "submit": "1"})
    return client.post("/points/items/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html)
    assert m, f"no hidden field {name}"
    return m.group(1)


def confirm(client, html: str):
    return client.post("/points/items/import/confirm",
                       data={"token": hidden(html, "token"), "digest": hidden(html, "digest")})


def count(model) -> int:
    db.session.rollback()  # end the test's own read transaction: see what the requests committed
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def items() -> set[tuple]:
    db.session.rollback()
    rows = db.session.execute(sa.select(PointItem, PointCategory.name).join(
        PointCategory, PointItem.category_id == PointCategory.id)).all()
    return {(i.code, name, i.points, i.unit, i.cap_period, i.cap_points, i.level, i.applies_to,
             i.evidence_required, i.article_ref) for i, name in rows}


def stored_files(app) -> list[Path]:
    folder = Path(app.instance_path) / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


def problems_of(body: str) -> set[tuple[str, str]]:
    """(row, column) pairs of the problem table."""
    return set(re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td><td class=\"break\">", body))


def csv_bytes(rows: list[list], *, encoding: str = "utf-8-sig") -> bytes:
    import csv

    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue().encode(encoding)


def make_xlsx(rows: list[list], *, title: str | None = "某某村积分细则") -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "积分细则"
    if title:
        ws.append([title])
        ws.merge_cells("A1:F1")
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


@pytest.fixture
def scheme(app, village):
    """An existing scheme: 公益服务 adds (item A01), 不良行为 deducts."""
    with write_transaction():
        s = pts.create_scheme(village, "本村积分细则")
        add = pts.create_category(s, "公益服务", "add")
        pts.create_category(s, "不良行为", "deduct", sort=1)
        pts.create_item(add, pts.ItemData(code="A01", text="参加村庄清洁日", points=2))
    return s


# --- the pages ------------------------------------------------------------------------------------


def test_good_paste_dry_run_writes_nothing_then_confirm_imports_everything(app, en, village):
    page = en.get("/points/items/import")
    assert page.status_code == 200 and 'name="text"' in page.get_data(as_text=True)
    r = paste(en, GOOD_PASTE)
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html
    assert "No problems found: 3 items that add points and 2 that deduct points, in 3 categories" in html
    assert "the import creates one named 积分细则" in html
    assert "Nothing has been saved yet." in html
    for code in ("A01", "B02", "C01"):
        assert code in html
    # the dry run wrote nothing (only the checked input, kept for the confirmation)
    assert count(PointScheme) == 0 and count(PointCategory) == 0 and count(PointItem) == 0
    assert len(stored_files(app)) == 2

    r = confirm(en, html)
    assert r.status_code == 302 and r.headers["Location"].endswith("/points/scheme")
    page = en.get("/points/scheme").get_data(as_text=True)
    assert "Imported 3 items that add points and 2 that deduct points, in 3 categories." in page
    assert "照顾孤寡老人" in page and "items-import-link" in page
    assert items() == GOOD_ITEMS
    schemes = list(db.session.scalars(sa.select(PointScheme)))
    assert [s.name for s in schemes] == ["积分细则"]
    cats = {c.name: c.direction for c in db.session.scalars(sa.select(PointCategory))}
    assert cats == {"公益服务": "add", "不良行为": "deduct", "孝老爱亲": "add"}
    audit = db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "points.items_import")).all()
    details = json.loads(audit[0].details)
    assert len(audit) == 1 and details["add"] == 3 and details["deduct"] == 2 and details["scheme_created"]
    assert stored_files(app) == []
    # confirming twice imports nothing more
    r = confirm(en, html)
    assert r.status_code == 400 and "no longer available" in r.get_data(as_text=True)
    assert count(PointItem) == 5


def test_paste_without_header_into_an_existing_scheme(app, en, village, scheme):
    """Cells in the format's order; the category decides the sign of unsigned points (5 in 不良行为 is -5)."""
    text = ("公益服务\t\tA02\t义务巡逻\t3\n"
            "不良行为\t\tB01\t乱倒垃圾\t5\n"
            "不良行为|扣分|B02|占道堆物|5分|||||家庭\n"
            "新类别 | 加分 | N01 | 新事项 | 1\n")
    r = paste(en, text)
    html = r.get_data(as_text=True)
    assert "2 items that add points and 2 that deduct points, in 3 categories" in html, html
    assert "creates one named" not in html and "New categories: 新类别." in html
    assert confirm(en, html).status_code == 302
    got = {(code, name, points) for code, name, points, *_ in items()}
    assert got == {("A01", "公益服务", 2), ("A02", "公益服务", 3), ("B01", "不良行为", -5),
                   ("B02", "不良行为", -5), ("N01", "新类别", 1)}
    assert count(PointScheme) == 1  # no second scheme


def test_existing_codes_are_reported_and_mixed_categories_split(app, en, village, scheme):
    text = ("公益服务\t加分\tA01\t改写的内容\t9\n"  # existing code with other text: a decision
            "不良行为\t加分\tX01\t反了\t3\n"  # existing deduct category, row says add: split
            "公益服务\t\tX02\t也反了\t-3\n")  # existing add category, sign says deduct: split
    r = paste(en, text)
    body = r.get_data(as_text=True)
    assert "Item code A01 is already in the scheme (参加村庄清洁日)" in body
    assert problems_of(body) == {("1", "编号")}
    assert "each is split in two: 不良行为（加分）、公益服务（扣分）." in body
    # the two ready items may be imported now, the decision row after editing
    assert "1 row needs a decision" in body and "Import the 2 ready items now" in body
    assert re.search(r"<textarea[^>]*>[^<]*改写的内容", body)
    assert count(PointItem) == 1
    r = en.post("/points/items/import/confirm", data={"token": hidden(body, "token"),
                                                      "digest": hidden(body, "digest"), "ready": "1"})
    assert r.status_code == 302
    got = {(code, name, points) for code, name, points, *_ in items()}
    assert got == {("A01", "公益服务", 2), ("X01", "不良行为（加分）", 3), ("X02", "公益服务（扣分）", -3)}
    assert db.session.scalar(sa.select(PointItem.text).where(PointItem.code == "A01")) == "参加村庄清洁日"
    assert "1 row still needs a decision" in en.get("/points/scheme").get_data(as_text=True)


def bad_rows() -> list[list]:
    return [
        FILE_HEADERS,
        [1, "公益服务", "加分", "A01", "清洁日", "-2"],  # row 2: sign and 加扣 disagree
        [2, "公益服务", "加分", "A01", "另一件", "3"],  # row 3: duplicate code
        [3, "不良行为", "", "B01", "乱倒垃圾", "5"],  # row 4: adds or deducts?
        [4, "公益服务", "扣分", "A04", "扣分事项", "扣3分"],  # row 5: the category also adds: split
        [5, "公益服务", "加分", "A05", "", "2"],  # row 6: no text
        [6, "公益服务", "加分", "A06", "事项", "2", "每年"],  # row 7: unknown unit
        [7, "公益服务", "加分", "A07", "事项", "2", "", "每月", ""],  # row 8: cap period without cap
        [8, "公益服务", "加分", "A08", "事项", "2", "", "", "20"],  # row 9: cap without period
        [9, "公益服务", "加分", "A09", "事项", "2", "", "", "", "某级"],  # row 10: unknown level
        [10, "公益服务", "加分", "", "事项", "2"],  # row 11: no code: numbered
        [11, "公益服务", "加分", "A11", "事项", "2分/月", "每次"],  # row 12: 2分/月 but 每次
        [12, "公益服务", "加分", "A12", "事项", "2", "", "", "", "", "", "也许"],  # row 13: evidence?
        [13, "公益服务", "加分", "A13", "恶意\u202e文字", "2"],  # row 14: a bidi override
        [14, "公益服务", "加分", "A14", "事项", ""],  # row 15: no points
        [15, "公益服务", "加分", "A15", "事项", "1.5"],  # row 16: not whole
        [16, "公益服务", "加分", "A16", "事项", "2", "", "每月", "１０万"],  # row 17: a cap that is no number
        [17, "", "", "A17", "事项", "2", "", "", "", "", "邻居"],  # row 18: unknown 对象 (category from above)
    ]


BAD_PROBLEMS = {("2", "分值"), ("3", "编号"), ("4", "加扣"), ("6", "内容"), ("7", "单位"),
                ("8", "上限分值"), ("9", "上限周期"), ("10", "层级"), ("12", "分值"),
                ("13", "需要佐证"), ("14", "内容"), ("15", "分值"), ("16", "分值"), ("17", "上限分值"),
                ("18", "对象")}


def test_bad_file_lists_every_problem_and_writes_nothing(app, en, village):
    r = upload(en, csv_bytes(bad_rows()), "细则.csv")
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "15 rows need a decision before they can be imported" in body
    assert problems_of(body) == BAD_PROBLEMS
    for message in ("The points -2 and 加扣 (加分) disagree",
                    "Item code A01 also appears in row 2.",
                    "It is not clear whether this item adds or deducts points.",
                    "The item text (内容) is empty.",
                    "Unknown value 每年. Allowed: 每次、每月、每季度、分档、按金额.",
                    "The cap period is 每月, but the cap (上限分值) is empty.",
                    "A cap of 20 points is given but no cap period (上限周期).",
                    "The points are written per 每月, but 单位 says 每次.",
                    "Contains a text-direction control character",
                    "The points (分值) are empty.",
                    "1.5 has tenths: the scheme counts whole points, so the village must round",
                    "１０万 is not a cap."):
        assert message in body, message
    # rows 5 and 11 are ready (split, numbered): offered now, nothing written yet
    assert "15 rows need a decision" in body and "Import the 2 ready items now" in body
    assert "公益服务（扣分）" in body and "A18*" in body
    assert count(PointScheme) == 0 and count(PointCategory) == 0 and count(PointItem) == 0


def test_forged_confirmations_import_nothing(app, en, village, clerk):
    bad = csv_bytes(bad_rows())
    for data in ({"token": "A" * 43, "digest": "0" * 64}, {"token": "../../etc/passwd", "digest": "0" * 64},
                 {}):
        r = en.post("/points/items/import/confirm", data=data)
        assert r.status_code == 400 and "no longer available" in r.get_data(as_text=True)
    # a bad file that somehow got stored (a forged dry run) is checked again on confirmation
    token, digest = store_upload(app.instance_path, bad, purpose="points.items", kind="csv",
                                 village_id=village.id, user_id=clerk.id)
    r = en.post("/points/items/import/confirm", data={"token": token, "digest": digest})
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and problems_of(body) == BAD_PROBLEMS
    # staged for another import (the register's own upload): refused
    token, digest = store_upload(app.instance_path, bad, purpose="registry.households", village_id=village.id,
                                 user_id=clerk.id)
    assert en.post("/points/items/import/confirm", data={"token": token, "digest": digest}).status_code == 400
    assert count(PointScheme) == 0 and count(PointCategory) == 0 and count(PointItem) == 0


def test_confirm_rechecks_the_scheme(app, en, village, scheme):
    """An item added between the check and the confirmation stops the whole import."""
    r = paste(en, "公益服务\t\tA02\t义务巡逻\t3\n公益服务\t\tA03\t调解纠纷\t4\n")
    html = r.get_data(as_text=True)
    with write_transaction():
        cat = db.session.scalar(sa.select(PointCategory).where(PointCategory.name == "公益服务"))
        pts.create_item(cat, pts.ItemData(code="A03", text="抢先录入", points=1))
    body = confirm(en, html).get_data(as_text=True)
    assert "Item code A03 is already in the scheme (抢先录入)" in body
    assert count(PointItem) == 2 and stored_files(app) == []


def test_xlsx_with_a_title_row_numbers_and_merged_category_cells(app, en, village):
    rows = [
        ["序号", "类别", "加扣", "编号", "项目内容", "分数", "单位", "上限周期", "上限分值", "需要佐证", "备注"],
        [1, "公益服务", "加分", "A01", "参加清洁日", 2, "每次", "每月", 10, True, "这一列不导入"],
        [2, None, None, "A02", "无偿献血", 10.0, None, None, None, False],
        [3, "不良行为", "扣分", "B01", "乱倒垃圾", -5],
        [4, None, None, "B02", "违规建房", 20],  # unsigned in a deduct category
    ]
    r = upload(en, make_xlsx(rows), "细则.xlsx")
    html = r.get_data(as_text=True)
    assert "2 items that add points and 2 that deduct points, in 2 categories" in html, html
    assert confirm(en, html).status_code == 302
    got = {(code, name, points, cap_period, cap, evidence)
           for code, name, points, _u, cap_period, cap, _l, _a, evidence, _r in items()}
    assert got == {("A01", "公益服务", 2, "month", 10, True), ("A02", "公益服务", 10, "none", None, False),
                   ("B01", "不良行为", -5, "none", None, False), ("B02", "不良行为", -20, "none", None, False)}


def test_xlsx_cells_that_cannot_be_used(app, en, village):
    rows = [FILE_HEADERS,
            [1, "公益服务", "加分", "A01", "事项", 1.5],
            [2, "公益服务", "加分", "A02", "事项", 99999999999],
            [3, "公益服务", "加分", "A03", "事项", "=1+1"],
            [4, "公益服务", "加分", "A04", "事项", 0]]
    body = upload(en, make_xlsx(rows, title=None), "细则.xlsx").get_data(as_text=True)
    assert problems_of(body) == {("2", "分值"), ("3", "分值"), ("4", "分值"), ("5", "分值")}
    assert "The cell holds a formula (=1+1)." in body
    assert "99999999999 is out of range" in body and "0 is out of range" in body
    assert count(PointItem) == 0


def test_csv_with_bom_imports(app, en, village):
    rows = [FILE_HEADERS[1:], ["公益服务", "加分", "A01", "参加清洁日", "+2分", "", "每年", "24", "", "家庭", "是",
                               "第五条"],
            ["不良行为", "", "B01", "乱倒垃圾", "-5分"]]
    data = csv_bytes(rows)
    assert data.startswith(b"\xef\xbb\xbf")
    html = upload(en, data, "items.CSV").get_data(as_text=True)
    assert "1 items that add points and 1 that deduct points, in 2 categories" in html, html
    assert confirm(en, html).status_code == 302
    assert items() == {("A01", "公益服务", 2, "per_event", "year", 24, "village", "household", True, "第五条"),
                       ("B01", "不良行为", -5, "per_event", "none", None, "village", "person", False, None)}


def test_unreadable_or_wrong_uploads_are_a_400_with_a_message(app, en, village):
    r = upload(en, b"PK\x03\x04 not really", "细则.xlsx")
    assert r.status_code == 400 and "could not be read" in r.get_data(as_text=True) or \
        "not an Excel workbook" in r.get_data(as_text=True)
    r = upload(en, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "细则.xls")
    assert r.status_code == 400 and "Choose an Excel workbook (.xlsx), a CSV file" in r.get_data(as_text=True)
    r = upload(en, b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100, "细则.xlsx")
    assert r.status_code == 400 and "Excel 97" in r.get_data(as_text=True)
    r = upload(en, "类别,编号\n".encode() + b"\x00\x01\x02", "细则.csv")
    assert r.status_code == 400 and "could not be read as text" in r.get_data(as_text=True)
    r = upload(en, csv_bytes([["名称", "说明"], ["a", "b"]]), "细则.csv")
    assert r.status_code == 200 and "No header row was found" in r.get_data(as_text=True)
    r = en.post("/points/items/import", data={"text": "  ", "submit": "1"})
    assert r.status_code == 400
    assert "Paste the items into the box, or choose a file." in r.get_data(as_text=True)
    assert count(PointItem) == 0 and stored_files(app) == []


def test_who_may_import(app, client, auth, village, make_user):
    make_user("rev1", ("reviewer", village))
    make_user("clerk1", ("clerk", village))
    auth.login("rev1")
    assert client.get("/points/items/import").status_code == 403
    assert paste(client, GOOD_PASTE).status_code == 403
    assert client.post("/points/items/import/confirm", data={}).status_code == 403
    auth.logout()
    auth.login("clerk1")
    assert client.get("/points/items/import").status_code == 200
    assert count(PointItem) == 0


def test_the_scheme_page_links_to_the_import(en, village, scheme):
    assert "/points/items/import" in en.get("/points/scheme").get_data(as_text=True)


# --- the parser -----------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["١٢٣", "𝟗", "1_000", "1e3", "1.5", "99999999999", "0", "①", "5-", "+-5",
                                 "扣-5", "２.５", "5分/年", "9" * 5000, "五分"])
def test_hostile_numbers_are_problems(app, english, village, raw):
    result = imp.check_items(village, f"公益服务\t加分\tA01\t事项\t{raw}\n", "text")
    assert not result.ok and result.items == []
    assert [(p.row, p.column) for p in result.problems] == [(1, "分值")], [p.text for p in result.problems]


@pytest.mark.parametrize("raw,direction,points,unit", [
    ("+2分", "", 2, "per_event"), ("-5分", "", -5, "per_event"), ("2分/次", "加分", 2, "per_event"),
    ("扣5分", "扣分", -5, "per_event"), ("扣 5 分", "", -5, "per_event"), ("５", "加分", 5, "per_event"),
    ("−５", "", -5, "per_event"), ("－５", "扣分", -5, "per_event"), (" 3 ", "add", 3, "per_event"),
    ("5", "扣分", -5, "per_event"), ("每月2分", "加分", 2, "per_month"), ("3分／季度", "加", 3, "per_quarter"),
    ("1000", "加分", 1000, "per_event"), ("007", "加分", 7, "per_event"), ("2分/人次", "加分", 2, "per_event"),
    ("-2/户", "", -2, "per_event"), ("每次加2分", "", 2, "per_event"), ("＋5", "", 5, "per_event"),
])
def test_messy_but_plain_points_are_read(app, english, village, raw, direction, points, unit):
    result = imp.check_items(village, f"类别一\t{direction}\tA01\t事项\t{raw}\n", "text")
    assert result.ok, [p.text for p in result.problems]
    assert (result.items[0].data.points, result.items[0].data.unit) == (points, unit)


def test_paste_shape_problems(app, english, village):
    result = imp.check_items(village, "公益服务\t加分\tA01\n"
                                      "公益服务|加分|A02|事项|2|每次|无||村级|个人|否|第五条|另记|组|多余\n"
                                      "\t加分\tA03\t事项\t2\n", "text")
    got = [(p.row, p.column) for p in result.problems]
    assert got == [(1, None), (2, None)], [p.text for p in result.problems]
    assert "too few cells (3)" in result.problems[0].text
    assert "15 cells, more than the 14 columns" in result.problems[1].text
    # no category anywhere: the item goes to one named after its direction
    assert [(i.data.code, i.category) for i in result.items] == [("A03", "加分项")]
    header_extra = imp.check_items(village, "类别\t加扣\t编号\t内容\t分值\n公益服务\t加分\tA01\t事项\t2\t每月\n", "text")
    assert [(p.row, p.column) for p in header_extra.problems] == [(2, None)]
    assert "the header line names only 5" in header_extra.problems[0].text
    assert imp.check_items(village, "\n  \n", "text").problems[0].text == "There are no items to import."


def test_header_line_may_reorder_and_skip_columns(app, english, village):
    text = ("| 编号 | 内容 | 分值 | 类别 |\n|---|---|---|---|\n| A01 | 参加清洁日 | +2 | 公益服务 |\n"
            "| B01 | 乱倒垃圾 | -2 | 不良行为 |\n")
    result = imp.check_items(village, text, "text")
    assert result.ok, [p.text for p in result.problems]
    assert [(i.data.code, i.category, i.data.points) for i in result.items] == [
        ("A01", "公益服务", 2), ("B01", "不良行为", -2)]


def test_too_many_items(app, english, village):
    lines = "\n".join(f"公益服务\t加分\tA{i}\t事项\t1" for i in range(imp.MAX_ITEMS + 5))
    result = imp.check_items(village, lines, "text")
    assert any("At most 2000 items" in p.text for p in result.problems) and not result.ok


# --- the command line ------------------------------------------------------------------------------


def test_cli_dry_run_then_import(app, runner, village, tmp_path):
    path = tmp_path / "细则.txt"
    path.write_text(GOOD_PASTE, encoding="utf-8")
    r = runner.invoke(args=["points", "import-items", str(path), "--village", "v1", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "found 3 add items and 2 deduct items in 3 categories" in r.output
    assert "dry run: nothing written" in r.output and "积分细则" in r.output
    assert count(PointScheme) == 0 and count(PointItem) == 0
    r = runner.invoke(args=["points", "import-items", str(path), "--village", "v1"])
    assert r.exit_code == 0, r.output
    assert "found 3 add items and 2 deduct items in 3 categories" in r.output and "imported" in r.output
    assert items() == GOOD_ITEMS
    assert db.session.scalar(sa.select(sa.func.count(AuditLog.id)).where(
        AuditLog.action == "points.items_import", AuditLog.actor_name == "cli")) == 1
    # the same file again: every item is already there
    r = runner.invoke(args=["points", "import-items", str(path), "--village", "v1"])
    assert r.exit_code == 1 and "file: " in r.output and "1 problem(s)" in r.output
    assert count(PointItem) == 5


def test_cli_xlsx_and_gb18030_csv(app, runner, village, tmp_path):
    xlsx = tmp_path / "a.xlsx"
    xlsx.write_bytes(make_xlsx([FILE_HEADERS, [1, "公益服务", "加分", "A01", "参加清洁日", 2]]))
    r = runner.invoke(args=["points", "import-items", str(xlsx), "--village", "v1"])
    assert r.exit_code == 0 and "found 1 add items and 0 deduct items in 1 categories" in r.output, r.output
    gb = tmp_path / "b.csv"
    gb.write_bytes(csv_bytes([FILE_HEADERS[1:], ["不良行为", "扣分", "B01", "乱倒垃圾", "扣5分"]],
                             encoding="gb18030"))
    r = runner.invoke(args=["points", "import-items", str(gb), "--village", "v1"])
    assert r.exit_code == 0 and "found 0 add items and 1 deduct items" in r.output, r.output
    assert {(c, n, p) for c, n, p, *_ in items()} == {("A01", "公益服务", 2), ("B01", "不良行为", -5)}


def test_cli_bad_file_exits_1_with_every_problem(app, runner, village, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_bytes(csv_bytes(bad_rows()))
    with force_locale("en"):
        r = runner.invoke(args=["points", "import-items", str(path), "--village", "v1"])
    assert r.exit_code == 1
    lines = [line for line in r.output.splitlines() if line.startswith("row ")]
    assert {tuple(re.match(r"row (\d+), (\S+):", line).groups()) for line in lines} == BAD_PROBLEMS
    assert "row 3, 编号: Item code A01 also appears in row 2." in r.output
    assert "15 problem(s): nothing written" in r.output
    assert count(PointScheme) == 0 and count(PointItem) == 0
    # the Chinese catalog is the command line's default language
    r = runner.invoke(args=["points", "import-items", str(path), "--village", "v1", "--dry-run"])
    assert r.exit_code == 1 and "row 3, 编号:" in r.output and "Item code" not in r.output


def test_cli_refuses_unknown_village_and_file_type(app, runner, village, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("公益服务\t加分\tA01\t事项\t2\n", encoding="utf-8")
    r = runner.invoke(args=["points", "import-items", str(path), "--village", "nowhere"])
    assert r.exit_code == 1 and "nowhere" in r.output
    other = tmp_path / "a.doc"
    other.write_bytes(b"x")
    assert runner.invoke(args=["points", "import-items", str(other), "--village", "v1"]).exit_code == 1
    assert count(PointItem) == 0


def test_pages_are_chinese_by_default(app, clerk_client, village):
    page = clerk_client.get("/points/items/import").get_data(as_text=True)
    assert "导入积分项目" in page and "Import items" not in page
    body = paste(clerk_client, "公益服务\t加分\tA01\t事项\t1e3\n").get_data(as_text=True)
    assert "不是有效的分值" in body and "is not a number of points" not in body
    body = paste(clerk_client, GOOD_PASTE).get_data(as_text=True)
    assert "没有发现问题" in body and "积分细则" in body


def test_cancel_deletes_the_checked_items(app, en):
    html = paste(en, GOOD_PASTE).get_data(as_text=True)
    assert len(stored_files(app)) == 2 and 'id="import-cancel"' in html
    r = en.post("/points/items/import/confirm", data={"token": hidden(html, "token"),
                                                      "digest": hidden(html, "digest"), "cancel": "1"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/points/items/import")
    assert stored_files(app) == [] and count(PointItem) == 0
    assert "Import cancelled; the checked items were deleted." in en.get("/points/items/import").get_data(as_text=True)
    assert confirm(en, html).status_code == 400 and count(PointItem) == 0
