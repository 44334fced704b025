"""The batch statement job's state machine (see app/states.py for the pattern).

A job is queued when the clerk asks for it; one runner claims it (running), at most one per village at
a time (a UNIQUE index), which ends done (the PDF is there to download) or failed. A job whose process
could not start fails from the queue. A running job whose process died, or a queued one whose runner
died before claiming it, is failed by the next look at the village's batches (batch.refresh).
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from ..states import Machine
from .errors import StatementError
from .models import JobStatus as S

#: no page offers these moves in another state: the runner, not a person, makes them
CHANGED = _l("This was changed by someone else in the meantime; please reload and try again.")

JOB = Machine(
    "statement job", S, StatementError,
    {
        (S.QUEUED, "start"): S.RUNNING,
        (S.QUEUED, "fail"): S.FAILED,  # its process could not start
        (S.RUNNING, "finish"): S.DONE,
        (S.RUNNING, "fail"): S.FAILED,
        (S.DONE, "download"): S.DONE,
    },
    refusals={
        "start": CHANGED,
        "fail": CHANGED,
        "finish": CHANGED,
        # the download link of a job without its PDF answers as a page that does not exist
        "download": _l("This page does not exist, or it is not in your village."),
    },
)
