"""The mediation feature's refusal (its own module so the case table can raise it without a cycle)."""
from __future__ import annotations

from ..errors import DomainError


class MediationError(DomainError):
    """A mediation action that cannot be done; the message is for the mediator."""
