"""Budgets of attempts that guard a secret (login, kiosk PINs, statement codes), shared by every worker.

Flask-Limiter's in-process memory counts per worker: with 4 gunicorn workers a budget of 30 let about
120 through. A budget here is counted where every worker and server sees it:

- in Redis when RATELIMIT_STORAGE_URI names one (redis://, rediss://, redis+unix://), one atomic script
  per attempt;
- in the database otherwise (and while a configured Redis does not answer), like the lockouts: one
  guarded upsert of a `budget_counters` row in a short write transaction of its own.

A budget is a fixed window that starts with its first attempt: `limit` attempts, then refusals until
`window` seconds after that first attempt, then a fresh window. A refused attempt spends nothing.

    take(f"verify:{request.remote_addr}", current_app.config["VERIFY_RATE"])   # 429 page when spent
    if not spend(key, limit, window): ...                                       # or decide yourself
    refund(key)                                                                 # give one back

RATELIMIT_ENABLED = False (the tests' default) switches every budget off, as it does Flask-Limiter.
How an installation chooses its store: docs/operations.md, "Budgets of attempts".
"""
from __future__ import annotations

import datetime as dt
import hashlib

import redis
import sqlalchemy as sa
from flask import abort, current_app
from limits import parse as parse_limit
from sqlalchemy.orm import Mapped, mapped_column

from .db import Int, Str, UTCDateTime, utcnow
from .extensions import Model, db, upsert_insert
from .submission import run_write

#: the longest window a budget may have; rows older than twice this are purged
MAX_WINDOW = 24 * 3600
REDIS_SCHEMES = ("redis://", "rediss://", "redis+unix://")
_EXT = "xiangyue_budgets_redis"

# Redis: read, refuse at the limit, else count; the first attempt starts the window (EXPIRE).
# One script, so two workers can never both take the last unit.
_SPEND_LUA = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n >= tonumber(ARGV[1]) then return 0 end
n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
return 1
"""
# DECR keeps the key's expiry; a key that is gone (window over) is not brought back
_REFUND_LUA = """
local n = tonumber(redis.call('GET', KEYS[1]) or '0')
if n > 0 then redis.call('DECR', KEYS[1]) end
return n
"""


class BudgetCounter(Model):
    """Attempts spent in the current window of one budget (the database's store, when there is no Redis)."""

    __tablename__ = "budget_counters"

    id: Mapped[int] = mapped_column(Int, primary_key=True)
    #: SHA-256 of the budget's key (it names an address or a device: never stored as such)
    key_hash: Mapped[str] = mapped_column(Str(64))
    #: the first attempt of the window (naive UTC)
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    spent: Mapped[int] = mapped_column(Int, default=0)

    __table_args__ = (
        sa.UniqueConstraint("key_hash", name="uq_budget_counters_key_hash"),
        sa.CheckConstraint("spent >= 0", name="spent_nonneg"),
        {"sqlite_strict": True},
    )


def parse_rate(rate: str) -> tuple[int, int]:
    """"30 per hour" → (30, 3600); the Flask-Limiter notation, so the settings read the same."""
    item = parse_limit(rate)
    window = int(item.get_expiry())
    if item.amount < 1 or not 0 < window <= MAX_WINDOW:
        raise ValueError(f"a budget needs at least 1 attempt in at most a day: {rate!r}")
    return int(item.amount), window


def take(key: str, rate: str) -> None:
    """Spend one attempt of `rate` under `key`, or answer with the friendly 429 page."""
    limit, window = parse_rate(rate)
    if not spend(key, limit, window):
        abort(429)


def spend(key: str, limit: int, window: int) -> bool:
    """Take one attempt from the budget `key` (`limit` per `window` seconds); False when it is spent.

    In the database this commits a write transaction of its own: call it before the request's own writes.
    """
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return True
    client = _redis()
    if client is not None:
        try:
            return bool(client.eval(_SPEND_LUA, 1, _redis_key(key), limit, window))
        except _redis_errors() as e:
            _redis_down(e)
    return run_write(lambda: _spend_in_db(_digest(key), limit, window))


def refund(key: str) -> None:
    """Give back one attempt (the kiosk counts only wrong PINs: a right one returns what it took)."""
    if not current_app.config.get("RATELIMIT_ENABLED", True):
        return
    client = _redis()
    if client is not None:
        try:
            client.eval(_REFUND_LUA, 1, _redis_key(key))
            return
        except _redis_errors() as e:
            _redis_down(e)
    digest = _digest(key)
    run_write(lambda: db.session.execute(
        sa.update(BudgetCounter).where(BudgetCounter.key_hash == digest, BudgetCounter.spent > 0)
        .values(spent=BudgetCounter.spent - 1).execution_options(synchronize_session=False)))


# --- the database -----------------------------------------------------------------------------------

def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _spend_in_db(digest: str, limit: int, window: int) -> bool:
    """One guarded upsert: a new key, or a window that is over, starts at 1; else +1 while below the limit.

    The conflict clause reads the row as committed by the others (SQLite: inside BEGIN IMMEDIATE;
    PostgreSQL: ON CONFLICT DO UPDATE locks the row and sees its newest version), so parallel attempts
    in several processes never spend more than `limit`. A refused attempt updates nothing and returns no row.
    """
    now = utcnow()
    over = BudgetCounter.window_start <= sa.literal(now - dt.timedelta(seconds=window), UTCDateTime())
    stmt = (upsert_insert(BudgetCounter).values(key_hash=digest, window_start=now, spent=1)
            .on_conflict_do_update(
                index_elements=["key_hash"],
                set_={"spent": sa.case((over, 1), else_=BudgetCounter.spent + 1),
                      "window_start": sa.case((over, sa.literal(now, UTCDateTime())),
                                              else_=BudgetCounter.window_start)},
                where=sa.or_(over, BudgetCounter.spent < limit))
            .returning(BudgetCounter.spent))
    spent = db.session.execute(stmt).scalar()
    if spent == 1:
        # a new window began: the moment to drop counters nobody has used for two days, so the table
        # holds only the keys of the last days
        stale = sa.literal(now - dt.timedelta(seconds=2 * MAX_WINDOW), UTCDateTime())
        db.session.execute(sa.delete(BudgetCounter).where(BudgetCounter.window_start < stale)
                           .execution_options(synchronize_session=False))
    return spent is not None


# --- Redis --------------------------------------------------------------------------------------------

def redis_configured() -> bool:
    return str(current_app.config.get("RATELIMIT_STORAGE_URI") or "").startswith(REDIS_SCHEMES)


def _redis():
    """This process's Redis client, or None when the budgets are counted in the database."""
    if not redis_configured():
        return None
    client = current_app.extensions.get(_EXT)
    if client is None:
        client = redis.Redis.from_url(current_app.config["RATELIMIT_STORAGE_URI"], socket_timeout=2,
                                      socket_connect_timeout=2)
        current_app.extensions[_EXT] = client
    return client


def _redis_key(key: str) -> str:
    return f"{current_app.config.get('RATELIMIT_KEY_PREFIX') or ''}xiangyue:budget:{_digest(key)}"


def _redis_errors() -> tuple[type[BaseException], ...]:
    return (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def _redis_down(e: BaseException) -> None:
    # a budget that guards a secret must hold even then: count this attempt in the database
    current_app.logger.warning("Redis for the budgets did not answer (%s): counting in the database", e)
