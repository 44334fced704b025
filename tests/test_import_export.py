"""Excel import (dry run, confirmed all-or-nothing import) and masked, injection-safe export.

Messages are asserted in English (the client switches with /lang/en first); column headers and row
numbers are Chinese data / numbers and are asserted as they are.
"""
from __future__ import annotations

import datetime as dt
import html as html_lib
import io
import json
import os
import re
import time
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from openpyxl import Workbook, load_workbook

from app.audit.models import AuditLog
from app.extensions import db
from app.registry.import_check import apply_import, check_workbook
from app.registry.import_format import COLUMNS, SHEET_NAME
from app.tabular import ImportFileError, excel_safe
from app.registry.models import Household, Person, VillagerGroup
from app.submission import write_transaction
from tests.conftest import FreshContextClient, ID_RE, valid_id

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# --- helpers --------------------------------------------------------------------------------------




@pytest.fixture
def client(app):
    """Overrides conftest's client here (auth and clerk_client use it too)."""
    app.test_client_class = FreshContextClient
    return app.test_client()


def make_xlsx(rows, *, headers=COLUMNS, sheet: str = SHEET_NAME) -> bytes:
    """A workbook with the template's headers and the given rows (None = empty cell)."""
    wb = Workbook()
    ws = wb.active
    ws.title = sheet
    ws.append(list(headers))
    for r, row in enumerate(rows, start=2):
        for c, value in enumerate(row, start=1):
            if value is not None:
                ws.cell(row=r, column=c, value=value)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def row(number, name, relation, *, group=None, address=None, tags=None, sex=None, birth=None, id_number=None,
        phone=None):
    return [number, group, address, tags, name, relation, sex, birth, id_number, phone]


def good_rows():
    """3 households, 7 people, two groups, tags, dates as text and as date cells."""
    return [
        row("001", "张三丰", "户主", group="一组", address="一组 1 号", tags="低保户、党员户", sex="男",
            id_number=valid_id(1, "19600101"), phone="13800138000"),
        row("001", "李秀英", "配偶", sex="女", birth="1962-03-04", id_number=valid_id(2, "19620304")),
        row("001", "张小明", "子女", birth=dt.datetime(1990, 5, 6)),
        row("002", "王五", "户主", group="二组", id_number=valid_id(3, "19700707")),
        row("002", "王六", "子女", id_number=valid_id(4, "19950101")),
        row("003", "赵大", "户主", group="一组", tags="五保户"),
        row("003", "赵二", "兄弟姐妹", sex="男"),
    ]


def upload(client, data: bytes, name: str = "户籍.xlsx", **fields):
    """POST a file to the dry run; the body is encoded in memory (the test client would spool bodies
    over 500 KB to a temporary file that it never closes, a ResourceWarning under -W error)."""
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(data), filename=name), **fields})
    return client.post("/registry/import", data=body,
                       content_type=f"multipart/form-data; boundary={boundary}")


def hidden(html: str, name: str) -> str:
    m = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
        rf'value="([^"]*)"[^>]*name="{name}"', html)
    assert m, f"no hidden field {name}"
    return m.group(1)


def csrf_token(html: str) -> str:
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    return m.group(1) if m else ""


def csrf_login(client, username: str = "clerk1") -> None:
    """Log in, also with CSRF protection on (the real configuration)."""
    page = client.get("/login").get_data(as_text=True)
    r = client.post("/login", data={"username": username, "password": "pw-12345678",
                                    "csrf_token": csrf_token(page)})
    assert r.status_code == 302


def confirm(client, html: str, **extra):
    """Post the confirmation form found in a clean report page."""
    return client.post("/registry/import/confirm",
                       data={"token": hidden(html, "token"), "digest": hidden(html, "digest"), **extra})


def count(model) -> int:
    db.session.rollback()  # end the test's own read transaction: see what the requests committed
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def audit_actions(action: str) -> list[AuditLog]:
    db.session.rollback()
    return list(db.session.scalars(sa.select(AuditLog).where(AuditLog.action == action)))


def stored_files(app) -> list[Path]:
    folder = Path(app.instance_path) / "imports"
    return sorted(folder.iterdir()) if folder.exists() else []


@pytest.fixture
def groups(app, village):
    from app.registry.services import create_group

    with write_transaction():
        create_group(village, "一组")
        create_group(village, "二组")



@pytest.fixture
def en(clerk_client):
    """The clerk's client with English chosen, so messages are their msgids."""
    clerk_client.get("/lang/en")
    return clerk_client


# --- template ----------------------------------------------------------------------------------


def test_template_has_chinese_headers_text_columns_and_help_sheet(en, groups):
    r = en.get("/registry/import/template.xlsx")
    assert r.status_code == 200
    assert r.mimetype == XLSX
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith("attachment") and "filename*=UTF-8''" in disposition
    wb = load_workbook(io.BytesIO(r.data))
    assert wb.sheetnames == ["户籍导入", "说明"]
    ws = wb["户籍导入"]
    assert [c.value for c in ws[1]] == list(COLUMNS)
    for col in ("A", "I", "J"):  # 户号, 身份证号, 联系电话
        assert ws[f"{col}2"].number_format == "@"
        assert ws[f"{col}2001"].number_format == "@"
    help_text = " ".join(str(c.value) for row_ in wb["说明"].iter_rows() for c in row_ if c.value)
    for word in ("户主", "配偶", "女婿儿媳", "低保户", "党员户", "男", "2026-01-31", "一组", "二组"):
        assert word in help_text


