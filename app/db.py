"""Declarative base, naming convention, time helpers and SQLite engine hooks."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every model; stable constraint names let Alembic alter them later."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> dt.datetime:
    """Return the current UTC time as a naive datetime (both databases store it the same way)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def install_sqlite_hooks(engine: Engine) -> None:
    """Make SQLite durable and strict, and let write transactions start with BEGIN IMMEDIATE.

    pysqlite's legacy transaction handling issues BEGIN lazily and deferred, which
    turns concurrent read-check-write into lost updates or "database is locked"
    (docs/reliability.md §4.1), so we take over BEGIN ourselves.
    """
    if getattr(engine, "_xiangyue_hooks", False):
        return
    engine._xiangyue_hooks = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "busy_timeout=15000"):
            cur.execute(f"PRAGMA {pragma}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        write = conn.get_execution_options().get("write_txn", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
