"""The mediation case's state machine (see app/states.py for the pattern).

registered (受理) → investigating → mediating → agreed (written or oral) → performing → followed_up (回访) →
closed (结案归档); a case may also be not accepted (with the reason), fail (the parties told of arbitration,
administrative bodies and the court), or be escalated (to whom). An agreement carried out on the spot goes
from agreed straight to the follow-up visit. The three side exits and `closed` are final.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..states import Machine
from .errors import MediationError
from .models import CaseStatus as S

OPEN = (S.REGISTERED, S.INVESTIGATING, S.MEDIATING)

CASE = Machine(
    "mediation case", S, MediationError,
    {
        (S.REGISTERED, "investigate"): S.INVESTIGATING,
        (S.REGISTERED, "mediate"): S.MEDIATING,
        (S.REGISTERED, "refuse"): S.NOT_ACCEPTED,
        (S.INVESTIGATING, "mediate"): S.MEDIATING,
        **{(s, "escalate"): S.ESCALATED for s in OPEN},
        **{(s, "fail"): S.FAILED for s in (S.INVESTIGATING, S.MEDIATING)},
        **{(s, "record_session"): s for s in OPEN},
        (S.MEDIATING, "agree"): S.AGREED,
        (S.AGREED, "perform"): S.PERFORMING,
        (S.AGREED, "follow_up"): S.FOLLOWED_UP,
        (S.PERFORMING, "follow_up"): S.FOLLOWED_UP,
        (S.FOLLOWED_UP, "follow_up"): S.FOLLOWED_UP,  # another visit
        (S.FOLLOWED_UP, "close"): S.CLOSED,
    },
    refusals={
        "investigate": _l("Only a newly registered case can be investigated."),
        "mediate": _l("Mediation starts from a registered case or after the investigation."),
        "refuse": _l("Only a newly registered case can be refused."),
        "escalate": _l("Only an open case can be escalated."),
        "fail": _l("Only a case under investigation or mediation can end without agreement."),
        "record_session": _l("Sessions are recorded while the case is open; a follow-up visit goes under 回访."),
        "agree": _l("An agreement is recorded while the case is being mediated."),
        "perform": _l("Only an agreed case moves on to being carried out."),
        "follow_up": _l("A follow-up visit comes after an agreement."),
        "close": _l("A case is closed after its follow-up visit."),
    },
)
