"""The ledger: no overdraft under concurrency, idempotent keys, append-only transfers, the check."""
from __future__ import annotations

import multiprocessing as mp

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.extensions import begin_write, db
from app.ledger import services as ledger
from app.ledger.queries import balance_of
from app.ledger.models import Account, AccountKind, Transfer
from app.registry.models import Household
from app.submission import write_transaction


@pytest.fixture
def funded(app, village, make_household):
    """A household holding 1,000 points."""
    h = make_household(village, "0101", "张三")
    with write_transaction():
        acct = ledger.household_account(h)
        issuance = ledger.system_account(village.id, AccountKind.ISSUANCE)
        ledger.system_account(village.id, AccountKind.SHOP)
        ledger.post_transfer(debit=issuance, credit=acct, amount=1000, code="opening", key="open-1")
    return h


def _race(app, tmp_path, *, workers: int, n: int, amount: int, shared_keys: bool):
    # fork is far cheaper than spawn; no connection is inherited because the pool is emptied first
    db.session.remove()
    db.engine.dispose()
    ctx = mp.get_context("fork")
    # the race starts when every worker has built its app (an Event set at once let the first run alone
    # while the others were still starting on the same 2 cores)
    start, out = ctx.Barrier(workers + 1), ctx.Queue()
    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    procs = [ctx.Process(target=_worker_entry, args=(uri, str(tmp_path / f"inst{w}"), w, n, amount, shared_keys,
                                                     start, out)) for w in range(workers)]
    for p in procs:
        p.start()
    start.wait(timeout=120)
    results = [out.get(timeout=240) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    return [sum(r[i] for r in results) for i in range(4)]


def _worker_entry(*args):
    from tests.ledger_workers import debit_worker

    debit_worker(*args)


def test_t1_concurrent_debits_never_overdraw(app, funded, tmp_path):
    hid = funded.id
    db.session.commit()
    ok, refused, replayed, errors = _race(app, tmp_path, workers=8, n=50, amount=10, shared_keys=False)
    assert (ok, refused, replayed, errors) == (100, 300, 0, 0)
    assert balance_of(db.session.get(Household, hid)) == 0
    assert ledger.check() == []
    shop = db.session.scalar(sa.select(Account).where(Account.system_key == "shop"))
    assert shop.balance == 1000


def test_t4_same_keys_from_many_processes_move_points_once(app, funded, tmp_path):
    hid = funded.id
    db.session.commit()
    ok, refused, replayed, errors = _race(app, tmp_path, workers=8, n=50, amount=10, shared_keys=True)
    assert ok == 50 and replayed == 350 and refused == 0 and errors == 0
    assert db.session.scalar(sa.select(sa.func.count(Transfer.id)).where(Transfer.code == "redeem")) == 50
    assert balance_of(db.session.get(Household, hid)) == 500
    assert ledger.check() == []


def test_changed_payload_under_a_used_key_is_refused(app, funded, village):
    with write_transaction():
        acct = ledger.household_account(funded)
        shop = ledger.system_account(village.id, AccountKind.SHOP)
        first = ledger.post_transfer(debit=acct, credit=shop, amount=30, code="redeem", key="form-1")
    with write_transaction():
        again = ledger.post_transfer(debit=acct, credit=shop, amount=30, code="redeem", key="form-1")
    assert again.replayed and again.transfer.id == first.transfer.id
    with pytest.raises(ledger.IdempotencyConflict), write_transaction():
        ledger.post_transfer(debit=acct, credit=shop, amount=31, code="redeem", key="form-1")
    assert balance_of(funded) == 970
    assert db.session.scalar(sa.select(sa.func.count(Transfer.id))) == 2


def test_overdraft_is_refused_and_nothing_changes(app, funded, village):
    with pytest.raises(ledger.Insufficient), write_transaction():
        ledger.post_transfer(debit=ledger.household_account(funded),
                             credit=ledger.system_account(village.id, AccountKind.SHOP), amount=1001,
                             code="redeem", key="too-much")
    assert balance_of(funded) == 1000
    assert ledger.check() == []


@pytest.mark.parametrize("amount", [0, -5, 100_001, 1.5, True, "10"])
def test_amount_must_be_a_bounded_whole_number(app, funded, village, amount):
    with pytest.raises(ledger.LedgerError), write_transaction():
        ledger.post_transfer(debit=ledger.household_account(funded),
                             credit=ledger.system_account(village.id, AccountKind.SHOP), amount=amount,
                             code="redeem", key="bad")


def test_reversal_once_and_only_once(app, funded, village):
    with write_transaction():
        acct = ledger.household_account(funded)
        shop = ledger.system_account(village.id, AccountKind.SHOP)
        t = ledger.post_transfer(debit=acct, credit=shop, amount=100, code="redeem", key="r1").transfer
        ledger.reverse_transfer(t, key="r1-undo")
    assert balance_of(funded) == 1000
    with pytest.raises(ledger.LedgerError), write_transaction():
        ledger.reverse_transfer(t, key="r1-undo-again")
    # the database holds the line too: a second reversal row breaks the UNIQUE constraint
    with pytest.raises(IntegrityError), write_transaction():
        db.session.add(Transfer(village_id=village.id, debit_account_id=shop.id, credit_account_id=acct.id,
                                amount=100, code="reversal", idempotency_key="x", payload_hash="x",
                                reverses_transfer_id=t.id))
        db.session.flush()


def test_transfers_cannot_be_updated_or_deleted(app, funded):
    with pytest.raises(DBAPIError), write_transaction():
        db.session.execute(sa.text("UPDATE transfers SET amount = 1"))
    with pytest.raises(DBAPIError), write_transaction():
        db.session.execute(sa.text("DELETE FROM transfers"))
    assert ledger.check() == []


def test_database_refuses_a_negative_household_balance(app, funded):
    with pytest.raises(IntegrityError), write_transaction():
        db.session.execute(sa.text("UPDATE accounts SET balance = -1 WHERE kind = 'household'"))


def test_ledger_check_reports_a_tampered_balance(app, funded, runner, village):
    assert runner.invoke(args=["ledger", "check"]).exit_code == 0
    assert runner.invoke(args=["ledger", "check", "--village", village.code]).exit_code == 0
    # a balance changed behind the ledger's back (the balance column is not append-only)
    with write_transaction():
        db.session.execute(sa.text("UPDATE accounts SET balance = balance + 5 WHERE kind = 'household'"))
    result = runner.invoke(args=["ledger", "check"])
    assert result.exit_code == 1
    assert "I3" in result.output and "I2" in result.output


def test_checking_one_village_finds_its_own_tampered_balance_and_only_its_own(app, funded, village,
                                                                              make_village, make_household):
    """`ledger check --village` sums that village's transfers only (a county server does not sum every
    village's to check one): a balance changed behind the ledger's back shows in its own village's check,
    with the balance the transfers give, and not in another's; a transfer cannot name another village's
    account at all."""
    other = make_village("v2", "二号村")
    h2 = make_household(other, "0201", "李四")
    with write_transaction():
        ledger.post_transfer(debit=ledger.system_account(other.id, AccountKind.ISSUANCE),
                             credit=ledger.household_account(h2), amount=40, code="opening", key="open-0201")
    assert ledger.check(village.id) == [] and ledger.check(other.id) == []
    acct = db.session.scalar(sa.select(Account.id).where(Account.household_id == h2.id))
    with write_transaction():
        db.session.execute(sa.update(Account).where(Account.id == acct).values(balance=45))
    assert f"I3 account {acct}: balance 45 but transfers give 40" in ledger.check(other.id)
    assert ledger.check(village.id) == []
    mine = db.session.scalar(sa.select(Account.id).where(Account.household_id == funded.id))
    with pytest.raises(IntegrityError), write_transaction():
        db.session.add(Transfer(village_id=other.id, debit_account_id=acct, credit_account_id=mine, amount=7,
                                code="opening", idempotency_key="stray", payload_hash="x"))


def test_integer_columns_hold_integers_only(app, funded):
    with pytest.raises(DBAPIError), write_transaction():
        db.session.execute(sa.text("UPDATE accounts SET balance = 'abc' WHERE kind = 'household'"))
    if db.engine.dialect.name == "sqlite":
        # without STRICT, SQLite would store 1.5 in an INTEGER column and SUM() would return 8.5
        with pytest.raises(DBAPIError), write_transaction():
            db.session.execute(sa.text("UPDATE accounts SET balance = 1.5 WHERE kind = 'household'"))
    else:
        begin_write()  # looked at before the end of the transaction, then rolled back: nothing to commit
        db.session.execute(sa.text("UPDATE accounts SET balance = 1.5 WHERE kind = 'household'"))
        assert isinstance(db.session.scalar(sa.text("SELECT balance FROM accounts WHERE kind = 'household'")), int)
        db.session.rollback()


def test_two_first_movements_of_a_household_at_once_share_one_new_account(app, village, make_household):
    """A household without an account gets one on its first movement. When two arrive at once (two approvals
    on PostgreSQL, where writers do not queue), the second waits for the first and uses its account instead
    of failing on the unique household_id."""
    import threading
    import time

    hid = make_household(village, "0901", "钱新户").id
    db.session.commit()
    db.session.remove()
    second: dict = {}

    def open_account_too():
        with app.app_context():
            try:
                begin_write()
                second["account"] = ledger.household_account(db.session.get(Household, hid)).id
                db.session.commit()
            except Exception as e:  # noqa: BLE001 - the assertion below shows it
                db.session.rollback()
                second["error"] = repr(e)
            finally:
                db.session.remove()

    begin_write()
    first = ledger.household_account(db.session.get(Household, hid)).id  # inserted, not committed yet
    other = threading.Thread(target=open_account_too)
    other.start()
    time.sleep(0.5)  # the other request reaches the account while this one still holds its new row
    db.session.commit()
    other.join(timeout=60)
    assert second == {"account": first}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Account).where(Account.household_id == hid)) == 1


def test_a_transfer_tells_the_debit_balance_it_left_and_a_savepoint_undone_leaves_none_stale(app, funded, village):
    """post_transfer says what the debit account holds after it (the receipt's "balance after" without reading
    it back); undone with its savepoint, the session's accounts show the balance the database still holds."""
    with write_transaction():
        acct = ledger.household_account(funded)
        shop = ledger.system_account(village.id, AccountKind.SHOP)
        posted = ledger.post_transfer(debit=acct, credit=shop, amount=30, code="redeem", key="pay-30")
        assert posted.debit_balance == 970 == acct.balance
        try:
            with db.session.begin_nested():
                again = ledger.post_transfer(debit=acct, credit=shop, amount=70, code="redeem", key="pay-70")
                assert again.debit_balance == 900
                raise RuntimeError("the sale was refused after the payment")
        except RuntimeError:
            pass
        assert (acct.balance, shop.balance) == (970, 30)
        replay = ledger.post_transfer(debit=acct, credit=shop, amount=30, code="redeem", key="pay-30")
        assert replay.replayed and replay.debit_balance is None
    assert balance_of(funded) == 970
    assert ledger.check() == []
