"""Shop report figures: months are the village's calendar months; the disclosure counts movements by month."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.db import local_today
from app.extensions import db
from app.registry.models import Household
from app.shop import services as shop
from app.shop.models import Product, Redemption
from app.submission import write_transaction
from tests.test_shop_views import shopfront  # noqa: F401  (fixture re-used)


def _redeem(s, key, rice=0, oil=0):
    with write_transaction():
        h = db.session.get(Household, s["household"])
        lines = [(db.session.get(Product, s[name]), qty) for name, qty in (("rice", rice), ("oil", oil)) if qty]
        red = shop.redeem(h, lines, key=key)
    return red


def test_month_bounds_are_china_time():
    assert shop.month_bounds(2026, 11) == (dt.datetime(2026, 10, 31, 16, 0), dt.datetime(2026, 11, 30, 16, 0))
    assert shop.month_bounds(2026, 12)[1] == dt.datetime(2026, 12, 31, 16, 0)


def test_a_redemption_just_after_midnight_china_time_counts_in_the_new_month(app, shopfront):
    s = shopfront
    early = _redeem(s, "k1", rice=1)
    late = _redeem(s, "k2", oil=1)
    cancelled = _redeem(s, "k3", rice=2)
    with write_transaction():
        # 2026-10-31 16:30 UTC is 2026-11-01 00:30 in the village; 15:59 UTC is still 31 October
        db.session.execute(sa.update(Redemption).where(Redemption.id == early.id)
                           .values(created_at=dt.datetime(2026, 10, 31, 15, 59)))
        db.session.execute(sa.update(Redemption).where(Redemption.id.in_([late.id, cancelled.id]))
                           .values(created_at=dt.datetime(2026, 10, 31, 16, 30)))
    with write_transaction():
        shop.cancel_redemption(db.session.get(Redemption, cancelled.id), actor=None, reason="错了", is_reviewer=True)
    months = shop.redemptions_by_month(early.village_id, 2026)
    assert (months[9]["count"], months[9]["points"], months[9]["qty"]) == (1, 10, 1)
    assert (months[10]["count"], months[10]["points"], months[10]["qty"]) == (1, 30, 1)  # the cancelled one left out
    top = shop.top_goods(early.village_id, *shop.month_bounds(2026, 11))
    assert [(r.name, r.qty) for r in top] == [("食用油", 1)]


def test_disclosure_counts_this_months_movements_and_the_stock_left(app, shopfront):
    s = shopfront
    _redeem(s, "k1", rice=3, oil=1)
    village_id = db.session.get(Product, s["rice"]).village_id
    today = local_today()
    d = shop.disclosure(village_id, today.year, today.month)
    rows = {r["product"].name: r for r in d["lines"]}
    assert (rows["大米"]["purchased"], rows["大米"]["redeemed"], rows["大米"]["left"]) == (50, 3, 47)
    assert (rows["食用油"]["purchased"], rows["食用油"]["redeemed"], rows["食用油"]["left"]) == (5, 1, 4)
    assert (d["redemptions"], d["households"], d["points"], d["purchased"]) == (1, 1, 60, 55)
    # the month before: nothing had come in yet, so nothing is listed
    last = today.replace(day=1) - dt.timedelta(days=1)
    before = shop.disclosure(village_id, last.year, last.month)
    assert before["lines"] == [] and before["points"] == 0
