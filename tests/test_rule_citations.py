"""An item cites one article of one version: amending the rules never silently changes what it cites.

Publishing a new version moves the citations whose article text is unchanged (whatever its new number);
the others wait on the clerk's "citations to re-point" page, and until then the kiosk shows the text the
item actually cites, never a same-numbered article of the new version (issue 18).
"""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from app.rules import services as rules
from app.rules.models import RuleArticle, RuleVersion, point_item_articles
from app.rules.parser import parse_rules
from app.submission import write_transaction
from tests.conftest import FreshContextClient
from tests.kiosk_helpers import enable_client, open_household, seed

D = dt.date


def _publish(v: RuleVersion, day: int = 15) -> None:
    """Record every adoption step of `v` and publish it (the adoption rules are the rules tests' business)."""
    with write_transaction():
        v = db.session.merge(v)
        held = D(2025, 6, 1)
        rules.record_step(v, "proposal", held_on=held, body="村党支部")
        rules.record_step(v, "two_committees", held_on=held, body="两委")
        rules.record_step(v, "party_meeting", held_on=held, eligible=30, present=25, votes_yes=24)
        rules.record_step(v, "legal_review", held_on=held, body="镇政府", approved=True)
        rules.record_step(v, "assembly", held_on=D(2025, 6, day), assembly_kind="representatives", eligible=30,
                          present=27, votes_yes=25)
        rules.record_step(v, "filing", held_on=D(2025, 6, day + 2), body="镇政府")
        rules.record_step(v, "resolution_public", held_on=D(2025, 6, day + 1), body="公开栏")
        for target in ("adopted", "filed", "published"):
            rules.advance(v, target)


def _amend(version: RuleVersion, new_text: str) -> RuleVersion:
    """Start an amendment of `version`'s rule set and give it `new_text`; returns the draft."""
    with write_transaction():
        draft = rules.start_amendment(db.session.merge(version).ruleset)
        rules.replace_text(draft, parse_rules(new_text), new_text)
    return draft


def _links(item_id: int) -> list[tuple[int, str, str]]:
    """(version number, article label, first characters of its text) of each article the item cites."""
    return [(a.version.version_no, a.label, a.text[:6]) for a in db.session.scalars(
        sa.select(RuleArticle).join(point_item_articles, point_item_articles.c.article_id == RuleArticle.id)
        .where(point_item_articles.c.point_item_id == item_id).order_by(RuleArticle.version_id, RuleArticle.seq))]


def _text(resp) -> str:
    with resp:
        return resp.get_data(as_text=True)


# --- the kiosk: the text the item cites --------------------------------------------------------------

AMENDED_FIFTH = """和美村村规民约
第一条 村民应当遵守法律法规。
第二条 爱护公共设施。
第三条 邻里和睦，互帮互助。
第四条 移风易俗，红白事从简。
第五条 禁止在河道倾倒垃圾，违者扣分。
本规约自村民会议通过之日起施行。"""


@pytest.fixture
def kiosk_village(app, village, make_user, make_household):
    from tests.conftest import valid_id

    seeded = seed(village, make_user, make_household, valid_id)
    app.test_client_class = FreshContextClient
    c = app.test_client()
    enable_client(c, app, village)
    return seeded, c


def test_after_an_amendment_the_kiosk_shows_the_old_text_the_item_still_cites(kiosk_village):
    seeded, kiosk = kiosk_village
    old = db.session.get(RuleArticle, seeded["article"]).version
    draft = _amend(old, AMENDED_FIFTH)
    _publish(draft)
    open_household(kiosk)
    page = _text(kiosk.get("/kiosk/entries"))
    # the 清洁日 entry's item still cites the old 第五条: the kiosk shows that text, marked as replaced …
    assert "每月第一个周六为村庄清洁日，每户至少一人参加。" in page
    assert "《和美村村规民约》第五条" in page and "已被新版本取代" in page
    # … never the new version's 第五条, about something else entirely, nor a link to it
    assert "禁止在河道倾倒垃圾" not in page
    new_fifth = next(a for a in db.session.merge(draft).articles if a.label == "第五条")
    assert f"#a{new_fifth.id}" not in page


def test_a_re_pointed_item_shows_its_new_article_at_the_kiosk(kiosk_village):
    seeded, kiosk = kiosk_village
    old = db.session.get(RuleArticle, seeded["article"])
    draft = _amend(old.version, AMENDED_FIFTH)
    _publish(draft)
    new_fifth = next(a for a in db.session.merge(draft).articles if a.label == "第五条")
    with write_transaction():
        from app.points.models import PointItem

        item = db.session.scalar(sa.select(PointItem).where(PointItem.code == "A01"))
        rules.repoint_citation(item, seeded["article"], new_fifth.id)
    open_household(kiosk)
    page = _text(kiosk.get("/kiosk/entries"))
    assert "禁止在河道倾倒垃圾，违者扣分。" in page and f'href="/kiosk/rules#a{new_fifth.id}"' in page
    assert "每月第一个周六" not in page and "已被新版本取代" not in page


