"""The village dashboard and the township roll-up on seeded villages with known answers: points awarded,
deducted and redeemed, households taking part, stars, patrol attendance, mediation and the 矛盾不出村率, grid
visits and the closure rate, goods and stock; the printed month holds every chart's numbers; the township
sees figures only; who may see what."""
from __future__ import annotations

import datetime as dt
import io
import re

import pytest
import sqlalchemy as sa

from app.db import local_today
from app.extensions import db
from app.mediation.models import MediationCase
from app.patrol import services as ps
from app.points import services as pts
from app.registry.models import Household, Person, Village
from app.registry.services import create_township
from app.reports.figures import rollup, village_dashboard
from app.reports.models import VillageMonth
from app.shop import services as shop
from app.submission import write_transaction
from tests.grid_helpers import HOUSEHOLDS
from tests.test_grid_reports import november  # noqa: F401  (fixture)
from tests.test_mediation_services import _case, desk  # noqa: F401  (fixture)
from tests.test_patrol_services import _shift, _walked_shift, team  # noqa: F401  (fixture)

D = dt.date
CASE_SUMMARY = "两户因宅基地边界的围墙发生争执"


def _entry(scheme, item, household_id, day, reviewer, *, approve=True):
    e = pts.record_entry(scheme, item, db.session.get(Household, household_id), occurred_on=day, today=day)
    if approve:
        pts.approve(e, db.session.merge(reviewer), today=day)
    return e


@pytest.fixture
def seeded(november, desk, make_user):
    """The grid's November (tests/test_grid_reports.py), two mediation cases, points entries with known sums."""
    w = november
    with write_transaction():
        v = db.session.get(Village, w.village.id)
        scheme = pts.create_scheme(v, "积分细则", star_bands="30:1,60:2,100:3")
        add = pts.create_category(scheme, "美德加分", "add")
        ded = pts.create_category(scheme, "综合扣分", "deduct")
        good = pts.create_item(add, pts.ItemData(code="A01", text="见义勇为", points=40))
        bad = pts.create_item(ded, pts.ItemData(code="K01", text="乱倒垃圾", points=-2))
        a, b, c = (w.households[n] for n in ("0101", "0102", "0201"))
        _entry(scheme, good, a, D(2026, 10, 10), w.reviewer)  # October's
        _entry(scheme, good, a, D(2026, 11, 5), w.reviewer)
        _entry(scheme, good, b, D(2026, 11, 20), w.reviewer)
        _entry(scheme, bad, b, D(2026, 11, 21), w.reviewer)
        _entry(scheme, good, c, D(2026, 11, 22), w.reviewer, approve=False)  # pending: not counted
        _entry(scheme, good, c, D(2026, 12, 1), w.reviewer)  # December's: not in November's stars
    settled = _case(desk, day=D(2026, 11, 3))
    _case(desk, day=D(2026, 11, 9))
    _case(desk, day=D(2026, 10, 9))
    with write_transaction():  # a read figure: the case's way through its table is tested in mediation's tests
        db.session.execute(sa.update(MediationCase).where(MediationCase.id == settled.id)
                           .values(status="agreed", level="village_committee"))
    return w


def test_the_village_month_in_figures(seeded):
    d = village_dashboard(seeded.village.id, 2026, 11)
    n = d.now
    assert (n.awarded, n.deducted, n.taking_part, n.households) == (80, 2, 2, 8)
    assert d.trend[10].awarded == 40 and d.trend[10].taking_part == 1 and sorted(d.trend) == list(range(1, 12))
    # a: 40 + 40 = 80 → 2 stars; b: 40 − 2 = 38 → 1 star; the 6 others 0 (c's December entry not yet)
    assert n.stars == {0: 6, 1: 1, 2: 1, 3: 0, 4: 0, 5: 0}
    assert (n.received, n.settled, n.inside_village, n.inside_rate) == (2, 1, 1, 0.5)
    assert d.trend[10].received == 1
    assert (n.visits_due, n.visited) == (4, 2) and n.visit_rate == 0.5
    assert (n.events, n.events_closed, n.closure_rate) == (4, 1, 0.25)
    assert (d.trend[10].events, d.trend[10].events_closed) == (1, 1)


