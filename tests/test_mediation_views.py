"""Mediation pages over HTTP: registering a case (also from a patrol finding), working it to a closed case, who
sees what (details for the case's mediators and the head, counts for the rest), every read audited, and
hostile input answered with a message."""
from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from app.audit.models import AuditLog
from app.extensions import db
from app.mediation.models import MediationCase, MediationHead
from app.patrol import services as ps
from app.patrol.models import PatrolFinding
from app.submission import write_transaction

FORM = {"received_on": "2026-11-20", "intake": "desk", "dispute_type": "neighbour", "summary": "两家因排水沟堵塞争吵",
        "amount": "", "risk": "normal", "level": "village_committee",
        "a_name": "孙有田", "a_sex": "男", "a_ethnicity": "汉族", "a_age": "58", "a_occupation": "农民",
        "a_phone": "13800000001", "a_address": "一组", "a_agent": "", "a_number": "0901",
        "r_name": "周满仓", "r_sex": "", "r_ethnicity": "", "r_age": "", "r_occupation": "", "r_phone": "",
        "r_address": "", "r_agent": "", "r_number": "", "submit": "1"}


@pytest.fixture
def desk(client, auth, village, make_user, make_household):
    make_user("tiaojie", ("mediator", village))
    make_user("tiaojie2", ("mediator", village))
    make_user("wenshu", ("clerk", village))
    make_household(village, "0901", "孙有田")
    assert auth.login("tiaojie").status_code == 302
    return village


def _register(client, **change):
    client.get("/mediation/new")
    r = client.post("/mediation/new", data={**FORM, "idempotency_key": "k" * 32, **change})
    return r


def _the_case() -> MediationCase:
    return db.session.scalars(sa.select(MediationCase)).one()


def test_a_mediator_registers_and_works_a_case_to_its_close(desk, client):
    r = _register(client)
    assert r.status_code == 302, r.get_data(as_text=True)
    case = _the_case()
    assert case.number == "2026-调-001" and case.parties[0].person_id is not None
    page = client.get(f"/mediation/cases/{case.id}").get_data(as_text=True)
    assert "孙有田" in page and "13800000001" in page and "已关联户籍" in page
    steps = [
        ("move", {"move-action": "mediate", "move-submit": "1"}),
        ("sessions", {"session-kind": "joint", "session-day": "2026-11-21", "session-time": "15:00",
                      "session-place": "村委会", "session-attendees": "调解员、村支书、民警",
                      "session-record": "双方同意共同清理排水沟", "session-submit": "1"}),
        ("agreement", {"agreement-facts": "排水沟堵塞致周家院子积水", "agreement-terms": "双方各出一人清理排水沟",
                       "agreement-performance": "十二月一日前共同清理，村委会见证", "agreement-perform_by": "2026-12-01",
                       "agreement-signed_on": "2026-11-21", "agreement-copies": "3", "agreement-submit": "1"}),
        ("move", {"move-action": "perform", "move-submit": "1"}),
        ("follow-ups", {"follow-visited_on": "2026-12-02", "follow-visited": "周满仓", "follow-performed": "yes",
                        "follow-findings": "已清理，未再积水", "follow-submit": "1"}),
        ("move", {"move-action": "close", "move-submit": "1"}),
    ]
    for path, data in steps:
        r = client.post(f"/mediation/cases/{case.id}/{path}", data=data, follow_redirects=True)
        assert "flash-success" in r.get_data(as_text=True), (path, r.get_data(as_text=True)[-2000:])
    case = _the_case()
    assert case.status == "closed" and case.agreement.terms == "双方各出一人清理排水沟"
    assert [s.kind for s in case.sessions] == ["joint"] and case.follow_ups[0].performed == "yes"


def test_only_the_cases_mediators_read_it_others_get_not_found_and_counts(desk, client, auth):
    _register(client)
    case = _the_case()
    for _ in range(2):
        assert client.get(f"/mediation/cases/{case.id}").status_code == 200
    reads = db.session.scalar(sa.select(sa.func.count()).select_from(AuditLog).where(
        AuditLog.action == "mediation.read", AuditLog.object_id == case.id))
    assert reads == 2  # every read is on record
    auth.logout()
    auth.login("tiaojie2")  # a mediator not on the case
    assert client.get(f"/mediation/cases/{case.id}").status_code == 404
    r = client.post(f"/mediation/cases/{case.id}/move", data={"move-action": "mediate", "move-submit": "1"})
    assert r.status_code == 404 and _the_case().status == "registered"
    for paper in ("dossier.pdf", "agreement.pdf"):
        assert client.get(f"/mediation/cases/{case.id}/{paper}").status_code == 404
    page = client.get("/mediation/").get_data(as_text=True)
    assert "孙有田" not in page and "2026-调-001" not in page
    auth.logout()
    auth.login("wenshu")  # a clerk: counts only
    page = client.get("/mediation/").get_data(as_text=True)
    assert "已受理" in page and "孙有田" not in page and "2026-调-001" not in page
    assert client.get(f"/mediation/cases/{case.id}").status_code == 404
    assert client.get("/mediation/new").status_code == 403
    assert client.get(f"/mediation/cases/{case.id}/dossier.pdf").status_code == 404
    # the clerk appoints the committee's head, who reads every case
    from app.auth.models import User

    head = db.session.scalar(sa.select(User).where(User.username == "tiaojie2"))
    r = client.post("/mediation/head", data={"head-user_id": str(head.id), "head-submit": "1"}, follow_redirects=True)
    assert "已任命" in r.get_data(as_text=True)
    auth.logout()
    auth.login("tiaojie2")
    assert client.get(f"/mediation/cases/{case.id}").status_code == 200


