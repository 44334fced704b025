"""The rules on paper, read back: the A5 booklet padded to whole sheets, the booklet imposed on A4 in
saddle-stitch order, the A4 notice for the board, and the digest poster in the clerk's order.

PDFs are read with pypdf and with poppler's pdftotext (-bbox-layout for word boxes, -x/-y/-W/-H to read one
half of an imposed sheet); poppler-utils is one of the system packages `make deps-system` installs.
"""
from __future__ import annotations

import io
import re
import subprocess
from pathlib import Path

import pytest

from app.rules import papers
from app.rules import services as rules
from app.rules.models import RuleVersion
from app.rules.parser import parse_rules
from app.submission import write_transaction
from tests.paper_helpers import Word, layout, words_outside
from tests.rules_helpers import adopt as adopt_version

DATA = Path(__file__).parent / "data" / "rules"
CHAPTERS = (DATA / "chapters.txt").read_text(encoding="utf-8")
MM = 72 / 25.4


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _pages(pdf: bytes) -> list[str]:
    from pypdf import PdfReader

    return [_flat(p.extract_text()) for p in PdfReader(io.BytesIO(pdf)).pages]


def _version(village, text: str = CHAPTERS, title: str = "青山村村规民约", adopt: bool = True) -> RuleVersion:
    with write_transaction():
        rs = rules.create_ruleset(village, "village_rules", title)
        v = rules.import_version(rs, parse_rules(text), text)
        if adopt:
            adopt_version(v)
    return v


def _long_text(n: int) -> str:
    """A charter of `n` articles in chapters of ten, long enough to run over many A5 pages."""
    lines = ["长篇村规民约", ""]
    for k in range(n):
        if k % 10 == 0:
            lines.append(f"第{papers._cn(k // 10 + 1)}章　第{k // 10 + 1}部分的规定")
        lines.append(f"第{papers._cn(k + 1)}条　第{k + 1}条规定：村民应当遵守本条规定的事项，"
                     "爱护公共设施，维护村庄环境整洁，邻里之间互相帮助，共同建设美丽乡村。")
    return "\n".join(lines)


def _words(pdf: bytes) -> list[Word]:
    """Every word of the PDF with its box, in mm from the page's top left (tests/paper_helpers.py)."""
    return [w for page in layout(pdf) for w in page.words]


def _assert_inside(pdf: bytes, margin_mm: float = 5.0) -> None:
    """No word outside its page, nor in the strip an office printer cannot print (5 mm from each edge)."""
    assert _words(pdf)
    assert words_outside(pdf, left=margin_mm, right=margin_mm, top=margin_mm, bottom=margin_mm) == []


def _poppler_pages(pdf: bytes) -> list[str]:
    """The text of each page as pdftotext reads it (the same reading order as _half_text)."""
    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True).stdout.decode()
    return [_flat(p) for p in out.split("\f")[:-1]]


def _half_text(pdf: bytes, page: int, right: bool) -> str:
    """The text of the left or right half of one page of an imposed PDF (pdftotext cropping)."""
    from pypdf import PdfReader

    box = PdfReader(io.BytesIO(pdf)).pages[page - 1].mediabox
    w, h = float(box.width), float(box.height)
    x = int(w / 2) + 1 if right else 0
    out = subprocess.run(["pdftotext", "-f", str(page), "-l", str(page), "-x", str(x), "-y", "0",
                          "-W", str(int(w / 2) - 1), "-H", str(int(h)), "-", "-"],
                         input=pdf, capture_output=True, check=True)
    return _flat(out.stdout.decode())


# --- the A5 booklet ----------------------------------------------------------------------------------

