"""Grid work over HTTP, as the grid worker and the clerk use it: today's due visits (nearest group first), a
visit with a photo moving the next due date, an event from report to closure (also rejected, escalated, turned
over to mediation or the patrol), a good deed proposed for points, who sees what, and hostile input answered
with a message and nothing written."""
from __future__ import annotations

import datetime as dt
import io

import pytest
import sqlalchemy as sa

from app.db import local_today
from app.extensions import db
from app.grid.models import EventStep, GridEvent, Visit
from app.mediation.models import MediationCase
from app.patrol import services as ps
from app.patrol.models import PatrolFinding
from app.points.models import PointEntry
from app.submission import write_transaction

JPEG = (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00\xff\xdb\x00C\x00" + bytes(64)
        + b"\xff\xd9")


def _jpeg() -> bytes:
    from PIL import Image
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def _files(change: dict) -> dict:
    """Parameters are shared by both databases' runs: each run gets its own file objects."""
    return {k: (io.BytesIO(v[0]), v[1]) if isinstance(v, tuple) else v for k, v in change.items()}


def _as(auth, name):
    auth.logout()
    assert auth.login(name).status_code == 302


def test_the_worker_sees_due_visits_nearest_group_first_and_records_one_with_a_photo(ground, client, auth):
    _as(auth, "wangge")
    page = client.get("/grid/today").get_data(as_text=True)
    # all three are due (never visited since they joined three days ago); the other grid's household is not here
    assert "李九" not in page
    assert page.index("赵大") < page.index("钱二") < page.index("孙三")
    # standing in 三组: 三组 first, then 二组, then 一组
    r = client.post("/grid/today", data={"at-group_id": str(ground["groups"][2]), "at-submit": "1"})
    assert r.status_code == 302
    page = client.get("/grid/today").get_data(as_text=True)
    assert page.index("孙三") < page.index("钱二") < page.index("赵大")

    r = client.post(f"/grid/households/{ground['0201']}/visit", data={
        "visit-visited_on": local_today().isoformat(), "visit-purpose": "routine",
        "visit-findings": "老人身体尚好，屋顶漏雨", "visit-requests": "希望帮助修屋顶",
        "visit-follow_up_on": "", "visit-submit": "1",
        "visit-photo": (io.BytesIO(_jpeg()), "IMG_0001.jpg")}, content_type="multipart/form-data")
    assert r.status_code == 302, r.get_data(as_text=True)
    visit = db.session.scalars(sa.select(Visit)).one()
    assert visit.photo_file and visit.requests == "希望帮助修屋顶"
    page = client.get("/grid/today").get_data(as_text=True)
    # 钱二 (低保, monthly) is no longer due today: next month
    assert "钱二" not in page.split("My events")[0].split("Coming up")[0] if "Coming up" in page else True
    due_section = page.split('<h2>')[0]
    assert "钱二" not in due_section and "赵大" in due_section
    with client.get(f"/grid/visits/{visit.id}/photo") as photo:
        assert photo.status_code == 200 and photo.data[:3] == b"\xff\xd8\xff"


def test_a_second_visit_asked_for_brings_the_household_back(ground, client, auth):
    _as(auth, "wangge")
    day = local_today()
    r = client.post(f"/grid/households/{ground['0101']}/visit", data={
        "visit-visited_on": (day - dt.timedelta(days=2)).isoformat(), "visit-purpose": "routine",
        "visit-findings": "家中无人，邻居说外出打工", "visit-follow_up_on": day.isoformat(), "visit-submit": "1"})
    assert r.status_code == 302
    due_section = client.get("/grid/today").get_data(as_text=True).split("<h2>")[0]
    assert "赵大" in due_section


@pytest.mark.parametrize("change, message", [
    ({"visit-findings": "  "}, None),
    ({"visit-visited_on": "2099-01-01"}, "日期不能晚于今天"),
    ({"visit-visited_on": "昨天"}, None),
    ({"visit-follow_up_on": "2000-01-01"}, None),
    ({"visit-purpose": "party"}, None),
    ({"visit-findings": "长" * 2001}, None),
    ({"visit-photo": (b"not an image at all", "x.jpg")}, None),
    ({"visit-photo": (JPEG[:20], "broken.jpg")}, None),
])
def test_hostile_visits_get_a_message_and_write_nothing(ground, client, auth, change, message):
    _as(auth, "wangge")
    data = {"visit-visited_on": local_today().isoformat(), "visit-purpose": "routine", "visit-findings": "正常",
            "visit-submit": "1", **_files(change)}
    r = client.post(f"/grid/households/{ground['0101']}/visit", data=data, content_type="multipart/form-data")
    assert r.status_code == 200, r.status_code
    page = r.get_data(as_text=True)
    assert 'class="field-error"' in page
    if message:
        assert message in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Visit)) == 0


