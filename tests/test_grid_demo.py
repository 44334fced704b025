"""The demo village's grid work: two grids (the first in two micro-grids), the demo grid worker with a few
households overdue and a couple due today, events in every state, a closure rate to read; all seeded once."""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa

from app.audit.services import verify
from app.auth.models import User
from app.db import local_day, local_today, utcnow
from app.extensions import db
from app.grid import queries as gq
from app.grid import services as gs
from app.grid.models import Grid, GridEvent, GridMembership, GridWorker, Visit
from app.ledger import services as ledger
from app.registry.models import Household, HouseholdStatus


def _count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_the_demo_has_grid_work_to_look_at(runner, client):
    r = runner.invoke(args=["demo", "--households", "40"])
    assert r.exit_code == 0, r.output
    assert re.search(r"grid\s+grid_worker", r.output)

    grids = db.session.scalars(sa.select(Grid).order_by(Grid.id)).all()
    first, *micro, second = grids
    assert [g.name for g in grids] == ["第一网格（第一至第三村民小组）", "第一微网格（第一至第二村民小组）",
                                       "第二微网格（第三村民小组）", "第二网格（第四至第六村民小组）"]
    assert all(m.parent_id == first.id for m in micro) and second.parent_id is None
    assert all(g.chief_name for g in grids)
    worker = db.session.scalar(sa.select(User).where(User.username == "grid"))
    assert db.session.scalar(sa.select(GridWorker.grid_id).where(GridWorker.user_id == worker.id)) == first.id

    # every active household sits in a grid (the finest one), most since the grids were drawn
    active = db.session.scalars(sa.select(Household.id).where(
        Household.status == HouseholdStatus.ACTIVE.value)).all()
    memberships = db.session.scalars(sa.select(GridMembership).where(GridMembership.ended_on.is_(None))).all()
    assert sorted(m.household_id for m in memberships) == sorted(active)
    assert first.id not in {m.grid_id for m in memberships}
    today = local_today()
    joined = sorted((today - m.started_on).days for m in memberships)
    assert joined[0] < 30 and joined[-1] > 300

    # the worker's list: a few overdue, a couple due today, most done
    plan = gq.schedule_for(first.village_id, gs.village_rules(first.village_id),
                           grid_ids=gs.worker_grid_ids(first.village_id, worker.id), today=today)
    overdue = [p for p in plan if p.standing == "overdue"]
    due_today = [p for p in plan if p.standing == "today"]
    assert 2 <= len(overdue) <= 6 and len(due_today) == 2
    assert len(plan) - len(overdue) - len(due_today) > len(plan) // 2
    assert _count(Visit) > len(active)

    statuses = {e.status: e for e in db.session.scalars(sa.select(GridEvent))}
    assert set(statuses) == {"reported", "accepted", "assigned", "in_progress", "resolved", "closed", "rejected",
                             "converted"}
    assert statuses["closed"].feedback and statuses["closed"].satisfied
    assert statuses["rejected"].reason
    assert statuses["assigned"].assignee_id == worker.id
    handed = statuses["converted"]
    assert handed.handed_to == "mediation_case" and handed.handed_id is None
    assert gq.awaiting_mediation(first.village_id) == [handed]
    assert min(e.reported_at for e in statuses.values()) >= utcnow() - dt.timedelta(days=62)
    village_id = first.village_id

    client.post("/login", data={"username": "grid", "password": "demo1234"})
    with client.get("/grid/today") as page:
        html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "已超期" in html and "今天到期" in html
    for item in overdue + due_today:
        assert item.household.number in html
    assert html.count('class="grid-due grid-overdue"') == len(overdue)
    assert html.count('class="grid-due grid-today"') == len(due_today)

    closed_month = min(e.reported_at for e in db.session.scalars(
        sa.select(GridEvent).where(GridEvent.status == "closed")))
    month = f"{local_day(closed_month):%Y-%m}"
    with client.get(f"/grid/reports?month={month}") as page:
        html = page.get_data(as_text=True)
    rate = re.search(r"结案率：(\d+(?:\.\d)?%)", html)
    assert page.status_code == 200 and rate and rate.group(1) != "0%", html[:2000]
    client.post("/logout")

    before = [_count(m) for m in (Grid, GridMembership, GridWorker, Visit, GridEvent)]
    assert runner.invoke(args=["demo"]).output.count("nothing changed") == 1
    assert [_count(m) for m in (Grid, GridMembership, GridWorker, Visit, GridEvent)] == before

    assert ledger.check(village_id) == []
    assert verify()[1] is None