def test_the_template_itself_imports_once_filled_in(app, village, groups):
    """Rows typed into the downloaded template (text-formatted cells) pass the dry run."""
    from app.registry.export import template_workbook

    wb = load_workbook(io.BytesIO(template_workbook(village)))
    ws = wb[SHEET_NAME]
    for c, value in enumerate(row("101", "钱一", "户主", group="一组", id_number=valid_id(7)), start=1):
        if value is not None:
            ws.cell(row=2, column=c, value=value)
    buf = io.BytesIO()
    wb.save(buf)
    result = check_workbook(village, buf.getvalue())
    assert result.ok, [(p.row, p.column, p.text) for p in result.problems]
    assert result.people_count == 1


# --- a good file ---------------------------------------------------------------------------------


def test_good_file_dry_run_writes_nothing_then_confirm_imports_everything(app, en, village, groups):
    before_households, before_people, before_audit = count(Household), count(Person), count(AuditLog)
    r = upload(en, make_xlsx(good_rows()))
    html = r.get_data(as_text=True)
    assert r.status_code == 200, html
    assert "3 households with 7 people" in html
    assert "Confirm import" in html
    assert (count(Household), count(Person), count(AuditLog)) == (before_households, before_people,
                                                                  before_audit)
    # the checked file is kept under a generated name, never the user's
    files = stored_files(app)
    assert len(files) == 2 and all(re.fullmatch(r"[A-Za-z0-9_-]{43}\.(xlsx|json)", f.name) for f in files)
    assert "户籍" not in " ".join(f.name for f in files)

    r = confirm(en, html)
    assert r.status_code == 302, r.get_data(as_text=True)
    assert r.headers["Location"].endswith("/registry/households")
    assert count(Household) == 3 and count(Person) == 7
    assert stored_files(app) == []  # deleted after commit

    households = {h.number: h for h in db.session.scalars(sa.select(Household))}
    g1, g2 = (db.session.scalar(sa.select(VillagerGroup).where(VillagerGroup.name == n))
              for n in ("一组", "二组"))
    assert households["001"].head.name == "张三丰" and households["001"].head.relation == "head"
    assert households["002"].head.name == "王五" and households["003"].head.name == "赵大"
    assert households["001"].group_id == g1.id and households["002"].group_id == g2.id
    assert households["003"].group_id == g1.id
    assert households["001"].tag_list == ["dibao", "party_member"]
    assert households["001"].address == "一组 1 号"
    people = {p.name: p for p in db.session.scalars(sa.select(Person))}
    assert people["李秀英"].relation == "spouse" and people["李秀英"].birth_date == dt.date(1962, 3, 4)
    assert people["张小明"].birth_date == dt.date(1990, 5, 6)
    assert people["王六"].birth_date == dt.date(1995, 1, 1)  # taken from the ID number
    assert people["王六"].sex in ("male", "female")
    assert people["张三丰"].phone == "13800138000"
    assert people["赵二"].relation == "sibling"

    # IDs are masked on the household page; the full number is nowhere
    page = en.get(f"/registry/households/{households['001'].id}").get_data(as_text=True)
    assert people["张三丰"].id_masked in page
    assert valid_id(1, "19600101") not in page and not ID_RE.search(page)

    imports = audit_actions("registry.import")
    assert len(imports) == 1
    assert '"households": 3' in imports[0].details and '"people": 7' in imports[0].details
    assert len(audit_actions("household.create")) == 3
    assert len(audit_actions("person.create")) == 7

    # the same token cannot import twice
    r = confirm(en, html)
    assert r.status_code == 400
    assert count(Household) == 3


def test_service_api_without_http(app, village, groups):
    """check_workbook / apply_import work from a script or CLI (no request context)."""
    data = make_xlsx(good_rows())
    result = check_workbook(village, io.BytesIO(data))
    assert result.ok and len(result.households) == 3 and result.people_count == 7 and result.rows == 7
    with write_transaction():
        result = check_workbook(village, data)
        summary = apply_import(village, result)
    assert (summary.households, summary.people) == (3, 7)
    assert count(Household) == 3 and count(Person) == 7
    assert check_workbook(village, data).problems  # numbers and IDs now exist


