"""Rules pages: import (paste → preview → confirm), hostile input, permissions, adoption page, public page, PDFs."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.rules import services as rules
from app.rules.models import RuleSet, RuleVersion
from app.rules.parser import parse_rules
from app.submission import write_transaction
from tests.rules_helpers import adopt

DATA = Path(__file__).parent / "data" / "rules"
CHAPTERS = (DATA / "chapters.txt").read_text(encoding="utf-8")


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _import(client, text, **extra):
    data = {"ruleset_id": "0", "kind": "village_rules", "title": "青山村村规民约", "text": text, **extra}
    return client.post("/rules/import", data=data, content_type="multipart/form-data")


def test_import_paste_preview_confirm(clerk_client):
    r = _import(clerk_client, CHAPTERS, preview="1")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    # the preview shows what was taken as title, preamble, chapters, articles and closing; nothing saved yet
    assert "青山村村规民约" in page and "第二章 社会秩序" in page and "第一节 治安" in page
    assert "二〇二四年三月十五日" in page and "为了推进乡村治理" in page
    assert re.search(r"<strong>8</strong>", page)
    assert _count(RuleVersion) == 0
    r = _import(clerk_client, CHAPTERS, submit="1")
    assert r.status_code == 302
    v = db.session.scalar(sa.select(RuleVersion))
    assert len(v.articles) == 8 and v.source_text == CHAPTERS and v.status == "draft"
    page = clerk_client.get(r.headers["Location"]).get_data(as_text=True)
    assert "违反本规约第五条规定的" in page and "党组织提议" in page


def test_a_new_rule_set_takes_the_title_found_in_the_text(clerk_client):
    r = _import(clerk_client, CHAPTERS, submit="1", title="")
    assert r.status_code == 302
    assert db.session.scalar(sa.select(RuleSet.title)) == "青山村村规民约"
    r = _import(clerk_client, (DATA / "numbered_list.txt").read_text(encoding="utf-8"), submit="1", title="")
    assert r.status_code == 400 and "请为新规约填写标题" in r.get_data(as_text=True)


def test_import_from_a_txt_file_previews_first(clerk_client):
    data = {"ruleset_id": "0", "kind": "points_rules", "title": "积分管理办法", "text": "",
            "file": (io.BytesIO(("\ufeff" + (DATA / "mixed.txt").read_text(encoding="utf-8")).encode()), "m.txt"),
            "submit": "1"}
    r = clerk_client.post("/rules/import", data=data, content_type="multipart/form-data")
    assert r.status_code == 200 and _count(RuleVersion) == 0  # an upload is always shown before saving
    page = r.get_data(as_text=True)
    assert "加分项目" in page and "本办法自2024年1月1日起施行。" in page


@pytest.mark.parametrize("name, content, message", [
    ("a.txt", "第一条 测试".encode("gb18030"), "UTF-8"),
    ("a.docx", b"PK\x03\x04", "Word"),
    ("a.pdf", b"%PDF-1.4", ".docx"),
])
def test_bad_files_get_a_message(clerk_client, name, content, message):
    data = {"ruleset_id": "0", "kind": "village_rules", "title": "x", "text": "",
            "file": (io.BytesIO(content), name), "preview": "1"}
    r = clerk_client.post("/rules/import", data=data, content_type="multipart/form-data")
    assert r.status_code == 400 and message in r.get_data(as_text=True)
    assert _count(RuleVersion) == 0


@pytest.mark.parametrize("fields, message", [
    ({"text": ""}, "文本为空"),
    ({"text": "   \n  "}, "文本为空"),
    ({"text": "只是一段话，没有条款。"}, "没有找到条款"),
    ({"title": "长" * 10_000, "submit": "1"}, "长度"),
    ({"text": "第一条 a\x00b"}, "NUL"),
])
def test_hostile_import_gets_a_message_never_a_500(clerk_client, fields, message):
    data = {"text": CHAPTERS, "preview": "1", **fields}
    r = _import(clerk_client, data.pop("text"), **data)
    assert r.status_code == 400
    assert message in r.get_data(as_text=True)
    assert _count(RuleVersion) == 0 and _count(RuleSet) == 0


def test_script_and_formula_text_are_stored_as_given_and_shown_escaped(clerk_client, village):
    text = "<script>alert(1)</script>规约\n第一条　=HYPERLINK(\"http://x\")<b>粗</b>\n第二条　@SUM(A1)"
    r = _import(clerk_client, text, submit="1", title="<script>t</script>")
    assert r.status_code == 302
    v = db.session.scalar(sa.select(RuleVersion))
    assert v.articles[0].text == "=HYPERLINK(\"http://x\")<b>粗</b>"
    page = clerk_client.get(f"/rules/versions/{v.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>粗</b>" not in page


def _adopted_version(village, publish=True) -> RuleVersion:
    with write_transaction():
        rs = rules.create_ruleset(village, "village_rules", "青山村村规民约")
        v = rules.import_version(rs, parse_rules(CHAPTERS), CHAPTERS)
        adopt(v, publish)
    return v


def test_adoption_refused_on_the_page_with_the_reason(clerk_client, village):
    _import(clerk_client, CHAPTERS, submit="1")
    v = db.session.scalar(sa.select(RuleVersion))
    r = clerk_client.post(f"/rules/versions/{v.id}/steps/party_meeting",
                          data={"held_on": "2024-03-05", "body": "党员大会", "eligible": "30", "present": "19",
                                "votes_yes": "19"})
    assert r.status_code == 302
    r = clerk_client.post(f"/rules/versions/{v.id}/status", data={"target": "adopted"}, follow_redirects=True)
    page = r.get_data(as_text=True)
    assert "党组织提议" in page and "未记录" in page
    assert "19" in page and "2/3" in page  # why the party members' meeting does not count
    db.session.refresh(v)
    assert v.status == "draft"


def test_step_form_refuses_impossible_counts(clerk_client, village):
    _import(clerk_client, CHAPTERS, submit="1")
    v = db.session.scalar(sa.select(RuleVersion))
    r = clerk_client.post(f"/rules/versions/{v.id}/steps/assembly",
                          data={"held_on": "2024-03-15", "assembly_kind": "representatives", "eligible": "30",
                                "present": "40", "votes_yes": "20"})
    assert r.status_code == 400 and "实到人数" in r.get_data(as_text=True)
    r = clerk_client.post(f"/rules/versions/{v.id}/steps/assembly",
                          data={"held_on": "昨天", "assembly_kind": "representatives", "present": "１.5"})
    assert r.status_code == 400
    assert v.steps == []


def test_permissions(client, auth, make_user, village, make_village):
    v = _adopted_version(village)
    other = make_village("v2", "二号村")
    make_user("clerk1", ("clerk", village))
    make_user("rev", ("reviewer", village))
    make_user("cash", ("cashier", village))
    make_user("clerk2", ("clerk", other))
    article = v.articles[0]
    # anonymous: only the public page
    assert client.get("/rules/").status_code == 302
    assert client.get(f"/rules/versions/{v.id}").status_code == 302
    assert client.get(f"/rules/versions/{v.id}/booklet.pdf").status_code == 302
    r = client.get(f"/rules/public/{village.code}")
    assert r.status_code == 200 and "本村规民约适用于本村全体村民。" in r.get_data(as_text=True)
    # reviewer: reads everything, changes nothing
    auth.login("rev")
    assert client.get(f"/rules/versions/{v.id}").status_code == 200
    assert client.get(f"/rules/articles/{article.id}").status_code == 200
    assert client.get("/rules/import").status_code == 403
    assert client.post(f"/rules/articles/{article.id}", data={"label": "x", "text": "y"}).status_code == 403
    assert client.post(f"/rules/rulesets/{v.ruleset_id}/amend").status_code == 403
    assert client.post("/rules/settings", data={"assembly_num": "1"}).status_code == 403
    assert "开始修订" not in client.get("/rules/").get_data(as_text=True)
    auth.logout()
    # a cashier has no rules pages; a clerk of another village cannot reach this village's versions
    auth.login("cash")
    assert client.get("/rules/").status_code == 403
    auth.logout()
    auth.login("clerk2")
    assert client.get(f"/rules/versions/{v.id}").status_code == 404
    assert client.get(f"/rules/articles/{article.id}").status_code == 404
    auth.logout()
    # the clerk amends and edits the new draft
    auth.login("clerk1")
    r = client.post(f"/rules/rulesets/{v.ruleset_id}/amend")
    assert r.status_code == 302
    draft = db.session.scalar(sa.select(RuleVersion).where(RuleVersion.version_no == 2))
    r = client.post(f"/rules/articles/{draft.articles[0].id}", data={"label": "第一条", "text": "本规约适用于本村村民和外来人员。"})
    assert r.status_code == 302
    # an adopted version's article cannot be edited, even by the clerk
    r = client.post(f"/rules/articles/{article.id}", data={"label": "第一条", "text": "改"})
    assert r.status_code == 403
    r = client.get(f"/rules/compare?a={v.id}&b={draft.id}")
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "<del>全体</del>" in page and "<ins>和外来人员</ins>" in page


def test_public_page_search_and_no_drafts(client, village):
    v = _adopted_version(village)
    with write_transaction():
        rs = rules.create_ruleset(village, "points_rules", "积分管理办法")
        text = (DATA / "mixed.txt").read_text(encoding="utf-8")
        rules.import_version(rs, parse_rules(text), text)  # a draft: not public
    page = client.get(f"/rules/public/{village.code}").get_data(as_text=True)
    assert v.title in page and "积分管理办法" not in page
    page = client.get(f"/rules/public/{village.code}", query_string={"q": "野外用火"}).get_data(as_text=True)
    assert page.count('class="rule-article"><a href="#a') == 1
    assert "田间<mark>野外用火</mark>" in page
    page = client.get(f"/rules/public/{village.code}", query_string={"q": "<b>"}).get_data(as_text=True)
    assert "<mark>" not in page and "<b>" not in page.split("<main", 1)[1]
    assert client.get("/rules/public/nosuch").status_code == 404
    assert client.get(f"/rules/public/{village.code}", query_string={"q": "%_<x>" * 20}).status_code == 200


def test_booklet_pdf_reads_back(clerk_client, village):
    from pypdf import PdfReader

    v = _adopted_version(village)
    r = clerk_client.get(f"/rules/versions/{v.id}/booklet.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(r.data))
    pages = [p.extract_text() for p in reader.pages]
    n = len(pages)
    text = "\n".join(pages)
    flat = re.sub(r"\s+", "", text)
    assert "青山村村规民约" in flat
    assert "严禁在山林、田间野外用火。" in flat
    # the cover has no footer; every other page (the blank ones that make whole sheets too) says 第 x 页 / 共 N 页
    assert "页" not in pages[0] and n % 4 == 0
    for i, page in enumerate(pages[1:], start=2):
        assert f"第{i}页/共{n}页" in re.sub(r"\s+", "", page)
    # the contents page lists the chapters with the page each starts on
    toc = re.sub(r"\s+", "", pages[2])
    assert "目录" in toc and "第一章" in toc and "第三章附则" in toc
    chapter3_page = next(i for i, p in enumerate(pages) if "附则" in p and "第七条" in p) + 1
    assert re.search(rf"第三章附则[.．]*{chapter3_page}", toc)
    assert "村民代表会议" in re.sub(r"\s+", "", pages[1])  # adoption statement
    a4 = clerk_client.get(f"/rules/versions/{v.id}/booklet.pdf?paper=a4")  # the notice for the board
    box = PdfReader(io.BytesIO(a4.data)).pages[0].mediabox
    assert round(float(box.width)) == 595  # A4
    assert round(float(reader.pages[3].mediabox.width)) == 420  # A5


def test_digest_poster(clerk_client, village):
    from pypdf import PdfReader

    v = _adopted_version(village)
    fifth = v.articles[4]
    r = clerk_client.post(f"/rules/versions/{v.id}/digest", data={"text": "严禁野外用火", "article_ids": [str(fifth.id)]})
    assert r.status_code == 302
    r = clerk_client.post(f"/rules/versions/{v.id}/digest", data={"text": "没有出处"})
    assert r.status_code == 400
    pdf = clerk_client.get(f"/rules/versions/{v.id}/digest.pdf")
    text = re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages))
    assert "严禁野外用火" in text and "第五条" in text


def test_cli_import_dry_run_and_unparseable(runner, village):
    r = runner.invoke(args=["rules", "import", str(DATA / "chapters.txt"), "--village", "v1",
                            "--kind", "village_rules", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "第二章 社会秩序: 4 articles" in r.output
    assert "articles: 8" in r.output and "chapters: 3" in r.output
    assert "preamble: yes" in r.output and "closing: yes" in r.output
    assert _count(RuleVersion) == 0
    r = runner.invoke(args=["rules", "import", str(DATA / "unparseable.txt"), "--village", "v1",
                            "--kind", "village_rules"])
    assert r.exit_code != 0 and _count(RuleVersion) == 0
    r = runner.invoke(args=["rules", "import", str(DATA / "numbered_list.txt"), "--village", "v1",
                            "--kind", "village_rules", "--title", "绿水村村规民约"])
    assert r.exit_code == 0, r.output
    v = db.session.scalar(sa.select(RuleVersion))
    assert len(v.articles) == 5 and v.ruleset.title == "绿水村村规民约"
    r = runner.invoke(args=["rules", "import", str(DATA / "numbered_list.txt"), "--village", "nosuch",
                            "--kind", "village_rules"])
    assert r.exit_code != 0


def test_cli_booklet(runner, village, tmp_path):
    v = _adopted_version(village)
    out = tmp_path / "b.pdf"
    r = runner.invoke(args=["rules", "booklet", str(v.id), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert out.read_bytes().startswith(b"%PDF")
    r = runner.invoke(args=["rules", "booklet", "999999", "--out", str(out)])
    assert r.exit_code != 0


def test_points_item_cites_articles(clerk_client, village):
    from app.points import services as pts
    from app.points.models import PointItem

    v = _adopted_version(village)
    r = clerk_client.get("/points/scheme")
    assert r.status_code == 200
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        cat = pts.create_category(scheme, "环境治理", "deduct")
    r = clerk_client.get("/points/items/new")
    assert r.status_code == 200 and "第五条" in r.get_data(as_text=True)
    fifth = v.articles[4]
    r = clerk_client.post("/points/items/new", data={
        "category_id": str(cat.id), "code": "D1", "text": "野外用火", "points": "-5", "unit": "per_event",
        "cap_period": "none", "level": "village", "applies_to": "person", "active": "y",
        "article_ids": [str(fifth.id)]})
    assert r.status_code == 302, r.get_data(as_text=True)
    item = db.session.scalar(sa.select(PointItem))
    assert rules.article_ids_for_item(item.id) == [fifth.id]
    page = clerk_client.get(f"/rules/articles/{fifth.id}").get_data(as_text=True)
    assert "D1" in page and "野外用火" in page
    # an article of another village is refused with a message
    r = clerk_client.post(f"/points/items/{item.id}", data={
        "category_id": str(cat.id), "code": "D1", "text": "野外用火", "points": "-5", "unit": "per_event",
        "cap_period": "none", "level": "village", "applies_to": "person", "active": "y",
        "article_ids": ["999999"]})
    assert r.status_code == 200 and 'class="field-error"' in r.get_data(as_text=True)  # the form comes back
    assert rules.article_ids_for_item(item.id) == [fifth.id]
    # un-citing: no article picked
    r = clerk_client.post(f"/points/items/{item.id}", data={
        "category_id": str(cat.id), "code": "D1", "text": "野外用火", "points": "-5", "unit": "per_event",
        "cap_period": "none", "level": "village", "applies_to": "person", "active": "y"})
    assert r.status_code == 302 and rules.article_ids_for_item(item.id) == []


def test_demo_rules(runner, client):
    from app.points.models import PointItem
    from app.registry.models import Village

    r = runner.invoke(args=["demo"])
    assert r.exit_code == 0, r.output
    village = db.session.scalar(sa.select(Village).where(Village.code == "demo"))
    sets = {rs.title: rs for rs in db.session.scalars(sa.select(RuleSet).where(RuleSet.village_id == village.id))}
    village_rules = rules.current_version(sets["乡约示范村村规民约"])
    assert village_rules.status == "published" and len(village_rules.top_chapters()) == 6
    assert len(village_rules.articles) == 15 and len(village_rules.steps) == 7 and village_rules.digest_items
    points_rules = sets["乡约示范村积分管理办法"].versions[-1]
    assert points_rules.status == "reviewed" and rules.missing_for(points_rules, "adopted")
    # the demo points items cite the articles their references name
    d02 = db.session.scalar(sa.select(PointItem).where(PointItem.code == "D02"))
    seventh = next(a for a in village_rules.articles if a.label == "第七条")
    assert rules.article_ids_for_item(d02.id) == [seventh.id]
    page = client.get("/rules/public/demo").get_data(as_text=True)
    assert "乡约示范村村规民约" in page and "第十二条" in page and "乡约示范村积分管理办法" not in page


def test_long_list_without_chapters_gets_a_one_line_contents(clerk_client, village):
    from pypdf import PdfReader

    text = "\n".join(f"{n}. 第{n}项村民行为规范的内容。" for n in range(1, 71))
    with write_transaction():
        rs = rules.create_ruleset(village, "village_rules", "长清单")
        v = rules.import_version(rs, parse_rules(text), text)
    r = clerk_client.get(f"/rules/versions/{v.id}/booklet.pdf")
    pages = [re.sub(r"\s+", "", p.extract_text()) for p in PdfReader(io.BytesIO(r.data)).pages]
    assert "草案" in pages[0]  # not adopted: the cover says so, and there is no adoption statement
    assert "目录" in pages[1] and "正文（1.—70.）" in pages[1]
    assert "第70项村民行为规范的内容。" in "".join(pages)


@pytest.mark.parametrize("path, data", [
    ("steps/assembly", {"held_on": "2024-03-15", "assembly_kind": "representatives", "eligible": "-1"}),
    ("steps/assembly", {"held_on": "2024-03-15", "assembly_kind": "representatives", "eligible": "9" * 30}),
    ("steps/assembly", {"held_on": "2024-03-15", "assembly_kind": "nonsense", "eligible": "30"}),
    ("steps/assembly", {"held_on": "2024-02-30", "assembly_kind": "representatives"}),
    ("steps/proposal", {"held_on": "2024-03-01", "body": "长" * 10_000}),
    ("steps/legal_review", {"held_on": "2024-03-01", "approved": "maybe"}),
    ("steps/proposal", {"held_on": "", "minutes": "<script>x</script>"}),
    ("digest", {"text": "", "article_ids": ["1"]}),
    ("digest", {"text": "要点", "article_ids": ["abc"]}),
    ("edit", {"title": "", "preamble": "x"}),
    ("edit", {"title": "标题\u202e反向", "preamble": ""}),
    ("text", {"text": ""}),
    ("text", {"text": "无条款的文字", "preview": "1"}),
])
def test_hostile_forms_give_a_message_and_write_nothing(clerk_client, village, path, data):
    from app.audit.models import AuditLog

    _import(clerk_client, CHAPTERS, submit="1")
    v = db.session.scalar(sa.select(RuleVersion))
    before = _count(AuditLog)
    r = clerk_client.post(f"/rules/versions/{v.id}/{path}", data=data)
    assert r.status_code == 400
    assert 'class="field-error"' in r.get_data(as_text=True)
    assert _count(AuditLog) == before
    db.session.refresh(v)
    assert v.steps == [] and v.digest_items == [] and v.title == "青山村村规民约"


@pytest.mark.parametrize("data", [{"label": "", "text": "x"}, {"label": "第一条", "text": ""},
                                  {"label": "第一条", "text": "零宽\u200b字符"}, {"label": "条" * 41, "text": "x"}])
def test_hostile_article_edits(clerk_client, village, data):
    _import(clerk_client, CHAPTERS, submit="1")
    v = db.session.scalar(sa.select(RuleVersion))
    r = clerk_client.post(f"/rules/articles/{v.articles[0].id}", data=data)
    assert r.status_code == 400 and 'class="field-error"' in r.get_data(as_text=True)
    db.session.refresh(v.articles[0])
    assert v.articles[0].text == "本村规民约适用于本村全体村民。"


def test_thresholds_set_by_the_clerk_decide_the_steps(clerk_client, village):
    _import(clerk_client, CHAPTERS, submit="1")
    v = db.session.scalar(sa.select(RuleVersion))
    r = clerk_client.post(f"/rules/versions/{v.id}/steps/party_meeting",
                          data={"held_on": "2024-03-05", "eligible": "30", "present": "20", "votes_yes": "15"})
    assert r.status_code == 302
    assert "✓" in clerk_client.get(f"/rules/versions/{v.id}").get_data(as_text=True)
    values = {"assembly_num": "1", "assembly_den": "2", "households_num": "2", "households_den": "3",
              "representatives_num": "2", "representatives_den": "3", "party_num": "3", "party_den": "4",
              "majority_num": "1", "majority_den": "2", "women_min": "0"}
    r = clerk_client.post("/rules/settings", data={**values, "party_num": "5"})
    assert r.status_code == 400  # 5/4 is not a share
    r = clerk_client.post("/rules/settings", data=values)
    assert r.status_code == 302
    page = clerk_client.get(f"/rules/versions/{v.id}").get_data(as_text=True)
    assert "实到 20 人，须不少于 3/4" in page
