"""The demo village: a few hundred generated households, one login per role."""
from __future__ import annotations

import datetime as dt
import random

import sqlalchemy as sa

from .auth.models import User
from .auth.services import create_user, grant
from .extensions import db
from .grid.demo import seed_grid_demo
from .kiosk.demo import seed_kiosk_demo
from .patrol.demo import seed_patrol_demo
from .points.demo import link_demo_items, seed_points_demo
from .registry.identity import make_test_id
from .registry.models import Relation, Township, Village
from .registry.services import (PersonData, add_person, create_group, create_household, create_township,
                                create_village)
from .rules.demo import seed_rules_demo
from .shop.demo import seed_shop_demo
from .submission import write_transaction

DEMO_CODE = "demo"
DEMO_PASSWORD = "demo1234"
DEMO_LOGINS = [
    ("admin", "admin"), ("township", "township"), ("clerk", "clerk"), ("reviewer", "reviewer"),
    ("cashier", "cashier"), ("patrol", "patrol_leader"), ("mediator", "mediator"), ("grid", "grid_worker"),
    ("grid2", "grid_worker"),
]
GROUPS = ["第一村民小组", "第二村民小组", "第三村民小组", "第四村民小组", "第五村民小组", "第六村民小组"]
REGION = "410523"


def seed_demo(households: int = 300, seed: int = 20261125) -> bool:
    """Create the demo village, its register and its users; return False if it already exists."""
    with write_transaction():
        existing = db.session.scalar(sa.select(Village).where(Village.code == DEMO_CODE))
        if existing is not None:
            # the register exists; later features may still add their own demo data
            return _seed_features(existing)
        _seed_village(households, seed)
        return True


def _seed_village(households: int, seed: int) -> None:
    """The demo village with its generated register, the demo logins, and the features' demo data."""
    # imported on use, not for a cycle: faker is slow to import and only the demo needs it
    from faker import Faker

    rng = random.Random(seed)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    township = db.session.scalar(sa.select(Township).where(Township.code == "demo-town")) \
        or create_township("demo-town", "示范镇")
    village = create_village(DEMO_CODE, "乡约示范村", township)
    groups = [create_group(village, name, "group", fake.name()) for name in GROUPS]
    used_ids: set[str] = set()

    def id_for(born: dt.date, female: bool) -> str:
        while True:
            seq = rng.randrange(0, 500) * 2 + (0 if female else 1)
            number = make_test_id(REGION, born, seq)
            if number not in used_ids:
                used_ids.add(number)
                return number

    def born_between(lo: int, hi: int) -> dt.date:
        return dt.date(rng.randint(lo, hi), rng.randint(1, 12), rng.randint(1, 28))

    def phone() -> str:
        return "1" + rng.choice("3578") + "".join(str(rng.randint(0, 9)) for _ in range(9))

    tags_pool = ["dibao", "wubao", "elderly_alone", "left_behind_child", "key_assistance", "party_member"]
    for i in range(households):
        group = groups[i % len(groups)]
        surname = fake.last_name()
        head_female = rng.random() < 0.2
        head_born = born_between(1945, 1990)
        head_name = surname + (fake.first_name_female() if head_female else fake.first_name_male())
        idn = id_for(head_born, head_female)
        tags = [t for t in tags_pool if rng.random() < 0.06]
        h = create_household(
            village, f"{(i % len(groups)) + 1:02d}{i + 1:04d}",
            PersonData(name=head_name, sex="female" if head_female else "male", birth_date=head_born,
                       phone=phone(), id_number=idn),
            group=group, address=f"{group.name}{rng.randint(1, 80)}号", tags=tags)
        used_names = {head_name}

        def given(female: bool, family: str) -> str:
            for _ in range(20):
                name = family + (fake.first_name_female() if female else fake.first_name_male())
                if name not in used_names:  # noqa: B023  (called in this turn of the loop only)
                    used_names.add(name)  # noqa: B023
                    return name
            return name

        def member(rel: Relation, female: bool, born: dt.date, family: str) -> None:
            adult = born.year < 2008
            add_person(h, PersonData(  # noqa: B023  (called in this turn of the loop only)
                name=given(female, family), relation=rel.value, sex="female" if female else "male",
                birth_date=born, phone=phone() if adult and rng.random() < 0.7 else None,
                id_number=id_for(born, female) if rng.random() < 0.9 else None,
            ), moved_in=False)

        # a plausible family: spouse, children, perhaps the head's parents and grandchildren
        if rng.random() < 0.8:
            member(Relation.SPOUSE, not head_female,
                   born_between(head_born.year - 4, min(head_born.year + 4, 2000)), fake.last_name())
        if head_born.year > 1955 and rng.random() < 0.25:
            if rng.random() < 0.6:
                member(Relation.PARENT, False, born_between(head_born.year - 32, head_born.year - 22), surname)
            member(Relation.PARENT, True, born_between(head_born.year - 30, head_born.year - 20), fake.last_name())
        for _ in range(rng.choices([0, 1, 2, 3], weights=[25, 45, 25, 5])[0]):
            born = born_between(min(head_born.year + 22, 2024), min(head_born.year + 34, 2025))
            member(Relation.CHILD, rng.random() < 0.5, born, surname)
        if head_born.year < 1972 and rng.random() < 0.3:
            for _ in range(rng.randint(1, 2)):
                member(Relation.GRANDCHILD, rng.random() < 0.5,
                       born_between(min(head_born.year + 48, 2024), 2025), surname)
    for username, role in DEMO_LOGINS:
        user = db.session.scalar(sa.select(User).where(User.username == username)) \
            or create_user(username, DEMO_PASSWORD, _display(role))
        if role == "admin":
            grant(user, role)
        elif role == "township":
            grant(user, role, township=township)
        else:
            grant(user, role, village=village)
    _seed_features(village)


def _seed_features(village) -> bool:
    """Demo data of the features built on the register; each part adds itself only once."""
    clerk = db.session.scalar(sa.select(User).where(User.username == "clerk"))
    reviewer = db.session.scalar(sa.select(User).where(User.username == "reviewer"))
    cashier = db.session.scalar(sa.select(User).where(User.username == "cashier"))
    if clerk is None or reviewer is None:
        return False
    added = seed_points_demo(village, clerk, reviewer)
    # the rules after the points: the demo points items cite the demo articles
    if seed_rules_demo(village, clerk):
        link_demo_items(village)
        added = True
    # the shop after the points: its redemptions spend balances the points demo earned
    if cashier is not None:
        added = seed_shop_demo(village, cashier, clerk) or added
    added = seed_kiosk_demo(village, clerk) or added
    # patrol after the points: a confirmed shift records entries under the demo scheme's patrol item
    leader = db.session.scalar(sa.select(User).where(User.username == "patrol"))
    if leader is not None:
        added = seed_patrol_demo(village, leader, DEMO_PASSWORD) or added
    added = seed_grid_demo(village, clerk, DEMO_PASSWORD) or added
    return added


def _display(role: str) -> str:
    return {"admin": "系统管理员", "township": "镇干部", "clerk": "村委文书", "reviewer": "监委会委员",
            "cashier": "超市收银员", "patrol_leader": "巡逻队长", "mediator": "调解员",
            "grid_worker": "网格员"}[role]
