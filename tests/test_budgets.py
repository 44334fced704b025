"""app/budgets.py in one process: the window, the refund, the Redis store and its fallback to the database.

Across gunicorn's workers: tests/test_budgets_http.py.
"""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
import redis
import sqlalchemy as sa

from app import budgets
from app.budgets import BudgetCounter
from app.db import utcnow
from app.extensions import db
from tests.http_helpers import free_port

REDIS = "redis://127.0.0.1:6379/0"


def _rows() -> list[tuple[str, int]]:
    db.session.rollback()
    return [tuple(r) for r in db.session.execute(sa.select(BudgetCounter.key_hash, BudgetCounter.spent))]


@pytest.fixture
def app_config():
    return {"RATELIMIT_ENABLED": True}


def test_a_budget_in_the_database_refuses_past_its_limit_until_the_window_is_over(app):
    with app.test_request_context():
        assert [budgets.spend("verify:10.0.0.1", 3, 60) for _ in range(5)] == [True] * 3 + [False] * 2
        # another key has its own budget
        assert budgets.spend("verify:10.0.0.2", 3, 60)
    rows = dict(_rows())
    assert sorted(rows.values()) == [1, 3]  # refusals spent nothing
    assert "verify:10.0.0.1" not in str(rows)  # only a digest of the key is stored
    # the window started with the first attempt; once it is over the budget starts afresh
    db.session.execute(sa.update(BudgetCounter).values(window_start=utcnow() - dt.timedelta(seconds=61)))
    db.session.commit()
    with app.test_request_context():
        assert [budgets.spend("verify:10.0.0.1", 3, 60) for _ in range(4)] == [True] * 3 + [False]


def test_a_refund_gives_one_attempt_back(app):
    with app.test_request_context():
        assert budgets.spend("kiosk-device:1", 2, 3600) and budgets.spend("kiosk-device:1", 2, 3600)
        assert not budgets.spend("kiosk-device:1", 2, 3600)
        budgets.refund("kiosk-device:1")
        assert budgets.spend("kiosk-device:1", 2, 3600)
        assert not budgets.spend("kiosk-device:1", 2, 3600)
        budgets.refund("never-spent")  # nothing to give back: no row, no error
    assert [spent for _k, spent in _rows()] == [2]


def test_take_answers_with_the_friendly_429_page(app):
    app.config["VERIFY_RATE"] = "2 per hour"
    c = app.test_client()
    assert [c.get("/verify/0000000000").status_code for _ in range(3)] == [404, 404, 429]
    assert "尝试次数太多，请稍等片刻再试。" in c.get("/verify/0000000000").get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"RATELIMIT_ENABLED": False}])
def test_budgets_are_off_with_the_rate_limits(app):
    with app.test_request_context():
        assert all(budgets.spend("login:10.0.0.1", 1, 60) for _ in range(5))
    assert _rows() == []


def test_a_rate_is_read_like_flask_limiter_reads_it():
    assert budgets.parse_rate("30 per hour") == (30, 3600)
    assert budgets.parse_rate("30/minute") == (30, 60)
    for bad in ("0 per hour", "5 per month"):
        with pytest.raises(ValueError):
            budgets.parse_rate(bad)


@pytest.fixture
def in_redis(app):
    prefix = f"xy-test-{uuid.uuid4().hex[:12]}:"
    app.config.update(RATELIMIT_STORAGE_URI=REDIS, RATELIMIT_KEY_PREFIX=prefix)
    client = redis.Redis.from_url(REDIS)
    yield client, prefix
    for key in client.scan_iter(match=f"{prefix}*"):
        client.delete(key)
    client.close()


def test_a_budget_in_redis_expires_with_its_window_and_leaves_the_database_alone(app, in_redis):
    client, prefix = in_redis
    with app.test_request_context():
        assert [budgets.spend("login:10.0.0.1", 3, 60) for _ in range(4)] == [True] * 3 + [False]
        budgets.refund("login:10.0.0.1")
        assert budgets.spend("login:10.0.0.1", 3, 60)
        budgets.refund("gone")  # a key whose window is over is not brought back
    keys = list(client.scan_iter(match=f"{prefix}*"))
    assert len(keys) == 1 and int(client.get(keys[0])) == 3
    assert 0 < client.ttl(keys[0]) <= 60
    assert _rows() == []


def test_a_redis_that_does_not_answer_falls_back_to_the_database(app, caplog):
    app.config["RATELIMIT_STORAGE_URI"] = f"redis://127.0.0.1:{free_port()}/0"
    with app.test_request_context():
        assert [budgets.spend("verify:10.0.0.1", 2, 60) for _ in range(3)] == [True, True, False]
    assert [spent for _k, spent in _rows()] == [2]
    assert "counting in the database" in caplog.text
