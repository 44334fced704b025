"""The redemption's state machine (see app/states.py for the pattern).

A redemption is completed when it is made (points and goods moved at once) and may be cancelled once:
the points come back by a reversal transfer and the goods go back on the shelf.
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..states import Machine
from .errors import ShopError
from .models import RedemptionStatus as S


def _same_day_unless_reviewer(redemption, *, made_on, today, is_reviewer: bool = False, **_context) -> None:
    """A cashier cancels only the same day's redemptions; a reviewer any day's (`made_on`: the village's day)."""
    if not is_reviewer and made_on != today:
        raise ShopError(_("Only a reviewer can cancel a redemption from an earlier day, or take goods back."))


REDEMPTION = Machine(
    "redemption", S, ShopError,
    {
        (S.COMPLETED, "cancel"): S.CANCELLED,
        # goods of one line handed back: the redemption stays completed, with a return recorded
        (S.COMPLETED, "return_line"): S.COMPLETED,
    },
    refusals={
        "cancel": _l("This redemption has already been cancelled."),
        "return_line": _l("This redemption has been cancelled: everything is already back."),
    },
    guards={"cancel": _same_day_unless_reviewer, "return_line": _same_day_unless_reviewer},
)
