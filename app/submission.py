"""One way to write: the transaction, the field error, the busy-database retry and the form key.

Every write view runs its service call through `submit()`; the command line, the demo seeder and
tests that set up data use `write_transaction()`. Both start the write transaction with
`begin_write()` (BEGIN IMMEDIATE on SQLite), commit once, and roll back on any refusal, so a
refused form writes nothing (docs/architecture.md, "Submitting a form").

    form = ItemForm()
    if form.validate_on_submit():
        done = submit(form, lambda: pts.create_item(load_category(), form.export()), field="code")
        if done:
            flash_recorded(done.value, _("Item added."))
            return redirect(url_for("points.scheme"))
    return render_template(...)

The action is called again from the start when the database is busy (a lock or serialization
error) or when it broke a UNIQUE constraint (on PostgreSQL two identical forms sent at once both pass
the service's "already exists?" check, and the second insert fails once the first commits; a fresh
attempt sees the first's row, and the service refuses it with its own message or finds it by its form
key). So the action must load what it changes itself, inside the lambda, and never rely on objects read
before the call: `begin_write()` commits, which expires them.
"""
from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Generic, TypeVar

from flask import current_app, has_app_context
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError, OperationalError

from .db import unique_violation
from .errors import Busy, DomainError
from .extensions import begin_write, db
from .forms import refuse

T = TypeVar("T")

#: tries of a whole transaction when the database answers "busy"; then the friendly 503 page
TRIES = 3

# PostgreSQL: serialization_failure, deadlock_detected, lock_not_available, query_canceled (lock_timeout)
_BUSY_SQLSTATES = {"40001", "40P01", "55P03", "57014"}


def is_busy(exc: BaseException) -> bool:
    """True for a lock or serialization error that a fresh attempt of the same transaction may pass."""
    orig = getattr(exc, "orig", None)
    if getattr(orig, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    text = str(orig or exc).lower()
    return "database is locked" in text or "database table is locked" in text or "deadlock" in text


@contextmanager
def write_transaction() -> Iterator[None]:
    """Run the block in one write transaction: commit at the end, roll back on any exception.

    For the command line, the demo seeder and test set-up; views use `submit()`, which adds
    the field error and the retry.
    """
    begin_write()
    try:
        yield
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise


@dataclass
class Submitted(Generic[T]):
    """What `submit()` did: `ok` is false when the form was refused (its errors say why)."""

    ok: bool
    value: T | None = None

    @property
    def replayed(self) -> bool:
        """The form key had been used for the same contents: nothing new was written."""
        return bool(getattr(self.value, "replayed", False))

    def __bool__(self) -> bool:
        return self.ok


def run_write(action: Callable[[], T], *, tries: int = TRIES) -> T:
    """Call `action` in a write transaction and commit; again from the start while the database is busy
    or a concurrent transaction committed the same unique value first.

    :raise Busy: the database stayed busy for `tries` attempts (nothing was written).
    :raise DomainError: the service refused; the transaction is rolled back.
    :raise IntegrityError: a UNIQUE constraint was still broken on the last attempt (`submit` turns it
        into a message), or another constraint was broken.
    """
    for attempt in range(1, tries + 1):
        try:
            begin_write()
            value = action()
            db.session.commit()
            return value
        except IntegrityError as e:
            db.session.rollback()
            # the racer that won has committed by now (PostgreSQL waits for it before refusing the
            # insert), so the next attempt's checks see its row: no pause needed
            if unique_violation(e) is None or attempt == tries:
                raise
            if has_app_context():
                current_app.logger.info("unique value taken meanwhile (attempt %s of %s): %s", attempt, tries,
                                        unique_violation(e))
        except OperationalError as e:
            db.session.rollback()
            if not is_busy(e):
                raise
            if has_app_context():
                current_app.logger.warning("database busy (attempt %s of %s): %s", attempt, tries,
                                           str(getattr(e, "orig", e))[:200])
            if attempt < tries:
                time.sleep(random.uniform(0.05, 0.15) * attempt)  # noqa: S311  (jitter: the racers do not collide again)
        except BaseException:
            db.session.rollback()
            raise
    raise Busy()


def submit(form, action: Callable[[], T], *, field: str | None = None,
           errors: tuple[type[BaseException], ...] = (DomainError,), tries: int = TRIES,
           unique: Mapping[str, tuple[str | None, str]] | None = None) -> Submitted[T]:
    """Run a validated form's service call as one transaction; a refusal lands on the form.

    On success the transaction is committed and `Submitted(ok=True, value=<what action returned>)`
    comes back. A domain error (or one of `errors`) rolls everything back and puts its message
    under `err.field`, else under `field`, else under the form's submit button; the result is
    then false. A busy database is retried (`run_write`), then answered with the 503 page.

    A UNIQUE constraint broken by a concurrent identical submission is retried too, and the retry
    meets the service's own "already exists" refusal. Should it still be broken on the last try (a
    service that does not check first), `unique` maps the constraint's name to (field, message);
    any other unique constraint gets a general "already exists" message. Never a 500.
    """
    try:
        return Submitted(True, run_write(action, tries=tries))
    except errors as e:
        refuse(form, field or "submit", e)
        return Submitted(False)
    except IntegrityError as e:
        name = unique_violation(e)
        if name is None:
            raise
        target, message = (unique or {}).get(name) or (None, _(
            "This already exists: it was saved a moment ago, perhaps by someone else. Nothing was changed."))
        if has_app_context():
            current_app.logger.warning("unique constraint %s refused the form on %s", name or "?", field)
        refuse(form, target or field or "submit", DomainError(message))
        return Submitted(False)
