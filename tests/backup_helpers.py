"""Fresh, empty databases to restore backups into (SQLite files; PostgreSQL databases dropped afterwards)."""
from __future__ import annotations

import uuid
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import PG_URL, _pg_url


@contextmanager
def pg_admin():
    engine = sa.create_engine(_pg_url(sa.engine.make_url(PG_URL).database or "postgres"),
                              isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


class FreshTargets:
    """Hands out empty databases of one backend; drop() removes the PostgreSQL ones."""

    def __init__(self, backend: str, folder: Path):
        self.backend, self.folder, self.made = backend, folder, []

    def new(self) -> str:
        tag = uuid.uuid4().hex[:10]
        if self.backend == "sqlite":
            return str(self.folder / f"restored-{tag}.db")
        name = f"xiangyue_restore_{tag}"
        with pg_admin() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        self.made.append(name)
        return _pg_url(name)

    def drop(self) -> None:
        if self.made:
            with pg_admin() as conn:
                for name in self.made:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.made = []
