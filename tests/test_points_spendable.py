"""Points on posting (公示) and the shop: a village may make awards spendable only once their posting has
ended without an objection. The counter, the kiosk and the household page say which points wait; the
shop's redemption refuses them, under concurrency too (docs/ledger.md, "Points on posting")."""
from __future__ import annotations

import datetime as dt
import multiprocessing as mp
import re

import pytest
import sqlalchemy as sa

from app.db import local_today
from app.extensions import db
from app.ledger import services as ledger
from app.ledger.queries import balance_of
from app.points import queries as pq
from app.points import services as pts
from app.points.models import EntryStatus, Objection, PointEntry, PointScheme
from app.registry.models import Household
from app.shop import services as shop
from app.shop.models import Product, Redemption, StockMovement
from app.submission import write_transaction
from tests.ledger_workers import approve_worker
from tests.conftest import FreshContextClient
from tests.kiosk_helpers import PIN, enable_client, open_household
from tests.test_shop_views import _login

#: the village's day as the running test started (the autouse `_today` fixture sets it)
TODAY: dt.date


@pytest.fixture(autouse=True)
def _today():
    """The village's day as each test starts, not as the module was imported (a run that crosses the village's
    midnight, 16:00 UTC, would date the fixtures' entries a day before the app sees them)."""
    global TODAY
    TODAY = local_today()


@pytest.fixture
def month(village, make_user, make_household):
    """Household 0101: an award of 50 whose posting ended long ago (final) and a fresh one of 50 on
    posting; rice at 10 points a bag. The scheme spends at approval until a test says otherwise."""
    clerk = make_user("clerk1", ("clerk", village))
    reviewer = make_user("rev1", ("reviewer", village))
    cashier = make_user("cash1", ("cashier", village))
    h = make_household(village, "0101", "钱大有")
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        cat = pts.create_category(scheme, "热心公益", "add")
        item = pts.create_item(cat, pts.ItemData(code="A01", text="参加村庄清洁日", points=50))
        h = db.session.merge(h)
        old = pts.record_entry(scheme, item, h, occurred_on=TODAY - dt.timedelta(days=40), actor=clerk,
                               today=TODAY - dt.timedelta(days=40))
        pts.approve(old, reviewer, today=TODAY - dt.timedelta(days=30))
        fresh = pts.record_entry(scheme, item, h, occurred_on=TODAY, actor=clerk)
        pts.approve(fresh, reviewer)
        rice = shop.create_product(village, name="大米", spec="5kg", unit="袋", price_points=10, actor=cashier)
        shop.receive_purchase(rice, 100, "采购", actor=cashier)
    return type("Month", (), dict(village=village, household=h, scheme=scheme, item=item, fresh=fresh, old=old,
                                  rice=rice, clerk=clerk, reviewer=reviewer, cashier=cashier))


def _hold_on_posting(month, value: str = "posting_end") -> None:
    with write_transaction():
        s = db.session.get(PointScheme, month.scheme.id)
        pts.update_scheme(s, name=s.name, year_policy=s.year_policy, posting_days=s.posting_days,
                          appeal_working_days=s.appeal_working_days, star_bands=s.star_bands, spendable_from=value)


def _redeem(month, bags: int, key: str):
    with write_transaction():
        return shop.redeem(db.session.get(Household, month.household.id),
                           [(db.session.get(Product, month.rice.id), bags)], key=key, actor=month.cashier)


def _rows() -> tuple[int, int]:
    db.session.rollback()
    return (db.session.scalar(sa.select(sa.func.count(Redemption.id))),
            db.session.scalar(sa.select(sa.func.count(StockMovement.id))))


def test_by_default_points_are_spendable_at_approval(month):
    assert pq.spendable_points(month.household) == (100, 0, 100)
    red = _redeem(month, 10, "all-of-it")
    assert red.total_points == 100 and balance_of(month.household) == 0


