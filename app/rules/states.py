"""The rule version's state machine (see app/states.py for the pattern).

A version walks the path draft → proposed → deliberated → reviewed → adopted → filed → published
(村规民约 adoption: proposal, two committees, party members' meeting, the assembly, filing, publication),
and may skip ahead when the steps of the skipped statuses are all recorded (the service checks the
steps: a move depends on them, not only on the status). Before adoption it may be withdrawn; once a
later version is published, an adopted, filed or published one is superseded. Only a draft's text
changes; adoption steps change until the version is adopted, the later steps until it is closed.
Moves that keep the status (edit, record_step, record_adoption_step) are in the table too, so the one
table says what may happen to a version in each status.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..states import Machine
from .errors import RulesError
from .models import STATUS_PATH
from .models import VersionStatus as S

PATH = [s.value for s in STATUS_PATH]
#: the action that moves a version forward to each status of its path
ADVANCE = {S.PROPOSED.value: "propose", S.DELIBERATED.value: "deliberate", S.REVIEWED.value: "review",
           S.ADOPTED.value: "adopt", S.FILED.value: "file", S.PUBLISHED.value: "publish"}
NOT_ADOPTED = PATH[:PATH.index(S.ADOPTED.value)]
IN_FORCE = PATH[PATH.index(S.ADOPTED.value):]

_table: dict[tuple[str, str], str] = {}
for i, here in enumerate(PATH):
    for there in PATH[i + 1:]:
        _table[here, ADVANCE[there]] = there
    _table[here, "record_step"] = here
for here in NOT_ADOPTED:
    _table[here, "withdraw"] = S.WITHDRAWN.value
    _table[here, "record_adoption_step"] = here
for here in IN_FORCE:
    _table[here, "supersede"] = S.SUPERSEDED.value
_table[S.DRAFT.value, "edit"] = S.DRAFT.value

FORWARD_ONLY = _l("A version can only move forward along its path.")
CLOSED = _l("This version is closed.")

VERSION = Machine(
    "rule version", S, RulesError, _table,
    refusals={
        # "advance": a target that is not on the path at all
        "advance": FORWARD_ONLY, **{action: FORWARD_ONLY for action in ADVANCE.values()},
        "withdraw": _l("Only a version not yet adopted can be withdrawn."),
        # the service supersedes only versions in force; any other is changed meanwhile
        "supersede": _l("This was changed by someone else in the meantime; please reload and try again."),
        "edit": _l("Only a draft can be changed; start an amendment instead."),
        "record_step": CLOSED,
        "record_adoption_step": _l("The version is adopted: its adoption steps can no longer change."),
        (S.SUPERSEDED, "record_adoption_step"): CLOSED,
        (S.WITHDRAWN, "record_adoption_step"): CLOSED,
    },
)
