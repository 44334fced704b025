"""Patrol pages over HTTP: a leader sets up a team and a month, a member checks in from the phone, the leader
confirms the shift and the household's entry waits for review; refusals are messages, never 500s."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from app.db import utcnow
from app.extensions import db
from app.patrol import services as ps
from app.patrol.models import (
    PatrolCheckIn,
    PatrolCheckpoint,
    PatrolFinding,
    PatrolInspection,
    PatrolMember,
    PatrolPlace,
    PatrolShift,
    PatrolTeam,
)
from app.points import services as pts
from app.points.models import PointEntry
from app.registry.models import Person
from app.submission import write_transaction


def _csrf(html: str) -> str:
    """The page's CSRF token (the test app runs without CSRF checks unless a test turns them on)."""
    found = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    return found.group(1) if found else ""


@pytest.fixture
def leader(client, auth, village, make_user, make_household):
    make_user("duizhang", ("patrol_leader", village))
    for i, name in enumerate(["赵大", "钱二", "孙三"]):
        make_household(village, f"02{i:02d}", name)
    make_user("zhaoda")  # 赵大's phone log-in
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        add = pts.create_category(scheme, "平安建设", "add")
        pts.create_item(add, pts.ItemData(code="P01", text="参加义务巡逻", points=2))
    assert auth.login("duizhang").status_code == 302
    return client


def _get(client, url):
    r = client.get(url)
    assert r.status_code == 200, r.status_code
    return r.get_data(as_text=True)


def _team_via_pages(client, village):
    page = _get(client, "/patrol/teams/new")
    item_id = db.session.scalar(sa.text("SELECT id FROM point_items WHERE code = 'P01'"))
    r = client.post("/patrol/teams/new", data={
        "csrf_token": _csrf(page), "name": "村义务巡逻队", "level": "village", "kind": "volunteer", "group_id": "0",
        "police_liaison": "李警官", "monthly_minimum": "８", "shift_item_id": str(item_id), "night_item_id": "0",
        "absence_item_id": "0", "submit": "1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    team = db.session.scalars(sa.select(PatrolTeam)).one()
    assert team.monthly_minimum == 8  # a full-width digit is a digit
    page = _get(client, f"/patrol/teams/{team.id}?q=赵")
    assert "赵大" in page
    person_id = re.search(r'name="person_id" value="(\d+)"', page).group(1)
    r = client.post(f"/patrol/teams/{team.id}", data={
        "csrf_token": _csrf(page), "person_id": person_id, "joined_on": "2026年1月1日", "badge_no": "X001",
        "username": "zhaoda", "submit": "1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    page = _get(client, f"/patrol/teams/{team.id}")
    r = client.post(f"/patrol/teams/{team.id}", data={"csrf_token": _csrf(page), "route-name": "村主干道",
                                                      "route-submit": "1"})
    assert r.status_code == 302
    route_id = db.session.scalar(sa.text("SELECT id FROM patrol_routes"))
    r = client.post(f"/patrol/routes/{route_id}/checkpoints", data={
        "csrf_token": _csrf(page), "point-name": "村小学门口", "point-submit": "1"})
    assert r.status_code == 302
    return team.id, route_id


def test_a_leader_plans_a_month_a_member_checks_in_and_the_confirmed_shift_waits_for_review(
        leader, client, auth, village):
    team_id, route_id = _team_via_pages(client, village)
    page = _get(client, f"/patrol/teams/{team_id}/roster/2026-11")
    r = client.post(f"/patrol/teams/{team_id}/roster/2026-11", data={
        "csrf_token": _csrf(page), "first_day": "2026-11-01", "last_day": "2026-11-30",
        "weekdays": [str(d) for d in range(7)], "start": "23：00", "end": "0600", "route_id": str(route_id),
        "needed": "1", "submit": "1"})
    assert r.status_code == 302, r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolShift)) == 30
    r = client.post(f"/patrol/teams/{team_id}/roster/2026-11", data={"csrf_token": _csrf(page), "fill-submit": "1"})
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and "赵大" in page
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPlace)) == 30  # the only member
    assert "23:00–06:00" in page

    # the member's phone: log in, scan the sticker of the shift of 11-10 at 01:30
    shift = db.session.scalar(sa.select(PatrolShift).where(PatrolShift.day == dt.date(2026, 11, 10)))
    token = db.session.scalars(sa.select(PatrolCheckpoint.token)).one()
    with write_transaction():
        # the scan of that night, made then (the test runs in December)
        ps.check_in(ps.checkpoint_for_token(token), _user("zhaoda"),
                    now=shift.starts_at + dt.timedelta(hours=2, minutes=30))
    auth.logout()
    auth.login("zhaoda")
    page = _get(client, f"/patrol/c/{token}")
    assert "村小学门口" in page and "在这里签到" in page
    r = client.post(f"/patrol/c/{token}", data={"csrf_token": _csrf(page), "submit": "1"})
    assert r.status_code == 409 and "这条路线现在没有班次" in r.get_data(as_text=True)  # it is December now
    auth.logout()
    auth.login("duizhang")
    page = _get(client, f"/patrol/shifts/{shift.id}")
    assert re.search(r"已到达</span>\s*村小学门口", page)
    r = client.post(f"/patrol/shifts/{shift.id}/confirm", data={"csrf_token": _csrf(page), "submit": "1"},
                    follow_redirects=True)
    assert "班次已确认" in r.get_data(as_text=True)
    entry = db.session.scalars(sa.select(PointEntry)).one()
    assert (entry.item_code, entry.points, entry.status, entry.source) == ("P01", 2, "pending", "patrol")
    # a second confirm: a message, nothing more recorded
    r = client.post(f"/patrol/shifts/{shift.id}/confirm", data={"csrf_token": _csrf(page), "submit": "1"},
                    follow_redirects=True)
    assert "已经确认过" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PointEntry)) == 1


