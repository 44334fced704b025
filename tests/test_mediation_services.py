"""Mediation services: numbering, parties, the ladder's history, the case's way to an agreement and a
follow-up visit, the side exits with their reasons, who may read a case, and an audit chain without names."""
from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from app.mediation import services as ms
from app.mediation.errors import MediationError
from app.mediation.models import CaseStatus, MediationCase
from app.submission import write_transaction

TODAY = dt.date(2026, 11, 20)


@pytest.fixture
def desk(village, make_user, make_household):
    mediator = make_user("tiaojie", ("mediator", village))
    other = make_user("tiaojie2", ("mediator", village))
    head = make_user("zhuren", ("mediator", village))
    h1 = make_household(village, "0801", "孙有田")
    h2 = make_household(village, "0802", "周满仓")
    with write_transaction():
        ms.set_head(db.session.merge(village), db.session.merge(head))
    return type("D", (), {"village": village, "mediator": mediator, "other": other, "head": head,
                          "h1": h1, "h2": h2})


def _case(d, day=TODAY, **kw) -> MediationCase:
    data = ms.CaseData(received_on=day, intake="desk", dispute_type="homestead",
                       summary="两户因宅基地边界的围墙发生争执", amount=kw.pop("amount", None))
    parties = kw.pop("parties", [
        ms.PartyData(role="applicant", name="孙有田", sex="男", ethnicity="汉族", age=58, occupation="农民",
                     phone="13800000001", address="一组", person_id=d.h1.head.id),
        ms.PartyData(role="respondent", name="周满仓", sex="男", age=61, person_id=d.h2.head.id),
    ])
    with write_transaction():
        return ms.register_case(db.session.merge(d.village), data, parties, mediators=[db.session.merge(d.mediator)],
                                today=TODAY, **kw)


def test_cases_are_numbered_per_village_and_year(desk, make_village):
    first, second = _case(desk), _case(desk)
    last_year = _case(desk, day=dt.date(2025, 12, 30))
    assert [first.number, second.number, last_year.number] == ["2026-调-001", "2026-调-002", "2025-调-001"]
    case = db.session.get(MediationCase, first.id)
    assert [p.name for p in case.parties] == ["孙有田", "周满仓"]
    assert [(c.from_level, c.to_level) for c in case.levels] == [(None, "village_committee")]


@pytest.mark.parametrize("change,field", [
    ({"parties": [ms.PartyData(role="applicant", name="孙有田")]}, "parties"),
    ({"parties": [ms.PartyData(role="applicant", name=" "), ms.PartyData(role="respondent", name="周")]}, "parties"),
    ({"parties": [ms.PartyData(role="applicant", name="甲", age=200), ms.PartyData(role="respondent", name="乙")]},
     "parties"),
    ({"amount": -5}, "amount"),
])
def test_a_case_that_cannot_be_registered_writes_nothing(desk, change, field):
    with pytest.raises(MediationError) as refused:
        _case(desk, **change)
    assert refused.value.field == field
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MediationCase)) == 0


