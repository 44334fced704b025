"""Fixtures: one app per test on a migrated database, SQLite always and PostgreSQL when configured.

Every test runs once per backend: `[sqlite]` always, `[postgresql]` when TEST_DATABASE_URL is set.
Each backend's schema is built once per run by the real migrations; tests get a fresh copy
(SQLite: a copy of the migrated file; PostgreSQL: the run's own database, emptied between tests).
"""
from __future__ import annotations

import itertools
import os
import re
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from flask_babel import force_locale

from app import create_app
from app.extensions import db

#: fixtures shared by a feature's test modules, kept beside them
pytest_plugins = ["tests.grid_helpers"]


def pytest_report_header(config) -> str:
    """The gates' mode and sample seed (tests/gates/__init__.py), to replay a sampled failure."""
    from tests.gates import header

    return header()


def pytest_collection_modifyitems(items) -> None:
    """The gates (tests/gates/ and tests/test_gates_*.py) carry the `gates` marker: `pytest -m gates`."""
    for item in items:
        path = Path(str(item.fspath))
        if path.parent.name == "gates" or path.name.startswith("test_gates_"):
            item.add_marker(pytest.mark.gates)


def _share_url_builders() -> None:
    """Every test builds its own app, and Werkzeug compiles each of its ~1,000 routes' URL builders from an
    AST: 180 ms a test, a tenth of the suite. A builder's code depends only on its rule's parts and on
    whether it appends unknown arguments (it reaches the converters through the rule it is bound to), so
    the tests' apps share the compiled function, bound to each rule. Rules with defaults (resolved into the
    code through their converters) are compiled as before."""
    from werkzeug.routing.rules import Rule

    # Werkzeug's internals (3.x): on a Werkzeug without them the tests build their URLs as before, slower
    compile_builder = getattr(Rule, "_compile_builder", None)
    if compile_builder is None:
        return
    compiled: dict = {}

    def shared(self, append_unknown: bool = True):
        trace = getattr(self, "_trace", None)
        if self.defaults or trace is None:
            return compile_builder(self, append_unknown)
        key = (tuple(trace), append_unknown)
        if key not in compiled:
            compiled[key] = compile_builder(self, append_unknown)
        return compiled[key]

    Rule._compile_builder = shared


_share_url_builders()

PG_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])
PASSWORD = "pw-12345678"

BASE_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-0123456789",
    "ID_HMAC_KEY": "test-hmac-key-0123456789",
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1",  # fast hashing: tests are not about hash cost
    "RATELIMIT_ENABLED": False,
    "WTF_CSRF_ENABLED": False,
}


def _pg_url(dbname: str) -> str:
    url = sa.engine.make_url(PG_URL)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url.set(database=dbname).render_as_string(hide_password=False)