def _user(name):
    from app.auth.models import User
    return db.session.scalar(sa.select(User).where(User.username == name))


def test_check_in_over_http_records_once_and_a_replay_is_refused(leader, client, auth, village):
    team_id, route_id = _team_via_pages(client, village)
    with write_transaction():
        team = db.session.get(PatrolTeam, team_id)
        (shift,) = ps.add_shifts(team, first_day=dt.date(2026, 12, 1), last_day=dt.date(2026, 12, 1),
                                 start=dt.time(0), end=dt.time(23, 59), needed=1,
                                 route=db.session.get(ps.PatrolRoute, route_id))
        shift.starts_at = utcnow() - dt.timedelta(hours=1)  # a shift running now
        shift.ends_at = utcnow() + dt.timedelta(hours=2)
        ps.book(shift, team.members[0])
    token = db.session.scalars(sa.select(PatrolCheckpoint.token)).one()
    auth.logout()
    auth.login("zhaoda")
    page = _get(client, f"/patrol/c/{token}")
    r = client.post(f"/patrol/c/{token}", data={"csrf_token": _csrf(page), "submit": "1"})
    assert r.status_code == 200 and "已签到" in r.get_data(as_text=True)
    r = client.post(f"/patrol/c/{token}", data={"csrf_token": _csrf(page), "submit": "1"})
    assert r.status_code == 409 and "您已在" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolCheckIn)) == 1
    assert "村小学门口" in _get(client, "/patrol/me")
    # someone logged in but not in the team
    auth.logout()
    auth.login("duizhang")
    r = client.post(f"/patrol/c/{token}", data={"csrf_token": _csrf(page), "submit": "1"})
    assert r.status_code == 409 and "不是负责这个巡逻点" in r.get_data(as_text=True)
    # an unknown or renewed sticker
    assert client.get("/patrol/c/nonsense").status_code == 404


def test_a_stranger_is_sent_to_log_in_before_checking_in(client):
    r = client.get("/patrol/c/anything")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


