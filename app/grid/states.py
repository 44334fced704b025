"""The grid event's state machine (see app/states.py for the pattern).

reported (已上报) → accepted (已受理) → assigned (已交办) → in_progress (处理中) → resolved (已办结) → closed (回访结案,
after the resident's feedback). A clerk may assign straight from a report, and handle an accepted event
without assigning it. An open event may instead be rejected (only a fresh report, with the reason), escalated
to the township or a department (closed later, after their answer and the resident's feedback), or converted
into a mediation case or a patrol follow-up (final, linked). A resident not satisfied at the return visit
reopens the event: it goes back to in_progress.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..states import Machine
from .errors import GridError
from .models import EventStatus as S

OPEN = (S.REPORTED, S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS)
#: where an event's work is over (for the overdue list and timeliness)
FINISHED = (S.RESOLVED.value, S.CLOSED.value, S.REJECTED.value, S.ESCALATED.value, S.CONVERTED.value)

EVENT = Machine(
    "grid event", S, GridError,
    {
        (S.REPORTED, "accept"): S.ACCEPTED,
        (S.REPORTED, "reject"): S.REJECTED,
        **{(s, "assign"): S.ASSIGNED for s in OPEN},
        (S.ASSIGNED, "start"): S.IN_PROGRESS,
        **{(s, "resolve"): S.RESOLVED for s in (S.ACCEPTED, S.ASSIGNED, S.IN_PROGRESS)},
        (S.RESOLVED, "close"): S.CLOSED,
        (S.ESCALATED, "close"): S.CLOSED,
        (S.RESOLVED, "reopen"): S.IN_PROGRESS,
        **{(s, "escalate"): S.ESCALATED for s in OPEN},
        **{(s, "convert"): S.CONVERTED for s in OPEN},
    },
    refusals={
        "accept": _l("Only a new report can be accepted."),
        "reject": _l("Only a new report can be rejected."),
        "assign": _l("Only an open event can be assigned."),
        "start": _l("Work starts on an event assigned to someone."),
        "resolve": _l("Only an accepted event being handled can be marked resolved."),
        "close": _l("An event is closed after it is resolved (or answered by the township) and the resident "
                    "gave feedback."),
        "reopen": _l("Only a resolved event can be reopened."),
        "escalate": _l("Only an open event can be escalated."),
        "convert": _l("Only an open event can be turned over."),
    },
)