def test_points_on_posting_cannot_be_spent_where_the_village_says_so(month):
    _hold_on_posting(month)
    assert pq.spendable_points(month.household) == (100, 50, 50)
    before = _rows()
    with pytest.raises(ledger.Insufficient) as refused:
        _redeem(month, 6, "too-much")
    assert "50" in str(refused.value) and "公示" in str(refused.value)
    assert _rows() == before and balance_of(db.session.get(Household, month.household.id)) == 100
    assert _redeem(month, 5, "what-may-go").total_points == 50
    with pytest.raises(ledger.Insufficient):
        _redeem(month, 1, "one-more")
    assert pq.spendable_points(db.session.get(Household, month.household.id)) == (50, 50, 0)
    assert ledger.check() == [] and shop.check_stock() == []


def test_points_become_spendable_when_posting_ends_and_an_open_objection_holds_them(month):
    _hold_on_posting(month)
    with write_transaction():
        h = db.session.get(Household, month.household.id)
        late = pts.record_entry(db.session.get(PointScheme, month.scheme.id), month.item, h,
                                occurred_on=TODAY - dt.timedelta(days=12), actor=month.clerk,
                                today=TODAY - dt.timedelta(days=12))
        pts.approve(late, month.reviewer, today=TODAY - dt.timedelta(days=10))  # posted until today − 4
        pts.file_objection(late, reason="不是他做的", objector_name="周德才", today=TODAY - dt.timedelta(days=5))
    h = db.session.get(Household, month.household.id)
    assert pq.spendable_points(h) == (150, 100, 50)  # the fresh award, and the one under an objection
    assert [e.id for e in pq.held_entries(h)] == [late.id, month.fresh.id]  # the first to end first
    with write_transaction():
        obj = db.session.scalar(sa.select(Objection))
        pts.decide_objection(obj, month.reviewer, decision="upheld", reply_text="维持原分。")
    assert db.session.get(PointEntry, late.id).status == EntryStatus.FINAL.value
    assert pq.spendable_points(db.session.get(Household, month.household.id)) == (150, 50, 100)
    assert _redeem(month, 10, "after-the-decision").total_points == 100


def test_reversing_a_held_award_is_not_blocked_by_the_hold(month):
    """An objection that corrects an award takes back exactly the points it put on the balance."""
    _hold_on_posting(month)
    _redeem(month, 5, "spend-the-free-part")
    with write_transaction():
        obj = pts.file_objection(db.session.get(PointEntry, month.fresh.id), reason="没有参加")
        pts.decide_objection(obj, month.reviewer, decision="corrected", reply_text="撤销。")
    assert pq.spendable_points(db.session.get(Household, month.household.id)) == (0, 0, 0)
    assert ledger.check() == []


def test_the_setting_is_made_on_the_scheme_page(client, month):
    _login(client, "clerk1")
    page = client.get("/points/scheme").get_data(as_text=True)
    assert 'name="spendable_from"' in page
    r = client.post("/points/scheme", data={"submit": "1", "name": "积分细则", "year_policy": "carry_over",
                                            "posting_days": "7", "appeal_working_days": "7",
                                            "star_bands": "30:1", "spendable_from": "posting_end"})
    assert r.status_code == 302, r.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(PointScheme, month.scheme.id).spendable_from == "posting_end"
    assert "公示期满" in client.get("/points/scheme").get_data(as_text=True)
    r = client.post("/points/scheme", data={"submit": "1", "name": "积分细则", "year_policy": "carry_over",
                                            "posting_days": "7", "appeal_working_days": "7",
                                            "star_bands": "30:1", "spendable_from": "whenever"})
    assert r.status_code == 200
    db.session.expire_all()
    assert db.session.get(PointScheme, month.scheme.id).spendable_from == "posting_end"
    # the household page shows what may be spent and what waits
    page = client.get(f"/points/households/{month.household.id}").get_data(as_text=True)
    assert re.search(r'<strong class="big">50</strong>', page) and "data-held" in page