@pytest.mark.parametrize("field,value,message", [
    ("start", "25:00", "请输入类似23:00的时间"),
    ("start", "23:00\x00", "请输入类似23:00的时间"),
    ("needed", "99999999999999999999", "请输入"),
    ("needed", "0", "请输入"),
    ("first_day", "2026-02-30", "请按 2026-11-25 的格式填写日期"),
    ("last_day", "2026-10-01", "结束日期不能早于开始日期"),
    ("route_id", "9223372036854775808", None),
    ("weekdays", "7", None),
])
def test_hostile_shift_forms_get_a_message_and_write_nothing(leader, client, village, field, value, message):
    team_id, _route = _team_via_pages(client, village)
    page = _get(client, f"/patrol/teams/{team_id}/roster/2026-11")
    data = {"csrf_token": _csrf(page), "first_day": "2026-11-01", "last_day": "2026-11-30",
            "weekdays": ["0"], "start": "20:00", "end": "22:00", "route_id": "0", "needed": "2", "submit": "1"}
    data[field] = value
    r = client.post(f"/patrol/teams/{team_id}/roster/2026-11", data=data)
    assert r.status_code == 200
    if message:
        assert message in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolShift)) == 0


def test_hostile_team_names_and_ids(leader, client, village):
    page = _get(client, "/patrol/teams/new")
    for name, extra in [("", {}), ("x" * 65, {}), ("<script>", {"shift_item_id": "99999999999"}),
                        ("队\x00", {}), ("好队", {"group_id": "-1"})]:
        data = {"csrf_token": _csrf(page), "name": name, "level": "village", "kind": "volunteer", "group_id": "0",
                "monthly_minimum": "8", "shift_item_id": "0", "night_item_id": "0", "absence_item_id": "0",
                "submit": "1", **extra}
        r = client.post("/patrol/teams/new", data=data)
        assert r.status_code == 200, (name, r.status_code)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolTeam)) == 0
    for url in ("/patrol/teams/9223372036854775808", "/patrol/shifts/99999", "/patrol/teams/1/roster/2026-13"):
        assert client.get(url).status_code == 404


def test_a_clerk_reads_but_cannot_change_and_another_village_sees_nothing(
        leader, client, auth, village, make_user, make_village):
    team_id, _route = _team_via_pages(client, village)
    make_user("wenshu", ("clerk", village))
    other = make_village("v2")
    make_user("waicun", ("patrol_leader", other))
    auth.logout()
    auth.login("wenshu")
    assert "村义务巡逻队" in _get(client, "/patrol/")
    page = _get(client, f"/patrol/teams/{team_id}")
    r = client.post(f"/patrol/teams/{team_id}", data={"csrf_token": _csrf(page), "route-name": "偷加",
                                                      "route-submit": "1"})
    assert r.status_code == 403
    assert client.get("/patrol/teams/new").status_code == 403
    auth.logout()
    auth.login("waicun")
    assert client.get(f"/patrol/teams/{team_id}").status_code == 404
    assert "村义务巡逻队" not in _get(client, "/patrol/")


@pytest.fixture
def planned(leader, client, village):
    """The team of the page tests with all three people as members and a planned shift with 赵大 on it."""
    team_id, route_id = _team_via_pages(client, village)
    with write_transaction():
        team = db.session.get(PatrolTeam, team_id)
        for person in db.session.scalars(sa.select(Person).where(Person.name.in_(["钱二", "孙三"]))):
            ps.add_member(team, person, joined_on=dt.date(2026, 1, 1))
        (shift,) = ps.add_shifts(team, first_day=dt.date(2026, 11, 5), last_day=dt.date(2026, 11, 5),
                                 start=dt.time(20), end=dt.time(22), needed=1)
        ps.book(shift, team.members[0])
    return db.session.get(PatrolTeam, team_id), shift.id


