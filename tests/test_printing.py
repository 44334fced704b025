"""Printed documents: the posting sheet and the objection reply as PDFs, and the locked URL fetcher.

PDF renders cost about 0.3–1 s each, so only a few tests render; the fetcher and the download
headers are tested without WeasyPrint layout.
"""
from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path
from urllib.parse import unquote

import pytest
from pypdf import PdfReader

from app import printing
from app.db import local_today
from app.extensions import db
from app.points import services as pts
from app.points.models import Objection, PointEntry
from app.registry.services import PersonData, add_person, create_group
from app.submission import write_transaction
from tests.conftest import PASSWORD

PRINTABLES = printing.PRINTABLES_DIR.resolve()
STATIC = printing.STATIC_DIR.resolve()
LONG_TEXT = "组织村民参加农田水利设施冬季维修，清理沟渠淤泥、修补渠道破损处并登记出工情况。" * 9


def pdf_text(data: bytes) -> list[str]:
    """Text of each page, as pypdf extracts it."""
    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def squash(text: str) -> str:
    """Text without whitespace: table cells wrap, extraction puts line breaks inside long strings."""
    return "".join(text.split())


def fonts(data: bytes) -> list[tuple[str, bool]]:
    """(base font name, embedded?) for every font of every page."""
    out = []
    for page in PdfReader(io.BytesIO(data)).pages:
        for ref in page["/Resources"]["/Font"].values():
            font = ref.get_object()
            descendant = font["/DescendantFonts"][0].get_object() if "/DescendantFonts" in font else font
            descriptor = descendant["/FontDescriptor"].get_object()
            embedded = any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))
            out.append((str(font["/BaseFont"]), embedded))
    return out


