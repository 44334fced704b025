"""Xiangyue (乡约): village self-governance and work-points ledger."""
from __future__ import annotations

import logging
import os
import uuid
from pathlib import Path
from typing import Any, Mapping

from flask import Flask, abort, g, has_request_context, request, session
from flask_babel import lazy_gettext as _l
from flask_babel import refresh
from jinja2 import ChoiceLoader, FileSystemLoader, PrefixLoader
from werkzeug.middleware.proxy_fix import ProxyFix

from .access import load_context
from .config import MIGRATIONS_DIR, PRINTABLES_DIR, PROJECT_ROOT, TEMPLATES_DIR, Config, finish_config
from .db import install_sqlite_hooks
from .errors import BoundedRequest, register_error_handlers
from .extensions import babel, csrf, db, import_all_models, limiter, login_manager, migrate
from .filters import register_filters
from .i18n import ensure_compiled, escape_lazy_strings, install_request_domain
from .urls import BoundedIntConverter

__all__ = ["MIGRATIONS_DIR", "PRINTABLES_DIR", "PROJECT_ROOT", "TEMPLATES_DIR", "create_app"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Create and configure the village application."""
    instance = (config or {}).get("INSTANCE_PATH") or os.environ.get("XIANGYUE_INSTANCE_PATH")
    app = Flask(__name__, template_folder=str(TEMPLATES_DIR), instance_relative_config=True,
                instance_path=os.path.abspath(instance) if instance else None)
    app.request_class = BoundedRequest  # plain forms keep a smaller body limit than photo uploads
    app.config.from_object(Config)
    if config is not None:
        app.config.from_mapping(config)
    finish_config(app)
    if proxies := int(app.config.get("PROXY_COUNT") or 0):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.url_map.converters["int"] = BoundedIntConverter  # before any route is added
    configure_jinja(app)
    init_extensions(app)
    register_blueprints(app)
    register_hooks(app)
    register_error_handlers(app)
    # cycle: the commands import features, and every feature module loads this package first
    from .cli import register_cli

    register_cli(app)
    if not app.debug and not app.testing:
        logging.basicConfig(level=logging.INFO)
        # WeasyPrint and fontTools narrate every layout step at INFO: keep the log (and CLI output) readable
        for noisy in ("weasyprint", "fontTools"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    return app


def configure_jinja(app: Flask) -> None:
    """Screen templates by plain name; print templates as printables/<name>.html."""
    app.jinja_loader = ChoiceLoader([
        FileSystemLoader(str(TEMPLATES_DIR)),
        PrefixLoader({"printables": FileSystemLoader(str(PRINTABLES_DIR))}),
    ])
    register_filters(app)


def select_locale() -> str:
    """Chinese unless the user chose English (kept in the session); Chinese on the command line too."""
    if not has_request_context():
        return "zh_Hans_CN"
    lang = session.get("lang")
    if lang in ("en", "zh_Hans_CN"):
        return lang
    return "zh_Hans_CN"


def init_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(MIGRATIONS_DIR))
    csrf.init_app(app)
    ensure_compiled(Path(app.root_path) / "translations")
    escape_lazy_strings()
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    install_request_domain(app, babel)
    limiter.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.session_protection = "basic"
    login_manager.login_message = _l("Please log in first.")
    login_manager.login_message_category = "info"
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            install_sqlite_hooks(db.engine)
            db.engine.dispose()
    # import the models so that Alembic sees every table
    import_all_models()


def register_blueprints(app: Flask) -> None:
    """Import each feature's views (which attach routes to its blueprint) and mount it."""
    # here, not at the top: every feature module loads this package first (the cycle app → feature → app),
    # and `import app.text` must not load every feature
    from .admin import views as _admin_views  # noqa: F401
    from .audit import views as _audit_views  # noqa: F401
    from .auth import views as _auth_views  # noqa: F401
    from .main import views as _main_views  # noqa: F401
    from .points import views as _points_views  # noqa: F401
    from .registry import views as _registry_views  # noqa: F401
    from .rules import views as _rules_views  # noqa: F401
    from .shop import views as _shop_views  # noqa: F401
    from .statements import views as _statements_views  # noqa: F401
    from .kiosk import admin_views as _kiosk_admin_views  # noqa: F401
    from .kiosk import views as _kiosk_views  # noqa: F401
    from .patrol import views as _patrol_views  # noqa: F401
    from .mediation import views as _mediation_views  # noqa: F401
    from .grid import views as _grid_views  # noqa: F401
    from .grid import admin_views as _grid_admin_views  # noqa: F401
    from .grid import import_views as _grid_import_views  # noqa: F401
    from .grid import print_views as _grid_print_views  # noqa: F401
    from .grid import report_views as _grid_report_views  # noqa: F401
    from .reports import views as _reports_views  # noqa: F401
    from .admin import bp as admin_bp
    from .audit import bp as audit_bp
    from .auth import bp as auth_bp
    from .main import bp as main_bp
    from .points import bp as points_bp
    from .registry import bp as registry_bp
    from .rules import bp as rules_bp
    from .shop import bp as shop_bp
    from .statements import bp as statements_bp

    app.register_blueprint(main_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(registry_bp, url_prefix="/registry")
    app.register_blueprint(audit_bp, url_prefix="/audit")
    app.register_blueprint(points_bp, url_prefix="/points")
    app.register_blueprint(shop_bp, url_prefix="/shop")
    app.register_blueprint(statements_bp)
    from .kiosk import admin_bp as kiosk_admin_bp
    from .kiosk import bp as kiosk_bp

    app.register_blueprint(kiosk_bp, url_prefix="/kiosk")
    app.register_blueprint(kiosk_admin_bp, url_prefix="/kiosk-admin")
    app.register_blueprint(rules_bp, url_prefix="/rules")
    from .patrol import bp as patrol_bp

    app.register_blueprint(patrol_bp, url_prefix="/patrol")
    from .mediation import bp as mediation_bp

    app.register_blueprint(mediation_bp, url_prefix="/mediation")
    from .grid import bp as grid_bp

    app.register_blueprint(grid_bp, url_prefix="/grid")
    from .reports import bp as reports_bp

    app.register_blueprint(reports_bp)


CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'self'; object-src 'none'")


def register_hooks(app: Flask) -> None:
    @app.before_request
    def _request_id() -> None:
        # a request can run inside an app context that is already pushed (tests, CLI helpers):
        # drop any locale Flask-Babel cached there so this request's language choice applies
        refresh()
        # likewise Flask-Login's cached user: it must come from this request's cookie, never an
        # earlier request's (so a logged-out or disabled session can never ride along)
        g.pop("_login_user", None)
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming[:40] if incoming and incoming.isascii() and incoming.isprintable() \
            else uuid.uuid4().hex

    @app.before_request
    def _refuse_nul() -> None:
        # no one types a NUL byte, and PostgreSQL cannot hold one in text (it answers an error, which
        # would be a 500 page): a URL or file name carrying one is refused here, before any view or query.
        # Form fields are left to the forms, whose text fields refuse control characters with a message
        # next to the field (app.forms.CleanStringField).
        if "\x00" in request.path or any("\x00" in v for _k, v in request.args.items(multi=True)) \
                or any("\x00" in (f.filename or "") for _k, f in request.files.items(multi=True)):
            abort(400)

    app.before_request(load_context)

    @app.after_request
    def _security_headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["X-Request-ID"] = g.get("request_id", "")
        if app.config.get("SESSION_COOKIE_SECURE"):
            resp.headers["Strict-Transport-Security"] = "max-age=31536000"
        # pages carry personal data: never keep them in shared or back-button caches
        if not request.path.startswith("/static/"):
            resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.teardown_request
    def _rollback_on_error(exc):
        if exc is not None:
            db.session.rollback()
