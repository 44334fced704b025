"""Configuration read from the environment, with a test configuration and start-up checks."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from .db import VILLAGE_TZ_NAME

DEFAULT_SECRET_KEY = "dev-insecure-change-me"  # noqa: S105  (refused outside development: finish_config)

#: the folders of the checkout (here, not in app/__init__.py, so that core modules and features can use them
#: without importing the application package, which imports every feature)
PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
PRINTABLES_DIR = PROJECT_ROOT / "printables"
MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


class Config:
    """Defaults for every installation; the environment overrides them."""

    ENV_NAME = os.environ.get("XIANGYUE_ENV", "development")
    SECRET_KEY = os.environ.get("SECRET_KEY")
    #: keyed HMAC for 身份证号 lookup; kept outside the database (env or instance file)
    ID_HMAC_KEY = os.environ.get("ID_HMAC_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL")
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = os.environ.get("XIANGYUE_TLS", "") == "1"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PERMANENT_SESSION_LIFETIME = 8 * 3600
    #: the largest request body: a phone's photo (PHOTO_MAX_BYTES) with its form; larger requests get the
    #: friendly 413 page (app/errors.py). Uploaded tables have their own, smaller limit (app/tabular/files.py)
    MAX_CONTENT_LENGTH = int(os.environ.get("MAX_CONTENT_LENGTH", 32 * 1024 * 1024))
    #: the largest body without files (a plain form, JSON): app.errors.BoundedRequest
    MAX_FORM_CONTENT_LENGTH = int(os.environ.get("MAX_FORM_CONTENT_LENGTH", 8 * 1024 * 1024))
    #: photos (app/photos.py): the largest original accepted, and the longest side of the stored copy
    PHOTO_MAX_BYTES = int(os.environ.get("PHOTO_MAX_BYTES", 20 * 1024 * 1024))
    PHOTO_MAX_SIDE = int(os.environ.get("PHOTO_MAX_SIDE", 1600))
    WTF_CSRF_TIME_LIMIT = 8 * 3600
    BABEL_DEFAULT_LOCALE = "zh_Hans_CN"
    BABEL_DEFAULT_TIMEZONE = VILLAGE_TZ_NAME
    LANGUAGES = ("zh_Hans_CN", "en")
    #: where the budgets of attempts are counted (app/budgets.py) and Flask-Limiter keeps its counters:
    #: redis://… shares them between workers and servers; anything else counts the budgets in the database
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI", "memory://")
    RATELIMIT_ENABLED = True
    #: login attempts per address (app/budgets.py), whatever the user name
    LOGIN_RATE = "30 per minute"
    #: statement codes checked per address on the public /verify page (app/budgets.py)
    VERIFY_RATE = "30 per minute"
    LOGIN_MAX_FAILURES = 5
    LOGIN_LOCK_MINUTES = 15
    PER_PAGE = 30
    #: kiosk: idle seconds before it returns to the start page; wrong PINs before a household's lock
    KIOSK_IDLE_SECONDS = int(os.environ.get("KIOSK_IDLE_SECONDS", "60"))
    KIOSK_PIN_MAX_FAILURES = 5
    KIOSK_PIN_LOCK_MINUTES = 15
    #: wrong PINs one kiosk may send, whatever the household (app/budgets.py, keyed per kiosk device)
    KIOSK_PIN_RATE = "30 per hour"
    PASSWORD_HASH_METHOD = "scrypt"  # noqa: S105  (a hash method's name, not a password)
    #: where printed statement QR codes point, e.g. http://192.168.1.10:5000/ (default: the address in use)
    STATEMENT_BASE_URL = os.environ.get("STATEMENT_BASE_URL")
    #: statements per WeasyPrint document in a batch, and pool width (default: every core)
    STATEMENT_CHUNK = int(os.environ.get("STATEMENT_CHUNK", 50))
    STATEMENT_WORKERS = int(os.environ["STATEMENT_WORKERS"]) if os.environ.get("STATEMENT_WORKERS") else None
    #: the pre-subset face under printables/fonts/ (`flask statements build-font`); unused until built
    STATEMENT_FONT = os.environ.get("STATEMENT_FONT", "xy-gb2312-serif.otf")
    #: reverse proxies in front of the app (nginx on a township server: 1): the client's address, scheme
    #: and host are then taken from their X-Forwarded-* headers, so the budgets of attempts count per
    #: villager, not per proxy. 0 (a village PC serving the LAN itself): those headers are ignored.
    PROXY_COUNT = int(os.environ.get("XIANGYUE_PROXIES", 0))
    #: `flask backup` (app/ops/backup.py): where archives go (default instance/backups), how many are kept,
    #: and the name they carry (default: the village's code when the installation holds one village)
    BACKUP_DIR = os.environ.get("BACKUP_DIR")
    BACKUP_KEEP = int(os.environ.get("BACKUP_KEEP", 14))
    INSTALLATION_CODE = os.environ.get("INSTALLATION_CODE")
    PG_DUMP_COMMAND = os.environ.get("PG_DUMP_COMMAND", "pg_dump")
    PG_RESTORE_COMMAND = os.environ.get("PG_RESTORE_COMMAND", "pg_restore")
    #: run batch jobs inside the request instead of their own process (tests only)
    STATEMENT_JOBS_INLINE = False


def _instance_secret(instance_path: str, name: str) -> str:
    """Read a secret from the instance folder, creating it on first use (mode 0600)."""
    path = Path(instance_path) / name
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


def finish_config(app) -> None:
    """Fill defaults that depend on the instance folder and refuse unsafe production settings."""
    cfg = app.config
    if not cfg.get("SQLALCHEMY_DATABASE_URI"):
        Path(app.instance_path).mkdir(parents=True, exist_ok=True)
        cfg["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(app.instance_path, "xiangyue.db")
    uri = cfg["SQLALCHEMY_DATABASE_URI"]
    if uri.startswith("postgresql://"):
        cfg["SQLALCHEMY_DATABASE_URI"] = uri = "postgresql+psycopg://" + uri[len("postgresql://"):]
    opts = dict(cfg.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    if uri.startswith("sqlite"):
        opts.setdefault("connect_args", {"timeout": 15})
    else:
        opts.setdefault("pool_pre_ping", True)
        opts.setdefault(
            "connect_args",
            {"options": "-c lock_timeout=5000 -c statement_timeout=30000 -c timezone=UTC"},
        )
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = opts

    production = cfg.get("ENV_NAME") == "production"
    if production:
        for key, fname in (("SECRET_KEY", "secret_key"), ("ID_HMAC_KEY", "id_hmac_key")):
            path = Path(app.instance_path) / fname
            if not cfg.get(key) and path.exists():
                cfg[key] = path.read_text().strip()
        if not cfg.get("SECRET_KEY") or cfg["SECRET_KEY"] == DEFAULT_SECRET_KEY or len(cfg["SECRET_KEY"]) < 16:
            raise RuntimeError(
                "Refusing to start in production with a missing or default SECRET_KEY: "
                "set SECRET_KEY in the environment or instance/secret_key."
            )
        if not cfg.get("ID_HMAC_KEY"):
            raise RuntimeError("Refusing to start in production without ID_HMAC_KEY.")
        if app.debug:
            raise RuntimeError("Refusing to start in production with debug on.")
    else:
        if not cfg.get("SECRET_KEY"):
            cfg["SECRET_KEY"] = _instance_secret(app.instance_path, "secret_key")
        if not cfg.get("ID_HMAC_KEY"):
            cfg["ID_HMAC_KEY"] = _instance_secret(app.instance_path, "id_hmac_key")
