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


def award_worker(uri: str, instance: str, village_id: int, household_account_id: int, stop, started, out) -> None:
    """Award 1 point at a time (one transfer and one audit row per transaction) until `stop`; report how many."""
    from sqlalchemy.exc import OperationalError

    from app import create_app
    from app.audit.services import record
    from app.extensions import begin_write, db
    from app.ledger import services as ledger
    from app.ledger.models import Account, AccountKind
    from tests.conftest import BASE_CONFIG

    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_PATH": instance})
    committed = errors = 0
    with app.app_context():
        started.set()
        while not stop.is_set():
            try:
                begin_write()
                issuance = ledger.system_account(village_id, AccountKind.ISSUANCE)
                posted = ledger.post_transfer(debit=issuance, credit=db.session.get(Account, household_account_id),
                                              amount=1, code="earn", key=f"drill-{committed}")
                record("points.award", village_id=village_id, object_type="transfers",
                       object_id=posted.transfer.id, details={"amount": 1})
                db.session.commit()
                committed += 1
            except OperationalError:
                db.session.rollback()
                errors += 1
                time.sleep(0.01)
        db.engine.dispose()
    out.put((committed, errors))


def approve_worker(uri: str, instance: str, entry_ids: list[int], reviewer_id: int, start, out, today=None,
                   pause: float = 0.0) -> None:
    """Approve the given pending entries one by one, each in its own transaction, `pause` seconds apart (to
    interleave with other workers); report ("approve", approved, errors)."""
    from sqlalchemy.exc import OperationalError

    from app import create_app
    from app.auth.models import User
    from app.extensions import begin_write, db
    from app.points import services as pts
    from app.points.models import PointEntry
    from tests.conftest import BASE_CONFIG

    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_PATH": instance})
    ok, errors = 0, []
    with app.app_context():
        db.session.commit()
        start.wait()
        for entry_id in entry_ids:
            for attempt in range(5):
                try:
                    begin_write()
                    pts.approve(db.session.get(PointEntry, entry_id), db.session.get(User, reviewer_id),
                                today=today)
                    db.session.commit()
                    ok += 1
                    break
                except OperationalError:  # SQLite busy: try again, as the submission helper does
                    db.session.rollback()
                    time.sleep(0.05 * (attempt + 1))
                except Exception as e:  # noqa: BLE001 - reported; a crashed worker would hang the test
                    db.session.rollback()
                    errors.append(repr(e)[:300])
                    break
            time.sleep(pause)
        db.engine.dispose()
    out.put(("approve", ok, errors))