def test_import_audits_every_household_and_person_once_and_the_chain_verifies(app, en, village, groups,
                                                                            make_household):
    """One household.create per household and one person.create per person, in the order the per-row
    verbs write them, with the clerk and the request on every row; the hash chain stays intact."""
    from app.audit.services import verify
    from app.registry.models import HouseholdEvent

    make_household(village, "900", head="先登记")  # the import's rows continue an existing chain
    r = confirm(en, upload(en, make_xlsx(good_rows())).get_data(as_text=True))
    assert r.status_code == 302

    db.session.rollback()
    households = list(db.session.scalars(sa.select(Household).where(Household.number != "900")
                                         .order_by(Household.id)))
    people = list(db.session.scalars(sa.select(Person).where(
        Person.household_id.in_([h.id for h in households])).order_by(Person.id)))
    first_seq = db.session.scalar(sa.select(sa.func.min(AuditLog.seq)).where(
        AuditLog.object_id == households[0].id, AuditLog.action == "household.create"))
    rows = list(db.session.scalars(
        sa.select(AuditLog).where(AuditLog.seq >= first_seq).order_by(AuditLog.seq)))
    assert [r.action for r in rows] == (["household.create"] + ["person.create"] * 3 + ["household.create"]
                                        + ["person.create"] * 2 + ["household.create"] + ["person.create"] * 2
                                        + ["registry.import"])
    expected = []
    for h in households:
        expected.append(("household.create", "households", h.id, h.id, {"number": h.number,
                                                                        "head_person_id": h.head_id}))
        for p in (p for p in people if p.household_id == h.id):
            # the fields given, by name only: the audit chain holds no names, birth dates, phones or IDs
            given = (("name", p.name), ("relation", p.relation), ("sex", p.sex), ("birth_date", p.birth_date),
                     ("phone", p.phone), ("id_number", p.id_hmac))
            expected.append(("person.create", "people", p.id, h.id, {"changed": [k for k, v in given if v]}))
    assert [(r.action, r.object_type, r.object_id, r.household_id, json.loads(r.details))
            for r in rows[:-1]] == expected
    assert all(r.village_id == village.id and r.actor_name == "clerk1" and r.role == "clerk" for r in rows)
    assert len({r.request_id for r in rows}) == 1 and rows[0].request_id
    assert [h.head.relation for h in households] == ["head"] * 3

    events = list(db.session.scalars(sa.select(HouseholdEvent).where(
        HouseholdEvent.household_id.in_([h.id for h in households])).order_by(HouseholdEvent.id)))
    expected_events = [("created" if p.id == h.head_id else "move_in", p.id)
                       for h in households for p in people if p.household_id == h.id]
    assert [(e.kind, e.person_id) for e in events] == expected_events
    assert events[0].after == {"number": "001", "group": "一组", "address": "一组 1 号",
                               "tags": ["dibao", "party_member"], "status": "active", "head": "张三丰",
                               "note": None}
    assert events[1].after["name"] == "李秀英" and events[1].after["id"] == events[1].person_id

    checked, broken, why = verify()
    assert broken is None, why
    assert checked == db.session.scalar(sa.select(sa.func.count(AuditLog.id)))


def test_bulk_import_writes_what_the_per_row_verbs_write(app, village, groups, make_village):
    """The same file through apply_import and through create_household/add_person gives the same rows."""
    from app.registry.models import HouseholdEvent
    from app.registry.services import add_person, create_group, create_household

    other = make_village("v2", "二号村")
    with write_transaction():
        for name in ("一组", "二组"):
            create_group(other, name)
    data = make_xlsx(good_rows())  # ID numbers are unique per village, so both villages take the file

    with write_transaction():
        apply_import(village, check_workbook(village, data))
    with write_transaction():
        result = check_workbook(other, data)
        other_groups = {g.id: g for g in db.session.scalars(sa.select(VillagerGroup).where(
            VillagerGroup.village_id == other.id))}
        for plan in result.households:
            h = create_household(other, plan.number, plan.head.data, group=other_groups.get(plan.group_id),
                                 address=plan.address, tags=plan.tags)
            for m in plan.members:
                add_person(h, m.data)

    def snapshot(v):
        hh = {h.id: h.number
              for h in db.session.scalars(sa.select(Household).where(Household.village_id == v.id))}
        pp = {p.id: (hh[p.household_id], p.name) for p in db.session.scalars(
            sa.select(Person).where(Person.village_id == v.id))}
        households = [(h.number, h.group.name if h.group else None, h.address, h.tags, h.status, h.note,
                       pp[h.head_id]) for h in db.session.scalars(
            sa.select(Household).where(Household.village_id == v.id).order_by(Household.id))]
        people = [(hh[p.household_id], p.name, p.search_keys, p.sex, p.birth_date, p.relation, p.phone,
                   p.id_hmac, p.id_masked, p.status) for p in db.session.scalars(
            sa.select(Person).where(Person.village_id == v.id).order_by(Person.id))]
        events = [(hh[e.household_id], e.kind, pp[e.person_id], e.effective_date, e.before,
                   {k: v_ for k, v_ in (e.after or {}).items() if k not in ("id", "household_id")}, e.note,
                   e.actor_id) for e in db.session.scalars(
            sa.select(HouseholdEvent).where(HouseholdEvent.village_id == v.id).order_by(HouseholdEvent.id))]
        audit = [(a.action, a.object_type, a.actor_name, a.role,
                  {k: v_ for k, v_ in json.loads(a.details).items() if k != "head_person_id"})
                 for a in db.session.scalars(sa.select(AuditLog).where(
                     AuditLog.village_id == v.id, AuditLog.action.in_(("household.create", "person.create")))
                     .order_by(AuditLog.seq))]
        return households, people, events, audit

    assert snapshot(village) == snapshot(other)
    assert len(snapshot(village)[3]) == 10


