"""Grid services against the database: the households' due list and overdue list on a given day from their
tags, memberships and visits; a household's grid history; one current grid per household even when two
clerks place it at once; refusals that write nothing."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from app.extensions import db
from app.grid import queries as gq
from app.grid import services as gs
from app.grid.errors import GridError
from app.grid.models import GridEvent, GridMembership, Visit
from app.registry.models import Household
from app.submission import write_transaction

D = dt.date


@pytest.fixture
def grid(village, make_household):
    specs = {"0001": [], "0002": ["dibao"], "0003": ["elderly_alone", "party_member"], "0004": ["special"],
             "0005": [], "0006": ["wubao"]}
    for number, tags in specs.items():
        make_household(village, number, f"户主{number}", tags=tags)
    with write_transaction():
        g = gs.create_grid(village, name="第一网格")
        for number in specs:
            h = db.session.scalar(sa.select(Household).where(Household.number == number))
            gs.place_household(h, g, on=D(2026, 1, 1))
    return g.id


def _visit(number, day, follow_up=None):
    with write_transaction():
        h = db.session.scalar(sa.select(Household).where(Household.number == number))
        gs.record_visit(h, visited_on=day, findings="正常", follow_up_on=follow_up, today=D(2026, 12, 31))


def test_the_due_and_overdue_lists_on_a_given_day(grid, village):
    _visit("0001", D(2026, 6, 10))   # ordinary: due 12-10
    _visit("0002", D(2026, 11, 4))   # 低保 monthly: due 12-04
    _visit("0003", D(2026, 10, 20))  # 独居老人 monthly (wins over 党员户): due 11-20
    _visit("0004", D(2026, 11, 20))  # special weekly: due 11-27
    _visit("0004", D(2026, 11, 28))  # … visited again: due 12-05
    _visit("0005", D(2026, 3, 1), follow_up=D(2026, 3, 15))  # asked for a second visit: due 03-15
    # 0006 (五保) never visited since it joined on 01-01: due 01-01
    plan = gq.schedule_for(village.id, gs.village_rules(village.id), today=D(2026, 12, 4))
    got = {p.household.number: (p.due.day, p.standing) for p in plan}
    assert got == {"0001": (D(2026, 12, 10), "upcoming"), "0002": (D(2026, 12, 4), "today"),
                   "0003": (D(2026, 11, 20), "overdue"), "0004": (D(2026, 12, 5), "upcoming"),
                   "0005": (D(2026, 3, 15), "overdue"), "0006": (D(2026, 1, 1), "overdue")}
    # a village that visits ordinary households every 3 months and has no rule for 独居老人
    with write_transaction():
        gs.set_rules(village, {"ordinary": (3, "month"), "dibao": (2, "week")})
    plan = gq.schedule_for(village.id, gs.village_rules(village.id), today=D(2026, 12, 4))
    got = {p.household.number: p.due.day for p in plan}
    assert got["0001"] == D(2026, 9, 10) and got["0002"] == D(2026, 11, 18) and got["0003"] == D(2027, 1, 20)


def test_a_household_moves_grid_with_its_history_kept(grid, village):
    with write_transaction():
        other = gs.create_grid(village, name="第二网格")
        h = db.session.scalar(sa.select(Household).where(Household.number == "0001"))
        gs.place_household(h, other, on=D(2026, 6, 1))
        with pytest.raises(GridError):  # earlier than the present grid's start
            gs.place_household(h, db.session.get(type(other), grid), on=D(2026, 5, 1))
    rows = db.session.scalars(sa.select(GridMembership).where(GridMembership.household_id == h.id)
                              .order_by(GridMembership.id)).all()
    assert [(r.grid_id, r.started_on, r.ended_on) for r in rows] == [
        (grid, D(2026, 1, 1), D(2026, 6, 1)), (other.id, D(2026, 6, 1), None)]
    # a visit now counts for the new grid
    _visit("0001", D(2026, 7, 1))
    assert db.session.scalars(sa.select(Visit)).one().grid_id == other.id


def test_one_current_grid_per_household_even_when_two_clerks_place_it_at_once(grid, village):
    h = db.session.scalar(sa.select(Household).where(Household.number == "0001"))
    with pytest.raises(IntegrityError):
        with write_transaction():
            db.session.add(GridMembership(village_id=village.id, household_id=h.id, grid_id=grid,
                                          started_on=D(2026, 2, 1)))
            db.session.flush()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GridMembership)
                             .where(GridMembership.household_id == h.id)) == 1


def test_micro_grids_and_refusals_write_nothing(grid, village, make_village):
    with write_transaction():
        parent = db.session.get(gq.Grid, grid)
        micro = gs.create_grid(village, name="第一微网格（1–3组）", parent=parent)
    assert micro.level == "micro_grid"
    elsewhere = make_village("v2", "二号村")
    refusals = [
        lambda: gs.create_grid(village, name="第一网格"),  # name taken
        lambda: gs.create_grid(village, name=" "),
        lambda: gs.create_grid(village, name="孙网格", parent=db.session.get(gq.Grid, micro.id)),
        lambda: gs.create_grid(db.session.merge(elsewhere), name="外村", parent=db.session.get(gq.Grid, grid)),
        # the grid has micro-grids now: households go into one of them
        lambda: gs.place_household(db.session.scalar(sa.select(Household).where(Household.number == "0001")),
                                   db.session.get(gq.Grid, grid)),
        lambda: gs.set_rules(village, {"ordinary": None}),
        lambda: gs.set_rules(village, {"ordinary": (0, "month")}),
        lambda: gs.set_rules(village, {"ordinary": (1, "year")}),
        lambda: gs.set_rules(village, {"ordinary": (1, "month"), "vip": (1, "day")}),
        lambda: gs.report_event(village, kind="ufo", text="x"),
        lambda: gs.report_event(village, kind="other", text="x", priority="asap"),
        lambda: gs.report_event(village, kind="other", text="  "),
        lambda: gs.report_event(village, kind="other", text="x", source=("rumour", 1)),
    ]
    before = db.session.scalar(sa.select(sa.func.count()).select_from(gq.Grid))
    for refuse in refusals:
        with pytest.raises(GridError):
            with write_transaction():
                refuse()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(gq.Grid)) == before
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GridEvent)) == 0


def test_events_are_numbered_per_village_and_year_and_overdue_by_priority(grid, village):
    now = dt.datetime(2026, 12, 1, 2, 0)
    with write_transaction():
        a = gs.report_event(village, kind="hazard", text="井盖缺失", priority="urgent", now=now)
        b = gs.report_event(village, kind="request", text="路灯", priority="low", now=now)
        gs.accept(db.session.get(GridEvent, b.id), priority="normal")
    assert (a.number, b.number) == ("2026-网-0001", "2026-网-0002")
    overdue = gq.overdue_events(village.id, now + dt.timedelta(days=2))
    assert [e.id for e in overdue] == [a.id]
    assert db.session.get(GridEvent, b.id).due_at == now + dt.timedelta(days=7)
    assert [e.id for e in gq.overdue_events(village.id, now + dt.timedelta(days=8))] == [a.id, b.id]
    with write_transaction():
        gs.accept(db.session.get(GridEvent, a.id))
        gs.resolve(db.session.get(GridEvent, a.id), resolution="已盖好", now=now + dt.timedelta(days=3))
    assert [e.id for e in gq.overdue_events(village.id, now + dt.timedelta(days=8))] == [b.id]
    figures = gq.event_figures(village.id, dt.datetime(2026, 11, 30, 16), dt.datetime(2026, 12, 31, 16),
                               now + dt.timedelta(days=8))
    assert (figures.reported, figures.closed, figures.late, figures.overdue) == (2, 0, 1, 1)