def test_a_worker_cannot_visit_or_see_another_grids_household(ground, client, auth):
    _as(auth, "wangge")
    assert client.get(f"/grid/households/{ground['0901']}/visit").status_code == 404
    assert client.get("/grid/households/999999999999/visit").status_code == 404
    _as(auth, "wenshu")
    assert client.get(f"/grid/households/{ground['0101']}/visit").status_code == 403


def _report(client, **change):
    data = {"event-kind": "facility", "event-text": "村口路灯坏了三盏", "event-place": "村口", "event-number": "",
            "event-priority": "high", "event-submit": "1", **change}
    return client.post("/grid/events/new", data=data, content_type="multipart/form-data")


def _event() -> GridEvent:
    db.session.rollback()
    return db.session.scalars(sa.select(GridEvent)).one()


def test_an_event_goes_from_report_to_closure_and_the_reporter_follows_it(ground, client, auth):
    _as(auth, "wangge")
    r = _report(client, **{"event-number": "0101", "event-photo": (io.BytesIO(_jpeg()), "lamp.jpg")})
    assert r.status_code == 302, r.get_data(as_text=True)
    event = _event()
    assert event.number == f"{event.year}-网-0001" and event.grid_id == ground["grid"] and event.photo_file
    assert event.due_at - event.reported_at == dt.timedelta(days=3)
    assert "已上报" in client.get("/grid/today").get_data(as_text=True)
    # the worker cannot accept their own report: that is the committee's desk
    assert client.post(f"/grid/events/{event.id}/accept", data={"accept-priority": "high",
                                                                "accept-submit": "1"}).status_code == 403
    _as(auth, "wenshu")
    assert client.post(f"/grid/events/{event.id}/accept",
                       data={"accept-priority": "urgent", "accept-submit": "1"}).status_code == 302
    assert _event().due_at - _event().reported_at == dt.timedelta(days=1)
    wangge = _event().reporter_id
    assert client.post(f"/grid/events/{event.id}/assign",
                       data={"assign-assignee_id": str(wangge), "assign-note": "请联系电工",
                             "assign-submit": "1"}).status_code == 302
    _as(auth, "wangge")
    assert client.post(f"/grid/events/{event.id}/start", data={"start-submit": "1"}).status_code == 302
    assert client.post(f"/grid/events/{event.id}/resolve",
                       data={"resolve-resolution": "电工已更换灯泡", "resolve-submit": "1"}).status_code == 302
    # the resident is not satisfied: back to work
    assert client.post(f"/grid/events/{event.id}/return-visit",
                       data={"back-feedback": "还有一盏不亮", "back-satisfied": "no",
                             "back-submit": "1"}).status_code == 302
    assert _event().status == "in_progress"
    client.post(f"/grid/events/{event.id}/resolve", data={"resolve-resolution": "第三盏也已修好", "resolve-submit": "1"})
    assert client.post(f"/grid/events/{event.id}/return-visit",
                       data={"back-feedback": "都亮了，满意", "back-satisfied": "yes",
                             "back-submit": "1"}).status_code == 302
    event = _event()
    assert event.status == "closed" and event.satisfied is True and event.closed_at is not None
    steps = [s.action for s in db.session.scalars(sa.select(EventStep).where(EventStep.event_id == event.id)
                                                  .order_by(EventStep.id))]
    assert steps == ["report", "accept", "assign", "start", "resolve", "reopen", "resolve", "close"]
    page = client.get(f"/grid/events/{event.id}").get_data(as_text=True)
    assert "已回访结案" in page and "还有一盏不亮" in page and "都亮了，满意" in page
    with client.get(f"/grid/events/{event.id}/photo") as photo:
        assert photo.status_code == 200