def test_dry_run_preloads_instead_of_querying_per_row(app, village, groups):
    """The dry run queries the register a fixed number of times, however long the file is."""
    rows = []
    for i in range(200):
        rows.append(row(f"A{i:03d}", f"户主{i}", "户主", group="一组", id_number=valid_id(i, "19700101")))
        rows.append(row(f"A{i:03d}", f"子女{i}", "子女", id_number=valid_id(i, "20000101")))
    data = make_xlsx(rows)
    statements = []

    def count_statement(*args):
        if args[2].lstrip().upper().startswith("SELECT"):
            statements.append(args[2])

    assert village.id  # loaded before counting

    sa.event.listen(db.engine, "before_cursor_execute", count_statement)
    try:
        result = check_workbook(village, data)
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count_statement)
    assert result.ok and result.people_count == 400
    assert len(statements) == 3, statements  # groups, household numbers, registered ID hashes


def test_empty_rows_are_skipped_and_households_need_not_be_contiguous(app, village, groups):
    rows = [row("1", "甲", "户主"), [None] * 10, row("2", "乙", "户主"), ["  ", None, "", None, None, None, None,
                                                                          None, None, None],
            row("1", "丙", "配偶"), row(1, "丁", "子女")]  # 户号 typed as the number 1
    result = check_workbook(village, make_xlsx(rows))
    assert result.ok, [(p.row, p.column, p.text) for p in result.problems]
    assert [(h.number, len(h.people)) for h in result.households] == [("1", 3), ("2", 1)]
    assert result.rows == 4


# --- a bad file ------------------------------------------------------------------------------------


def test_bad_file_lists_every_problem_and_nothing_is_written(app, en, village, groups, make_household):
    make_household(village, "900", head="老户主", id_number=valid_id(50))
    households_before, people_before = count(Household), count(Person)
    good = valid_id(10)
    bad_check = valid_id(11)[:17] + ("0" if valid_id(11)[17] != "0" else "1")
    rows = [
        row("001", "甲一", "户主", group="一组", id_number=good),  # 2
        row("001", "甲二", "配偶", id_number=good),  # 3 duplicate ID within the file
        row("001", "甲三", "子女", id_number=4.40305198001010e17),  # 4 numeric ID cell
        row("001", "甲四", "子女", id_number=bad_check),  # 5 bad check digit
        row("002", "乙一", "配偶", group="三组"),  # 6 unknown group, and household 002 has no head
        row("003", "丙一", "户主"),  # 7
        row("003", "丙二", "户主"),  # 8 a second head
        row("004", None, "户主"),  # 9 missing name
        row("005", "戊一", "表哥"),  # 10 unknown relation (and so no "no head" noise for 005)
        row("006", "己一", "户主", sex="未知", birth="1990-13-45", phone="call me"),  # 11
        row("900", "庚一", "户主"),  # 12 number already registered
        row("007", "辛一", "户主", id_number=valid_id(50)),  # 13 ID registered in the village
        row("008", "壬\u202e一", "户主", address="x" * 201, tags="低保户、土豪"),  # 14
        row("009", "癸一", "户主", id_number="12345"),  # 15 bad length
        row(None, "无户号", "户主"),  # 16
    ]
    r = upload(en, make_xlsx(rows))
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Nothing was imported" in html and "Confirm import" not in html

    # (row, column) → message pieces
    expected = [
        (3, "身份证号", "This ID number also appears in row 2."),
        (4, "身份证号", "The ID number was typed as a number"),
        (4, "身份证号", "Format the 身份证号 column as text"),
        (5, "身份证号", "The check digit (last character) of the ID number is wrong."),
        (6, "村民小组", "This village has no villager group named 三组. Existing groups: 一组、二组."),
        (6, "与户主关系", "Household 002 has no head"),
        (8, "与户主关系", "Household 003 has more than one head (rows 7、8)"),
        (9, "姓名", "The name is missing."),
        (10, "与户主关系", "Unknown relation 表哥."),
        (11, "性别", "Unknown sex 未知."),
        (11, "出生日期", "1990-13-45 is not a date."),
        (11, "联系电话", "Please enter a phone number of digits only"),
        (12, "户号", "Household number 900 is already in use in this village."),
        (13, "身份证号", "This ID number is already registered in this village for 老户主 (household 900)."),
        (14, "姓名", "Contains a text-direction control character"),
        (14, "地址", "Too long: at most 200 characters are allowed, this has 201."),
        (14, "户标签", "Unknown tag 土豪."),
        (15, "身份证号", "An ID number has 18 characters; this one has 5."),
        (16, "户号", "The household number (户号) is empty."),
    ]
    table = re.search(r'<table class="problems" id="import-problems">(.*?)</table>', html, re.S).group(1)
    cells = [tuple(re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S))
             for tr in re.findall(r"<tr>(.*?)</tr>", table, re.S)]
    cells = [tuple(html_lib.unescape(c) for c in cs) for cs in cells if cs]
    for rowno, column, text in expected:
        assert any(c[0] == str(rowno) and c[1] == column and text in c[2] for c in cells), \
            (rowno, column, text)
    assert not any("Household 005 has no head" in c[2] for c in cells)
    assert f"The file has {len(cells)} problems" in html

    # nothing was written or kept
    assert (count(Household), count(Person)) == (households_before, people_before)
    assert stored_files(app) == []
    assert audit_actions("registry.import") == []


