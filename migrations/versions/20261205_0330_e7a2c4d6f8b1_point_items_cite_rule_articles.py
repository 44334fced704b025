"""Points items cite rule articles by id: link the items that only name an article in writing (issue 18).

An item cites one article of one version (point_item_articles). Items set up before that carried only the
written reference (PointItem.article_ref, e.g. 村规民约第五条): each is linked here to the article it names in
the version in force when the item was set up, when that can be told (a version whose publication, or failing
that adoption, came on or before the item's creation day); otherwise to the article with that number in the
version published now. A reference naming no rule set of the village, or an article the version lacks, stays
as written. Entries keep their own copy of the reference (PointEntry.article_ref) untouched.

No table changes: the self-contained data step below is also what tests/test_rule_citations.py runs.

Revision ID: e7a2c4d6f8b1
Revises: e7a3c5d9f1b2
Create Date: 2026-12-05 03:30:00

"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7a2c4d6f8b1'
down_revision = 'e7a3c5d9f1b2'
branch_labels = None
depends_on = None

#: rule kinds a written reference may name instead of the rule set's full title
KIND_NAMES = {"村规民约": "village_rules", "村民自治章程": "charter", "自治章程": "charter", "章程": "charter",
              "积分管理办法": "points_rules", "积分制管理办法": "points_rules", "积分管理细则": "points_rules",
              "幸福超市管理办法": "shop_rules", "超市管理办法": "shop_rules"}
IN_FORCE = ("adopted", "filed", "published", "superseded")
CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
CN_UNITS = {"十": 10, "百": 100, "千": 1000}
#: one reference: an optional rule set name, then 第…条
ONE_REF = re.compile(r"(?P<name>.*?)第(?P<num>[0-9〇零一二两三四五六七八九十百千]{1,8})条")


def _number(raw):
    s = unicodedata.normalize("NFKC", raw)
    if s.isdigit():
        return int(s)
    if all(ch in CN_DIGITS for ch in s):
        return int("".join(str(CN_DIGITS[ch]) for ch in s))
    total, current = 0, 0
    for ch in s:
        if ch in CN_DIGITS:
            current = CN_DIGITS[ch]
        elif ch in CN_UNITS:
            total += (current or 1) * CN_UNITS[ch]
            current = 0
        else:
            return None
    return total + current


def _day(value):
    """An ISO day from a date, datetime or their SQLite text."""
    return str(value)[:10] if value is not None else None


def _references(ref):
    """[(rule set name or "", article number)] of a written reference such as 村规民约第五条、第六条."""
    out, name = [], ""
    for m in ONE_REF.finditer(unicodedata.normalize("NFKC", ref)):
        written = re.sub(r"[\s《》<>、,，;；和及与]", "", m.group("name"))
        name = written or name  # 第五条、第六条: the second names the same rule set
        number = _number(m.group("num"))
        if number is not None:
            out.append((name, number))
    return out


def _ruleset(rulesets, name):
    """The one rule set of the village a written name stands for (None when none or several)."""
    if not name:
        return rulesets[0] if len(rulesets) == 1 else None
    kind = KIND_NAMES.get(name)
    found = [rs for rs in rulesets if rs["title"] == name or rs["title"].endswith(name)
             or any(t == name or t.endswith(name) for t in rs["version_titles"])]
    if not found and kind:
        found = [rs for rs in rulesets if rs["kind"] == kind]
    return found[0] if len(found) == 1 else None


def link_written_references(conn) -> int:
    """Link every item that has a written reference and no linked article; returns how many links were made."""
    items = conn.execute(sa.text(
        "SELECT id, village_id, article_ref, created_at FROM point_items "
        "WHERE article_ref IS NOT NULL AND article_ref <> '' AND NOT EXISTS "
        "(SELECT 1 FROM point_item_articles l WHERE l.point_item_id = point_items.id) ORDER BY id")).all()
    made = 0
    rulesets_of = {}
    for item_id, village_id, ref, created_at in items:
        if village_id not in rulesets_of:
            sets = [dict(id=r.id, title=r.title, kind=r.kind, version_titles=[], versions=[]) for r in conn.execute(
                sa.text("SELECT id, title, kind FROM rule_sets WHERE village_id = :v ORDER BY id"), {"v": village_id})]
            for rs in sets:
                for v in conn.execute(sa.text(
                        "SELECT id, version_no, status, title, adopted_on, published_on FROM rule_versions "
                        "WHERE ruleset_id = :r ORDER BY version_no"), {"r": rs["id"]}):
                    rs["version_titles"].append(v.title)
                    if v.status in IN_FORCE:
                        rs["versions"].append(dict(id=v.id, status=v.status,
                                                   since=_day(v.published_on) or _day(v.adopted_on)))
            rulesets_of[village_id] = sets
        created = _day(created_at)
        linked = set()
        for name, number in _references(ref):
            rs = _ruleset(rulesets_of[village_id], name)
            if rs is None:
                continue
            then = [v for v in rs["versions"] if v["since"] and created and v["since"] <= created]
            version = then[-1] if then else next((v for v in rs["versions"] if v["status"] == "published"), None)
            if version is None:
                continue
            article = conn.execute(sa.text(
                "SELECT id FROM rule_articles WHERE version_id = :v AND number = :n ORDER BY seq"),
                {"v": version["id"], "n": number}).first()
            if article is None or article.id in linked:
                continue
            conn.execute(sa.text("INSERT INTO point_item_articles (point_item_id, article_id) VALUES (:i, :a)"),
                         {"i": item_id, "a": article.id})
            linked.add(article.id)
            made += 1
    return made


def upgrade():
    link_written_references(op.get_bind())


def downgrade():
    # the links stay: they are what the items cite, and the schema before this revision holds them too
    pass
