"""Worker processes for the ledger race tests (importable by multiprocessing's spawn)."""
from __future__ import annotations

import time


def debit_worker(uri: str, instance: str, worker: int, n: int, amount: int, keys_shared: bool, start, out) -> None:
    """Redeem `n` times `amount` points from household account 1's village; report (ok, refused, replayed, errors)."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    from app import create_app
    from app.extensions import begin_write, db
    from app.ledger import services as ledger
    from app.ledger.models import Account, AccountKind, Transfer
    from tests.conftest import BASE_CONFIG

    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_PATH": instance})
    ok = refused = replayed = errors = 0
    with app.app_context():
        household = db.session.scalar(db.select(Account).where(Account.kind == "household"))
        village_id, hid = household.village_id, household.id
        db.session.commit()
        start.wait()
        for i in range(n):
            key = f"k{i}" if keys_shared else f"w{worker}-{i}"
            for attempt in range(5):
                try:
                    begin_write()
                    debit = db.session.get(Account, hid)
                    shop = ledger.system_account(village_id, AccountKind.SHOP)
                    posted = ledger.post_transfer(debit=debit, credit=shop, amount=amount, code="redeem", key=key,
                                                  payload={"what": "soap"})
                    db.session.commit()
                    if posted.replayed:
                        replayed += 1
                    else:
                        ok += 1
                    break
                except ledger.Insufficient:
                    db.session.rollback()
                    refused += 1
                    break
                except IntegrityError:
                    # a concurrent transaction committed the same key first: it is a replay now
                    db.session.rollback()
                    prior = db.session.scalar(db.select(Transfer).where(Transfer.idempotency_key == key))
                    db.session.commit()
                    if prior is not None:
                        replayed += 1
                        break
                except OperationalError:
                    db.session.rollback()
                    time.sleep(0.05 * (attempt + 1))
            else:
                errors += 1
            time.sleep(0.001)
        db.engine.dispose()
    out.put((ok, refused, replayed, errors))