def _migrate(uri: str, instance: Path) -> None:
    from flask_migrate import upgrade

    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": uri, "INSTANCE_PATH": str(instance)})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once per run."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    _migrate(f"sqlite:///{path}", folder)
    eng = sa.create_engine(f"sqlite:///{path}")
    with eng.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.exec_driver_sql("PRAGMA journal_mode=DELETE")
    eng.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database(tmp_path_factory):
    """The run's own PostgreSQL database, migrated to head, dropped at the end."""
    name = f"xiangyue_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(_pg_url(sa.engine.make_url(PG_URL).database or "postgres"),
                             isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = _pg_url(name)
    _migrate(url, tmp_path_factory.mktemp("pg-instance"))
    eng = sa.create_engine(url)
    with eng.connect() as conn:
        tables = [r[0] for r in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")]
    eng.dispose()
    yield url, tables
    engine = _engines.pop(url, None)
    if engine is not None:
        engine.dispose()
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


#: every this many tests the PostgreSQL tables are truncated rather than emptied row by row (_empty_pg)
TRUNCATE_EVERY = 50
_emptied = itertools.count()
_engines: dict[str, sa.Engine] = {}


def _empty_pg(url: str, tables: list[str]) -> None:
    """Empty the run's database for the next test, as new: no rows, every id starting at 1 again.

    TRUNCATE of the 76 tables cost about 1.2 s a test (it makes each table's and index's files anew): most of
    the PostgreSQL tests' time. A test fills a few tables, so those are found in one statement and emptied
    with DELETE, and every sequence restarts. The rows deleted stay behind as dead tuples where autovacuum is
    off (as on these machines), so every TRUNCATE_EVERY-th time the tables are truncated all the same.
    """
    eng = _engines.get(url)
    if eng is None:
        eng = _engines[url] = sa.create_engine(url, pool_size=1)
    with eng.begin() as conn:
        # replica mode skips the append-only triggers (and the foreign keys' checks), so the audit log can be
        # emptied between tests, table by table in any order
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        if next(_emptied) % TRUNCATE_EVERY == 0:
            conn.exec_driver_sql("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE")
            return
        filled = [row[0] for row in conn.exec_driver_sql(" UNION ALL ".join(
            f"SELECT '{t}' WHERE EXISTS (SELECT 1 FROM \"{t}\")" for t in tables))]
        for table in filled:
            conn.exec_driver_sql(f'DELETE FROM "{table}"')  # noqa: S608 (the schema's own table names)
        conn.exec_driver_sql("SELECT setval(c.oid, 1, false) FROM pg_class c "
                             "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace")


@pytest.fixture(params=BACKENDS)
def backend(request) -> str:
    return request.param


@pytest.fixture
def db_uri(backend, request, tmp_path) -> str:
    if backend == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    url, tables = request.getfixturevalue("pg_database")
    _empty_pg(url, tables)
    return url


@pytest.fixture
def app_config() -> dict:
    """Override per test module or test to change configuration."""
    return {}


@pytest.fixture
def app(db_uri, tmp_path, app_config):
    app = create_app({**BASE_CONFIG, "SQLALCHEMY_DATABASE_URI": db_uri,
                      "INSTANCE_PATH": str(tmp_path / "instance"), **app_config})
    ctx = app.app_context()
    ctx.push()
    yield app
    db.session.remove()
    ctx.pop()
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def english(app):
    """Service calls outside a request: messages in English (their msgids), so tests can match them."""
    with force_locale("en"):
        yield


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- factories ------------------------------------------------------------------------------------

@pytest.fixture
def make_village(app):
    """Create a village (code, name) and commit; returns the Village."""
    from app.registry.services import create_village
    from app.submission import write_transaction

    def make(code: str = "v1", name: str | None = None, township=None):
        with write_transaction():
            v = create_village(code, name or f"{code}村", township)
        return v

    return make


@pytest.fixture
def make_user(app):
    """Create a user with roles, e.g. make_user("clerk1", ("clerk", village)); password is PASSWORD."""
    from app.auth.services import create_user, grant
    from app.registry.models import Township
    from app.submission import write_transaction

    def make(username: str, *grants, password: str = PASSWORD):
        with write_transaction():
            user = create_user(username, password)
            for role, scope in grants:
                if role == "admin":
                    grant(user, role)
                elif isinstance(scope, Township):
                    grant(user, role, township=scope)
                else:
                    grant(user, role, village=scope)
        return user

    return make


@pytest.fixture
def make_household(app):
    """Create a household with a head and optional members [(name, relation), …]; returns it."""
    from app.registry.services import PersonData, add_person, create_household
    from app.submission import write_transaction

    def make(village, number: str, head: str = "张三丰", members=(), id_number: str | None = None,
             group=None, **kw):
        with write_transaction():
            h = create_household(village, number, PersonData(name=head, id_number=id_number), group=group, **kw)
            for name, relation in members:
                add_person(h, PersonData(name=name, relation=relation))
        return h

    return make


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, username: str, password: str = PASSWORD, follow: bool = False):
        return self.client.post("/login", data={"username": username, "password": password},
                                follow_redirects=follow)

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client) -> Auth:
    return Auth(client)


@pytest.fixture
def village(make_village):
    return make_village("v1", "一号村")


@pytest.fixture
def clerk(make_user, village):
    return make_user("clerk1", ("clerk", village))


@pytest.fixture
def clerk_client(client, auth, clerk):
    """A test client logged in as a clerk of `village`."""
    r = auth.login("clerk1")
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def valid_id(seq: int = 1, born: str = "19800101", region: str = "440305") -> str:
    """A syntactically valid 18-character ID number for tests."""
    import datetime as dt

    from app.registry.identity import make_test_id

    return make_test_id(region, dt.date(int(born[:4]), int(born[4:6]), int(born[6:])), seq)


ID_RE = re.compile(r"\d{17}[\dX]")


class FreshContextClient(FlaskClient):
    """Run each request in its own app context (and `g`), as in production.

    The `app` fixture keeps one app context pushed for the whole test and a request reuses it;
    modules that check sessions, caches or per-request state use this client instead.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)
