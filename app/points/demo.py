"""Demo data for points: a realistic 积分细则 and a few months of approved and pending entries."""
from __future__ import annotations

import datetime as dt
import random
import re

import sqlalchemy as sa

from ..db import local_today
from ..extensions import db
from ..registry.models import Household, Person
from ..rules.services import published_versions, set_item_articles
from . import services as pts
from .models import PointItem, PointScheme

CATALOGUE = [
    ("热心公益", "add", [
        ("A01", "参加村庄义务劳动（环境清洁日）", 2, "per_event", "year", 24, "person", "村规民约第五条"),
        ("A02", "参加义务巡逻，每次", 2, "per_event", "month", 8, "person", "村规民约第九条"),
        ("A03", "志愿服务累计满10小时", 5, "tiered", "none", None, "person", "积分管理办法第八条"),
        ("A04", "向村集体捐款捐物，每100元", 1, "per_amount", "year", 20, "household", "积分管理办法第八条"),
    ]),
    ("环境治理", "add", [
        ("B01", "门前三包检查达标（每月）", 2, "per_month", "month", 2, "household", "村规民约第六条"),
        ("B02", "获评“美丽庭院”", 10, "per_event", "year", 10, "household", "村规民约第六条"),
    ]),
    ("孝老爱亲", "add", [
        ("C01", "获评“好婆婆”“好媳妇”", 10, "per_event", "year", 10, "person", "村规民约第十二条"),
        ("C02", "照料独居老人（每月）", 3, "per_month", "month", 3, "person", "村规民约第十二条"),
    ]),
    ("遵纪守法", "add", [
        ("E01", "见义勇为，经村委会认定", 20, "per_event", "none", None, "person", "村规民约第三条"),
        ("E02", "拾金不昧", 5, "per_event", "none", None, "person", "村规民约第三条"),
    ]),
    ("综合扣分", "deduct", [
        ("D01", "乱堆乱放、乱扔垃圾，经劝阻不改", -2, "per_event", "none", None, "household", "村规民约第六条"),
        ("D02", "焚烧秸秆、垃圾", -5, "per_event", "none", None, "household", "村规民约第七条"),
        ("D03", "参与赌博", -10, "per_event", "none", None, "person", "村规民约第四条"),
        ("D04", "不履行赡养义务，经调解不改", -20, "per_event", "none", None, "household", "村规民约第十二条"),
    ]),
]


def seed_points_demo(village, clerk, reviewer, seed: int = 7, today: dt.date | None = None) -> bool:
    """Add the demo scheme and entries to the demo village unless it has a scheme already."""
    if db.session.scalar(sa.select(PointScheme.id).where(PointScheme.village_id == village.id)):
        return False
    today = today or local_today()
    rng = random.Random(seed)
    scheme = pts.create_scheme(village, "乡约示范村积分管理细则", star_bands="10:1,20:2,35:3,50:4,70:5")
    items = []
    for sort, (cat_name, direction, rows) in enumerate(CATALOGUE):
        cat = pts.create_category(scheme, cat_name, direction, sort)
        for code, text, points, unit, cap_period, cap, applies, article in rows:
            items.append(pts.create_item(cat, pts.ItemData(
                code=code, text=text, points=points, unit=unit, cap_period=cap_period, cap_points=cap,
                applies_to=applies, article_ref=article)))
    people = list(db.session.scalars(sa.select(Person).join(Household, Household.id == Person.household_id)
                                     .where(Person.village_id == village.id, Person.birth_date < dt.date(2008, 1, 1))))
    adds = [i for i in items if i.points > 0]
    deducts = [i for i in items if i.points < 0]
    start = today - dt.timedelta(days=90)
    for n in range(260):
        person = rng.choice(people)
        item = rng.choice(adds) if rng.random() < 0.9 else rng.choice(deducts)
        day = start + dt.timedelta(days=rng.randrange(0, 88))
        entry = pts.record_entry(scheme, item, person.household, person=person, occurred_on=day, actor=clerk,
                                 key=f"demo:{n}", today=today)
        if n < 230:
            try:
                pts.approve(entry, reviewer, today=min(day + dt.timedelta(days=rng.randint(1, 3)), today))
            except pts.PointsError:
                pts.reject(entry, reviewer, reason="超出该项目的积分上限")
    return True


#: the rule sets the demo items' written references name
_RULESET_NAMES = {"village_rules": "村规民约", "points_rules": "积分管理办法"}


def link_demo_items(village) -> None:
    """Turn the demo items' written references (村规民约第五条) into links to the published articles."""
    versions = {_RULESET_NAMES[v.ruleset.kind]: v for v in published_versions(village.id)
                if v.ruleset.kind in _RULESET_NAMES}
    for item in db.session.scalars(sa.select(PointItem).where(PointItem.village_id == village.id)):
        m = re.fullmatch(r"(村规民约|积分管理办法)(第.+条)", item.article_ref or "")
        if not m or m.group(1) not in versions:
            continue
        article = next((a for a in versions[m.group(1)].articles if a.label == m.group(2)), None)
        if article is not None:
            set_item_articles(item, [article.id])