# --- publishing: unchanged texts move by themselves, the rest wait for the clerk ---------------------------

V1 = """青山村村规民约
第一条 村民应当遵守法律法规。
第二条 爱护公共设施，不得损坏路灯。
第三条 邻里和睦，互帮互助。
第四条 移风易俗，红白事从简。
第五条 每月第一个周六为村庄清洁日，每户至少一人参加。
第六条 禁止燃放孔明灯。"""

#: an article inserted as 第二条 (the unchanged ones after it renumbered, one re-typed with a half-width comma),
#: 第五条 reworded into 第六条, 第六条 dropped
V2 = """青山村村规民约
第一条 村民应当遵守法律法规。
第二条 爱护耕地，不得撂荒。
第三条 爱护公共设施, 不得损坏路灯。
第四条 邻里和睦，互帮互助。
第五条 移风易俗，红白事从简。
第六条 每月第二个周六为村庄清洁日，每户至少一人参加。"""


@pytest.fixture
def amended(app, village):
    """青山村's rules published as V1, four items citing its articles, then V2 published."""
    from app.points import services as pts

    with write_transaction():
        rs = rules.create_ruleset(village, "village_rules", "青山村村规民约")
        v1 = rules.import_version(rs, parse_rules(V1), V1)
    _publish(v1, day=10)
    v1 = db.session.merge(v1)
    art = {a.label: a.id for a in v1.articles}
    with write_transaction():
        scheme = pts.create_scheme(db.session.merge(village), "积分细则")
        cat = pts.create_category(scheme, "公共秩序", "add")
        items = {}
        for code, text, label in [("P1", "邻里互助", "第三条"), ("P2", "爱护路灯", "第二条"),
                                  ("P3", "参加清洁日", "第五条"), ("P4", "不放孔明灯", "第六条")]:
            item = pts.create_item(cat, pts.ItemData(code=code, text=text, points=2, article_ref=f"村规民约{label}"))
            rules.set_item_articles(item, [art[label]])
            items[code] = item.id
    with write_transaction():
        draft = rules.start_amendment(db.session.merge(v1).ruleset)
        rules.replace_text(draft, parse_rules(V2), V2)
    _publish(draft, day=20)
    v2 = db.session.merge(draft)
    return {"items": items, "v1": art, "v2": {a.label: a.id for a in v2.articles}, "v2_id": v2.id,
            "village_id": village.id}


def _repointed_audit() -> list[AuditLog]:
    return list(db.session.scalars(sa.select(AuditLog).where(AuditLog.action == "rules.item_article_repointed")
                                   .order_by(AuditLog.seq)))


def test_publishing_moves_citations_of_unchanged_articles_whatever_their_new_number(amended):
    items = amended["items"]
    assert _links(items["P1"]) == [(2, "第四条", "邻里和睦，互")]   # was 第三条
    assert _links(items["P2"]) == [(2, "第三条", "爱护公共设施")]     # was 第二条; re-typed comma and space
    # reworded and dropped articles are still cited as they were, in the old version
    assert _links(items["P3"]) == [(1, "第五条", "每月第一个周")]
    assert _links(items["P4"]) == [(1, "第六条", "禁止燃放孔明")]
    moved = _repointed_audit()
    assert sorted(a.object_id for a in moved) == sorted([items["P1"], items["P2"]])
    assert all('"unchanged_text"' in a.details and a.object_type == "point_items" for a in moved)


def test_only_changed_or_vanished_citations_wait_for_the_clerk(amended, clerk_client):
    stale = rules.citations_to_repoint(amended["village_id"])
    assert [(s.item_id, s.kind, s.suggested.label if s.suggested else None) for s in stale] == [
        (amended["items"]["P3"], "changed", "第六条"), (amended["items"]["P4"], "removed", None)]
    assert rules.count_citations_to_repoint(amended["village_id"]) == 2
    page = _text(clerk_client.get("/points/citations"))
    assert "参加清洁日" in page and "不放孔明灯" in page
    assert "邻里互助" not in page and "爱护路灯" not in page
    # the reworded article is offered as the new citation; the dropped one asks for a pick
    row = re.search(rf'id="cite-{amended["items"]["P3"]}-\d+".*?</tr>', page, re.S).group(0)
    assert f'<option value="{amended["v2"]["第六条"]}" selected>' in row
    assert "不再" in page or "No longer" in page
    # the rules and points pages say citations are waiting, with the way there
    for path in ("/rules/", "/points/scheme"):
        assert 'href="/points/citations"' in _text(clerk_client.get(path)), path