def test_swap_substitute_spot_check_and_cancel_from_the_shift_page(planned, client):
    team, shift_id = planned
    page = _get(client, f"/patrol/shifts/{shift_id}")
    place = db.session.scalars(sa.select(PatrolPlace)).one()
    qian, sun = team.members[1], team.members[2]
    r = client.post(f"/patrol/places/{place.id}/swap", data={"swap-to_member_id": str(qian.id),
                                                              "swap-note": "家里有事", "swap-submit": "1"},
                    follow_redirects=True)
    assert "已换班" in r.get_data(as_text=True)
    assert [p.member_id for p in db.session.get(PatrolShift, shift_id).places] == [qian.id]
    r = client.post(f"/patrol/places/{place.id}/substitute", data={"sub-member_id": str(sun.id), "sub-submit": "1"},
                    follow_redirects=True)
    assert "已添加替班人" in r.get_data(as_text=True)
    attendance = {p.member_id: (p.attendance, p.instead_of_id) for p in db.session.get(PatrolShift, shift_id).places}
    assert attendance == {qian.id: ("leave", None), sun.id: ("substitute", qian.id)}
    r = client.post(f"/patrol/shifts/{shift_id}/inspections", data={
        "check-inspector": "村支书", "check-at": "21：15", "check-result": "在岗，佩证", "check-submit": "1"},
        follow_redirects=True)
    assert "抽查已登记" in r.get_data(as_text=True) and "21:15 村支书：在岗，佩证" in r.get_data(as_text=True)
    r = client.post(f"/patrol/shifts/{shift_id}/cancel", data={"cancel-reason": "", "cancel-submit": "1"},
                    follow_redirects=True)
    assert "请填写取消班次的原因" in r.get_data(as_text=True)
    r = client.post(f"/patrol/shifts/{shift_id}/cancel", data={"cancel-reason": "暴雨", "cancel-submit": "1"},
                    follow_redirects=True)
    assert "班次已取消" in r.get_data(as_text=True)
    assert db.session.get(PatrolShift, shift_id).status == "cancelled"
    assert page  # the page rendered with every form on it


@pytest.mark.parametrize("url,data", [
    ("/patrol/places/{place}/mark", {"attendance": "planned"}),
    ("/patrol/places/{place}/mark", {"attendance": "present\x00"}),
    ("/patrol/places/{place}/swap", {"swap-to_member_id": "9223372036854775808"}),
    ("/patrol/places/{place}/swap", {"swap-to_member_id": "{place}"}),
    ("/patrol/places/{place}/substitute", {"sub-member_id": "abc"}),
    ("/patrol/places/{place}/correct", {"attendance": "absent", "reason": ""}),
    ("/patrol/shifts/{shift}/book", {"book-member_id": "-1"}),
    ("/patrol/shifts/{shift}/inspections", {"check-inspector": "x", "check-at": "99:99", "check-result": "y"}),
    ("/patrol/shifts/{shift}/findings", {"finding-kind": "bomb", "finding-text": "x", "finding-action": "to_police"}),
    ("/patrol/shifts/{shift}/findings", {"finding-kind": "fire", "finding-text": "x" * 1001,
                                         "finding-action": "to_police"}),
    ("/patrol/shifts/{shift}/confirm", {}),
])
def test_hostile_shift_page_posts_are_refused_with_a_message_and_change_nothing(planned, client, url, data):
    _team, shift_id = planned
    place = db.session.scalars(sa.select(PatrolPlace)).one()
    before = [(p.member_id, p.attendance) for p in db.session.get(PatrolShift, shift_id).places]
    filled = {k: v.format(place=place.id) for k, v in data.items()}
    r = client.post(url.format(place=place.id, shift=shift_id), data={**filled, "submit": "1"},
                    follow_redirects=True)
    assert r.status_code in (200, 400), r.status_code
    if r.status_code == 200:
        assert "flash-error" in r.get_data(as_text=True)
    db.session.expire_all()
    shift = db.session.get(PatrolShift, shift_id)
    assert [(p.member_id, p.attendance) for p in shift.places] == before and shift.status == "planned"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolFinding)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolInspection)) == 0


