"""The patrol shift's and the member's state machines (see app/states.py for the pattern).

A shift is planned (places booked, check-ins taken, attendance marked) until its leader confirms it, which
records the points; attendance may still be corrected afterwards (the points follow by reversal). A planned
shift may be cancelled (rain, a village event); a confirmed one may not: its points exist.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..states import Machine
from .errors import PatrolError
from .models import MemberStatus as M
from .models import ShiftStatus as S

SHIFT = Machine(
    "patrol shift", S, PatrolError,
    {
        (S.PLANNED, "book"): S.PLANNED,  # places added, removed or swapped
        (S.PLANNED, "check_in"): S.PLANNED,
        (S.PLANNED, "mark"): S.PLANNED,  # attendance marked before confirming
        (S.PLANNED, "confirm"): S.CONFIRMED,
        (S.PLANNED, "cancel"): S.CANCELLED,
        (S.CONFIRMED, "correct"): S.CONFIRMED,  # attendance corrected after confirming
    },
    refusals={
        "book": _l("This shift is no longer planned, so its members cannot be changed."),
        "check_in": _l("This shift is no longer open for check-in."),
        "mark": _l("This shift is already confirmed; correct its attendance instead."),
        "confirm": _l("This shift has already been confirmed, or it was cancelled."),
        "cancel": _l("Only a planned shift can be cancelled."),
        "correct": _l("Only a confirmed shift's attendance can be corrected."),
    },
)

MEMBER = Machine(
    "patrol member", M, PatrolError,
    {
        (M.ACTIVE, "suspend"): M.SUSPENDED,
        (M.ACTIVE, "leave"): M.LEFT,
        (M.SUSPENDED, "restore"): M.ACTIVE,
        (M.SUSPENDED, "leave"): M.LEFT,
        (M.LEFT, "rejoin"): M.ACTIVE,
    },
    refusals={
        "suspend": _l("Only an active member can be suspended."),
        "leave": _l("This member has already left the team."),
        "restore": _l("Only a suspended member can be restored."),
        "rejoin": _l("This member is still in the team."),
    },
)
