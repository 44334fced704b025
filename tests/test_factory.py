"""Factory and configuration."""
from __future__ import annotations

import pytest

from app import create_app


def test_testing_config_is_applied(app):
    assert app.testing
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["MAX_CONTENT_LENGTH"] > 0


@pytest.mark.parametrize("key", [None, "dev-insecure-change-me", "short"])
def test_production_refuses_default_or_missing_secret_key(tmp_path, key):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": key, "ID_HMAC_KEY": "k" * 32,
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "INSTANCE_PATH": str(tmp_path)})


def test_production_refuses_missing_id_hmac_key(tmp_path):
    with pytest.raises(RuntimeError, match="ID_HMAC_KEY"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": "s" * 40, "ID_HMAC_KEY": None,
                    "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "INSTANCE_PATH": str(tmp_path)})


def test_production_starts_with_a_real_key(tmp_path):
    app = create_app({"ENV_NAME": "production", "SECRET_KEY": "s" * 40, "ID_HMAC_KEY": "k" * 40,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "INSTANCE_PATH": str(tmp_path)})
    assert not app.debug


def test_production_reads_keys_from_the_instance_folder(tmp_path):
    (tmp_path / "secret_key").write_text("f" * 64)
    (tmp_path / "id_hmac_key").write_text("e" * 64)
    app = create_app({"ENV_NAME": "production", "SECRET_KEY": None, "ID_HMAC_KEY": None,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "INSTANCE_PATH": str(tmp_path)})
    assert app.config["SECRET_KEY"] == "f" * 64


def test_development_creates_its_own_keys_once(tmp_path):
    cfg = {"SECRET_KEY": None, "ID_HMAC_KEY": None, "INSTANCE_PATH": str(tmp_path),
           "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db"}
    first = create_app(cfg).config["SECRET_KEY"]
    assert len(first) >= 32 and create_app(cfg).config["SECRET_KEY"] == first
    assert oct((tmp_path / "secret_key").stat().st_mode)[-3:] == "600"


def test_postgresql_url_uses_psycopg3(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql://u@127.0.0.1:1/x", "SECRET_KEY": "s" * 40,
                      "ID_HMAC_KEY": "k" * 40})
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql+psycopg://")


def test_sqlite_connections_are_durable_and_strict(tmp_path):
    from app.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/x.db", "INSTANCE_PATH": str(tmp_path)})
    with app.app_context(), db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_missing_catalog_is_compiled_at_start_up(tmp_path):
    import shutil
    from pathlib import Path

    from babel.support import Translations

    from app.i18n import ensure_compiled

    src = Path(__file__).resolve().parent.parent / "app/translations/zh_Hans_CN/LC_MESSAGES/messages.po"
    target = tmp_path / "zh_Hans_CN/LC_MESSAGES"
    target.mkdir(parents=True)
    shutil.copy(src, target / "messages.po")
    ensure_compiled(tmp_path)
    translations = Translations.load(str(tmp_path), ["zh_Hans_CN"])
    assert translations.gettext("Log in") == "登录"


def test_a_script_can_build_any_model_without_the_app_factory():
    # a relationship names a class of another feature by string; the mapper must find it even when the
    # script imported only one models module (runs in a fresh interpreter: here every model is loaded)
    import subprocess
    import sys

    code = ("from app.points.models import PointEntry\n"
            "from app.registry.models import Household\n"
            "PointEntry(points=1); Household(number='0101'); print('built')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "built" in out.stdout



def test_a_gunicorn_worker_is_warm_before_its_first_request(tmp_path, sqlite_template):
    # app/serving.py's hook (gunicorn -c python:app.serving): templates compiled and start-up objects frozen,
    # so the first clerk or villager after a restart does not wait for them (bench figure 2's p99)
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    # a migrated database: serving refuses one whose schema is behind (app/ops/schema.py)
    (tmp_path / "x.db").write_bytes(sqlite_template.read_bytes())
    env = {**os.environ, "XIANGYUE_INSTANCE_PATH": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    code = ("import gc, types, wsgi\n"
            "from app import serving\n"
            "before = len(wsgi.app.jinja_env.cache)\n"
            "serving.post_worker_init(types.SimpleNamespace(wsgi=wsgi.app))\n"
            "print(before, len(wsgi.app.jinja_env.cache), gc.get_freeze_count())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=root, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    before, compiled, frozen = (int(x) for x in out.stdout.split()[-3:])
    assert before == 0 and compiled > 100, out.stdout
    assert frozen > 50_000, out.stdout