def test_a_patrol_finding_becomes_a_linked_case(desk, client):
    with write_transaction():
        team = ps.create_team(db.session.merge(desk), name="巡逻队")
        (shift,) = ps.add_shifts(team, first_day=dt.date(2026, 11, 19), last_day=dt.date(2026, 11, 19),
                                 start=dt.time(20), end=dt.time(22), needed=1)
        finding = ps.record_finding(shift, kind="dispute", text="两户为排水沟争吵", action="to_mediation")
        other = ps.record_finding(shift, kind="hazard", text="电线低垂", action="to_committee")
    page = client.get(f"/mediation/new?finding={finding.id}").get_data(as_text=True)
    assert "两户为排水沟争吵" in page
    assert client.get(f"/mediation/new?finding={other.id}").status_code == 404  # not turned over to mediation
    assert client.get("/mediation/new?finding=99999999999999999999").status_code == 404
    r = client.post(f"/mediation/new?finding={finding.id}", data={**FORM, "idempotency_key": "f" * 32})
    assert r.status_code == 302
    case = _the_case()
    assert (case.source_kind, case.source_id) == ("patrol_finding", finding.id)
    assert (db.session.get(PatrolFinding, finding.id).ref_kind, db.session.get(PatrolFinding, finding.id).ref_id) \
        == ("mediation_case", case.id)


@pytest.mark.parametrize("change,message", [
    ({"a_name": ""}, None),
    ({"a_age": "200"}, "请输入"),
    ({"amount": "99999999999999999999"}, "请输入"),
    ({"received_on": "2099-01-01"}, "日期不能晚于今天"),
    ({"a_number": "0999"}, "户号0999中没有名叫孙有田的在世成员"),
    ({"intake": "rumour"}, None),
    ({"summary": "排水沟\x00"}, None),
])
def test_hostile_registrations_get_a_message_and_write_nothing(desk, client, change, message):
    r = _register(client, **change)
    assert r.status_code == 200
    if message:
        assert message in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MediationCase)) == 0


@pytest.mark.parametrize("path,data", [
    ("move", {"move-action": "close", "move-submit": "1"}),
    ("move", {"move-action": "fail", "move-note": "", "move-submit": "1"}),
    ("level", {"level-level": "moon", "level-on": "2026-11-20", "level-submit": "1"}),
    ("assign", {"assign-user_id": "9223372036854775808", "assign-submit": "1"}),
    ("sessions", {"session-kind": "joint", "session-day": "2026-11-21", "session-time": "25:00",
                  "session-place": "x", "session-attendees": "y", "session-record": "z", "session-submit": "1"}),
    ("agreement", {"agreement-facts": "x", "agreement-terms": "y", "agreement-performance": "z",
                   "agreement-signed_on": "2026-11-21", "agreement-copies": "0", "agreement-submit": "1"}),
    ("follow-ups", {"follow-visited_on": "x", "follow-submit": "1"}),
])
def test_hostile_case_page_posts_change_nothing(desk, client, path, data):
    _register(client)
    case = _the_case()
    r = client.post(f"/mediation/cases/{case.id}/{path}", data=data, follow_redirects=True)
    assert r.status_code == 200 and "flash-error" in r.get_data(as_text=True)
    case = _the_case()
    assert case.status == "registered" and case.agreement is None and case.sessions == []
    assert len(case.mediators) == 1 and case.level == "village_committee"


def test_hostile_head_and_points_forms(desk, client, auth):
    _register(client)
    case = _the_case()
    r = client.post(f"/mediation/cases/{case.id}/points", data={"points-number": "0901", "points-name": "孙有田",
                                                                 "points-item_id": "abc", "points-submit": "1"},
                    follow_redirects=True)
    assert r.status_code == 200 and "flash-error" in r.get_data(as_text=True)
    auth.logout()
    auth.login("wenshu")
    for value in ("", "9223372036854775808", "-1", "x"):
        r = client.post("/mediation/head", data={"head-user_id": value, "head-submit": "1"}, follow_redirects=True)
        assert r.status_code == 200 and "flash-error" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MediationHead)) == 0
