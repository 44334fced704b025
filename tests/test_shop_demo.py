"""The demo village gets a stocked happiness supermarket: goods, a purchase, donations, redemptions."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.ledger import services as ledger
from app.shop import services as shop
from app.shop.models import Donation, Product, Redemption, StockMovement


def test_demo_seeds_the_shop_once(runner, client):
    r = runner.invoke(args=["demo"])
    assert r.exit_code == 0, r.output
    count = lambda m: db.session.scalar(sa.select(sa.func.count()).select_from(m))  # noqa: E731
    assert count(Product) == 12
    assert all(p.price_points > 0 and p.stock > 0 for p in db.session.scalars(sa.select(Product)))
    assert count(Donation) == 2
    kinds = set(db.session.scalars(sa.select(StockMovement.kind)))
    assert {"purchase", "donation_in", "redemption_out", "redemption_cancel"} <= kinds
    statuses = list(db.session.scalars(sa.select(Redemption.status)))
    assert len(statuses) >= 8 and statuses.count("cancelled") == 1
    assert ledger.check() == [] and shop.check_stock() == []
    before = (count(Product), count(Redemption), count(StockMovement))
    assert runner.invoke(args=["demo"]).exit_code == 0
    assert (count(Product), count(Redemption), count(StockMovement)) == before
    client.post("/login", data={"username": "cashier", "password": "demo1234"})
    page = client.get("/shop/reports").get_data(as_text=True)
    assert "大米" in page and "作业本" in page
    assert "县农村商业银行" in client.get("/shop/donations").get_data(as_text=True)
