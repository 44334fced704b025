"""Shop reads other features show: a household's redemptions. Nothing here writes."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from ..extensions import db
from .models import Redemption


def household_redemptions_query(household_id: int) -> sa.Select:
    """SELECT of the household's redemptions, newest first, with their lines."""
    return (sa.select(Redemption).where(Redemption.household_id == household_id)
            .options(selectinload(Redemption.lines)).order_by(Redemption.id.desc()))


def redemptions_by_transfer(transfer_ids) -> dict[int, Redemption]:
    """transfer id → the redemption that transfer paid for, with its lines."""
    ids = [i for i in transfer_ids if i]
    if not ids:
        return {}
    return {r.transfer_id: r for r in db.session.scalars(
        sa.select(Redemption).where(Redemption.transfer_id.in_(ids)).options(selectinload(Redemption.lines)))}
