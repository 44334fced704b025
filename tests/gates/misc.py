"""What the gates of this folder share: the full/sampled switch and the scripted session of every feature.

The switch lives in tests/gates/__init__.py: `gates_full()` is true when XIANGYUE_GATES=full (`make gates`),
then each gate checks everything (every POST route, every page, 200 villagers); otherwise `sample()` draws the
day's seeded sample so `make test` stays quick.
"""
from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from app.db import local_today
from app.extensions import db
from tests.gates import gates_full, sample

__all__ = ["VILLAGERS", "gates_full", "households_for", "sample", "scripted_session"]

#: villagers the privacy sweep and the audit session carry (reliability.md T17: 200)
VILLAGERS = 200


def households_for(villagers: int) -> int:
    """Demo households that hold at least `villagers` people (the demo averages about 3.6 a household)."""
    return villagers * 10 // 30


def scripted_session(villagers: int = VILLAGERS) -> dict:
    """Every feature's state changes through its services: the demo village (register with valid synthetic ID
    numbers and phones, rules, points with review, shop, kiosk, patrol, grid), then a mediation case from
    intake to follow-up and a villager's objection at the kiosk. Returns what the gates look up."""
    from app.auth.models import User
    from app.demo import seed_demo
    from app.kiosk import services as ks
    from app.mediation import services as ms
    from app.points.models import EntryStatus, PointEntry
    from app.registry.models import Household, Person, Village
    from app.submission import write_transaction

    seed_demo(households=households_for(villagers))
    village = db.session.scalar(sa.select(Village).where(Village.code == "demo"))
    people = db.session.scalar(sa.select(sa.func.count()).select_from(Person))
    assert people >= villagers, people
    mediator = db.session.scalar(sa.select(User).where(User.username == "mediator"))
    h1, h2 = db.session.scalars(sa.select(Household).where(Household.village_id == village.id)
                                .order_by(Household.id).limit(2)).all()
    today = local_today()
    with write_transaction():
        ms.set_head(village, mediator)
        case = ms.register_case(
            village, ms.CaseData(received_on=today, intake="desk", dispute_type="homestead",
                                 summary="两户因宅基地边界的围墙发生争执"),
            [ms.PartyData(role="applicant", name=h1.head.name, phone=h1.head.phone, person_id=h1.head.id),
             ms.PartyData(role="respondent", name=h2.head.name, person_id=h2.head.id)],
            mediators=[mediator], today=today)
    with write_transaction():
        ms.move(case, "investigate")
        ms.add_session(case, kind="visit", at=dt.datetime.combine(today, dt.time(2)), place="院子",
                       attendees="双方、调解员", text="双方陈述围墙位置")
        ms.move(case, "mediate")
        ms.record_agreement(case, facts="围墙越界约三十公分", terms="十日内拆除越界部分",
                            performance="自行拆除，村委会见证", signed_on=today,
                            perform_by=today + dt.timedelta(days=10), today=today)
        ms.move(case, "perform")
    posted = db.session.scalars(sa.select(PointEntry).where(
        PointEntry.village_id == village.id, PointEntry.status == EntryStatus.POSTED.value)
        .order_by(PointEntry.id)).first()
    assert posted is not None
    with write_transaction():
        ks.object_at_kiosk(posted.household, posted, "日期不对，那天我家在外地")
    return {"village": village, "case": case, "objected": posted}