def login(client, username: str) -> None:
    client.post("/logout")
    r = client.post("/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 302


@pytest.fixture
def posted(make_village, make_user, make_household):
    """A village with entries on posting in two groups and without a group, plus some that are not."""
    today = local_today()
    village = make_village("v1", "乡约示范村")
    clerk = make_user("clerk1", ("clerk", village))
    reviewer = make_user("rev1", ("reviewer", village))
    make_user("cash1", ("cashier", village))
    with write_transaction():
        g1, g2 = create_group(village, "1组"), create_group(village, "2组")
    h1 = make_household(village, "0101", "张三丰", group=g1)
    h2 = make_household(village, "0102", "李四", group=g1)
    h3 = make_household(village, "0201", "王五", group=g2)
    h4 = make_household(village, "0901", "赵六")
    with write_transaction():
        child = add_person(h1, PersonData(name="张小丰", relation="child"))
        scheme = pts.create_scheme(village, "积分管理办法")
        add = pts.create_category(scheme, "热心公益", "add")
        ded = pts.create_category(scheme, "综合扣分", "deduct")
        clean = pts.create_item(add, pts.ItemData(code="A01", text="参加村庄清洁日", points=2,
                                                  article_ref="村规民约第五条"))
        water = pts.create_item(add, pts.ItemData(code="A02", text=LONG_TEXT, points=3))
        yard = pts.create_item(add, pts.ItemData(code="A03", text="美丽庭院评比", points=10, applies_to="household"))
        burn = pts.create_item(ded, pts.ItemData(code="D01", text="焚烧秸秆", points=-8))
        help_ = pts.create_item(add, pts.ItemData(code="A04", text="帮扶独居老人", points=5))

        def post(item, household, person=None, day=today):
            e = pts.record_entry(scheme, item, household, person=person, occurred_on=min(day, today), actor=clerk,
                                 today=today)
            return pts.approve(e, reviewer, today=day)

        on_posting = [post(clean, h1, child), post(water, h1), post(clean, h2), post(water, h2), post(burn, h3),
                      post(water, h4)]
        post(yard, h2, day=today - dt.timedelta(days=30))  # its posting is over: not on the sheet
        pts.record_entry(scheme, help_, h3, occurred_on=today, actor=clerk, today=today)  # pending: not posted
    return type("Posted", (), dict(village=village, entries=on_posting, households=(h1, h2, h3, h4),
                                   clean=clean, today=today))


def test_posting_sheet_lists_every_posted_entry_with_masked_names(client, posted):
    login(client, "rev1")
    r = client.get("/points/posting.pdf")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.mimetype == "application/pdf" and r.data.startswith(b"%PDF-")
    assert r.headers["Cache-Control"] == "no-store"
    disposition = r.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="points-posting-') and "filename*=UTF-8''" in disposition
    assert "乡约示范村" in unquote(disposition.split("filename*=UTF-8''")[1])

    pages = pdf_text(r.data)
    text = squash("\n".join(pages))
    n = len(pages)
    assert n >= 2  # the long items push the table onto a second page
    assert "乡约示范村积分公示" in text
    for i, page in enumerate(pages, start=1):
        assert f"第{i}页/共{n}页" in squash(page)
        assert "户号" in page and "积分项目" in page  # the table head repeats on every page
    for e in posted.entries:
        assert e.household.number in text
        assert squash(e.item_text) in text
    for points in ("+2", "+3", "−8"):
        assert points in text
    assert "美丽庭院评比" not in text and "帮扶独居老人" not in text  # posting over / still pending
    # villager groups in order, then the households without one
    assert text.index("1组") < text.index("0101") < text.index("0102") < text.index("2组") < text.index("0201") \
        < text.index("未分组") < text.index("0901")
    # masked names only
    for masked in ("张*丰", "李*", "王*", "赵*"):
        assert masked in text
    for full in ("张三丰", "张小丰", "李四", "王五", "赵六"):
        assert full not in text
    deadline = posted.today + dt.timedelta(days=6)
    assert f"请于{deadline.year}年{deadline.month}月{deadline.day}日（含当日）前" in text
    assert "村民委员会（盖章）" in text

    found = fonts(r.data)
    assert found, "no font in the PDF"
    assert all("Noto" in name and "CJK" in name and embedded for name, embedded in found), found


def test_posting_sheet_needs_points_view_and_something_on_posting(client, make_village, make_user, posted):
    login(client, "cash1")
    assert client.get("/points/posting.pdf").status_code == 403
    client.post("/logout")
    r = client.get("/points/posting.pdf")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    other = make_village("v2", "二号村")
    make_user("rev2", ("reviewer", other))
    login(client, "rev2")
    r = client.get("/points/posting.pdf")  # nothing on posting in v2: back to the list, no empty sheet
    assert r.status_code == 302 and r.headers["Location"].endswith("/points/posting")


def test_objection_reply_pdf(client, posted):
    entry = posted.entries[0]
    with write_transaction():
        obj = pts.file_objection(db.session.get(PointEntry, entry.id), reason="他只去了半天，\n下午才到。",
                                 objector_name="王小五", channel="written", today=posted.today)
    login(client, "rev1")
    url = f"/points/objections/{obj.id}/reply.pdf"
    assert client.get(url).status_code == 404  # not decided yet
    assert client.get("/points/objections/999999/reply.pdf").status_code == 404
    with write_transaction():
        reviewer = db.session.get(PointEntry, entry.id).reviewed_by
        pts.decide_objection(db.session.get(Objection, obj.id), reviewer, decision="corrected",
                             reply_text="经村务监督委员会核实，该户只参加了半天，改为1分。", corrected_points=1,
                             today=posted.today)
    assert f"/points/objections/{obj.id}/reply.pdf" in client.get(f"/points/objections/{obj.id}").get_data(
        as_text=True)

    r = client.get(url)
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Content-Disposition"].startswith(f'attachment; filename="objection-reply-{obj.id}.pdf"')
    text = squash("\n".join(pdf_text(r.data)))
    assert "积分异议处理答复书" in text
    assert "经村务监督委员会核实，该户只参加了半天，改为1分。" in text
    assert "他只去了半天，下午才到。" in text
    assert "王*五" in text and "王小五" not in text and "张*丰" in text and "张小丰" not in text
    assert "+2" in text and "+1" in text and "参加村庄清洁日" in text and "乡约示范村" in text
    login(client, "cash1")
    assert client.get(url).status_code == 403


def test_typed_markup_is_printed_literally_and_fetches_nothing(client, make_village, make_user, make_household,
                                                               monkeypatch):
    """Names and texts are escaped into the print HTML: no tag, template code or URL in them does anything."""
    village_name = '乡约<img src="http://127.0.0.1:9/x.png">{{7*7}}'
    item_text = '<link rel="stylesheet" href="file:///etc/passwd">{{ 7*7 }}{% if 1 %}x{% endif %}'
    village = make_village("v1", village_name)
    clerk = make_user("clerk1", ("clerk", village))
    reviewer = make_user("rev1", ("reviewer", village))
    household = make_household(village, "0101", "<script>{{7*7}}</script>")
    today = local_today()
    with write_transaction():
        scheme = pts.create_scheme(village, "</style><style>@import url(http://127.0.0.1:9/a.css);</style>")
        cat = pts.create_category(scheme, "热心公益", "add")
        item = pts.create_item(cat, pts.ItemData(code="A01", text=item_text, points=2,
                                                 article_ref='url(file:///etc/shadow) "\\'))
        pts.approve(pts.record_entry(scheme, item, household, occurred_on=today, actor=clerk, today=today), reviewer,
                    today=today)

    fetched: list[str] = []
    fetcher_cls = printing._weasyprint()["Fetcher"]
    real_fetch = fetcher_cls.fetch

    def spy(self, url, headers=None):
        fetched.append(url)
        return real_fetch(self, url, headers)

    monkeypatch.setattr(fetcher_cls, "fetch", spy)
    login(client, "rev1")
    r = client.get("/points/posting.pdf")
    assert r.status_code == 200
    text = squash("\n".join(pdf_text(r.data)))
    assert squash(village_name) in text
    assert squash(item_text) in text
    assert "<" + "*" * 22 + ">" in text  # the head's name, masked, as typed
    assert squash("</style><style>@import url(http://127.0.0.1:9/a.css);</style>") in text
    assert fetched == [(PRINTABLES / "print.css").as_uri()]
    disposition = r.headers["Content-Disposition"]
    assert "\n" not in disposition and disposition.count('"') == 2


@pytest.fixture(scope="module")
def fetcher():
    return printing.locked_fetcher()


@pytest.mark.parametrize("url", [
    "file:///etc/passwd",
    "http://127.0.0.1/x",
    "https://example.com/print.css",
    "ftp://127.0.0.1/x",
    "gopher://127.0.0.1:70/x",
    "javascript:alert(1)",
    "file://evil.example/etc/passwd",
    "file:print.css",  # relative: would resolve against the working directory
    f"file://{PRINTABLES}/../app/__init__.py",
    f"file://{PRINTABLES}/%2e%2e/app/__init__.py",
    f"file://{PRINTABLES}/%2E%2E/%2E%2E/etc/passwd",
    f"file://{STATIC}/../../tests/conftest.py",
    f"file://{PRINTABLES}/../printables/print.css",  # even when it would land inside
    f"file://{PRINTABLES}/",  # a folder
    f"file://{PRINTABLES}/no-such-file.css",
    f"file://{PRINTABLES}/print.css%00.png",
])
def test_fetcher_refuses(fetcher, url):
    with pytest.raises(printing.FetchRefused):
        fetcher.fetch(url)


def test_fetcher_allows_printables_static_and_data_urls(fetcher):
    favicon = STATIC / "favicon.svg"
    resp = fetcher.fetch(favicon.as_uri())
    assert resp.read() == favicon.read_bytes() and resp.content_type == "image/svg+xml"
    resp = fetcher.fetch((PRINTABLES / "print.css").as_uri() + "?v=1")
    assert resp.content_type == "text/css" and b"@page" in resp.read()
    assert fetcher.fetch("data:text/plain;base64,5Lmh57qm").read() == "乡约".encode()


def test_fetcher_resolves_symlinks(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "secret.txt").write_text("secret")
    (root / "ok.txt").write_text("ok")
    os.symlink(outside / "secret.txt", root / "leak.txt")
    os.symlink(outside, root / "dir")
    os.symlink(root / "ok.txt", root / "alias.txt")
    fetcher = printing.locked_fetcher(roots=[root])
    for name in ("leak.txt", "dir/secret.txt"):
        with pytest.raises(printing.FetchRefused):
            fetcher.fetch((root / name).as_uri())
    assert fetcher.fetch((root / "alias.txt").as_uri()).read() == b"ok"


@pytest.mark.parametrize("name, utf8, ascii_", [
    ("乡约示范村积分公示-2026-11-25.pdf", "乡约示范村积分公示-2026-11-25.pdf", "2026-11-25.pdf"),
    ('a"b\r\nContent-Type: text/html;.pdf', "a_b__Content-Type_ text_html.pdf", "a_b__Content-Type__text_html.pdf"),
    ("../../etc/passwd", "etc_passwd.pdf", "etc_passwd.pdf"),
    ("报表\u202egpj.exe", "报表_gpj.exe.pdf", "gpj.exe.pdf"),
    ("", "document.pdf", "document.pdf"),
    ("名单", "名单.pdf", "document.pdf"),
])
def test_pdf_response_headers(name, utf8, ascii_):
    resp = printing.pdf_response(b"%PDF-1.7", name)
    disposition = resp.headers["Content-Disposition"]
    fallback = disposition.split('filename="')[1].split('"')[0]
    assert fallback == ascii_ and fallback.isascii()
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == utf8
    assert "\n" not in disposition and "\r" not in disposition and disposition.count('"') == 2
    assert resp.mimetype == "application/pdf" and resp.headers["Cache-Control"] == "no-store"


def test_page_counter_css_is_a_safe_css_value(app):
    with app.test_request_context():
        assert str(printing.page_counter_css()) == '"第 " counter(page) " 页 / 共 " counter(pages) " 页"'
    assert printing._css_string('a"</style>\\') == '"a\\22 \\3c /style\\3e \\5c "'


def test_app_starts_without_importing_weasyprint():
    import subprocess
    import sys

    code = ("import sys; from app import create_app; create_app({'TESTING': True, 'SQLALCHEMY_DATABASE_URI': "
            "'sqlite://', 'SECRET_KEY': 'x' * 32, 'ID_HMAC_KEY': 'y' * 32}); print('weasyprint' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip().endswith("False"), out.stderr[-2000:]


def test_group_names_sort_by_their_chinese_numbers():
    from app.text import natural_key

    names = ["第十村民小组", "第二村民小组", "第一村民小组", "第十二村民小组", "10组", "2组"]
    assert sorted(names, key=natural_key) == ["2组", "10组", "第一村民小组", "第二村民小组", "第十村民小组",
                                           "第十二村民小组"]


def test_objection_reply_names_the_household_that_objected_at_the_kiosk(client, posted):
    """A kiosk objection carries no typed name: the reply names the household (number and masked head)."""
    from app.kiosk.services import object_at_kiosk
    entry = posted.entries[0]  # household 0101, head 张三丰
    with write_transaction():
        e = db.session.get(PointEntry, entry.id)
        obj = object_at_kiosk(e.household, e, "不是我家做的")
    with write_transaction():
        reviewer = db.session.get(PointEntry, entry.id).reviewed_by
        pts.decide_objection(db.session.get(Objection, obj.id), reviewer, decision="upheld",
                             reply_text="经核实，维持原分。", today=posted.today)
    login(client, "rev1")
    with client.get(f"/points/objections/{obj.id}/reply.pdf") as r:
        assert r.status_code == 200
        text = squash("\n".join(pdf_text(r.data)))
    assert "**************" not in text and "户*" not in text
    assert "0101" in text and text.count("张*丰") >= 3  # greeting, objector row, household row
    assert "张三丰" not in text


def test_posting_sheet_prints_what_a_deduction_took_and_tells_members_apart(client, posted):
    """扣完为止: a deduction from an empty balance took 0 points; the sheet says so next to the −8 of the
    score. Two members of 0101 share the masked name 张*丰: the sheet adds each one's relation to the head."""
    burn = next(e for e in posted.entries if e.points < 0)
    assert burn.applied_points == 0  # 0201 had nothing to take from
    login(client, "rev1")
    with client.get("/points/posting.pdf") as r:
        assert r.status_code == 200
        text = squash("\n".join(pdf_text(r.data)))
    row = text[text.index("0201"):text.index("0201") + 80]
    assert "−800" in row, row  # points −8, to the balance 0, the balance after it 0
    assert "扣完为止" in text  # the footnote explains the two figures
    with client.get("/points/posting") as page:  # the web page says the same
        assert "实际计入 0" in page.get_data(as_text=True)
    assert "张*丰（户主）" in text and "张*丰（子女）" in text
    for full in ("张三丰", "张小丰"):
        assert full not in text
    # a second son, 张二丰: the two sons differ by their place in the household's roster
    with write_transaction():
        h1 = db.session.merge(posted.households[0])
        twin = add_person(h1, PersonData(name="张二丰", relation="child"))
        pts.approve(pts.record_entry(db.session.merge(posted.clean).scheme, db.session.merge(posted.clean), h1,
                                     person=twin, occurred_on=posted.today,
                                     actor=db.session.merge(posted.entries[0]).recorded_by, today=posted.today),
                    db.session.merge(posted.entries[0]).reviewed_by, today=posted.today)
    with client.get("/points/posting.pdf") as r:
        text = squash("\n".join(pdf_text(r.data)))
    assert "张*丰（子女1）" in text and "张*丰（子女2）" in text and "张*丰（户主）" in text
    assert "张二丰" not in text
