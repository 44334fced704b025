"""Rules reads other features show (the home page's counts). Nothing here writes."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from .models import RuleVersion, VersionStatus

#: versions on their way to publication: each waits for its next adoption step (四议两公开, review, filing)
IN_ADOPTION = (VersionStatus.DRAFT.value, VersionStatus.PROPOSED.value, VersionStatus.DELIBERATED.value,
               VersionStatus.REVIEWED.value, VersionStatus.ADOPTED.value, VersionStatus.FILED.value)


def today_counts(village_id: int) -> dict[str, int]:
    """The clerk's count: rule versions waiting for their next adoption step."""
    return {"in_adoption": db.session.scalar(sa.select(sa.func.count()).select_from(RuleVersion).where(
        RuleVersion.village_id == village_id, RuleVersion.status.in_(IN_ADOPTION)))}