@pytest.mark.parametrize("data,message", [
    ({"person_id": "abc"}, "请从搜索结果中选择一个人"),
    ({"person_id": "99999999999999"}, "请从搜索结果中选择一个人"),
    ({"joined_on": "明天"}, "请按 2026-11-25 的格式填写日期"),
    ({"username": "nobody"}, "没有这个用户名"),
])
def test_hostile_member_forms(leader, client, village, data, message):
    team_id, _route = _team_via_pages(client, village)
    person = db.session.scalar(sa.select(Person).where(Person.name == "钱二"))
    form = {"person_id": str(person.id), "joined_on": "2026-01-01", "badge_no": "", "username": "", "submit": "1",
            **data}
    r = client.post(f"/patrol/teams/{team_id}", data=form)
    assert r.status_code == 200 and message in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolMember)) == 1


def test_hostile_leave_and_status_forms(leader, client, village):
    team_id, _route = _team_via_pages(client, village)
    member = db.session.scalars(sa.select(PatrolMember)).one()
    r = client.post(f"/patrol/members/{member.id}", data={"leave-starts_on": "2026-12-10", "leave-ends_on":
                                                           "2026-12-01", "leave-submit": "1"})
    assert "请假结束日期不能早于开始日期" in r.get_data(as_text=True)
    r = client.post(f"/patrol/members/{member.id}", data={"change-action": "restore", "change-on": "2026-12-01",
                                                           "change-submit": "1"})
    assert r.status_code == 200 and "field-error" in r.get_data(as_text=True)  # restore is not offered: active
    assert ps.member_leaves(member) == [] and db.session.get(PatrolMember, member.id).status == "active"


def test_the_reports_page_and_the_township_counts(leader, client, auth, village, make_user):
    team_id, _route = _team_via_pages(client, village)
    page = _get(client, "/patrol/reports?year=2026")
    assert "2026年巡逻情况" in page and "村义务巡逻队" in page and "还没有已确认的路线班次" in page
    assert client.get("/patrol/reports?year=99999").status_code == 404
    assert client.get("/patrol/reports?year=abc").status_code == 200  # this year
    from app.registry.services import create_township

    with write_transaction():
        town = create_township("t1", "一号镇")
        db.session.merge(village).township_id = town.id
    make_user("xiangzhen", ("township", town))
    auth.logout()
    auth.login("xiangzhen")
    page = _get(client, "/township")
    assert "巡逻班次" in page and "巡逻出勤率" in page
    row = re.search(r"<tr><td>[^<]*</td><td>一号村</td>.*?</tr>", page, re.DOTALL).group(0)
    assert "<td class=\"num\">0</td><td class=\"num\">—</td>" in row  # no confirmed shift this month yet


def _png() -> bytes:
    """A real (small, opaque) PNG: app.photos opens every upload and stores it as a JPEG."""
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def test_a_member_reports_a_finding_with_a_photo_from_the_phone(planned, client, auth):
    import io

    team, shift_id = planned
    with write_transaction():
        db.session.get(PatrolShift, shift_id).starts_at = utcnow() - dt.timedelta(minutes=10)
        db.session.get(PatrolShift, shift_id).ends_at = utcnow() + dt.timedelta(hours=1)
    auth.logout()
    auth.login("zhaoda")  # 赵大 is on the shift (joined with this log-in by the team fixture)
    assert "报告发现的情况" in _get(client, "/patrol/me")
    r = client.post(f"/patrol/shifts/{shift_id}/findings", data={
        "finding-kind": "hazard", "finding-text": "桥头护栏断了", "finding-action": "to_committee",
        "finding-photo": (io.BytesIO(_png()), "护栏.png"), "finding-submit": "1"},
        content_type="multipart/form-data", follow_redirects=True)
    assert "已记入巡逻台账" in r.get_data(as_text=True)
    finding = db.session.scalars(sa.select(PatrolFinding)).one()
    assert finding.photo_file.endswith(".jpg") and "护栏" not in finding.photo_file
    with client.get(f"/patrol/findings/{finding.id}/photo") as r:  # a file response: close it
        assert r.mimetype == "image/jpeg" and r.data[:3] == b"\xff\xd8\xff"
    # not an image: refused, nothing more recorded
    r = client.post(f"/patrol/shifts/{shift_id}/findings", data={
        "finding-kind": "hazard", "finding-text": "再报一次", "finding-action": "to_committee",
        "finding-photo": (io.BytesIO(b"<script>"), "x.png"), "finding-submit": "1"},
        content_type="multipart/form-data", follow_redirects=True)
    assert "不是可以读取的照片" in r.get_data(as_text=True)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolFinding)) == 1
    # someone not on the shift sees neither the form's target nor the photo
    auth.logout()
    auth.login("duizhang")  # the leader of the village sees it
    with client.get(f"/patrol/findings/{finding.id}/photo") as r:
        assert r.status_code == 200