def test_patrol_attendance_of_the_month(team):
    sid = _walked_shift(team, D(2026, 11, 12), [None, "late", "absent", "leave"])
    _walked_shift(team, D(2026, 10, 12), [None, None, None, "absent"])
    planned = _walked_shift(team, D(2026, 11, 14), ["absent"] * 4)  # never confirmed: not counted
    for s in (sid, planned - 1):
        with write_transaction():
            ps.confirm(_shift(s), actor=db.session.merge(team.leader))
    d = village_dashboard(team.village.id, 2026, 11)
    assert (d.now.shifts, d.now.walked, d.now.absent, d.now.on_leave) == (1, 2, 1, 1)
    assert d.now.attendance_rate == pytest.approx(2 / 3)
    assert d.trend[10].attendance_rate == 0.75


def test_goods_redemptions_donations_and_stock(team, make_user):
    today = local_today()
    reviewer = make_user("shenhe2", ("reviewer", team.village))
    cashier = make_user("shouyin", ("cashier", team.village))
    with write_transaction():
        item = pts.create_item(team.scheme.categories[0] if team.scheme.categories else None,
                               pts.ItemData(code="A09", text="好人好事", points=50))
        _entry(team.scheme, item, team.households[0].id, today, reviewer)
        v = db.session.merge(team.village)
        soap = shop.create_product(v, name="肥皂", unit="块", price_points=5)
        shop.receive_purchase(soap, 10, "采购")
        shop.receive_donation(v, donor_name="爱心企业", donor_kind="unit", lines=[(soap, 5)], received_on=today)
        shop.redeem(db.session.get(Household, team.households[0].id), [(soap, 3)], key="k-soap",
                    actor=db.session.merge(cashier))
    d = village_dashboard(team.village.id, today.year, today.month)
    n = d.now
    assert (n.redeemed, n.redemptions, n.purchased, n.donated, n.handed_out, n.donations) == (15, 1, 10, 5, 3, 1)
    assert n.stock == 12 and n.awarded == 50 and n.taking_part == 1
    last_month = (today.replace(day=1) - dt.timedelta(days=1))
    before = village_dashboard(team.village.id, last_month.year, last_month.month).now
    assert before.stock == 0 and before.redeemed == 0  # the shelves were empty when last month ended


# --- pages and paper ----------------------------------------------------------------------------------

def test_the_dashboard_page_draws_each_chart_with_its_numbers(seeded, client, auth):
    auth.login("shenhe")  # the reviewer
    page = client.get("/reports/?month=2026-11").get_data(as_text=True)
    for chart in ("chart-points", "chart-taking-part", "chart-stars", "chart-patrol", "chart-mediation",
                  "chart-events", "chart-goods"):
        figure = page[page.index(f'id="{chart}"'):]
        figure = figure[:figure.index("</figure>")]
        assert "<svg" in figure and f'id="{chart}-numbers"' in figure
    assert "<script" not in page.split("<body", 1)[1].split("</main>")[0]
    stars = page[page.index('id="chart-stars-numbers"'):]
    assert re.search(r"<td>无星</td><td class=\"num\">6</td>", stars)
    assert "50%（1 / 2）" in page and "25%（1 / 4）" in page and "2 / 8（25%）" in page
    r = client.get("/reports/?month=2026-13")
    assert r.status_code == 400 and "请选择月份" in r.get_data(as_text=True)


def test_the_printed_month_holds_every_charts_numbers(seeded, client, auth):
    from pypdf import PdfReader  # slow import, one test

    auth.login("shenhe")
    with client.get("/reports/month.pdf?month=2026-11") as r:
        assert r.status_code == 200 and r.mimetype == "application/pdf"
        reader = PdfReader(io.BytesIO(r.data))
    text = "\n".join(p.extract_text() for p in reader.pages)
    flat = re.sub(r"\s+", "", text)
    assert "一号村村务月报（2026年11月）" in flat
    # the month's figures
    for expected in ("加分80", "扣分2", "2/8（25%）", "50%（1/2）", "25%（1/4）", "2/4（50%）"):
        assert expected in flat, expected
    # each chart's title and its numbers table: November's row, the stars' rows
    for title, row in (("每月积分", "11月8002"), ("每月参与户数", "11月2"), ("星级分布", "无星6"),
                       ("星级分布", "1星1"), ("星级分布", "2星1"), ("每月巡逻出勤率", "11月—"),
                       ("每月调解案件", "11月211"), ("每月网格事件", "11月41"), ("每月物资进出", "11月000"),
                       ("每月积分", "10月4000")):
        assert title in flat and row in flat[flat.index(title):], (title, row)


def test_cashier_and_township_users_get_no_dashboard(seeded, client, auth, make_user):
    make_user("shouyin", ("cashier", seeded.village))
    auth.login("shouyin")
    assert client.get("/reports/").status_code == 403
    assert client.get("/reports/month.pdf").status_code == 403
    assert client.get("/township").status_code == 403