def test_a_rejected_report_tells_the_reporter_why_and_refusals_write_nothing(ground, client, auth):
    _as(auth, "wangge")
    _report(client)
    event_id = _event().id
    _as(auth, "wenshu")
    r = client.post(f"/grid/events/{event_id}/reject", data={"reject-reason": " ", "reject-submit": "1"})
    assert r.status_code == 400 and 'id="reject-reason-err"' in r.get_data(as_text=True)
    assert _event().status == "reported"
    # a resolve on a fresh report is refused by the table, with its message
    r = client.post(f"/grid/events/{event_id}/resolve", data={"resolve-resolution": "x", "resolve-submit": "1"})
    assert r.status_code == 400 and "只有已受理、正在处理的事件可以办结" in r.get_data(as_text=True)
    r = client.post(f"/grid/events/{event_id}/assign", data={"assign-assignee_id": "999999", "assign-submit": "1"})
    assert r.status_code == 400 and _event().status == "reported"
    client.post(f"/grid/events/{event_id}/reject", data={"reject-reason": "路灯属供电所管理，已告知", "reject-submit": "1"})
    assert _event().status == "rejected"
    _as(auth, "wangge")
    page = client.get(f"/grid/events/{event_id}").get_data(as_text=True)
    assert "不予受理" in page and "路灯属供电所管理" in page
    _as(auth, "jiandu")
    assert client.get(f"/grid/events/{event_id}").status_code == 200
    assert client.post(f"/grid/events/{event_id}/escalate", data={"escalate-to": "镇政府",
                                                                   "escalate-submit": "1"}).status_code == 403


@pytest.mark.parametrize("change", [
    {"event-kind": "ufo"}, {"event-text": ""}, {"event-text": "x" * 2001}, {"event-priority": "now"},
    {"event-number": "NOPE"}, {"event-place": "p" * 201},
    {"event-photo": (b"%PDF-1.4 not a photo", "x.heic")},
])
def test_hostile_reports_get_a_message_and_write_nothing(ground, client, auth, change):
    _as(auth, "wangge")
    r = _report(client, **_files(change))
    assert r.status_code == 200 and 'class="field-error"' in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GridEvent)) == 0


def test_workers_see_their_grids_events_only(ground, client, auth):
    _as(auth, "wangge2")
    _report(client, **{"event-number": "0901"})
    event_id = _event().id
    _as(auth, "wangge")
    assert client.get(f"/grid/events/{event_id}").status_code == 404
    assert "村口路灯" not in client.get("/grid/events").get_data(as_text=True)
    _as(auth, "wenshu")
    assert "村口路灯" in client.get("/grid/events").get_data(as_text=True)