def test_the_clerk_re_points_or_removes_a_citation_and_each_is_audited(amended, clerk_client):
    p3, p4 = amended["items"]["P3"], amended["items"]["P4"]
    before = len(_repointed_audit())
    r = clerk_client.post("/points/citations", data={"item_id": p3, "article_id": amended["v1"]["第五条"],
                                                     "new_article_id": amended["v2"]["第六条"], "submit": "1"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/points/citations")
    assert _links(p3) == [(2, "第六条", "每月第二个周")]
    r = clerk_client.post("/points/citations", data={"item_id": p4, "article_id": amended["v1"]["第六条"],
                                                     "new_article_id": "", "remove": "1"})
    assert r.status_code == 302 and _links(p4) == []
    audit = _repointed_audit()[before:]
    assert [(a.object_id, a.actor_name) for a in audit] == [(p3, "clerk1"), (p4, "clerk1")]
    assert f'"to": {amended["v2"]["第六条"]}' in audit[0].details and '"to": null' in audit[1].details
    assert "没有需要重新指向的引用" in _text(clerk_client.get("/points/citations"))
    assert 'href="/points/citations"' not in _text(clerk_client.get("/rules/"))


def test_hostile_re_point_requests_are_refused_and_write_nothing(amended, clerk_client, make_village):
    p3, p4 = amended["items"]["P3"], amended["items"]["P4"]
    # another village's published article
    other = make_village("v2", "二号村")
    with write_transaction():
        rs = rules.create_ruleset(other, "village_rules", "二号村村规民约")
        theirs = rules.import_version(rs, parse_rules(V2), V2)
    _publish(theirs)
    foreign = db.session.merge(theirs).articles[0].id
    # an article of a version not published: the next amendment's draft, and the superseded version
    with write_transaction():
        draft = rules.start_amendment(db.session.get(RuleVersion, amended["v2_id"]).ruleset)
    draft_article = db.session.merge(draft).articles[0].id
    audit_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog))
    links_before = (_links(p3), _links(p4))
    cited = amended["v1"]["第五条"]
    cases = [
        ({"item_id": p3, "article_id": cited, "new_article_id": foreign, "submit": "1"}, "本村已公布"),
        ({"item_id": p3, "article_id": cited, "new_article_id": draft_article, "submit": "1"}, "本村已公布"),
        ({"item_id": p3, "article_id": cited, "new_article_id": amended["v1"]["第一条"], "submit": "1"}, "本村已公布"),
        ({"item_id": p3, "article_id": cited, "new_article_id": "", "submit": "1"}, "请选择"),
        ({"item_id": p3, "article_id": cited, "new_article_id": "1 OR 1=1", "submit": "1"}, "请选择"),
        # a removed (never existing) item, and a citation the item does not hold
        ({"item_id": 987654, "article_id": cited, "new_article_id": amended["v2"]["第六条"], "submit": "1"},
         "不存在"),
        ({"item_id": p4, "article_id": cited, "new_article_id": amended["v2"]["第六条"], "submit": "1"},
         "已不再引用"),
        ({"item_id": p4, "article_id": cited, "remove": "1"}, "已不再引用"),
        ({"item_id": "x", "article_id": cited, "remove": "1"}, "整数"),
    ]
    for data, message in cases:
        r = clerk_client.post("/points/citations", data=data)
        page = _text(r)
        assert r.status_code == 400, data
        alert = re.search(r'id="repoint-error">(.*?)</p>', page, re.S)
        assert alert and message in alert.group(1), (data, alert and alert.group(1))
    assert (_links(p3), _links(p4)) == links_before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog)) == audit_before


