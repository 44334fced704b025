"""The rules feature's refusal (its own module so the state table can raise it without a cycle)."""
from __future__ import annotations

from ..errors import DomainError


class RulesError(DomainError):
    """A rules action refused; the message says why in the user's language."""

    def __init__(self, message: str, field: str | None = None, reasons: list[str] | None = None):
        super().__init__(message)
        self.field = field
        self.reasons = reasons or []
