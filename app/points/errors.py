"""The points feature's refusal (its own module so the state tables can raise it without a cycle)."""
from __future__ import annotations

from ..errors import DomainError


class PointsError(DomainError):
    """A points action that cannot be taken; the message is for the clerk or reviewer."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field
