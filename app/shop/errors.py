"""The shop's refusal (its own module so the state table can raise it without a cycle)."""
from __future__ import annotations

from ..errors import DomainError


class ShopError(DomainError):
    """A shop action that cannot be taken; the message is for the person at the counter.

    `field` names the form field the message belongs next to, when the service knows it.
    """

    def __init__(self, message: str, field: str | None = None, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.field = field
        #: field → message, when the refusal concerns several fields at once (app.forms.refuse marks each)
        self.fields = fields or {}
