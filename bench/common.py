"""Where the benchmark data lives and how the benchmark builds its app: never the dev database."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import sqlalchemy as sa

BENCH_DIR = Path(__file__).resolve().parent
PROJECT_ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
RESULTS_DIR = BENCH_DIR / "results"
#: secrets (SECRET_KEY, ID_HMAC_KEY) shared by the generator, the CLI runs and the gunicorn workers
INSTANCE_DIR = DATA_DIR / "instance"
#: the PostgreSQL database of the benchmark (per scale: xy_bench, xy_bench_quick …)
PG_DATABASE = "xy_bench"
BENCH_PASSWORD = "bench-pass-1234"


def sqlite_url(scale: str) -> str:
    """The benchmark's own SQLite file for a scale (bench/data/<scale>.db, gitignored)."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{DATA_DIR / f'village-{scale}.db'}"


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pg_server_url() -> str | None:
    """A PostgreSQL server to use: TEST_DATABASE_URL's, else a local one on 127.0.0.1:5432, else None."""
    url = os.environ.get("BENCH_PG_URL") or os.environ.get("TEST_DATABASE_URL")
    if url:
        return url.strip()
    if _port_open("127.0.0.1", 5432):
        return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    return None


def pg_url(scale: str, server: str | None = None, *, create: bool = True) -> str | None:
    """The benchmark's own PostgreSQL database for a scale, created when missing (unless `create` is
    False: then None when it is missing); None without a server."""
    server = server or pg_server_url()
    if not server:
        return None
    base = sa.engine.make_url(server)
    if base.drivername in ("postgresql", "postgres"):
        base = base.set(drivername="postgresql+psycopg")
    name = PG_DATABASE if scale == "full" else f"{PG_DATABASE}_{scale}"
    admin = sa.create_engine(base.set(database=base.database or "postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            if not conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
                if not create:
                    return None
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except sa.exc.OperationalError:
        return None
    finally:
        admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


def bench_config(database_url: str) -> dict:
    """create_app() overrides for benchmark processes (generator, CLI runs, gunicorn workers)."""
    return {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "INSTANCE_PATH": str(INSTANCE_DIR),
        # production-like: no debug, CSRF and rate limits on, real password hashing
        "ENV_NAME": "development",
        # except the login budget: the figures' own users log in from one address (figure 3 alone: 16 cashiers
        # a run), which is not what they measure; the budget itself is tests/test_budgets_http.py's
        "LOGIN_RATE": "1000 per minute",
    }


def make_app(database_url: str):
    """The real application on the benchmark database."""
    from app import create_app

    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    return create_app(bench_config(database_url))


def fresh_client(app):
    """Flask's test client with each request in its own app context, as in a gunicorn worker (measured in one
    process by bench.kiosk_floor and bench.counter_profile)."""
    from flask.testing import FlaskClient

    class Fresh(FlaskClient):
        def open(self, *args, **kwargs):
            with self.application.app_context():
                return super().open(*args, **kwargs)

    return Fresh(app, app.response_class, use_cookies=True)
