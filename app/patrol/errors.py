"""The patrol feature's refusal (its own module so the shift table can raise it without a cycle)."""
from __future__ import annotations

from ..errors import DomainError


class PatrolError(DomainError):
    """A patrol action that cannot be done; the message is for the leader or the member."""