def test_forged_or_wrong_tokens_import_nothing(app, en, village, groups, make_user):
    r = upload(en, make_xlsx(good_rows()))
    html = r.get_data(as_text=True)
    token, digest = hidden(html, "token"), hidden(html, "digest")
    forged = [
        {"token": "A" * 43, "digest": digest},  # well-formed, never issued
        {"token": "../../etc/passwd", "digest": digest},  # a path
        {"token": token, "digest": "0" * 64},  # a different file
        {"token": token},  # no digest
        {},
    ]
    for data in forged:
        r = en.post("/registry/import/confirm", data=data)
        assert r.status_code == 400, data
        assert "This checked file is no longer available" in r.get_data(as_text=True)
    assert count(Household) == 0 and count(Person) == 0

    # a file checked by one clerk cannot be confirmed by another
    make_user("clerk2", ("clerk", village))
    en.post("/logout")
    en.post("/login", data={"username": "clerk2", "password": "pw-12345678"})
    en.get("/lang/en")
    r = en.post("/registry/import/confirm", data={"token": token, "digest": digest})
    assert r.status_code == 400
    assert count(Household) == 0


def test_confirm_rechecks_the_register(app, en, village, groups, make_household):
    """A household registered between the check and the confirmation stops the whole import."""
    r = upload(en, make_xlsx(good_rows()))
    html = r.get_data(as_text=True)
    make_household(village, "002", head="抢先登记")
    r = confirm(en, html)
    body = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "Household number 002 is already in use in this village." in body
    assert count(Household) == 1 and count(Person) == 1
    assert stored_files(app) == []


def test_import_is_all_or_nothing(app, en, village, groups, monkeypatch):
    """A failure in the middle of the import rolls everything back."""
    from app.registry import services
    from app.registry.services import RegistryError

    real_record_many = services.record_many

    def failing_record_many(rows):
        real_record_many(rows)  # households, people, history and audit rows are all flushed by now
        raise RegistryError("simulated failure")

    monkeypatch.setattr(services, "record_many", failing_record_many)
    r = upload(en, make_xlsx(good_rows()))
    html = r.get_data(as_text=True)
    r = confirm(en, html)
    assert r.status_code == 200
    assert "simulated failure" in r.get_data(as_text=True)
    assert count(Household) == 0 and count(Person) == 0
    assert audit_actions("registry.import") == [] and audit_actions("household.create") == []


def test_numeric_id_cells_are_reported(app, village, english):
    rows = [row("1", "甲", "户主", id_number=440305198001010017),
            row("1", "乙", "配偶", id_number=4.40305198001010e17),
            row("1", "丙", "子女", phone=13800138000),  # a mobile number survives being a number
            row("1", "丁", "子女", phone=7551234567)]  # a landline lost its leading 0
    result = check_workbook(village, make_xlsx(rows))
    found = {(p.row, p.column) for p in result.problems}
    assert found == {(2, "身份证号"), (3, "身份证号"), (5, "联系电话")}
    assert all("typed as a number" in p.text for p in result.problems)


def test_formula_cell_is_kept_as_literal_text(app, en, village, groups):
    data = make_xlsx([row("1", "户主甲", "户主"), row("1", "=1+2", "子女")])
    cell = load_workbook(io.BytesIO(data))[SHEET_NAME]["E3"]
    assert cell.data_type == "f"  # the test file really holds a formula cell
    r = upload(en, data)
    html = r.get_data(as_text=True)
    r = confirm(en, html)
    assert r.status_code == 302
    assert db.session.scalar(sa.select(Person.name).where(Person.relation == "child")) == "=1+2"


# --- files that are not .xlsx ----------------------------------------------------------------------


@pytest.mark.parametrize("payload, name, message", [
    (b"name,id\nzhang,1\n", "renamed.xlsx", "This file is not an Excel workbook (.xlsx)."),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 600, "old.xlsx", "old Excel 97–2003 file (.xls)"),
    (bytes(range(256)) * 8, "garbage.xlsx", "This file is not an Excel workbook (.xlsx)."),
    (b"PK\x03\x04 truncated", "broken.xlsx", "This file is not an Excel workbook (.xlsx)."),
    (b"", "empty.xlsx", "This file is not an Excel workbook (.xlsx)."),
    (b"\xd0\xcf\x11\xe0", "old.xls", "This file is not an Excel workbook (.xlsx)."),
    (b"hello", "notes.txt", "This file is not an Excel workbook (.xlsx)."),
])
def test_not_an_xlsx_is_a_400_with_a_message(app, en, village, payload, name, message):
    r = upload(en, payload, name)
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert message in html
    assert 'id="file"' in html  # the form is shown again
    assert stored_files(app) == []