def test_a_dispute_turned_over_to_mediation_becomes_a_linked_case(ground, client, auth):
    _as(auth, "wangge")
    _report(client, **{"event-kind": "dispute", "event-text": "两户因宅基地边界争吵", "event-number": "0101"})
    event_id = _event().id
    _as(auth, "wenshu")
    assert client.post(f"/grid/events/{event_id}/to-mediation", data={"mediation-submit": "1"}).status_code == 302
    assert _event().status == "converted" and _event().handed_to == "mediation_case"
    _as(auth, "tiaojie")
    assert "两户因宅基地边界争吵" in client.get("/mediation/").get_data(as_text=True)
    form = client.get(f"/mediation/new?event={event_id}").get_data(as_text=True)
    assert "两户因宅基地边界争吵" in form
    r = client.post(f"/mediation/new?event={event_id}", data={
        "received_on": local_today().isoformat(), "intake": "grid_report", "dispute_type": "homestead",
        "summary": "两户因宅基地边界争吵", "risk": "normal", "level": "village_committee", "a_name": "赵大",
        "a_number": "0101", "r_name": "某邻居", "idempotency_key": "g" * 32, "submit": "1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    case = db.session.scalars(sa.select(MediationCase)).one()
    assert (case.source_kind, case.source_id) == ("grid_event", event_id)
    assert _event().handed_id == case.id
    # a second case from the same event is refused
    assert client.get(f"/mediation/new?event={event_id}").status_code == 404
    _as(auth, "wenshu")
    page = client.get(f"/grid/events/{event_id}").get_data(as_text=True)
    assert f"/mediation/cases/{case.id}" in page


def test_an_event_turned_over_to_the_patrol_shows_on_their_page(ground, client, auth):
    _as(auth, "wenshu")
    _report(client, **{"event-kind": "public_order", "event-text": "夜里有陌生车辆在村后转悠"})
    event_id = _event().id
    r = client.post(f"/grid/events/{event_id}/to-patrol", data={"patrol-note": "", "patrol-submit": "1"})
    assert r.status_code == 400 and _event().status == "reported"
    client.post(f"/grid/events/{event_id}/to-patrol", data={"patrol-note": "夜巡时多看村后小路", "patrol-submit": "1"})
    assert _event().status == "converted"
    _as(auth, "xunluo")
    assert "夜巡时多看村后小路" in client.get("/patrol/").get_data(as_text=True)


def test_a_patrol_finding_turned_over_to_the_grid_is_reported_once_and_linked(ground, client, auth, village):
    with write_transaction():
        team = ps.create_team(db.session.merge(village), name="巡逻队")
        (shift,) = ps.add_shifts(team, first_day=dt.date(2026, 11, 19), last_day=dt.date(2026, 11, 19),
                                 start=dt.time(20), end=dt.time(22), needed=1)
        finding = ps.record_finding(shift, kind="hazard", text="桥栏杆松动", action="to_grid")
        other = ps.record_finding(shift, kind="hazard", text="电线低垂", action="to_committee")
    _as(auth, "wangge")
    assert "桥栏杆松动" in client.get(f"/grid/events/new?finding={finding.id}").get_data(as_text=True)
    assert client.get(f"/grid/events/new?finding={other.id}").status_code == 404
    assert client.get("/grid/events/new?finding=99999999999999999999").status_code == 404
    r = client.post(f"/grid/events/new?finding={finding.id}", data={
        "event-kind": "hazard", "event-text": "桥栏杆松动", "event-priority": "high", "event-submit": "1"})
    assert r.status_code == 302
    event = _event()
    assert (event.source_kind, event.source_id) == ("patrol_finding", finding.id)
    assert db.session.get(PatrolFinding, finding.id).ref_id == event.id
    assert client.get(f"/grid/events/new?finding={finding.id}").status_code == 404


def test_a_good_deed_is_proposed_for_points_and_waits_for_review(ground, client, auth, village):
    from app.points import services as pts
    with write_transaction():
        scheme = pts.create_scheme(village, "积分管理办法")
        cat = pts.create_category(scheme, "公益", "add")
        pts.create_item(cat, pts.ItemData(code="A01", text="帮扶孤寡老人", points=5))
    _as(auth, "wangge")
    page = client.get("/grid/deeds").get_data(as_text=True)
    assert "A01" in page
    item_id = db.session.scalar(sa.text("SELECT id FROM point_items"))
    base = {"deed-number": "0101", "deed-name": "赵大", "deed-item_id": str(item_id),
            "deed-occurred_on": local_today().isoformat(), "deed-note": "帮邻居老人挑水", "deed-submit": "1"}
    for change in ({"deed-number": "0999"}, {"deed-name": "不存在"}, {"deed-item_id": "424242"},
                   {"deed-occurred_on": "2099-01-01"}):
        r = client.post("/grid/deeds", data={**base, **change})
        assert r.status_code == 200 and 'class="field-error"' in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PointEntry)) == 0
    assert client.post("/grid/deeds", data=base).status_code == 302
    entry = db.session.scalars(sa.select(PointEntry)).one()
    assert (entry.status, entry.source, entry.points) == ("pending", "grid", 5)


def test_the_clerk_and_reviewer_overview_and_the_worker_lands_on_today(ground, client, auth):
    _as(auth, "wangge")
    _report(client, **{"event-priority": "urgent"})
    with write_transaction():
        event = db.session.scalars(sa.select(GridEvent)).one()
        event.due_at = event.reported_at - dt.timedelta(hours=1)  # long past due
    r = client.get("/grid/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/grid/today")
    for who in ("wenshu", "jiandu"):
        _as(auth, who)
        page = client.get("/grid/").get_data(as_text=True)
        assert "逾期事件" in page and event.number in page
        assert "已划入网格的户数" in page
    assert "村口路灯" in client.get("/grid/events?status=overdue").get_data(as_text=True)
    assert "村口路灯" not in client.get("/grid/events?status=closed").get_data(as_text=True)
