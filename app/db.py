"""Declarative base, naming convention, time helpers and SQLite engine hooks."""
from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import CheckConstraint, MetaData, PrimaryKeyConstraint, UniqueConstraint, case, event
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


def unique_violation(exc: BaseException) -> str | None:
    """The name of the UNIQUE constraint (or primary key) a write broke, '' when the database does not say
    which, None when `exc` is another error.

    PostgreSQL names the constraint (unique_violation, SQLSTATE 23505); SQLite names the columns
    ("UNIQUE constraint failed: users.username"), which are looked up among the models' constraints.
    """
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) == "23505":
        return getattr(getattr(orig, "diag", None), "constraint_name", None) or ""
    text = str(orig if orig is not None else exc)
    if not text.startswith("UNIQUE constraint failed: "):
        return None
    what = text.removeprefix("UNIQUE constraint failed: ").strip()
    if what.startswith("index '"):  # a unique index on expressions is named, not its columns
        return what.removeprefix("index '").rstrip("'")
    pairs = [part.strip().split(".", 1) for part in what.split(",")]
    if any(len(p) != 2 for p in pairs) or len({t for t, _c in pairs}) != 1:
        return ""
    table = Base.metadata.tables.get(pairs[0][0])
    columns = {c for _t, c in pairs}
    for constraint in table.constraints if table is not None else ():
        if isinstance(constraint, (UniqueConstraint, PrimaryKeyConstraint)) \
                and {c.name for c in constraint.columns} == columns:
            return str(constraint.name or "")
    for index in table.indexes if table is not None else ():
        if index.unique and {c.name for c in index.columns} == columns:
            return str(index.name or "")
    return ""


def utcnow() -> dt.datetime:
    """Return the current UTC time as a naive datetime (both databases store it the same way)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def install_sqlite_hooks(engine: Engine) -> None:
    """Make SQLite durable and strict, and let write transactions start with BEGIN IMMEDIATE.

    pysqlite's legacy transaction handling issues BEGIN lazily and deferred, which
    turns concurrent read-check-write into lost updates or "database is locked"
    (docs/architecture.md, "Database and transactions"), so we take over BEGIN ourselves.
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


# --- column types that SQLite STRICT tables accept ---------------------------------------------
# A STRICT table allows only INTEGER, REAL, TEXT, BLOB and ANY, and then refuses 'abc' or 1.5 in an
# integer column instead of storing it (docs/architecture.md, "Database and transactions"). The ledger's tables are STRICT,
# so their columns render as those names on SQLite and as the usual types on PostgreSQL.
from sqlalchemy import types as _t  # noqa: E402

BigInt = _t.BigInteger().with_variant(_t.Integer(), "sqlite")
Int = _t.Integer()


def Str(length: int) -> _t.TypeEngine:
    """VARCHAR(length) on PostgreSQL, TEXT on SQLite (length is checked by forms and CHECKs)."""
    return _t.String(length).with_variant(_t.Text(), "sqlite")


class Flag(_t.TypeDecorator):
    """A boolean stored as INTEGER 0/1 on SQLite (STRICT has no BOOLEAN), BOOLEAN elsewhere."""

    impl = _t.Boolean
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_t.Integer())
        return dialect.type_descriptor(_t.Boolean())

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        return int(bool(value)) if dialect.name == "sqlite" else bool(value)

    def process_result_value(self, value, dialect):
        return None if value is None else bool(value)


class UTCDateTime(_t.TypeDecorator):
    """A naive UTC datetime; ISO text on SQLite (STRICT has no DATETIME), TIMESTAMP elsewhere."""

    impl = _t.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_t.Text())
        return dialect.type_descriptor(_t.DateTime())

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return value.isoformat(sep=" ", timespec="microseconds")

    def process_result_value(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return dt.datetime.fromisoformat(value)


class Day(_t.TypeDecorator):
    """A calendar date; ISO text on SQLite, DATE elsewhere."""

    impl = _t.Date
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(_t.Text())
        return dialect.type_descriptor(_t.Date())

    def process_bind_param(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return value.isoformat()

    def process_result_value(self, value, dialect):
        if value is None or dialect.name != "sqlite":
            return value
        return dt.date.fromisoformat(value)


#: the villages' time zone: every calendar day (posting periods, statements, the shop's months) is a day
#: there, whatever zone the server runs in; the config's BABEL_DEFAULT_TIMEZONE names the same zone
VILLAGE_TZ_NAME = "Asia/Shanghai"
VILLAGE_TZ = ZoneInfo(VILLAGE_TZ_NAME)


def local_today() -> dt.date:
    """Today's date in the villages' time zone (the server may run on UTC)."""
    return dt.datetime.now(VILLAGE_TZ).date()


def local_day(moment: dt.datetime) -> dt.date:
    """The village's calendar day of a naive UTC time (as stored)."""
    return moment.replace(tzinfo=dt.timezone.utc).astimezone(VILLAGE_TZ).date()


def one_of(column: str, values, name: str):
    """A named CHECK that `column` holds one of an enum's values (the status and kind columns)."""
    listed = ",".join(f"'{v.value}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


def utc_from_local(day: dt.date, clock: dt.time) -> dt.datetime:
    """A village-local day and time of day as the naive UTC the database keeps."""
    return dt.datetime.combine(day, clock, VILLAGE_TZ).astimezone(dt.UTC).replace(tzinfo=None)


def local_midnight_utc(day: dt.date) -> dt.datetime:
    """The naive UTC moment the village's calendar day `day` begins (to compare with stored times)."""
    local = dt.datetime.combine(day, dt.time.min, tzinfo=VILLAGE_TZ)
    return local.astimezone(dt.timezone.utc).replace(tzinfo=None)


def month_starts(year: int, months) -> list[tuple[int, dt.date, dt.date]]:
    """(month, first day, first day of the next month) for each of `months` of `year`, in order."""
    out = []
    for m in sorted(set(months)):
        first = dt.date(year, m, 1)
        out.append((m, first, dt.date(year + (m == 12), m % 12 + 1, 1)))
    return out


def month_bucket(column, year: int, months, *, utc: bool = False):
    """(CASE giving the month 1–12 of `column`, lower bound, upper bound (exclusive)) for grouping a table's rows
    by the village's calendar months, the same SQL on SQLite and PostgreSQL.

    `column` is a day (Day) or, with `utc`, a naive UTC time (then the bounds are the village's local midnights).
    Rows outside [lower, upper) must be filtered by the caller with the bounds returned; inside them, a month that
    was not asked for falls into the next asked-for month's bucket, so ask for consecutive months."""
    spans = month_starts(year, months)
    edge = local_midnight_utc if utc else (lambda d: d)
    whens = [(column < edge(end), m) for m, _first, end in spans]
    return case(*whens, else_=spans[-1][0]), edge(spans[0][1]), edge(spans[-1][2])