# --- the township -------------------------------------------------------------------------------------

@pytest.fixture
def township(seeded, make_user):
    with write_transaction():
        town = create_township("t1", "一号镇")
        for v in (seeded.village, seeded.other):
            db.session.get(Village, v.id).township_id = town.id
    make_user("xiangzhen", ("township", town))
    return seeded


def test_the_township_sees_its_villages_side_by_side_and_the_totals(township):
    villages = list(db.session.scalars(sa.select(Village).order_by(Village.code)))
    rows, total = rollup(villages, 2026, 11)
    one = village_dashboard(township.village.id, 2026, 11).now
    assert rows[0].figures == one and rows[0].as_of is None  # the village's own dashboard, counted now
    assert rows[1].figures.households == 1 and rows[1].figures.awarded == 0
    assert total.households == 9 and total.awarded == 80 and total.stars[0] == 7
    assert total.closure_rate == 0.25


def test_stored_months_are_what_the_township_reads_until_counted_again(township, runner, client, auth):
    r = runner.invoke(args=["reports", "refresh", "--month", "2026-11", "--month", "2026-10"])
    assert r.exit_code == 0, r.output
    assert "2026-11: 2 villages counted" in r.output and "2026-10: 2 villages counted" in r.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(VillageMonth)) == 4
    villages = list(db.session.scalars(sa.select(Village).order_by(Village.code)))
    rows, total = rollup(villages, 2026, 11)
    assert rows[0].as_of is not None and rows[0].figures == village_dashboard(township.village.id, 2026, 11).now
    with write_transaction():  # a late approval for November
        scheme = pts.create_scheme(db.session.get(Village, township.other.id), "积分细则")
        item = pts.create_item(pts.create_category(scheme, "加分", "add"), pts.ItemData(code="A1", text="好事",
                                                                                       points=7))
        _entry(scheme, item, township.far_household, D(2026, 11, 30), township.reviewer)
    assert rollup(villages, 2026, 11)[1].awarded == 80  # the stored figures, until counted again
    auth.login("xiangzhen")
    page = client.get("/township?month=2026-11").get_data(as_text=True)
    assert "当场统计" not in page.split('id="rollup"')[1]  # every row stored: its time is shown
    runner.invoke(args=["reports", "refresh", "--month", "2026-11", "--village", "v2"])
    assert rollup(villages, 2026, 11)[1].awarded == 87
    r = runner.invoke(args=["reports", "refresh", "--month", "2026-13"])
    assert r.exit_code == 2 and "not a month" in r.output
    r = runner.invoke(args=["reports", "refresh", "--village", "nowhere"])
    assert r.exit_code == 1 and "no such village: nowhere" in r.output


def test_the_township_view_shows_no_name_household_or_case(township, client, auth):
    auth.login("xiangzhen")
    secrets = [name for name, _g, _t in HOUSEHOLDS.values()] + ["外村人", "孙有田", "周满仓", CASE_SUMMARY]
    secrets += [p for p in db.session.scalars(sa.select(Person.name))]
    secrets += [f">{n}<" for n in HOUSEHOLDS]  # 户号 as a cell
    pages = []
    for month in ("", "2026-11", "2026-10", "2026-12", "2026-13"):
        r = client.get("/township", query_string={"month": month} if month else None)
        pages.append(r.get_data(as_text=True))
    assert "一号村" in pages[1] and "二号村" in pages[1]
    total = pages[1][pages[1].index('id="rollup-total"'):]
    assert "合计（2个村）" in total and '<td class="num">80</td>' in total
    for page in pages:
        for s in set(secrets):
            assert s not in page, s
    # no village page is open to a township user
    for url in ("/reports/", "/registry/households", "/points/", "/mediation/", "/grid/reports", "/shop/reports",
                f"/registry/households/{township.households['0101']}"):
        assert client.get(url).status_code in (302, 403, 404), url



def test_the_roll_up_costs_the_same_statements_for_one_village_or_many(township, make_village):
    from sqlalchemy import event

    more = [make_village(f"x{i}", f"{i}号新村") for i in range(5)]
    statements = []

    def count(*_a):
        statements.append(1)

    villages = list(db.session.scalars(sa.select(Village).order_by(Village.code)))
    assert len(villages) == 2 + len(more)
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        rollup(villages[:1], 2026, 11)
        one = len(statements)
        statements.clear()
        rollup(villages, 2026, 11)
        many = len(statements)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert one == many and 0 < many <= 20  # one grouped statement per figure, never one per village
