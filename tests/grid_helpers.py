"""A village drawn into grids for the clerk's grid pages: groups, households with tags, a grid divided into two
micro-grids and a plain grid, a grid worker for each, a reviewer, and a second village to be refused."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.auth.models import User
from app.db import local_today
from app.extensions import db
from app.grid import services as gs
from app.grid.models import Grid
from app.registry.models import Household, VillagerGroup
from app.registry.services import create_group
from app.submission import write_transaction

JOINED = dt.date(2026, 1, 5)

#: number → (head, group, tags)
HOUSEHOLDS = {
    "0101": ("赵一平", "1组", []),
    "0102": ("钱二低", "1组", ["dibao"]),
    "0201": ("孙三特", "2组", ["special"]),
    "0202": ("李四普", "2组", []),
    "0301": ("周五老", "3组", ["elderly_alone"]),
    "0302": ("吴六新", "3组", []),
}


@pytest.fixture
def world(app, village, clerk, make_village, make_user, make_household):
    """Grids drawn; households 0101–0202 placed on JOINED (0301 in 第二网格, 0302 in none)."""
    with write_transaction():
        groups = {name: create_group(db.session.merge(village), name) for name in ("1组", "2组", "3组")}
    households = {}
    for number, (head, group, tags) in HOUSEHOLDS.items():
        households[number] = make_household(village, number, head, group=db.session.merge(groups[group]), tags=tags)
    worker = make_user("wgy1", ("grid_worker", village))
    worker2 = make_user("wgy2", ("grid_worker", village))
    reviewer = make_user("shenhe", ("reviewer", village))
    other = make_village("v2", "二号村")
    make_household(other, "0101", "外村人")
    make_user("clerk2", ("clerk", other))
    with write_transaction():
        v = db.session.merge(village)
        one = gs.create_grid(v, name="第一网格", chief_name="王书记", chief_phone="13800000000")
        m1 = gs.create_grid(v, name="第一微网格（1组）", parent=one, chief_name="陈组长")
        m2 = gs.create_grid(v, name="第二微网格（2组）", parent=one)
        two = gs.create_grid(v, name="第二网格")
        gs.create_grid(db.session.merge(other), name="外村网格")
        for number, grid in (("0101", m1), ("0102", m1), ("0201", m2), ("0202", m2), ("0301", two)):
            gs.place_household(db.session.merge(households[number]), grid, on=JOINED)
        gs.assign_worker(one, db.session.merge(worker), started_on=JOINED)
        gs.assign_worker(two, db.session.merge(worker2), started_on=JOINED)
    ids = {x.name: x.id for x in db.session.scalars(sa.select(Grid))}
    return SimpleNamespace(
        village=village, other=other, worker=worker, worker2=worker2, reviewer=reviewer,
        grids=ids, one=ids["第一网格"], m1=ids["第一微网格（1组）"], m2=ids["第二微网格（2组）"],
        two=ids["第二网格"], far=ids["外村网格"], far_household=db.session.scalar(
            sa.select(Household.id).where(Household.village_id == other.id)),
        households={n: h.id for n, h in households.items()},
        groups={n: gr.id for n, gr in groups.items()},
    )


def counts(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


@pytest.fixture
def ground(village, make_user, make_household):
    """Two villager groups, a grid over them with a worker, a second grid with another worker; households
    placed in both, some tagged."""
    make_user("wenshu", ("clerk", village))
    make_user("wangge", ("grid_worker", village))
    make_user("wangge2", ("grid_worker", village))
    make_user("jiandu", ("reviewer", village))
    make_user("tiaojie", ("mediator", village))
    make_user("xunluo", ("patrol_leader", village))
    with write_transaction():
        g1 = create_group(village, "一组")
        g2 = create_group(village, "二组")
        g3 = create_group(village, "三组")
    ids = {"groups": [g1.id, g2.id, g3.id]}
    hh = {
        "0101": make_household(village, "0101", "赵大", group=db.session.get(VillagerGroup, g1.id)),
        "0201": make_household(village, "0201", "钱二", group=db.session.get(VillagerGroup, g2.id),
                               tags=["dibao"]),
        "0301": make_household(village, "0301", "孙三", group=db.session.get(VillagerGroup, g3.id),
                               tags=["special"]),
        "0901": make_household(village, "0901", "李九", group=db.session.get(VillagerGroup, g1.id)),
    }
    with write_transaction():
        grid = gs.create_grid(village, name="第一网格", chief_name="王书记")
        other = gs.create_grid(village, name="第二网格")
        gs.assign_worker(grid, db.session.scalar(sa.select(User).where(User.username == "wangge")))
        gs.assign_worker(other, db.session.scalar(sa.select(User).where(User.username == "wangge2")))
        start = local_today() - dt.timedelta(days=3)
        for number in ("0101", "0201", "0301"):
            gs.place_household(db.session.get(Household, hh[number].id), grid, on=start)
        gs.place_household(db.session.get(Household, hh["0901"].id), other, on=start)
    ids.update(grid=grid.id, other=other.id, **{n: h.id for n, h in hh.items()})
    return ids
