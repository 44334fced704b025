"""The grid feature's refusal (its own module so the event table can raise it without a cycle)."""
from __future__ import annotations

from ..errors import DomainError


class GridError(DomainError):
    """A grid action that cannot be done; the message is for the clerk or the grid worker."""