def test_from_the_desk_to_a_closed_case(desk):
    case = _case(desk)
    with write_transaction():
        c = db.session.get(MediationCase, case.id)
        ms.move(c, "investigate")
        ms.add_session(c, kind="visit", at=dt.datetime(2026, 11, 21, 2), place="孙家院子",
                       attendees="孙有田、周满仓、调解员", text="双方陈述围墙位置……")
        ms.move(c, "mediate")
        ms.add_session(c, kind="joint", at=dt.datetime(2026, 11, 22, 2), place="村委会",
                       attendees="调解员两名、村支书、片区民警", text="集体会诊……")
        agreement = ms.record_agreement(c, facts="围墙越界约三十公分", terms="周满仓于十二月十日前拆除越界部分",
                                        performance="自行拆除，村委会见证", signed_on=TODAY,
                                        perform_by=dt.date(2026, 12, 10), today=TODAY)
        ms.move(c, "perform")
    assert agreement.confirmation_deadline == dt.date(2026, 12, 20)  # 司法确认 within 30 days
    assert [c.number for c in ms.follow_ups_due(desk.village.id, TODAY)] == [case.number]
    with pytest.raises(MediationError, match="回访"), write_transaction():
        ms.record_follow_up(db.session.get(MediationCase, case.id), visited_on=dt.date(2026, 11, 1),
                            visited="孙有田", performed="yes", findings="已拆除", today=dt.date(2026, 12, 12))
    with write_transaction():
        c = db.session.get(MediationCase, case.id)
        ms.record_follow_up(c, visited_on=dt.date(2026, 12, 12), visited="孙有田", performed="yes",
                            findings="越界部分已拆除，双方满意", today=dt.date(2026, 12, 12))
        ms.move(c, "close", today=dt.date(2026, 12, 12))
    c = db.session.get(MediationCase, case.id)
    assert (c.status, c.closed_on) == ("closed", dt.date(2026, 12, 12))
    assert ms.follow_ups_due(desk.village.id, TODAY) == []


@pytest.mark.parametrize("action,needs", [("refuse", "不予受理"), ("escalate", "移交给谁"), ("fail", "途径")])
def test_side_exits_need_their_reason(desk, action, needs):
    case = _case(desk)
    if action == "fail":
        with write_transaction():
            ms.move(db.session.get(MediationCase, case.id), "mediate")
    with pytest.raises(MediationError, match=needs), write_transaction():
        ms.move(db.session.get(MediationCase, case.id), action, note=" ")
    with write_transaction():
        ms.move(db.session.get(MediationCase, case.id), action, note="已告知可向法院起诉" if action == "fail" else "原因")
    assert db.session.get(MediationCase, case.id).status in {"not_accepted", "escalated", "failed"}


def test_illegal_moves_are_refused_with_a_message(desk):
    case = _case(desk)
    with pytest.raises(MediationError, match="调解"), write_transaction():
        ms.record_agreement(db.session.get(MediationCase, case.id), facts="x", terms="y", performance="z",
                            signed_on=TODAY, today=TODAY)
    with pytest.raises(MediationError), write_transaction():
        ms.move(db.session.get(MediationCase, case.id), "close")
    assert db.session.get(MediationCase, case.id).status == CaseStatus.REGISTERED.value


def test_the_ladder_keeps_its_history(desk):
    case = _case(desk)
    with write_transaction():
        ms.move_level(db.session.get(MediationCase, case.id), "police_station", on=TODAY, note="有动手迹象")
    with pytest.raises(MediationError), write_transaction():
        ms.move_level(db.session.get(MediationCase, case.id), "police_station", on=TODAY)
    c = db.session.get(MediationCase, case.id)
    assert c.level == "police_station"
    assert [(x.from_level, x.to_level) for x in c.levels] == [(None, "village_committee"),
                                                               ("village_committee", "police_station")]


def test_only_the_cases_mediators_and_the_head_read_it_and_the_chain_holds_no_names(desk):
    case = _case(desk)
    c = db.session.get(MediationCase, case.id)
    assert ms.can_read(c, desk.mediator) and ms.can_read(c, desk.head)
    assert not ms.can_read(c, desk.other)
    with write_transaction():
        ms.read(db.session.get(MediationCase, case.id), db.session.merge(desk.head))
    rows = db.session.scalars(sa.select(AuditLog).where(AuditLog.action.like("mediation.%"))).all()
    assert {r.action for r in rows} >= {"mediation.register", "mediation.assign", "mediation.read"}
    text = json.dumps([r.details for r in rows], ensure_ascii=False)
    for secret in ("孙有田", "周满仓", "13800000001", "宅基地边界"):
        assert secret not in text


def test_a_case_opened_from_a_patrol_finding_is_linked_once(desk):
    case = _case(desk, source=("patrol_finding", 7))
    assert (case.source_kind, case.source_id) == ("patrol_finding", 7)
    with pytest.raises(MediationError, match="已"), write_transaction():
        _case(desk, source=("patrol_finding", 7))
