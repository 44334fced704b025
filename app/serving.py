"""gunicorn settings of a Xiangyue server: `gunicorn -c python:app.serving wsgi:app` (as `make run` does).

Only the hook below: workers, address and timeouts stay on the command line.
"""
from __future__ import annotations

import gc

import sqlalchemy.orm
from flask import Flask
from flask_babel import force_locale, get_translations


def prepare_for_serving(app: Flask) -> None:
    """For a serving process (gunicorn worker), once the app is built: do the first request's work now.

    A fresh worker compiled templates, loaded the translation catalogues and configured the mappers on
    its first requests: 300–700 ms for those, which was the whole p99 of a clerk's household page after
    a restart (bench figure 2: 354 ms cold, 63 ms warm). Then everything start-up loaded is put beyond
    the garbage collector: ~350,000 long-lived objects that every full collection would otherwise scan
    (25–135 ms pauses every few hundred requests; ~7 ms frozen). Not for tests or the CLI, which build
    many apps: frozen objects are never freed.
    """
    sqlalchemy.orm.configure_mappers()
    for name in app.jinja_env.list_templates(filter_func=lambda n: n.endswith(".html")):
        app.jinja_env.get_template(name)
    with app.test_request_context():
        for locale in app.config.get("LANGUAGES", ()):
            with force_locale(locale):
                get_translations()
    gc.collect()
    gc.freeze()


def post_worker_init(worker) -> None:
    """gunicorn hook: a worker has loaded the app and is about to take its first request."""
    prepare_for_serving(worker.wsgi)
