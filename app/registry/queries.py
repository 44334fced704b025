"""Register reads other features show: how many households and people live in each village. Nothing here
writes."""
from __future__ import annotations

import sqlalchemy as sa

from ..extensions import db
from .models import Household, HouseholdStatus, Person, PersonStatus


def village_counts(village_ids: list[int]) -> dict[int, dict[str, int]]:
    """{village id: {"households": active households, "people": living people}}, one statement each."""
    out = {v: {"households": 0, "people": 0} for v in village_ids}
    for v, n in db.session.execute(sa.select(Household.village_id, sa.func.count()).where(
            Household.village_id.in_(village_ids), Household.status == HouseholdStatus.ACTIVE.value)
            .group_by(Household.village_id)):
        out[v]["households"] = int(n)
    for v, n in db.session.execute(sa.select(Person.village_id, sa.func.count()).where(
            Person.village_id.in_(village_ids), Person.status == PersonStatus.ALIVE.value)
            .group_by(Person.village_id)):
        out[v]["people"] = int(n)
    return out

