"""The stored month figures of the township roll-up: counted again by `flask reports refresh`, read by the page."""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ..extensions import db
from .figures import MonthFigures, compute
from .models import VillageMonth


def refresh(village_ids: list[int], year: int, month: int) -> int:
    """Count the villages' month again (one grouped statement per figure) and store it; flushes, never commits.
    Returns the rows written."""
    if not village_ids:
        return 0
    per = compute(village_ids, year, month)
    db.session.execute(sa.delete(VillageMonth).where(VillageMonth.village_id.in_(village_ids),
                                                     VillageMonth.year == year, VillageMonth.month == month))
    db.session.add_all(VillageMonth(village_id=v, year=year, month=month, figures=f.as_json()) for v, f in per.items())
    db.session.flush()
    return len(per)


def stored_months(village_ids: list[int], year: int, month: int) -> dict[int, tuple[MonthFigures, dt.datetime]]:
    """{village id: (its stored month, when it was counted)} for the villages that have one."""
    if not village_ids:
        return {}
    return {r.village_id: (MonthFigures.from_json(r.figures), r.computed_at) for r in db.session.scalars(
        sa.select(VillageMonth).where(VillageMonth.village_id.in_(village_ids), VillageMonth.year == year,
                                      VillageMonth.month == month))}