def test_the_counter_says_which_points_wait_and_refuses_them(client, month):
    _hold_on_posting(month)
    _login(client, "cash1")
    page = client.get("/shop/counter?q=0101").get_data(as_text=True)
    assert re.search(r"data-spendable>50<", page)
    held = page[page.index("data-held"):]
    assert "50" in held and "参加村庄清洁日" in held and "公示" in held
    key = re.search(r'name="idempotency_key" type="hidden" value="([^"]+)"', page).group(1)
    data = {"idempotency_key": key, "household_id": month.household.id, f"qty_{month.rice.id}": "6"}
    page = client.post("/shop/counter", data={**data, "check": "1"}).get_data(as_text=True)
    assert "公示" in page and 'name="confirm"' not in page
    before = _rows()
    r = client.post("/shop/counter", data={**data, "confirm": "1"})  # a forged confirm is refused too
    assert r.status_code == 200 and "公示" in r.get_data(as_text=True)
    assert _rows() == before
    r = client.post("/shop/counter", data={**data, f"qty_{month.rice.id}": "5", "confirm": "1"})
    assert r.status_code == 302


def test_the_kiosk_says_which_points_wait(app, month):
    from app.kiosk import services as ks

    _hold_on_posting(month)
    with write_transaction():
        ks.set_pin(db.session.get(Household, month.household.id), PIN)
    app.test_client_class = FreshContextClient
    kiosk = app.test_client()
    enable_client(kiosk, app, month.village)
    assert open_household(kiosk, "0101").status_code == 302
    home = kiosk.get("/kiosk/home").get_data(as_text=True)
    assert re.search(r"data-balance>50<", home)
    assert "data-held" in home and "50" in home[home.index("data-held"):home.index("data-held") + 200]
    posting = kiosk.get("/kiosk/posting").get_data(as_text=True)
    assert posting.count("data-held") == 1 and "公示期满" in posting


# --- under concurrency ----------------------------------------------------------------------------

def _redeem_entry(*args):
    from tests.shop_workers import redeem_worker

    redeem_worker(*args)


def test_concurrent_approvals_never_make_points_on_posting_spendable(app, month, tmp_path):
    """4 processes redeem 10 points at a time while another approves 20 awards of 50: the 50 spendable
    points go (5 bags), not one of the 1,000 points that arrive on posting meanwhile."""
    _hold_on_posting(month)
    with write_transaction():
        h = db.session.get(Household, month.household.id)
        scheme = db.session.get(PointScheme, month.scheme.id)
        pending = [pts.record_entry(scheme, month.item, h, occurred_on=TODAY, actor=month.clerk,
                                    note=f"第{i}次").id for i in range(20)]
    hid, pid, reviewer_id = month.household.id, month.rice.id, month.reviewer.id
    db.session.commit()
    db.session.remove()
    db.engine.dispose()
    ctx = mp.get_context("fork")
    start, out = ctx.Event(), ctx.Queue()
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    procs = [ctx.Process(target=_redeem_entry, args=(uri, str(tmp_path / f"r{w}"), w, 15, pid, hid, start, out))
             for w in range(4)]
    procs.append(ctx.Process(target=approve_worker, args=(uri, str(tmp_path / "a"), pending, reviewer_id,
                                                          start, out, None, 0.002)))
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=300) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    approvals = [r for r in results if r[0] == "approve"]
    redemptions = [r for r in results if r[0] != "approve"]
    assert approvals == [("approve", 20, [])]
    ok, out_of_stock, short, errors, _retries = (sum(r[i] for r in redemptions) for i in range(5))
    assert (ok, out_of_stock, short, errors) == (5, 0, 55, 0)
    h = db.session.get(Household, hid)
    assert pq.spendable_points(h) == (50 + 20 * 50, 50 + 20 * 50, 0)
    assert ledger.check() == [] and shop.check_stock() == []
