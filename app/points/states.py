"""The points entry's and the objection's state machines (see app/states.py for the pattern).

An entry waits for review (pending), is rejected or goes on posting (posted, 公示中); an objection
flags it disputed until the decision upholds it (back on posting, or final once posting has ended)
or corrects it; posting over, it is final. A replacement entry after a correction is born final.
"""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..states import Machine
from .errors import PointsError
from .models import EntryStatus as S

CHANGED = _l("This was changed by someone else in the meantime; please reload and try again.")

#: kept in step with the objections' decision column: an undecided objection is open
OBJECTION_OPEN = "open"


def _not_the_recorder(entry, *, reviewer=None, **_context) -> None:
    """Four eyes: whoever recorded an entry does not decide it (nor an objection to it)."""
    if reviewer is not None and entry.recorded_by_id == reviewer.id:
        raise PointsError(_("You recorded this entry, so another reviewer must decide it."))


ENTRY = Machine(
    "entry", S, PointsError,
    {
        (S.PENDING, "approve"): S.POSTED,
        (S.PENDING, "reject"): S.REJECTED,
        (S.POSTED, "object"): S.DISPUTED,
        (S.POSTED, "finalize"): S.FINAL,  # the posting period ended
        (S.DISPUTED, "uphold"): S.POSTED,  # upheld while the posting period runs
        (S.DISPUTED, "uphold_after_posting"): S.FINAL,
        (S.DISPUTED, "correct"): S.CORRECTED,
        # the feature that recorded an entry takes it back (a patrol shift's attendance corrected): a pending
        # entry is turned down, an approved one reversed; a disputed one waits for its objection's decision
        (S.PENDING, "withdraw"): S.REJECTED,
        (S.POSTED, "withdraw"): S.CORRECTED,
        (S.FINAL, "withdraw"): S.CORRECTED,
    },
    refusals={
        "approve": _l("This entry has already been decided."),
        "reject": _l("This entry has already been decided."),
        "object": _l("Objections are taken only while the entry is on posting (公示)."),
        # moves no page offers in another state: someone else changed the entry in the meantime
        "finalize": CHANGED,
        "uphold": CHANGED,
        "uphold_after_posting": CHANGED,
        "correct": CHANGED,
        "withdraw": _l("This entry cannot be taken back now: an objection to it is open, or it was already "
                       "corrected. Decide the objection first."),
    },
    guards={"approve": _not_the_recorder, "reject": _not_the_recorder, "uphold": _not_the_recorder,
            "uphold_after_posting": _not_the_recorder, "correct": _not_the_recorder},
)

OBJECTION = Machine(
    "objection", (OBJECTION_OPEN, "upheld", "corrected"), PointsError,
    {
        (OBJECTION_OPEN, "uphold"): "upheld",
        (OBJECTION_OPEN, "correct"): "corrected",
    },
    refusals={
        "uphold": _l("This objection has already been decided."),
        "correct": _l("This objection has already been decided."),
    },
)

#: an objection's decision (the column) and the action that takes it
DECISIONS = {"upheld": "uphold", "corrected": "correct"}


def objection_state(objection) -> str:
    """The objection's state for OBJECTION: its decision, or open while there is none."""
    return objection.decision or OBJECTION_OPEN
