"""Fixtures of the gates: ONE seeded world per database for the whole run (seeding costs seconds).

The world lives in a database of its own (a copy of the migrated SQLite file; on PostgreSQL a database the
gates create, migrate and drop), so the other tests' emptying of theirs never touches it. Every gate shares
it and must leave it as it found it: gates make requests that are refused or that read, and a gate that
changes something on purpose (tests/gates/test_session_revocation.py) puts it back.
"""
from __future__ import annotations

import os
import shutil
import uuid

import pytest
import sqlalchemy as sa

from app import create_app
from app.extensions import db
from tests.conftest import BACKENDS, BASE_CONFIG, PG_URL, _migrate, _pg_url
from tests.gates.fuzz_world import build_world, close_world
from tests.gates.world import seed_world


def pytest_runtest_logreport(report):
    """Each failure's report, written the moment it happens to XIANGYUE_GATES_FAILURES (`make gates` sets
    it): a full run lasts hours and pytest says why a test failed only at its end, so a run stopped early
    otherwise leaves an F and no reason."""
    path = os.environ.get("XIANGYUE_GATES_FAILURES")
    if path and report.failed:
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"=== {report.nodeid} ({report.when})\n{report.longreprtext}\n\n")


@pytest.fixture(scope="session", params=BACKENDS)
def gate_app(request, tmp_path_factory):
    """(app, world): an app on the gates' own database holding the seeded world (tests/gates/world.py).

    CSRF is off as in every test app; a gate that needs it on uses the `csrf_on` fixture.
    """
    folder = tmp_path_factory.mktemp(f"gates-{request.param}")
    admin = name = None
    if request.param == "sqlite":
        path = folder / "gates.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        uri = f"sqlite:///{path}"
    else:
        name = f"xiangyue_gates_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(_pg_url(sa.engine.make_url(PG_URL).database or "postgres"),
                                 isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        uri = _pg_url(name)
        _migrate(uri, folder)
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_PATH": str(folder / "instance")})
    with app.app_context():
        world = seed_world()
        db.session.remove()
    yield app, world
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if admin is not None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture(scope="module")
def csrf_on(gate_app):
    """CSRF checked for the module's requests (Flask-WTF reads the setting on each request), then off again."""
    app = gate_app[0]
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture(scope="module", params=BACKENDS)
def world(request, tmp_path_factory):
    """A seeded world of the module's own (tests/gates/fuzz_world.py) for the gates that submit forms (T8, T9):
    what they write is undone table by table, and no other gate shares the database meanwhile."""
    module = request.module.__name__.rsplit(".", 1)[-1]
    base = tmp_path_factory.mktemp(f"{module}-{request.param}")
    if request.param == "sqlite":
        w = build_world("sqlite", base, sqlite_template=request.getfixturevalue("sqlite_template"))
    else:
        w = build_world("postgresql", base, pg=request.getfixturevalue("pg_database"))
    yield w
    close_world(w)