def test_publishing_on_the_page_leads_to_the_citations_waiting(app, village, clerk_client):
    from app.points import services as pts

    with write_transaction():
        rs = rules.create_ruleset(village, "village_rules", "青山村村规民约")
        v1 = rules.import_version(rs, parse_rules(V1), V1)
    _publish(v1, day=10)
    v1 = db.session.merge(v1)
    with write_transaction():
        cat = pts.create_category(pts.create_scheme(db.session.merge(village), "积分细则"), "公共秩序", "add")
        item = pts.create_item(cat, pts.ItemData(code="P3", text="参加清洁日", points=2))
        rules.set_item_articles(item, [next(a.id for a in v1.articles if a.label == "第五条")])
        draft = rules.start_amendment(v1.ruleset)
        rules.replace_text(draft, parse_rules(V2), V2)
        for kind, day in (("proposal", 1), ("two_committees", 2), ("legal_review", 3), ("filing", 9),
                          ("resolution_public", 8)):
            rules.record_step(draft, kind, held_on=D(2025, 7, day), body="x", approved=True)
        rules.record_step(draft, "party_meeting", held_on=D(2025, 7, 4), eligible=30, present=25, votes_yes=24)
        rules.record_step(draft, "assembly", held_on=D(2025, 7, 5), assembly_kind="representatives",
                          eligible=30, present=27, votes_yes=25)
        rules.advance(draft, "filed")
    r = clerk_client.post(f"/rules/versions/{draft.id}/status", data={"target": "published"})
    assert r.status_code == 302 and r.headers["Location"].endswith("/points/citations")
    page = _text(clerk_client.get("/points/citations"))
    assert "参加清洁日" in page and "重新指向" in page


# --- the data migration: items that only named an article in writing ------------------------------------------

def _migration():
    import importlib.util
    from pathlib import Path

    path = next((Path(__file__).parent.parent / "migrations" / "versions").glob("*_e7a2c4d6f8b1_*.py"))
    spec = importlib.util.spec_from_file_location("cite_migration", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_links_written_references_to_the_version_they_were_set_under(amended):
    from app.points.models import PointItem
    from app.points import services as pts

    village_id = amended["village_id"]
    refs = {"M1": ("村规民约第五条", dt.datetime(2025, 6, 15, 3)),            # v1 in force (published 6-11)
            "M2": ("青山村村规民约第六条", dt.datetime(2025, 7, 1, 3)),        # v2 in force (published 6-21)
            "M3": ("《村规民约》第三条、第４条", dt.datetime(2025, 1, 1)),      # before any: the version published now
            "M4": ("积分管理办法第二条", dt.datetime(2025, 7, 1)),              # no such rule set here
            "M5": ("村规民约第九十九条", dt.datetime(2025, 7, 1))}              # no such article
    ids = {}
    with write_transaction():
        cat = db.session.scalar(sa.select(PointItem).where(PointItem.id == amended["items"]["P1"])).category
        for code, (ref, created) in refs.items():
            item = pts.create_item(cat, pts.ItemData(code=code, text=code, points=1, article_ref=ref))
            item.created_at = created
            ids[code] = item.id
    untouched = {code: _links(i) for code, i in amended["items"].items()}
    with write_transaction():
        made = _migration().link_written_references(db.session.connection())
    assert made == 4
    assert _links(ids["M1"]) == [(1, "第五条", "每月第一个周")]
    assert _links(ids["M2"]) == [(2, "第六条", "每月第二个周")]
    assert _links(ids["M3"]) == [(2, "第三条", "爱护公共设施"), (2, "第四条", "邻里和睦，互")]
    assert _links(ids["M4"]) == [] and _links(ids["M5"]) == []
    # items that already cite an article keep it; a second run changes nothing
    assert {code: _links(i) for code, i in amended["items"].items()} == untouched
    with write_transaction():
        assert _migration().link_written_references(db.session.connection()) == 0
    # the item set up under v1 now waits, with the others whose article changed, for the clerk
    assert ids["M1"] in {s.item_id for s in rules.citations_to_repoint(village_id)}


def test_imported_items_cite_the_published_articles_their_column_names(amended):
    from app.points import item_import as imp
    from app.points.models import PointItem
    from app.registry.models import Village

    village = db.session.get(Village, amended["village_id"])
    text = "\n".join(["类别\t加扣\t编号\t内容\t分值\t依据条款",
                      "公共秩序\t加分\tQ1\t清洁日\t2\t村规民约第六条",
                      "公共秩序\t加分\tQ2\t互助与守法\t2\t《青山村村规民约》第4条、第一条",
                      "公共秩序\t加分\tQ3\t别的规定\t2\t积分管理办法第二条",
                      "公共秩序\t加分\tQ4\t没有依据\t2\t"])
    with write_transaction():
        result = imp.check_items(village, text, "text")
        assert result.ok, result.problems
        imp.apply_items(village, result)
    code = {i.code: i.id for i in db.session.scalars(sa.select(PointItem).where(PointItem.code.like("Q%")))}
    assert _links(code["Q1"]) == [(2, "第六条", "每月第二个周")]
    assert _links(code["Q2"]) == [(2, "第一条", "村民应当遵守"), (2, "第四条", "邻里和睦，互")]
    assert _links(code["Q3"]) == [] and _links(code["Q4"]) == []
    # the written reference stays as typed
    assert db.session.get(PointItem, code["Q2"]).article_ref == "《青山村村规民约》第4条、第一条"