def test_zip_that_is_not_a_workbook_and_missing_file(app, en, village):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("hello.txt", "hi")
    r = upload(en, buf.getvalue(), "x.xlsx")
    assert r.status_code == 400 and "This file is not an Excel workbook (.xlsx)." in r.get_data(as_text=True)
    r = en.post("/registry/import", data={}, content_type="multipart/form-data")
    assert r.status_code == 400 and "Please choose the Excel file to check." in r.get_data(as_text=True)
    with pytest.raises(ImportFileError):
        check_workbook(village, b"not a zip")


def test_title_row_above_the_headers_and_another_sheet_first(app, village, english):
    """Registers often carry a title row; the data sheet need not be the first or be named 户籍导入."""
    wb = Workbook()
    notes = wb.active
    notes.title = "封面"
    notes.append(["一号村户籍登记表"])
    ws = wb.create_sheet("Sheet2")
    ws.append(["一号村户籍登记表（2026年）"])
    ws.append(list(COLUMNS))
    ws.append(row("1", "甲", "户主"))
    ws.append(row("1", "乙", "表哥"))
    buf = io.BytesIO()
    wb.save(buf)
    result = check_workbook(village, buf.getvalue())
    assert [(p.row, p.column) for p in result.problems] == [(4, "与户主关系")]


def test_wrong_headers_and_no_rows(app, village, english):
    result = check_workbook(village, make_xlsx([["a", "b"]], headers=["foo", "bar"]))
    assert not result.ok and "column headers of the template" in result.problems[0].text
    result = check_workbook(village, make_xlsx([], headers=[c for c in COLUMNS if c != "与户主关系"]))
    assert [(p.row, p.column) for p in result.problems] == [(1, "与户主关系")]
    result = check_workbook(village, make_xlsx([]))
    assert [p.text for p in result.problems] == ["The file has no rows to import."]


@pytest.mark.parametrize("app_config", [{"MAX_CONTENT_LENGTH": 64 * 1024},
                                        {"MAX_CONTENT_LENGTH": 64 * 1024, "WTF_CSRF_ENABLED": True},
                                        {"MAX_CONTENT_LENGTH": 1024 * 1024}])
def test_oversized_upload_is_a_friendly_413(app, client, clerk, village, app_config):
    """Also with CSRF on, where the size limit trips in the CSRF check before the view runs."""
    csrf_login(client)
    client.get("/lang/en")
    r = upload(client, b"PK\x03\x04" + b"0" * (app_config["MAX_CONTENT_LENGTH"] + 1024))
    html = r.get_data(as_text=True)
    assert r.status_code == 413
    assert "The file is too large" in html and "Split the register into several files" in html
    if app_config["MAX_CONTENT_LENGTH"] == 1024 * 1024:
        assert "at most 1 MB" in html
    assert '<html lang="en"' in html  # the friendly page in the user's language, not a bare error
    assert stored_files(app) == []


def test_a_workbook_over_the_table_limit_is_refused_under_the_field(app, en, village, monkeypatch):
    """The request limit is sized for phone photos; an uploaded table keeps its own, smaller limit."""
    monkeypatch.setattr("app.tabular.files.MAX_UPLOAD_BYTES", 1024 * 1024)
    monkeypatch.setattr("app.registry.io_views.MAX_UPLOAD_BYTES", 1024 * 1024)
    assert app.config["MAX_CONTENT_LENGTH"] > 2 * 1024 * 1024
    r = upload(en, b"PK\x03\x04" + b"0" * (1024 * 1024 + 1024))
    html = r.get_data(as_text=True)
    assert r.status_code == 400
    assert "at most 1 MB can be uploaded" in html and "Split the register into several files" in html
    assert stored_files(app) == []


def test_uploaded_file_names_are_never_used(app, en, village, groups, tmp_path):
    for name in ("../../evil.xlsx", "..\\evil.xlsx", "张三.xlsx", "CON.xlsx"):
        r = upload(en, make_xlsx(good_rows()), name)
        assert r.status_code == 200
    files = stored_files(app)
    assert len(files) == 8
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}\.(xlsx|json)", f.name) for f in files)
    assert not list(tmp_path.glob("evil*")) and not list(Path(app.instance_path).parent.glob("evil*"))


def test_abandoned_checked_files_expire(app, village):
    import os
    import time

    from app.tabular import load_upload, purge_stale_uploads, store_upload

    who = {"purpose": "registry.households", "village_id": village.id, "user_id": 1}
    token, digest = store_upload(app.instance_path, b"data", **who)
    assert load_upload(app.instance_path, token, sha256=digest, **who).data == b"data"
    assert load_upload(app.instance_path, token, sha256=digest, **{**who, "village_id": village.id + 1}) is None
    assert load_upload(app.instance_path, token, sha256=digest, **{**who, "user_id": 2}) is None
    assert load_upload(app.instance_path, token, sha256=digest, **{**who, "purpose": "points.items"}) is None
    assert purge_stale_uploads(app.instance_path) == 0
    old = time.time() - 3 * 3600
    for f in stored_files(app):
        os.utime(f, (old, old))
    assert purge_stale_uploads(app.instance_path) == 2
    assert stored_files(app) == []


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}])
def test_upload_and_confirm_with_csrf_on(app, client, clerk, village, groups, app_config):
    """The real configuration: both forms carry the CSRF token; a POST without it is refused."""
    token = csrf_token
    csrf_login(client)
    page = client.get("/registry/import").get_data(as_text=True)
    assert upload(client, make_xlsx(good_rows())).status_code == 400
    r = upload(client, make_xlsx(good_rows()), csrf_token=token(page))
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="import-confirm"' in html
    r = confirm(client, html, csrf_token=token(html))
    assert r.status_code == 302
    assert count(Household) == 3


