"""Worker processes for the shop race tests (importable after fork or spawn)."""
from __future__ import annotations

import time


def redeem_worker(uri: str, instance: str, worker: int, n: int, product_id: int, household_id: int,
                  start, out) -> None:
    """Redeem one unit of `product_id` `n` times, each under its own key.

    Reports (ok, out_of_stock, short, errors, retries, deadlocks) on `out`: `retries` counts every busy
    database error retried (a lock timeout included: a holder stalled past the server's lock_timeout), and
    `deadlocks` those of them that were PostgreSQL's deadlock_detected (40P01).
    """
    from sqlalchemy.exc import OperationalError

    from app import create_app
    from app.extensions import begin_write, db
    from app.ledger import services as ledger
    from app.registry.models import Household
    from app.shop import services as shop
    from app.shop.models import Product
    from tests.conftest import BASE_CONFIG

    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_PATH": instance})
    ok = out_of_stock = short = errors = retries = deadlocks = 0
    with app.app_context():
        db.session.commit()
        start.wait()
        for i in range(n):
            for attempt in range(5):
                try:
                    begin_write()
                    household = db.session.get(Household, household_id)
                    product = db.session.get(Product, product_id)
                    shop.redeem(household, [(product, 1)], key=f"w{worker}-{i}")
                    db.session.commit()
                    ok += 1
                    break
                except shop.OutOfStock:
                    db.session.rollback()
                    out_of_stock += 1
                    break
                except ledger.Insufficient:
                    db.session.rollback()
                    short += 1
                    break
                except OperationalError as exc:
                    db.session.rollback()
                    retries += 1
                    deadlocks += getattr(exc.orig, "sqlstate", None) == "40P01"
                    time.sleep(0.05 * (attempt + 1))
                except Exception:  # noqa: BLE001 - counted as an error; a crashed worker would hang the test
                    db.session.rollback()
                    errors += 1
                    break
            else:
                errors += 1
            time.sleep(0.001)
        db.engine.dispose()
    out.put((ok, out_of_stock, short, errors, retries, deadlocks))
