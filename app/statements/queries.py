"""Statements reads other features show (the home page's counts). Nothing here writes."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from .models import JobStatus, StatementJob


def today_counts(village_id: int) -> dict[str, int]:
    """The clerk's count: statement batches queued or printing (the batch page lists them)."""
    in_progress = (StatementJob.village_id == village_id,
                   StatementJob.status.in_((JobStatus.QUEUED.value, JobStatus.RUNNING.value)))
    return {"batches_in_progress": db.session.scalar(
        sa.select(sa.func.count()).select_from(StatementJob).where(*in_progress))}