# --- export --------------------------------------------------------------------------------------


@pytest.fixture
def hostile_register(app, village, groups, make_household):
    """Households whose free text tries formula injection, with full ID numbers and phones."""
    from app.registry.services import PersonData, add_person

    h = make_household(village, "101", head="=1+2", id_number=valid_id(21), address="@SUM(A1)",
                       tags=["dibao", "party_member"])
    with write_transaction():
        h = db.session.get(Household, h.id)
        h.head.phone = "13812345678"
        add_person(h, PersonData(name="-2+3+cmd|' /C calc'!A0", relation="child", id_number=valid_id(22),
                                 phone="+86 138 0000 0000", birth_date=dt.date(2001, 2, 3)))
        add_person(h, PersonData(name="\t=1", relation="spouse"))
        add_person(h, PersonData(name="\r=1", relation="other"))
        add_person(h, PersonData(name="  =HYPERLINK(\"http://x\")", relation="other"))
        add_person(h, PersonData(name="-50", relation="other"))
    make_household(village, "102", head="普通人", id_number=valid_id(23))
    return h


def _export_cells(data: bytes):
    ws = load_workbook(io.BytesIO(data))[SHEET_NAME]
    return [[c for c in r] for r in ws.iter_rows()]


def test_export_is_masked_and_injection_safe(app, en, village, hostile_register):
    r = en.get("/registry/export.xlsx")
    assert r.status_code == 200
    assert r.mimetype == XLSX
    assert r.headers["Content-Disposition"].startswith("attachment")
    rows = _export_cells(r.data)
    assert [c.value for c in rows[0]] == list(COLUMNS) + ["状态", "户状态"]
    names = [r_[4].value for r_ in rows[1:]]
    assert "'=1+2" in names
    assert "'-2+3+cmd|' /C calc'!A0" in names
    assert "'\t=1" in names
    assert "'\r=1" in names or "'\n=1" in names  # XML turns a raw CR into LF when read back
    assert "'  =HYPERLINK(\"http://x\")" in names
    assert "'-50" in names  # text that looks like a formula is escaped…
    for r_ in rows[1:]:
        for c in r_:
            if isinstance(c.value, str):
                assert c.data_type == "s"
                assert c.value.lstrip()[:1] not in ("=", "+", "-", "@"), c.value
                assert c.value[:1] not in ("\t", "\r"), c.value
    head = next(r_ for r_ in rows[1:] if r_[4].value == "'=1+2")
    assert head[2].value == "'@SUM(A1)"
    assert head[3].value == "低保户、党员户"
    assert head[5].value == "户主" and head[10].value == "在户" and head[11].value == "正常"
    assert head[9].value == "13812345678"  # a clerk sees the full phone
    child = next(r_ for r_ in rows[1:] if r_[4].value.startswith("'-2+3"))
    assert child[9].value == "'+86 138 0000 0000"
    assert child[7].is_date and child[7].value.date() == dt.date(2001, 2, 3)
    assert child[8].value == db.session.scalar(sa.select(Person.id_masked).where(Person.name.like("-2+3%")))

    # no full ID number anywhere in the file
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        for name in zf.namelist():
            assert not re.search(rb"\d{17}[\dX]", zf.read(name)), name
    for seq in (21, 22, 23):
        assert valid_id(seq).encode() not in r.data

    exports = audit_actions("registry.export")
    assert len(exports) == 1
    assert '"households": 2, "kind": "xlsx", "people": 7' in exports[0].details


def test_excel_safe_keeps_numbers_and_dates():
    assert excel_safe(-50) == -50
    assert excel_safe(1.5) == 1.5
    assert excel_safe(dt.date(2026, 1, 31)) == dt.date(2026, 1, 31)
    assert excel_safe(None) is None
    assert excel_safe("张三") == "张三"
    assert excel_safe("@x") == "'@x" and excel_safe(" +1") == "' +1" and excel_safe("\u3000=1") == "'\u3000=1"
    assert excel_safe("a\x00b\x07") == "ab"


def test_export_masks_phones_for_a_reviewer(app, client, auth, village, hostile_register, make_user):
    make_user("rev1", ("reviewer", village))
    assert auth.login("rev1").status_code == 302
    r = client.get("/registry/export.xlsx")
    assert r.status_code == 200
    rows = _export_cells(r.data)
    head = next(r_ for r_ in rows[1:] if r_[4].value == "'=1+2")
    assert head[9].value == "138****5678"
    assert b"13812345678" not in r.data
    with zipfile.ZipFile(io.BytesIO(r.data)) as zf:
        assert not any(b"13812345678" in zf.read(n) for n in zf.namelist())
    assert '"full_phones": false' in audit_actions("registry.export")[0].details


