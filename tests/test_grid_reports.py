"""The grid work report for a month, on a seeded set with a known answer: visits done against due per grid and
per worker, events by kind, status and timeliness, and the closure rate stated in words with its two numbers."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.grid import services as gs
from app.grid.models import EventStep, GridEvent, GridMembership
from app.grid.report_views import month_report, parse_month
from app.registry.models import Household, Village
from app.submission import write_transaction

D, T = dt.date, dt.datetime


@pytest.fixture
def november(world):
    """Households in the grids from 2026-10-01; visits and events around November 2026 (village time UTC+8)."""
    with write_transaction():
        db.session.execute(sa.update(GridMembership).values(started_on=D(2026, 10, 1)))
    w1, w2 = world.worker, world.worker2

    def visit(number, on, actor):
        gs.record_visit(db.session.get(Household, world.households[number]), visited_on=on, findings="正常",
                        actor=db.session.merge(actor), today=on)

    with write_transaction():
        visit("0101", D(2026, 10, 2), w1)  # ordinary: next due 2027-04-02, not due in November
        visit("0102", D(2026, 10, 15), w1)  # 低保: due 11-15 …
        visit("0102", D(2026, 11, 16), w1)  # … visited
        visit("0202", D(2026, 11, 20), w1)  # ordinary never visited: due since joining, visited
        visit("0301", D(2026, 10, 31), w2)  # 独居老人: due 11-30, not visited; 0201 特殊 never visited: due
    v = db.session.get(Village, world.village.id)

    def report(kind, at, priority="normal"):
        return gs.report_event(v, kind=kind, text="情况", priority=priority, reporter=db.session.merge(w1), now=at)

    with write_transaction():
        # reported 10-31 23:00 local: October's, closed in November, not counted
        e0 = report("facility", T(2026, 10, 31, 15))
        gs.accept(e0)
        gs.resolve(e0, resolution="修好了", now=T(2026, 11, 3))
        gs.return_visit(e0, feedback="满意", satisfied=True, now=T(2026, 11, 4))
        # reported 11-01 00:30 local: November's; rejected on time
        e5 = report("dispute", T(2026, 10, 31, 16, 30))
        gs.reject(e5, reason="不属实")
        e1 = report("facility", T(2026, 11, 2, 2))  # resolved on time and closed
        gs.accept(e1)
        gs.resolve(e1, resolution="修好了", now=T(2026, 11, 5))
        gs.return_visit(e1, feedback="满意", satisfied=True, now=T(2026, 11, 6))
        e2 = report("hazard", T(2026, 11, 10), priority="urgent")  # due in a day, resolved late
        gs.accept(e2)
        gs.resolve(e2, resolution="已处理", now=T(2026, 11, 15))
        report("hazard", T(2026, 11, 20))  # still reported: overdue after 11-27
        report("other", T(2026, 11, 30, 17))  # 12-01 01:00 local: December's
        db.session.execute(sa.update(EventStep).where(EventStep.event_id == e5.id, EventStep.action == "reject")
                           .values(at=T(2026, 11, 2)))
    return world


def test_the_month_in_numbers(november):
    w = november
    data = month_report(w.village.id, 2026, 11, now=T(2026, 12, 5))
    grid = {gid: (f.households, f.due, f.visited, f.visits) for gid, f in data["by_grid"].items()}
    assert grid[w.m1] == (2, 1, 1, 1)
    assert grid[w.m2] == (2, 2, 1, 1)
    assert grid[w.two] == (1, 1, 0, 0)
    worker = {uid: (f.households, f.due, f.visited, f.visits) for uid, f in data["by_worker"].items()}
    assert worker[w.worker.id] == (4, 3, 2, 2)  # 第一网格 answers for both its micro-grids
    assert worker[w.worker2.id] == (1, 1, 0, 0)
    ev = data["events"]
    assert (ev.reported, ev.closed, ev.closure_rate) == (4, 1, 0.25)
    assert (ev.on_time, ev.late, ev.overdue) == (2, 1, 1)
    assert ev.by_kind == {"facility": 1, "hazard": 2, "dispute": 1}
    assert ev.by_status == {"closed": 1, "resolved": 1, "reported": 1, "rejected": 1}
    october = month_report(w.village.id, 2026, 10, now=T(2026, 12, 5))["events"]
    assert (october.reported, october.closed) == (1, 1)
    december = month_report(w.village.id, 2026, 12, now=T(2026, 12, 5))["events"]
    assert december.reported == 1 and december.closure_rate == 0


def test_the_report_page_states_its_definitions_and_the_closure_rate(clerk_client, november):
    page = clerk_client.get("/grid/reports?month=2026-11").get_data(as_text=True)
    assert "结案率 = 本期上报且已结案的事件数 ÷ 本期上报的事件数" in page
    assert "结案率：25%" in page and "本月：已结案1件 ÷ 上报4件" in page
    assert "本月应访：网格内按走访频次（根据本月之前的走访）下次应访日期在本月最后一天或之前的户" in page
    table = page[page.index('id="visits-by-grid"'):page.index('id="visits-by-worker"')]
    assert "第一微网格（1组）" in table and "<td>100%</td>" in table and "<td>50%</td>" in table
    workers = page[page.index('id="visits-by-worker"'):page.index('id="closure-rate"')]
    assert "wgy1" in workers and "67%" not in workers and "66.7%" in workers
    assert "安全隐患" in page and "矛盾纠纷" in page and "不予受理" in page and "已回访结案" in page


def test_the_report_page_in_english(clerk_client, november):
    assert clerk_client.get("/lang/en").status_code == 302
    r = clerk_client.get("/grid/reports?month=2026-11")
    page = r.get_data(as_text=True)
    assert r.status_code == 200
    table = page[page.index('id="visits-by-grid"'):page.index('id="visits-by-worker"')]
    assert "<th>Done (%)</th>" in table and "<td>100%</td>" in table


def test_no_event_no_rate(clerk_client, world):
    page = clerk_client.get("/grid/reports?month=2026-03").get_data(as_text=True)
    assert "结案率：—" in page and "本月：已结案0件 ÷ 上报0件" in page


@pytest.mark.parametrize("month", ["2026-13", "2026-00", "1999-12", "abc", "2026-1-1", "9" * 40, "2026‐11"])
def test_a_bad_month_gets_a_message(clerk_client, world, month):
    r = clerk_client.get("/grid/reports", query_string={"month": month})
    assert r.status_code == 400 and "请选择月份" in r.get_data(as_text=True)


def test_parse_month():
    assert parse_month("2026-11") == (2026, 11) and parse_month(" 2026-1 ") == (2026, 1)
    assert parse_month("2026-11-01") is None and parse_month(None) is None


def test_reviewers_and_workers_read_the_report(client, auth, world):
    for user in ("shenhe", "wgy1"):
        assert auth.login(user).status_code == 302
        assert client.get("/grid/reports").status_code == 200
        auth.logout()
    assert auth.login("clerk2").status_code == 302
    page = client.get("/grid/reports").get_data(as_text=True)
    assert "第一微网格" not in page  # another village's clerk sees only their own
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GridEvent)) == 0
