"""Whether the database schema is the one this code was written for (Alembic's current revision = head)."""
from __future__ import annotations

import os

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask

from ..config import MIGRATIONS_DIR
from ..extensions import db


class SchemaBehind(RuntimeError):
    """The database has not been upgraded to the migrations this code ships."""


def code_heads() -> set[str]:
    """The head revision(s) of migrations/."""
    return set(ScriptDirectory(str(MIGRATIONS_DIR)).get_heads())


def database_heads(connection) -> set[str]:
    """The revision(s) recorded in the database's alembic_version table (empty: never migrated)."""
    return set(MigrationContext.configure(connection).get_current_heads())


def schema_problem(app: Flask) -> str | None:
    """A sentence saying why the schema is not current, or None when it is."""
    with app.app_context():
        with db.engine.connect() as conn:
            current = database_heads(conn)
        db.engine.dispose()
    wanted = code_heads()
    if current == wanted:
        return None
    have = ", ".join(sorted(current)) or "none (an empty database)"
    return (f"The database schema is at revision {have}, but this code needs {', '.join(sorted(wanted))}. "
            "Back it up (flask backup) and run `flask db upgrade` first (make run does it by itself).")


def refuse_when_behind(app: Flask) -> None:
    """Refuse to serve a database whose schema is behind (or ahead of) the migrations: raise SchemaBehind.

    For the serving entry point (wsgi.py under gunicorn or waitress). Every `flask …` command is left alone:
    `flask db upgrade` is what brings the schema up, and `flask backup` must run before it. Tests build their
    apps with create_app() on a migrated database and never go through here.
    """
    if os.environ.get("FLASK_RUN_FROM_CLI") == "true" or app.testing:
        return
    problem = schema_problem(app)
    if problem is not None:
        raise SchemaBehind("Refusing to start: " + problem)
