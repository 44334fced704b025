"""Friendly error pages in the user's language; never a stack trace."""
from __future__ import annotations

from flask import Flask, current_app, render_template, request
from flask import Request as FlaskRequest
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

from .db import unique_violation
from .extensions import db

MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You do not have permission to open this page."),
    404: _l("This page does not exist, or it is not in your village."),
    405: _l("This page cannot be opened this way."),
    409: _l("This was changed by someone else in the meantime; please reload and try again."),
    413: _l("The file or form is too large."),
    429: _l("Too many attempts. Please wait a moment and try again."),
    500: _l("Something went wrong on our side. Nothing was changed; please try again."),
    503: _l("The system is busy. Please try again."),
}


class DomainError(ValueError):
    """A refusal by a service, in the user's language; `field` names the form field it belongs under.

    Every feature's error (PointsError, ShopError, LedgerError, …) is one, so `app.submission.submit`
    can put any of them on its form.
    """

    def __init__(self, message: str = "", field: str | None = None):
        super().__init__(message)
        self.field = field


class Busy(Exception):
    """The database stayed busy through every try; nothing was written (answered with the 503 page)."""

    def __init__(self, message: str | None = None, title: str | None = None):
        super().__init__(message or "busy")
        self.message, self.title = message, title


def error_page(code: int, message: str | None = None, title: str | None = None):
    """The friendly error page (the kiosk's or the clerks'), after rolling back whatever the request began."""
    db.session.rollback()
    text = message or str(MESSAGES.get(code, MESSAGES[400]))
    # the kiosk has its own large-type layout, without the clerks' menus
    template = "kiosk/error.html" if request.blueprint == "kiosk" else "errors/error.html"
    try:
        return render_template(template, code=code, title=title, message=text), code
    except Exception:  # the error page itself must never fail: fall back to plain, escaped HTML
        current_app.logger.exception("error page failed")
        return f"<!doctype html><meta charset=utf-8><title>{code}</title><p>{escape(text)}</p>", code


class BoundedRequest(FlaskRequest):
    """The request class: only a multipart body (a form with a file: a phone's photo, a table) may be as large
    as MAX_CONTENT_LENGTH; any other body (a plain form, JSON) stops at MAX_FORM_CONTENT_LENGTH."""

    @property
    def max_content_length(self) -> int | None:
        limit = FlaskRequest.max_content_length.fget(self)
        if self._max_content_length is None and current_app and self.mimetype != "multipart/form-data":
            small = current_app.config.get("MAX_FORM_CONTENT_LENGTH")
            if small and (limit is None or small < limit):
                return small
        return limit

    @max_content_length.setter
    def max_content_length(self, value: int | None) -> None:
        self._max_content_length = value


def upload_limit_mb() -> int | None:
    """This request's body limit in whole MB, or None when it is under 1 MB (or unset)."""
    limit = request.max_content_length or 0
    return limit // (1024 * 1024) if limit >= 1024 * 1024 else None


def over_request_limit() -> bool:
    """Whether the request said it is larger than its body limit (rather than one form field being too large
    for MAX_FORM_MEMORY_SIZE, which answers 413 too)."""
    limit = request.max_content_length
    return bool(limit and request.content_length and request.content_length > limit)


def too_large_page():
    """The 413 page: how much can be sent at once when the whole request was over the limit."""
    mb = upload_limit_mb()
    if over_request_limit() and mb:
        message = _("The file or form is too large: at most %(mb)s MB can be sent at once.", mb=mb)
    else:
        message = str(MESSAGES[413])
    return error_page(413, message, _("Too large"))


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(e):
        return error_page(400, _("This form has expired (it was open too long, or the page was reloaded). "
                             "Please go back, reload the page and submit again."), _("Form expired"))

    @app.errorhandler(413)
    def _too_large(e):
        # a phone's photo over MAX_CONTENT_LENGTH, a form too large: a page in the user's language that
        # says what can be sent (the import pages add their own advice: app/registry/io_views.py)
        return too_large_page()

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):
        code = e.code or 500
        if code in (301, 302, 303, 307, 308):
            return e
        return error_page(code)

    @app.errorhandler(Busy)
    def _retried_busy(e: Busy):
        return error_page(503, e.message, e.title or _("Please try again"))

    @app.errorhandler(OperationalError)
    def _busy(e: OperationalError):
        # SQLite "database is locked" after the busy timeout, PostgreSQL lock/statement timeouts:
        # nothing was written, and the person can simply try again
        text = str(getattr(e, "orig", e)).lower()
        if "locked" in text or "timeout" in text or "could not obtain lock" in text or "deadlock" in text:
            app.logger.warning("database busy on %s %s: %s", request.method, request.path, text[:200])
            return error_page(503)
        app.logger.exception("database error on %s %s", request.method, request.path)
        return error_page(500)

    @app.errorhandler(IntegrityError)
    def _taken(e: IntegrityError):
        # a write without a form (run_write) lost a race for a unique value on every try: nothing was
        # written, and the page as it is now will show the winner's work
        if unique_violation(e) is not None:
            app.logger.warning("unique value taken on %s %s: %s", request.method, request.path,
                               unique_violation(e))
            return error_page(409)
        app.logger.exception("integrity error on %s %s", request.method, request.path)
        return error_page(500)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_page(500)