def test_who_may_import_and_export(app, client, auth, village, make_user):
    make_user("rev1", ("reviewer", village))
    make_user("cash1", ("cashier", village))
    auth.login("rev1")
    assert client.get("/registry/import").status_code == 403
    assert client.get("/registry/import/template.xlsx").status_code == 403
    assert upload(client, make_xlsx([row("1", "甲", "户主")])).status_code == 403
    assert client.get("/registry/export.xlsx").status_code == 200
    auth.logout()
    auth.login("cash1")
    assert client.get("/registry/export.xlsx").status_code == 403
    assert count(Household) == 0


def test_exported_file_is_refused_on_reimport_because_ids_are_masked(app, en, village, hostile_register,
                                                                     english):
    data = en.get("/registry/export.xlsx").data
    result = check_workbook(village, data)
    assert not result.ok
    assert any(p.column == "身份证号" and "masked with *" in p.text for p in result.problems)


# --- what a checked register waits with on disk (issue 13: full ID numbers for two hours and more) ---

SECRET_COLUMN = "银行卡号"
SECRET = "6222020200112233445"


def _holding(app, text: str) -> list[str]:
    """Staged files whose bytes hold `text`, also inside a workbook's compressed parts."""
    found = []
    for path in stored_files(app):
        data = path.read_bytes()
        parts = [data]
        if data[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                parts += [zf.read(n) for n in zf.namelist()]
        if any(text.encode() in part for part in parts):
            found.append(path.name)
    return found


def _with_extras() -> bytes:
    """A clean register with a column nobody imports and a second sheet (notes with another ID number)."""
    wb = load_workbook(io.BytesIO(make_xlsx(good_rows())))
    ws = wb[SHEET_NAME]
    ws.cell(row=1, column=len(COLUMNS) + 1, value=SECRET_COLUMN)
    ws.cell(row=2, column=len(COLUMNS) + 1, value=SECRET)
    wb.create_sheet("备注").append(["张三丰的另一个号码", valid_id(9, "19600101")])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_checked_register_keeps_only_the_columns_the_confirmation_reads(app, en, village, groups):
    html = upload(en, _with_extras()).get_data(as_text=True)
    assert "Nothing has been saved yet" in html
    assert _holding(app, valid_id(1, "19600101"))  # what the confirmation needs …
    assert not _holding(app, SECRET) and not _holding(app, valid_id(9, "19600101"))  # … and nothing else
    r = confirm(en, html)
    assert r.status_code == 302 and count(Household) == 3 and count(Person) == 7
    assert stored_files(app) == []


def test_cancel_deletes_the_checked_file_at_once(app, en, village, groups):
    html = upload(en, make_xlsx(good_rows())).get_data(as_text=True)
    assert 'id="import-cancel"' in html and _holding(app, valid_id(1, "19600101"))
    r = confirm(en, html, cancel="1")
    assert r.status_code == 302 and r.headers["Location"].endswith("/registry/import")
    assert stored_files(app) == [] and count(Household) == 0
    assert "Import cancelled; the checked file was deleted." in en.get("/registry/import").get_data(as_text=True)
    assert confirm(en, html).status_code == 400  # gone: nothing to import any more
    assert count(Household) == 0


def test_only_its_owner_can_cancel_a_checked_file(app, en, village, groups, make_user):
    html = upload(en, make_xlsx(good_rows())).get_data(as_text=True)
    make_user("clerk2", ("clerk", village))
    other_clerk = app.test_client()
    assert other_clerk.post("/login", data={"username": "clerk2", "password": "pw-12345678"}).status_code == 302
    other = other_clerk.post("/registry/import/confirm", data={"token": hidden(html, "token"),
                                                          "digest": hidden(html, "digest"), "cancel": "1"})
    assert other.status_code == 302 and len(stored_files(app)) == 2  # still waiting for its owner
    assert confirm(en, html).status_code == 302 and count(Household) == 3


def _age(app, minutes: int) -> None:
    old = time.time() - minutes * 60
    for path in stored_files(app):
        os.utime(path, (old, old))


def test_a_checked_file_nobody_confirms_is_purged_after_half_an_hour(app, en, village, groups):
    html = upload(en, make_xlsx(good_rows())).get_data(as_text=True)
    _age(app, 29)
    en.get("/registry/import")
    assert len(stored_files(app)) == 2  # not yet
    _age(app, 31)
    en.get("/registry/import")  # any visit of an import page runs the timer
    assert stored_files(app) == [] and not _holding(app, valid_id(1, "19600101"))
    assert confirm(en, html).status_code == 400 and count(Household) == 0


def test_flask_imports_purge_is_the_timer_for_cron(app, en, village, groups, runner):
    upload(en, make_xlsx(good_rows()))
    result = runner.invoke(args=["imports", "purge"])
    assert result.exit_code == 0 and len(stored_files(app)) == 2
    _age(app, 31)
    result = runner.invoke(args=["imports", "purge"])
    assert result.exit_code == 0 and "removed 2 staged files" in result.output
    assert stored_files(app) == []
