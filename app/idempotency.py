"""Form keys: a key made when a form is shown makes its submission safe to repeat.

A form that records something (an entry, a batch, a stock form, the counter's confirm, a ledger
movement) carries a key (`app.forms.IdempotentForm`). The service stores the key, and for most
records a fingerprint of what was asked (`payload_hash`), with what it made. A second submission
under the same key finds that record (`find_earlier`) and gets it back marked `replayed`: nothing
new is written and the page says "This was already recorded.". The same key with different
contents is refused with `IdempotencyConflict` (docs/architecture.md, "Submitting a form").

Call `find_earlier` inside the write transaction, after the service has taken the lock it
serialises on, so two submissions of one key run one after the other and the second sees the
first's row; the UNIQUE (village_id, idempotency_key) constraint on each table catches the rest.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from flask_babel import gettext as _

from .errors import DomainError
from .extensions import db

T = TypeVar("T")

#: the longest key a service accepts; services append suffixes (":<person id>") within their column's 64
MAX_KEY = 56


class IdempotencyConflict(DomainError):
    """The form's key was already used for a submission with different contents; nothing was changed."""

    def __init__(self, message: str | None = None, field: str | None = None):
        super().__init__(message or _("This form was already submitted with different contents. "
                                      "Nothing was changed; please reload the page and try again."), field)


class KeyExpired(DomainError):
    """The key is missing or malformed: the form was not one this server rendered."""

    def __init__(self, message: str | None = None, field: str | None = None):
        super().__init__(message or _("The form has expired; please reload the page and try again."), field)


def new_key() -> str:
    """A fresh form key (what `IdempotentForm.ensure_key` puts in the hidden field)."""
    return secrets.token_urlsafe(18)


def usable_key(key: str | None) -> bool:
    """A key this server could have made: letters, digits, - and _, at most MAX_KEY long.

    For keys that come in an address, which anyone can type (the batch entry page).
    """
    return bool(key) and len(key) <= MAX_KEY and key.isascii() and key.replace("-", "").replace("_", "").isalnum()


def check_key(key: str | None, *, required: bool = False) -> str | None:
    """The key as given, or None when the caller passed none (and none is required).

    :raise KeyExpired: the key is empty, too long or not printable ASCII.
    """
    if key is None and not required:
        return None
    if not isinstance(key, str) or not key or len(key) > MAX_KEY or not key.isascii() or not key.isprintable():
        raise KeyExpired()
    return key


def payload_hash(payload: dict[str, Any]) -> str:
    """A stable fingerprint of what a request asked for."""
    data = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(data.encode()).hexdigest()


def mark_replayed(obj: T) -> T:
    """Flag what an earlier submission made, so the page says "This was already recorded."."""
    obj.replayed = True
    return obj


def find_earlier(model, village_id: int, key: str | None, *, digest: str | None = None,
                 same: Callable[[Any], bool] | None = None):
    """The row of `model` made earlier under `key` in the village, marked replayed; None for a new key.

    Whether the earlier submission asked for the same thing is decided by `same(row)` when given,
    else by the row's stored `payload_hash` against `digest`.
    :raise IdempotencyConflict: the key was used for something else.
    """
    if key is None:
        return None
    prior = db.session.scalar(sa.select(model).where(model.village_id == village_id, model.idempotency_key == key))
    if prior is None:
        return None
    if not (same(prior) if same is not None else prior.payload_hash == digest):
        raise IdempotencyConflict()
    return mark_replayed(prior)
