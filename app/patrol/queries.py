"""Patrol reads other features may use (the home page, later the reports and the township roll-up)."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from .models import MemberStatus, PatrolMember


def is_patrol_member(user_id: int) -> bool:
    """Whether this log-in belongs to an active member of some patrol team (the home page's "my shifts")."""
    return db.session.scalar(sa.select(PatrolMember.id).where(
        PatrolMember.user_id == user_id, PatrolMember.status == MemberStatus.ACTIVE.value).limit(1)) is not None
