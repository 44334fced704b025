"""Flask extensions, created unbound and bound in create_app()."""
from __future__ import annotations

from typing import TYPE_CHECKING

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

import importlib

import sqlalchemy as sa
from flask import g, has_request_context
from sqlalchemy import event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Mapper

from .db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
limiter = Limiter(get_remote_address)

if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


def begin_write() -> None:
    """Start a fresh write transaction (BEGIN IMMEDIATE on SQLite) before the first write.

    The commit ends any read transaction the request already opened (the user
    loader's SELECT, for instance): SQLAlchemy ignores new execution options on a
    connection it already holds, which would leave the transaction DEFERRED.

    What the request read before is expired, so the write reads it again under the write lock (an entry's
    status, a balance), except the signed-in user with their memberships and villages: the request was
    authorised on them as the user loader read them, and reading them again for the audit row's actor and
    the village's code cost two statements on every write (bench figure 3).
    """
    session = db.session()
    keep = _signed_in_objects(session)
    if not keep:
        session.commit()
    else:
        expire_on_commit = session.expire_on_commit
        session.expire_on_commit = False
        try:
            session.commit()
        finally:
            session.expire_on_commit = expire_on_commit
        if expire_on_commit:
            for obj in list(session.identity_map.values()):
                if id(obj) not in keep:
                    session.expire(obj)
    session.connection(execution_options={"write_txn": True})


def _signed_in_objects(session) -> set[int]:
    """ids of the signed-in user of this request, their memberships and those memberships' villages, as
    the user loader put them in `session` (nothing outside a request, or before the user was loaded)."""
    if not has_request_context():
        return set()
    user = g.get("_login_user")  # where Flask-Login keeps the user it loaded for this request
    state = sa.inspect(user, raiseerr=False) if user is not None else None
    if state is None or state.session is not session or state.expired_attributes:
        return set()
    keep = {id(user)}
    for m in state.dict.get("memberships") or ():
        keep.add(id(m))
        village = sa.inspect(m).dict.get("village")
        if village is not None:
            keep.add(id(village))
    return keep


def upsert_insert(table):
    """An INSERT of the session's database that takes ON CONFLICT (DO NOTHING / DO UPDATE).

    PostgreSQL and SQLite write the clause alike, but SQLAlchemy offers it only on each dialect's own
    insert(); a row that two transactions may create at once (a counter, a running total, an account) is
    created through this, never by a read then an insert.
    """
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


#: every feature's models; relationships name classes of other features by string, so all must be loaded
MODEL_MODULES = ("audit", "auth", "ledger", "points", "rules", "shop", "registry", "statements", "kiosk",
                 "patrol", "mediation", "reports")


def import_all_models() -> None:
    for name in MODEL_MODULES:
        importlib.import_module(f"app.{name}.models")
    # the core's one table: the budgets' counters (app/budgets.py)
    importlib.import_module("app.budgets")


@event.listens_for(Mapper, "before_configured")
def _load_every_model() -> None:
    # a script or test that imports one models module and builds an object before create_app()
    # would otherwise fail on a relationship to a class it never imported
    import_all_models()