def test_times_from_the_paper_sheet_the_team_leader_and_the_night_theme(planned, client):
    team, shift_id = planned
    place = db.session.scalars(sa.select(PatrolPlace)).one()
    r = client.post(f"/patrol/places/{place.id}/times", data={f"t{place.id}-signed_in": "20:05",
                                                               f"t{place.id}-signed_out": "0010",
                                                               f"t{place.id}-submit": "1"}, follow_redirects=True)
    assert "时间已保存" in r.get_data(as_text=True)
    place = db.session.get(PatrolPlace, place.id)
    # 00:10 is after midnight: the next morning of the 20:00 shift of 11-05
    assert ps.local(place.signed_in_at) == dt.datetime(2026, 11, 5, 20, 5)
    assert ps.local(place.signed_out_at) == dt.datetime(2026, 11, 6, 0, 10)
    r = client.post(f"/patrol/places/{place.id}/times", data={f"t{place.id}-signed_in": "25:61",
                                                               f"t{place.id}-submit": "1"}, follow_redirects=True)
    assert "请输入类似23:00的时间" in r.get_data(as_text=True)
    # the leader is chosen among the members on the edit page
    page = _get(client, f"/patrol/teams/{team.id}/edit")
    qian = team.members[1]
    data = {"name": team.name, "level": "village", "kind": "volunteer", "group_id": "0",
            "leader_id": str(qian.person_id), "monthly_minimum": "8", "shift_item_id": "0", "night_item_id": "0",
            "absence_item_id": "0", "submit": "1"}
    assert client.post(f"/patrol/teams/{team.id}/edit", data=data).status_code == 302
    assert "队长：钱二" in _get(client, f"/patrol/teams/{team.id}")
    # phone pages follow the phone's dark mode; office pages stay light
    assert 'data-theme="light"' not in _get(client, f"/patrol/shifts/{shift_id}")
    assert 'data-theme="light"' in page


def _statements_of(client, url: str) -> list[str]:
    seen = []

    def count(conn, cursor, statement, params, context, executemany):
        if statement.strip().upper() not in ("BEGIN", "BEGIN IMMEDIATE", "COMMIT", "ROLLBACK"):
            seen.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", count)
    return seen


def test_the_roster_page_costs_the_same_few_statements_however_full_the_month(planned, client):
    """The leader's month view draws every shift with its route and walkers: a fuller month must not cost a
    round trip per shift, place or walker (it was ~100 statements for a planned month)."""
    team, _shift_id = planned
    url = f"/patrol/teams/{team.id}/roster/2026-11"
    db.session.remove()  # as in a worker: nothing of the set-up already loaded
    few = _statements_of(client, url)
    with write_transaction():
        team = db.session.merge(team)
        route = team.routes[0]
        shifts = ps.add_shifts(team, first_day=dt.date(2026, 11, 10), last_day=dt.date(2026, 11, 29),
                               start=dt.time(19), end=dt.time(21), needed=2, route=route)
        for i, s in enumerate(shifts):
            ps.book(s, team.members[i % 3])
            ps.book(s, team.members[(i + 1) % 3])
    db.session.remove()
    page = _get(client, url)
    assert page.count("村主干道") >= 20 and "钱二" in page and "孙三" in page
    more = _statements_of(client, url)
    assert len(more) == len(few) <= 8, "\n\n".join(s[:120] for s in few + ["-----"] + more)