@pytest.mark.parametrize("articles", [None, 60])
def test_booklet_is_whole_sheets_with_every_article(clerk_client, village, articles):
    v = _version(village, CHAPTERS if articles is None else _long_text(articles))
    r = clerk_client.get(f"/rules/versions/{v.id}/booklet.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    pages = _pages(r.data)
    n = len(pages)
    assert n % 4 == 0
    text = "".join(pages)
    for a in v.articles:
        assert _flat(a.label + a.text.split("\n")[0])[:20] in text, a.label
    for c in v.chapters:
        assert _flat(c.label) in text
    assert "2024年3月15日" in pages[1] and "村民代表会议" in pages[1]  # the adoption statement
    # padding pages say so, at the end; every page but the cover is numbered 第 x 页 / 共 y 页, blank ones too
    blank = [i for i, p in enumerate(pages, start=1) if p.startswith("此页无正文")]
    assert blank == list(range(n - len(blank) + 1, n + 1)) and len(blank) < 4
    for i, page in enumerate(pages[1:], start=2):
        assert f"第{i}页/共{n}页" in page
    _assert_inside(r.data)


@pytest.mark.parametrize("articles, pages, blank", [(8, 4, 0), (30, 8, 3), (45, 8, 1), (75, 12, 3)])
def test_booklet_is_padded_with_what_is_missing(clerk_client, village, articles, pages, blank):
    """(Page counts of these drafts: 4, 5, 7 and 9 pages of text.)"""
    v = _version(village, _long_text(articles), adopt=False)
    texts = _pages(clerk_client.get(f"/rules/versions/{v.id}/booklet.pdf").data)
    assert len(texts) == pages
    assert [p.startswith("此页无正文") for p in texts] == [False] * (pages - blank) + [True] * blank
    assert texts[-1].endswith(f"第{pages}页/共{pages}页")


def test_contents_entries_fit_one_line(clerk_client, village):
    long_title = "关于村集体经济组织成员资格认定和土地承包经营权流转管理的规定"  # 29 characters
    text = CHAPTERS.replace("第三章　附则", f"第三章　{long_title}")
    v = _version(village, text, adopt=False)
    r = clerk_client.get(f"/rules/versions/{v.id}/booklet.pdf")
    toc_page = next(i for i, p in enumerate(_pages(r.data), start=1) if p.startswith("目录"))
    out = subprocess.run(["pdftotext", "-layout", "-f", str(toc_page), "-l", str(toc_page), "-", "-"],
                         input=r.data, capture_output=True, check=True).stdout.decode()
    entries = [line.strip() for line in out.splitlines()[1:]
               if line.strip() and "目" not in line and not re.fullmatch(r"第\s*\d+\s*页.*", line.strip())]
    entries = [e for e in entries if not re.search(r"青山村|村规民约$", e)]  # the running header
    assert len(entries) >= 6
    for e in entries:
        # each entry is one line: its text, the leader and the page number at the end
        assert re.search(r"[.．]\s*\d+$", e), e
    chapter3 = next(e for e in entries if e.startswith("第三章"))
    assert "…" in chapter3 and long_title not in _flat(chapter3)


# --- the booklet imposed on A4 -----------------------------------------------------------------------

def test_saddle_order():
    assert papers.saddle_order(8) == [(8, 1), (2, 7), (6, 3), (4, 5)]
    assert papers.saddle_order(4) == [(4, 1), (2, 3)]
    assert papers.saddle_order(6) == [(0, 1), (2, 0), (6, 3), (4, 5)]  # pages 7 and 8 blank


@pytest.mark.parametrize("articles", [None, 60])
def test_imposed_booklet_reads_in_saddle_order(clerk_client, village, articles):
    from pypdf import PdfReader

    v = _version(village, CHAPTERS if articles is None else _long_text(articles))
    a5 = clerk_client.get(f"/rules/versions/{v.id}/booklet.pdf").data
    a5_pages = _poppler_pages(a5)
    n = len(a5_pages)
    assert n == len(_pages(a5)) and n % 4 == 0
    r = clerk_client.get(f"/rules/versions/{v.id}/booklet.pdf?paper=imposed")
    assert r.status_code == 200
    sides = PdfReader(io.BytesIO(r.data)).pages
    # n/4 sheets, printed on both sides, each side a landscape A4 (297 × 210 mm)
    assert len(sides) == n // 4 * 2
    for side in sides:
        assert (round(float(side.mediabox.width) / MM), round(float(side.mediabox.height) / MM)) == (297, 210)
    for k in range(n // 4):
        front, back = 2 * k + 1, 2 * k + 2
        expected = {front: (n - 2 * k, 2 * k + 1), back: (2 * k + 2, n - 2 * k - 1)}
        for side, (left, right) in expected.items():
            assert _half_text(r.data, side, right=False) == a5_pages[left - 1], (side, left)
            assert _half_text(r.data, side, right=True) == a5_pages[right - 1], (side, right)
    # the outer side of the first sheet (back cover | cover) reads: the title on the right half
    assert v.title in _half_text(r.data, 1, right=True)
    _assert_inside(r.data)


# --- the notice for the board ------------------------------------------------------------------------

def test_notice_is_one_a4_page_in_two_columns_without_contents(clerk_client, village):
    v = _version(village)
    r = clerk_client.get(f"/rules/versions/{v.id}/booklet.pdf?paper=a4")
    assert r.status_code == 200
    pages = _pages(r.data)
    assert len(pages) == 1
    from pypdf import PdfReader

    box = PdfReader(io.BytesIO(r.data)).pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    text = pages[0]
    assert "目录" not in text and "通过说明" not in text and "第1版" not in text  # no contents, no cover
    assert text.startswith("青山村村规民约")
    assert "2024年3月15日经村民代表会议通过（应到30人，实到27人；赞成25票，反对1票，弃权1票）" in text
    for a in v.articles:
        assert _flat(a.label + a.text.split("\n")[0])[:20] in text, a.label
    assert "一号村村民委员会" in text and "2024年3月18日" in text  # the committee and the day it was posted
    words = _words(r.data)
    # two columns: articles start in both halves of the page
    lefts = {w.x0 < 210 / 2 for w in words if re.fullmatch(r"第.条", w.text)}
    assert lefts == {True, False}
    # readable from a metre: the article text is at least 12 pt
    body = [w for w in words if "村民委员会" in w.text or "村规民约" in w.text]
    assert body and min(w.y1 - w.y0 for w in body) * MM >= 11.5
    _assert_inside(r.data)


def test_a_draft_notice_says_so(clerk_client, village):
    v = _version(village, adopt=False)
    text = _pages(clerk_client.get(f"/rules/versions/{v.id}/booklet.pdf?paper=a4").data)[0]
    assert "草案，未经表决通过" in text and "目录" not in text


# --- the digest poster -------------------------------------------------------------------------------

def _add_points(client, v, points):
    for text, article in points:
        r = client.post(f"/rules/versions/{v.id}/digest", data={"text": text, "article_ids": [str(article.id)]})
        assert r.status_code == 302, r.get_data(as_text=True)


def test_digest_order_by_number_changes_the_printed_order(clerk_client, village):
    v = _version(village)
    a = v.articles
    _add_points(clerk_client, v, [("甲要点不赌博", a[2]), ("乙要点不野外用火", a[4]), ("丙要点听从解释", a[6])])
    items = list(v.digest_items)
    text = _pages(clerk_client.get(f"/rules/versions/{v.id}/digest.pdf").data)[0]
    assert text.index("甲要点") < text.index("乙要点") < text.index("丙要点")
    assert "1甲要点不赌博（第三条）" in text and "2乙要点不野外用火（第五条）" in text
    # without JavaScript: the numbers beside the points, typed and saved; 丙 to the top
    page = clerk_client.get(f"/rules/versions/{v.id}/digest").get_data(as_text=True)
    assert all(f'name="pos-{d.id}"' in page for d in items)
    r = clerk_client.post(f"/rules/versions/{v.id}/digest/order", data={
        f"pos-{items[0].id}": "2", f"pos-{items[1].id}": "3", f"pos-{items[2].id}": "１"})
    assert r.status_code == 302
    text = _pages(clerk_client.get(f"/rules/versions/{v.id}/digest.pdf").data)[0]
    assert text.index("丙要点") < text.index("甲要点") < text.index("乙要点")
    assert "1丙要点听从解释（第七条）" in text
    # one number alone moves one point: 乙 (now 3rd) to place 1, the others keep their order
    r = clerk_client.post(f"/rules/versions/{v.id}/digest/order", data={f"pos-{items[1].id}": "1"})
    assert r.status_code == 302
    text = _pages(clerk_client.get(f"/rules/versions/{v.id}/digest.pdf").data)[0]
    assert text.index("乙要点") < text.index("丙要点") < text.index("甲要点")


@pytest.mark.parametrize("value", ["abc", "0", "-1", "1000", "1.5"])
def test_digest_order_refuses_a_bad_number_with_a_message(clerk_client, village, value):
    v = _version(village)
    _add_points(clerk_client, v, [("甲要点", v.articles[0]), ("乙要点", v.articles[1])])
    first, second = v.digest_items
    r = clerk_client.post(f"/rules/versions/{v.id}/digest/order",
                          data={f"pos-{first.id}": "2", f"pos-{second.id}": value})
    assert r.status_code == 400
    page = r.get_data(as_text=True)
    assert "序号须为 1 至 999 的整数" in page and "乙要点" in page
    assert [d.text for d in v.digest_items] == ["甲要点", "乙要点"]  # nothing saved


def test_digest_order_needs_the_edit_right(client, auth, make_user, village):
    v = _version(village)
    with write_transaction():
        rules.add_digest_item(v, "甲要点", [v.articles[0].id])
    make_user("viewer1", ("reviewer", village))
    auth.login("viewer1")
    item = v.digest_items[0]
    r = client.post(f"/rules/versions/{v.id}/digest/order", data={f"pos-{item.id}": "1"})
    assert r.status_code in (302, 403)
    page = client.get(f"/rules/versions/{v.id}/digest").get_data(as_text=True)
    assert f'name="pos-{item.id}"' not in page


def test_article_search_filters_the_list(clerk_client, village):
    v = _version(village)
    labels = re.compile(r'name="article_ids" value="(\d+)"')
    page = clerk_client.get(f"/rules/versions/{v.id}/digest").get_data(as_text=True)
    assert len(labels.findall(page)) == len(v.articles) == 8
    page = clerk_client.get(f"/rules/versions/{v.id}/digest", query_string={"q": "野外用火"}).get_data(as_text=True)
    fifth = next(a for a in v.articles if a.label == "第五条")
    assert labels.findall(page) == [str(fifth.id)]
    assert "共 8 条，其中 1 条含“野外用火”" in page
    # by number, with or without spaces, and several words must all match
    page = clerk_client.get(f"/rules/versions/{v.id}/digest", query_string={"q": "第七 条"}).get_data(as_text=True)
    assert [int(i) for i in labels.findall(page)] == [a.id for a in v.articles if a.label == "第七条"]
    page = clerk_client.get(f"/rules/versions/{v.id}/digest", query_string={"q": "村民委员会 解释"}).get_data(
        as_text=True)
    assert [int(i) for i in labels.findall(page)] == [a.id for a in v.articles if a.label == "第七条"]
    page = clerk_client.get(f"/rules/versions/{v.id}/digest", query_string={"q": "没有这样的词"}).get_data(
        as_text=True)
    assert labels.findall(page) == [] and "没有相符的条款" in page
    # a refused add keeps the ticked article in the list even when the search would hide it
    r = clerk_client.post(f"/rules/versions/{v.id}/digest?q=没有这样的词", data={"text": "", "article_ids": [str(fifth.id)]})
    assert r.status_code == 400
    assert labels.findall(r.get_data(as_text=True)) == [str(fifth.id)]


def test_digest_list_poster_fills_the_page(clerk_client, village):
    v = _version(village)
    _add_points(clerk_client, v, [(f"第{k}个要点：不准做某件事", v.articles[k % 8]) for k in range(1, 8)])
    r = clerk_client.get(f"/rules/versions/{v.id}/digest.pdf")
    assert len(_pages(r.data)) == 1
    words = _words(r.data)
    points = [w for w in words if "个要点" in w.text]
    assert len(points) == 7
    # large type, and the seven points spread over the page rather than its top 40 %
    assert min(w.y1 - w.y0 for w in points) * MM >= 20
    assert max(w.y1 for w in points) > 0.6 * 297
    text = _pages(r.data)[0]
    assert "盖章处" in text and "一号村村民委员会" in text and "2024年3月15日通过" in text
    _assert_inside(r.data)


@pytest.mark.parametrize("count", [20, 36])
def test_digest_of_many_points_prints_as_cards_on_one_page(clerk_client, village, count):
    v = _version(village)
    with write_transaction():
        for k in range(1, count + 1):
            rules.add_digest_item(v, f"要点{k}号：爱护环境人人有责", [v.articles[k % 8].id])
    r = clerk_client.get(f"/rules/versions/{v.id}/digest.pdf")
    assert r.status_code == 200 and "digest-cards" in r.headers["Content-Disposition"]
    assert len(_pages(r.data)) == 1
    words = _words(r.data)
    for k in range(1, count + 1):
        # each card: its number, and beside it (same row, just to the right) its point
        numbers = [w for w in words if w.text == str(k)]
        texts = [w for w in words if w.text.startswith(f"要点{k}号")]
        assert any(abs(t.y0 - n.y0) < 4 and 0 < t.x0 - n.x0 < 15 for n in numbers for t in texts), k
    _assert_inside(r.data)
    # the clerk may still ask for the other layout
    r = clerk_client.get(f"/rules/versions/{v.id}/digest.pdf?layout=list")
    assert "digest-list" in r.headers["Content-Disposition"]


def test_digest_cites_list_numbered_articles_as_articles(clerk_client, village):
    text = "青山村卫生公约\n一、垃圾分类投放。\n二、门前三包。\n十二、不焚烧秸秆。"
    v = _version(village, text, title="卫生公约", adopt=False)
    twelfth = v.articles[2]
    assert twelfth.label.startswith("十二")
    _add_points(clerk_client, v, [("不烧秸秆", twelfth)])
    assert "不烧秸秆（第十二条）" in _pages(clerk_client.get(f"/rules/versions/{v.id}/digest.pdf").data)[0]


def test_cn_numerals():
    assert [papers._cn(n) for n in (1, 10, 12, 20, 105, 110, 1000, 1010)] == [
        "一", "十", "十二", "二十", "一百零五", "一百一十", "一千", "一千零一十"]


def test_digest_page_scripts_come_from_files(clerk_client, village):
    """The drag and the live filter are files under app/static (the CSP forbids inline script)."""
    v = _version(village)
    _add_points(clerk_client, v, [("甲要点", v.articles[0])])
    page = clerk_client.get(f"/rules/versions/{v.id}/digest").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) and not re.search(r"\son[a-z]+\s*=", page)
    for path in re.findall(r'(?:src|href)="(/static/rules-digest\.(?:js|css))', page):
        r = clerk_client.get(path)
        assert r.status_code == 200 and r.data
        r.close()
    assert "/static/rules-digest.js" in page and "/static/rules-digest.css" in page


@pytest.mark.parametrize("typed, expected", [
    # what the page sends: every point's number, one of them changed
    ({"A": 3, "B": 2, "C": 3, "D": 4, "E": 5}, "BCADE"),
    ({"A": 1, "B": 2, "C": 3, "D": 4, "E": 1}, "EABCD"),
    # a new numbering, as dragging sends it, is taken as it is
    ({"A": 2, "B": 1, "C": 3, "D": 5, "E": 4}, "BACED"),
    # a few numbers alone
    ({"D": 1}, "DABCE"),
    ({"A": 2, "B": 1}, "BACDE"),
    ({"A": 99}, "BCDEA"),
    ({}, "ABCDE"),
])
def test_reorder_digest_puts_changed_points_on_their_numbers(app, village, typed, expected):
    v = _version(village, adopt=False)
    with write_transaction():
        for name in "ABCDE":
            rules.add_digest_item(v, name, [v.articles[0].id])
    ids = {d.text: d.id for d in v.digest_items}
    with write_transaction():
        rules.reorder_digest(v, {ids[k]: n for k, n in typed.items()})
    assert "".join(d.text for d in v.digest_items) == expected
    assert [d.seq for d in v.digest_items] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("paper, size", [("imposed", (297, 210)), ("a4", (210, 297))])
def test_cli_prints_the_other_papers(runner, village, tmp_path, paper, size):
    from pypdf import PdfReader

    v = _version(village)
    out = tmp_path / "rules.pdf"
    r = runner.invoke(args=["rules", "booklet", str(v.id), "--out", str(out), "--paper", paper])
    assert r.exit_code == 0, r.output
    box = PdfReader(out).pages[0].mediabox
    assert (round(float(box.width) / MM), round(float(box.height) / MM)) == size
