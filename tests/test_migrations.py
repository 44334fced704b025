"""The migrations build the schema the models declare: a model change without its migration fails here."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app.extensions import db


def test_the_migrated_database_matches_the_models(app):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == [], "\n".join(str(d) for d in diff)


def test_an_upgrade_run_in_the_process_leaves_the_apps_logger_on(app):
    """migrations/env.py configures logging from alembic.ini; it must not switch off the loggers that already
    exist (the app's own warnings, e.g. a Redis that stopped answering, went nowhere after an upgrade)."""
    import logging

    from flask_migrate import upgrade

    app.logger.warning("the app's logger exists before the upgrade")
    with app.app_context():
        upgrade()  # at head already: nothing to run, but env.py and its logging set-up run all the same
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())
    logging.getLogger().addHandler(handler)  # as the log set-up of whatever runs next does
    try:
        app.logger.warning("after the upgrade")
    finally:
        logging.getLogger().removeHandler(handler)
    assert seen == ["after the upgrade"]
