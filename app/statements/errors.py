"""The statements feature's refusal (its own module so the job table can raise it without a cycle)."""
from __future__ import annotations

from ..errors import DomainError


class StatementError(DomainError):
    """A statement that cannot be made; the message is for the clerk."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
