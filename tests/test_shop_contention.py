"""The counter's confirm under contention: the whole transaction is tried up to 3 times on a lock or
serialization error, then a friendly 503; never a 500, never a half-written redemption."""
from __future__ import annotations

import sqlite3

import psycopg.errors
import pytest
import sqlalchemy as sa
from sqlalchemy.exc import OperationalError

from app import submission
from app.extensions import db
from app.shop import services as shop
from app.shop import views as shop_views
from app.shop.models import Redemption
from tests.test_shop_views import _cart, _key, _login, _state, shopfront  # noqa: F401  (fixture re-used)

LOCK_ERRORS = {
    "sqlite_locked": lambda: sqlite3.OperationalError("database is locked"),
    "pg_serialization": lambda: psycopg.errors.SerializationFailure("could not serialize access"),
    "pg_deadlock": lambda: psycopg.errors.DeadlockDetected("deadlock detected"),
    "pg_lock_timeout": lambda: psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
}


@pytest.fixture
def flaky_redeem(monkeypatch):
    """Make shop.redeem fail with a given lock error on its first `failures` calls (after doing its writes)."""
    real = shop.redeem
    calls = {"n": 0}

    def install(make_error, failures: int):
        def redeem(*args, **kwargs):
            calls["n"] += 1
            red = real(*args, **kwargs)  # the writes happen, then the "commit" fails: all must roll back
            if calls["n"] <= failures:
                raise OperationalError("UPDATE accounts ...", {}, make_error())
            return red

        monkeypatch.setattr(shop_views.shop, "redeem", redeem)
        monkeypatch.setattr(submission.time, "sleep", lambda s: None)
        return calls

    return install


@pytest.mark.parametrize("error", sorted(LOCK_ERRORS))
def test_lock_errors_are_retried_and_the_redemption_goes_through(client, shopfront, flaky_redeem, error):
    s = shopfront
    _login(client, "cash1")
    calls = flaky_redeem(LOCK_ERRORS[error], failures=2)
    r = client.post("/shop/counter", data=_cart(s, _key(client), rice="2", oil="1"))
    assert r.status_code == 302, r.get_data(as_text=True)
    assert calls["n"] == 3
    balance, rice, oil, n, _m, _t = _state(s)
    assert (balance, rice, oil, n) == (50, 48, 4, 1)
    red = db.session.scalar(sa.select(Redemption))
    assert r.headers["Location"].endswith(f"/shop/redemptions/{red.id}")


@pytest.mark.parametrize("error", ["sqlite_locked", "pg_deadlock"])
def test_three_lock_errors_give_a_friendly_503_and_write_nothing(client, shopfront, flaky_redeem, error):
    s = shopfront
    _login(client, "cash1")
    before = _state(s)
    calls = flaky_redeem(LOCK_ERRORS[error], failures=99)
    r = client.post("/shop/counter", data=_cart(s, _key(client), rice="2"))
    assert r.status_code == 503
    html = r.get_data(as_text=True)
    assert "繁忙" in html and "没有兑换" in html
    assert calls["n"] == 3
    assert _state(s) == before
    from app.ledger import services as ledger

    assert ledger.check() == [] and shop.check_stock() == []


def test_a_retry_after_a_commit_that_went_through_returns_the_same_receipt(client, shopfront, flaky_redeem):
    """A form sent again after a 503 (same key) never redeems twice."""
    s = shopfront
    _login(client, "cash1")
    key = _key(client)
    flaky_redeem(LOCK_ERRORS["sqlite_locked"], failures=0)
    r1 = client.post("/shop/counter", data=_cart(s, key, rice="1"))
    r2 = client.post("/shop/counter", data=_cart(s, key, rice="1"))
    assert r1.status_code == r2.status_code == 302 and r1.headers["Location"] == r2.headers["Location"]
    assert _state(s)[:4] == (90, 49, 5, 1)


@pytest.mark.parametrize("orig, busy", [
    (sqlite3.OperationalError("database is locked"), True),
    (sqlite3.OperationalError("database table is locked"), True),
    (psycopg.errors.SerializationFailure("x"), True),
    (psycopg.errors.DeadlockDetected("x"), True),
    (sqlite3.OperationalError("disk I/O error"), False),
    (sqlite3.OperationalError("no such table: products"), False),
])
def test_which_errors_are_retried(orig, busy):
    assert submission.is_busy(OperationalError("stmt", {}, orig)) is busy
