"""The check → confirm flow of an import, for views and the command line.

1. Dry run (POST of the upload form): the feature checks the input and writes nothing. When it is
   clean, `stage()` keeps the input and returns the confirmation form the report shows.
2. Confirmation: `confirm_staged()` loads exactly the staged input, checks it again inside one write
   transaction (app.submission.run_write: busy-database retries, then the friendly 503 page) and
   applies it, all rows or none, then deletes the staged file. The command line calls
   `write_checked()`, the same transaction without the staging.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Generic, Protocol, TypeVar

from flask import current_app, g, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from wtforms import HiddenField, SubmitField
from wtforms.validators import DataRequired

from ..forms import Form
from ..submission import run_write
from .cells import Problem
from .files import ImportFileError
from .staging import cancel_upload, discard_upload, load_upload, purge_stale_uploads, store_upload

#: the report lists at most this many problems (a file with thousands of bad rows stays readable)
MAX_SHOWN_PROBLEMS = 1000


class CheckResult(Protocol):
    """What a feature's dry run returns: `ok` when the input can be applied, else its `problems`."""

    problems: list[Problem]

    @property
    def ok(self) -> bool: ...


R = TypeVar("R", bound=CheckResult)
S = TypeVar("S")


class ConfirmForm(Form):
    """The confirmation under a clean report: it names the staged input by token and checksum."""

    token = HiddenField(validators=[DataRequired()])
    digest = HiddenField(validators=[DataRequired()])
    submit = SubmitField(_l("Confirm import"))
    #: deletes the staged input at once instead of leaving it to expire
    cancel = SubmitField(_l("Cancel"))


def purge_stale() -> int:
    """Delete abandoned staged inputs (older than PENDING_MAX_AGE); every import page calls it."""
    return purge_stale_uploads(current_app.instance_path)


def stage(result: CheckResult, data: bytes, *, purpose: str, kind: str = "xlsx") -> ConfirmForm | None:
    """After a dry run: when it was clean, keep the input for this village and user and return the
    confirmation form to show under the report (None when there is nothing to confirm).

    `data` is what the confirmation will check again; keep no more of the upload than that.
    """
    purge_stale()
    if not result.ok:
        return None
    instance = current_app.instance_path
    token, digest = store_upload(instance, data, purpose=purpose, kind=kind, village_id=g.village.id,
                                 user_id=current_user.id)
    return ConfirmForm(formdata=None, token=token, digest=digest)


def render_report(template: str, result: CheckResult, **context: Any) -> str:
    """The dry run's report page: the template extends imports/_report.html."""
    return render_template(template, result=result, problems=result.problems[:MAX_SHOWN_PROBLEMS],
                           hidden_problems=max(0, len(result.problems) - MAX_SHOWN_PROBLEMS), **context)


@dataclass
class Outcome(Generic[R, S]):
    """What a confirmation did. True when `summary` was written; else one of: `gone` (the staged input
    is missing, expired, another's, or the form incomplete), `error` (the input could not be read at
    all), or `result` with the problems that stopped it (nothing was written)."""

    result: R | None = None
    summary: S | None = None
    error: str | None = None
    gone: bool = False
    done: bool = False
    #: the person cancelled: the staged input was deleted, nothing written
    cancelled: bool = False

    def __bool__(self) -> bool:
        return self.done


class _NotClean(Exception):
    pass


class _Gone(Exception):
    pass


def write_checked(check: Callable[[], R], apply: Callable[[R], S], *,
                  refusals: tuple[type[BaseException], ...] = (), changed_meanwhile: str) -> Outcome[R, S]:
    """Check again and apply in one write transaction, so nothing changes between the two; commit once.

    A refusal by the writer (one of `refusals`, or a unique constraint: someone imported the same rows
    meanwhile, reported as `changed_meanwhile`) rolls everything back and becomes a whole-file problem.

    :raise Busy: the database stayed busy (nothing written).
    """
    checked: list[R] = []

    def action() -> S:
        checked.clear()  # a busy retry starts again from the check
        result = check()
        checked.append(result)
        if not result.ok:
            raise _NotClean
        return apply(result)

    try:
        summary = run_write(action)
    except _NotClean:
        return Outcome(result=checked[0])
    except ImportFileError as e:
        return Outcome(error=str(e))
    except (IntegrityError, *refusals) as e:
        message = _(changed_meanwhile) if isinstance(e, IntegrityError) else str(e)
        checked[0].problems.append(Problem(None, None, message))
        return Outcome(result=checked[0])
    return Outcome(result=checked[0], summary=summary, done=True)


def confirm_staged(form: ConfirmForm, *, purpose: str, check: Callable[[bytes, str], R],
                   apply: Callable[[R], S], refusals: tuple[type[BaseException], ...] = (),
                   changed_meanwhile: str) -> Outcome[R, S]:
    """Import exactly what was checked: load the staged input (kind as checked), check it again and
    apply it in one write transaction (`write_checked`), then delete the staged file. The form's Cancel
    deletes the staged file and writes nothing (`cancelled`)."""
    purge_stale()
    if not form.validate_on_submit():
        return Outcome(gone=True)
    instance, token = current_app.instance_path, form.token.data
    if form.cancel.data:
        cancel_upload(instance, token, purpose=purpose, village_id=g.village.id, user_id=current_user.id)
        return Outcome(cancelled=True)

    def check_staged() -> R:
        # loaded inside the write transaction: a second click that waited for the first one finds it gone
        staged = load_upload(instance, token, purpose=purpose, village_id=g.village.id, user_id=current_user.id,
                             sha256=form.digest.data)
        if staged is None:
            raise _Gone
        return check(staged.data, staged.kind)

    try:
        outcome = write_checked(check_staged, apply, refusals=refusals, changed_meanwhile=changed_meanwhile)
    except _Gone:
        return Outcome(gone=True)
    discard_upload(instance, token)
    return outcome


def problem_lines(problems: list[Problem]) -> list[str]:
    """The problem list as the command line prints it: "row 3, 编号: message" or "file: message"."""
    lines = []
    for p in problems:
        where = "file" if p.row is None else f"row {p.row}"
        lines.append(f"{where}, {p.column}: {p.text}" if p.column else f"{where}: {p.text}")
    return lines
