"""`flask ledger check` also checks the shop's stock: on hand == sum of movements, never negative."""
from __future__ import annotations

import sqlalchemy as sa

from app.extensions import db
from app.shop import services as shop
from app.shop.models import MAX_STOCK
from app.submission import write_transaction


def _rice(village, make_user):
    cashier = make_user("cash1", ("cashier", village))
    with write_transaction():
        rice = shop.create_product(village, name="大米", spec="5kg", unit="袋", price_points=10, actor=cashier)
        shop.receive_purchase(rice, 20, "", actor=cashier)
        shop.write_off(rice, 3, "破袋", actor=cashier)
    return rice


def test_ledger_check_is_clean_with_stock(runner, village, make_user):
    _rice(village, make_user)
    r = runner.invoke(args=["ledger", "check"])
    assert r.exit_code == 0 and "clean" in r.output, r.output


def test_ledger_check_reports_stock_that_disagrees_with_movements(runner, village, make_user, make_village):
    rice = _rice(village, make_user)
    other = make_village("v2", "二号村")
    with write_transaction():
        # a stock figure changed behind the services' back (a hand-edited database)
        db.session.execute(sa.text("UPDATE products SET stock = stock + 5 WHERE id = :i"), {"i": rice.id})
    r = runner.invoke(args=["ledger", "check"])
    assert r.exit_code == 1
    assert f"product {rice.id}: stock 22 but movements give 17" in r.output and "FAILED: 1 problem" in r.output
    # scoped to another village, the problem is not there
    assert runner.invoke(args=["ledger", "check", "--village", other.code]).exit_code == 0
    assert runner.invoke(args=["ledger", "check", "--village", village.code]).exit_code == 1


def test_ledger_check_reports_negative_stock(runner, village, make_user, backend):
    rice = _rice(village, make_user)
    with write_transaction():
        if backend == "sqlite":
            db.session.execute(sa.text("PRAGMA ignore_check_constraints = ON"))
        else:
            db.session.execute(sa.text("ALTER TABLE products DROP CONSTRAINT ck_products_stock_bounded"))
        db.session.execute(sa.text("UPDATE products SET stock = -2 WHERE id = :i"), {"i": rice.id})
    try:
        r = runner.invoke(args=["ledger", "check"])
        assert r.exit_code == 1
        assert f"product {rice.id}: negative stock -2" in r.output, r.output
    finally:
        if backend != "sqlite":
            # the PostgreSQL schema is shared by the whole run (tests only empty its tables): put it back
            db.session.rollback()
            db.session.execute(sa.text("UPDATE products SET stock = 0"))
            db.session.execute(sa.text("ALTER TABLE products ADD CONSTRAINT ck_products_stock_bounded "
                                       f"CHECK (stock >= 0 AND stock <= {MAX_STOCK})"))
            db.session.commit()
