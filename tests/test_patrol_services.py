"""Patrol services: the roster in the database, check-ins, attendance into points exactly once, corrections."""
from __future__ import annotations

import datetime as dt
import itertools

import pytest
import sqlalchemy as sa

from app.extensions import db
from app.ledger import services as ledger
from app.ledger.queries import balance_of
from app.patrol import services as ps
from app.patrol.errors import PatrolError
from app.patrol.models import PatrolCheckIn, PatrolPlace, PatrolShift, PatrolSwap
from app.points import services as pts
from app.points.models import PointEntry
from app.submission import write_transaction

NOV = (2026, 11)


def _utc(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A village-local time as the naive UTC the database keeps."""
    return ps.utc_window(day, dt.time(hour, minute), dt.time(hour, minute, 1))[0]


@pytest.fixture
def team(app, village, make_user, make_household):
    """A volunteer team of four households' heads, a scheme with shift, night and absence items, a route."""
    leader_user = make_user("duizhang", ("patrol_leader", village))
    reviewer = make_user("shen", ("reviewer", village))
    phones = [make_user(f"m{i}") for i in range(4)]
    households = [make_household(village, f"01{i:02d}", name) for i, name in enumerate(["王一", "王二", "王三", "王四"])]
    with write_transaction():
        scheme = pts.create_scheme(village, "积分细则")
        add = pts.create_category(scheme, "平安建设", "add")
        ded = pts.create_category(scheme, "综合扣分", "deduct")
        shift_item = pts.create_item(add, pts.ItemData(code="P01", text="参加义务巡逻", points=2,
                                                       cap_period="month", cap_points=20))
        night_item = pts.create_item(add, pts.ItemData(code="P02", text="参加夜间巡逻", points=3,
                                                       cap_period="month", cap_points=20))
        absence_item = pts.create_item(ded, pts.ItemData(code="P09", text="无故缺勤巡逻", points=-2))
        t = ps.create_team(village, name="一号村义务巡逻队", shift_item=shift_item, night_item=night_item,
                           absence_item=absence_item, police_liaison="李警官 13800000000")
        members = [ps.add_member(t, h.head, joined_on=dt.date(2026, 1, 1), user=u)
                   for h, u in zip(households, phones)]
        route = ps.add_route(t, "村主干道")
        points = [ps.add_checkpoint(route, name) for name in ("村委会", "小学", "水库")]
    return type("T", (), dict(team=t, members=members, route=route, points=points, leader=leader_user,
                              reviewer=reviewer, phones=phones, households=households, scheme=scheme,
                              village=village))


def _shifts(t, days, start=(19, 0), end=(21, 0), needed=2):
    with write_transaction():
        made = ps.add_shifts(db.session.merge(t.team), first_day=days[0], last_day=days[-1],
                             start=dt.time(*start), end=dt.time(*end), needed=needed,
                             route=db.session.merge(t.route))
    return [s.id for s in made]


def _shift(shift_id) -> PatrolShift:
    return db.session.get(PatrolShift, shift_id)


def _entries(source_ref_prefix="patrol-place:"):
    return list(db.session.scalars(sa.select(PointEntry).where(PointEntry.source_ref.like(f"{source_ref_prefix}%"))
                                   .order_by(PointEntry.id)))


def test_a_filled_month_books_nobody_twice_keeps_leave_free_and_spreads_evenly(team):
    days = [dt.date(2026, 11, d) for d in range(1, 31)]
    _shifts(team, days, start=(23, 0), end=(6, 0), needed=1)
    _shifts(team, days, start=(22, 0), end=(23, 30), needed=1)  # overlaps nothing of the night shift
    with write_transaction():
        ps.add_leave(db.session.merge(team.members[0]), starts_on=dt.date(2026, 11, 1),
                     ends_on=dt.date(2026, 11, 20), reason="外出务工")
        plan = ps.fill_month(db.session.merge(team.team), *NOV)
    places = db.session.scalars(sa.select(PatrolPlace).join(PatrolShift)).all()
    by_member = {}
    for p in places:
        by_member.setdefault(p.member_id, []).append(p.shift)
    for shifts in by_member.values():
        for a, b in itertools.combinations(shifts, 2):
            assert not (a.starts_at < b.ends_at and b.starts_at < a.ends_at)
    away = team.members[0].id
    assert all(ps.local(s.starts_at).date() > dt.date(2026, 11, 20) for s in by_member[away])
    counts = sorted(len(by_member[m.id]) for m in team.members if m.id != away)
    assert counts[-1] - counts[0] <= 1 and sum(counts) + len(by_member[away]) == 60
    assert plan.shortfalls == []  # 10 free days × 2 shifts still gives the member on leave the 8 of the month
    # filling again books nothing more
    with write_transaction():
        ps.fill_month(db.session.merge(team.team), *NOV)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPlace)) == 60


def test_booking_refuses_double_booking_leave_and_outsiders(team, make_village, make_household):
    a, b = _shifts(team, [dt.date(2026, 11, 3)], needed=2), _shifts(team, [dt.date(2026, 11, 3)],
                                                                          start=(20, 0), end=(22, 0))
    m = team.members[0]
    with write_transaction():
        ps.book(_shift(a[0]), db.session.merge(m))
    with pytest.raises(PatrolError, match="已有其他班次"), write_transaction():
        ps.book(_shift(b[0]), db.session.merge(m))
    with pytest.raises(PatrolError, match="已在本班次"), write_transaction():
        ps.book(_shift(a[0]), db.session.merge(m))
    with write_transaction():
        ps.add_leave(db.session.merge(team.members[1]), starts_on=dt.date(2026, 11, 3), ends_on=dt.date(2026, 11, 3))
    with pytest.raises(PatrolError, match="请假"), write_transaction():
        ps.book(_shift(b[0]), db.session.merge(team.members[1]))
    other = make_household(make_village("v2"), "0001", "外村人")
    with pytest.raises(PatrolError, match="本村登记"), write_transaction():
        ps.add_member(db.session.merge(team.team), db.session.merge(other).head, joined_on=dt.date(2026, 1, 1))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolPlace)) == 1


def test_a_swap_moves_the_place_and_is_kept(team):
    (sid,) = _shifts(team, [dt.date(2026, 11, 5)], needed=1)
    with write_transaction():
        place = ps.book(_shift(sid), db.session.merge(team.members[0]))
        ps.swap(place, db.session.merge(team.members[2]), note="家中有事")
    assert [p.member_id for p in _shift(sid).places] == [team.members[2].id]
    swap = db.session.scalars(sa.select(PatrolSwap)).one()
    assert (swap.from_member_id, swap.to_member_id, swap.note) == (team.members[0].id, team.members[2].id, "家中有事")


def test_check_in_records_once_and_refuses_outside_the_shift_strangers_and_replays(team, make_user):
    day = dt.date(2026, 11, 10)
    (sid,) = _shifts(team, [day], start=(23, 0), end=(6, 0), needed=1)
    with write_transaction():
        ps.book(_shift(sid), db.session.merge(team.members[0]))
    point, user = team.points[1], team.phones[0]

    def scan(who, at):
        with write_transaction():
            return ps.check_in(db.session.merge(point), db.session.merge(who), now=at)

    with pytest.raises(PatrolError, match="现在没有班次"):
        scan(user, _utc(day, 21, 0))  # two hours early
    with pytest.raises(PatrolError, match="不在这条路线当前的班次"):
        scan(team.phones[1], _utc(day, 23, 30))  # a member, but not on tonight's shift
    with pytest.raises(PatrolError, match="不是负责"):
        scan(make_user("stranger"), _utc(day, 23, 30))
    visit = scan(user, _utc(day + dt.timedelta(days=1), 1, 15))  # after midnight, still the same night shift
    assert visit.shift_id == sid
    with pytest.raises(PatrolError, match="已在01:15于此处签到"):
        scan(user, _utc(day + dt.timedelta(days=1), 1, 20))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PatrolCheckIn)) == 1
    place = _shift(sid).places[0]
    assert place.signed_in_at == _utc(day + dt.timedelta(days=1), 1, 15)
    # a renewed sticker: the old address leads nowhere
    old = point.token
    with write_transaction():
        ps.renew_sticker(db.session.merge(point))
    assert ps.checkpoint_for_token(old) is None and ps.checkpoint_for_token(db.session.merge(point).token)


def _walked_shift(t, day, attendance, start=(19, 0), end=(21, 0)):
    """A shift on `day` with all four members, marked as given (None: checked in)."""
    (sid,) = _shifts(t, [day], start=start, end=end, needed=4)
    with write_transaction():
        shift = _shift(sid)
        for m in t.members:
            ps.book(shift, db.session.merge(m))
    for m, mark in zip(t.members, attendance):
        with write_transaction():
            place = next(p for p in _shift(sid).places if p.member_id == m.id)
            if mark is None:
                ps.check_in(db.session.merge(t.points[0]), db.session.merge(t.phones[t.members.index(m)]),
                            now=ps.utc_window(day, dt.time(*start), dt.time(*end))[0] + dt.timedelta(minutes=10))
            else:
                ps.mark(place, mark)
    return sid


def test_confirming_records_each_members_points_once_and_a_second_confirm_nothing(team):
    sid = _walked_shift(team, dt.date(2026, 11, 12), [None, "late", "absent", "leave"])
    with write_transaction():
        ps.confirm(_shift(sid), actor=db.session.merge(team.leader))
    entries = _entries()
    assert [(e.household_id, e.item_code, e.points, e.status) for e in entries] == [
        (team.households[0].id, "P01", 2, "pending"),
        (team.households[1].id, "P01", 2, "pending"),
        (team.households[2].id, "P09", -2, "pending"),  # absent without leave: the scheme's deduction
    ]
    assert all(e.source == "patrol" and e.occurred_on == dt.date(2026, 11, 12) for e in entries)
    with pytest.raises(PatrolError, match="已经确认过"), write_transaction():
        ps.confirm(_shift(sid), actor=db.session.merge(team.leader))
    assert len(_entries()) == 3


def test_a_night_shift_takes_the_night_item(team):
    sid = _walked_shift(team, dt.date(2026, 11, 13), ["present"] * 4, start=(23, 0), end=(6, 0))
    with write_transaction():
        ps.confirm(_shift(sid), actor=db.session.merge(team.leader))
    assert {e.item_code for e in _entries()} == {"P02"}


def test_confirm_waits_for_the_end_and_for_every_unmarked_member(team):
    (sid,) = _shifts(team, [dt.date(2026, 11, 14)], needed=1)
    with write_transaction():
        ps.book(_shift(sid), db.session.merge(team.members[0]))
    with pytest.raises(PatrolError, match="王一"), write_transaction():
        ps.confirm(_shift(sid), actor=db.session.merge(team.leader))
    with pytest.raises(PatrolError, match="还没有结束"), write_transaction():
        ps.confirm(_shift(sid), actor=db.session.merge(team.leader), now=_utc(dt.date(2026, 11, 14), 20))
    assert _shift(sid).status == "planned" and _entries() == []


def test_a_correction_after_approval_reverses_the_points_and_the_ledger_stays_clean(team):
    sid = _walked_shift(team, dt.date(2026, 11, 15), ["present", "present", "present", "present"])
    with write_transaction():
        ps.confirm(_shift(sid), actor=db.session.merge(team.leader))
    with write_transaction():
        for e in _entries():
            pts.approve(e, db.session.merge(team.reviewer))
    h3 = db.session.merge(team.households[2])
    assert balance_of(h3) == 2
    with write_transaction():
        place = next(p for p in _shift(sid).places if p.member_id == team.members[2].id)
        ps.correct(place, "absent", reason="抽查时不在岗", actor=db.session.merge(team.leader))
    assert balance_of(db.session.merge(team.households[2])) == 0  # award reversed; deduction waits for review
    mine = [e for e in _entries() if e.household_id == team.households[2].id]
    assert [(e.item_code, e.status) for e in mine] == [("P01", "corrected"), ("P09", "pending")]
    # correcting to the same again changes nothing
    with write_transaction():
        ps.correct(db.session.merge(place), "absent", reason="再次确认", actor=db.session.merge(team.leader))
    assert len(_entries()) == 5
    assert ledger.check(team.village.id) == []


def test_a_correction_before_review_turns_the_pending_entry_down(team):
    sid = _walked_shift(team, dt.date(2026, 11, 16), ["present", "absent", "leave", "leave"])
    with write_transaction():
        ps.confirm(_shift(sid), actor=db.session.merge(team.leader))
    with write_transaction():
        place = next(p for p in _shift(sid).places if p.member_id == team.members[1].id)
        ps.correct(place, "leave", reason="补交请假条", actor=db.session.merge(team.leader))
    mine = [e for e in _entries() if e.household_id == team.households[1].id]
    assert [(e.item_code, e.status) for e in mine] == [("P09", "rejected")]


def test_a_simulated_month_pays_every_walked_shift_within_the_monthly_cap(team):
    days = [dt.date(2026, 11, d) for d in range(1, 31)]
    _shifts(team, days, needed=2)
    with write_transaction():
        ps.fill_month(db.session.merge(team.team), *NOV)
    for shift in db.session.scalars(sa.select(PatrolShift).order_by(PatrolShift.id)).all():
        with write_transaction():
            for place in shift.places:
                ps.mark(place, "present")
            ps.confirm(shift, actor=db.session.merge(team.leader))
    entries = _entries()
    assert len(entries) == 60 and len({e.source_ref for e in entries}) == 60
    approved = refused = 0
    for e in entries:
        try:
            with write_transaction():
                pts.approve(db.session.get(PointEntry, e.id), db.session.merge(team.reviewer))
            approved += 1
        except pts.PointsError:
            refused += 1
    # 15 shifts each at 2 points against a cap of 20 a month: 10 paid, 5 refused at review
    assert (approved, refused) == (40, 20)
    assert sorted(balance_of(db.session.merge(h)) for h in team.households) == [20, 20, 20, 20]
    assert ledger.check(team.village.id) == []


def test_a_member_who_leaves_gives_up_planned_places(team):
    (sid,) = _shifts(team, [dt.date(2026, 12, 20)], needed=2)
    with write_transaction():
        ps.book(_shift(sid), db.session.merge(team.members[0]))
        ps.change_member(db.session.merge(team.members[0]), "leave", on=dt.date(2026, 12, 10), note="搬迁")
    assert _shift(sid).places == []
    with pytest.raises(PatrolError, match="已经退队"), write_transaction():
        ps.change_member(db.session.merge(team.members[0]), "leave", on=dt.date(2026, 12, 11))
    assert [e.status for e in db.session.merge(team.members[0]).events] == ["active", "left"]


def test_a_finding_turned_over_keeps_its_link_point(team):
    (sid,) = _shifts(team, [dt.date(2026, 11, 20)], needed=1)
    with write_transaction():
        f = ps.record_finding(_shift(sid), kind="dispute", text="两户因宅基地争吵", action="to_mediation")
    with pytest.raises(PatrolError), write_transaction():
        ps.link_finding(db.session.merge(f), "grid_event", 7)
    with write_transaction():
        ps.link_finding(db.session.merge(f), "mediation_case", 7)
    assert (db.session.merge(f).ref_kind, db.session.merge(f).ref_id) == ("mediation_case", 7)


def test_the_years_reports_count_walks_rates_coverage_and_the_log(team):
    from app.patrol import queries as pq

    sid = _walked_shift(team, dt.date(2026, 11, 21), [None, "late", "absent", "leave"])
    with write_transaction():
        ps.record_finding(_shift(sid), kind="hazard", text="桥栏杆松动", action="to_committee")
        ps.confirm(_shift(sid), actor=db.session.merge(team.leader))
    _walked_shift(team, dt.date(2026, 11, 22), ["present"] * 4)  # planned, not confirmed: not counted
    counts = pq.attendance(team.village.id, 2026)
    m = [x.id for x in team.members]
    assert counts == {m[0]: {"present": 1}, m[1]: {"late": 1}, m[2]: {"absent": 1}, m[3]: {"leave": 1}}
    assert [pq.rate(counts[i]) for i in m] == [1.0, 1.0, 0.0, None]
    assert pq.shifts_per_month(team.village.id, 2026) == {team.team.id: {11: 1}}
    # one of three checkpoints reached (the first member checked in at the first point)
    assert pq.coverage(team.village.id, 2026) == {team.route.id: (1, 3)}
    assert pq.findings(team.village.id, 2026) == {("hazard", "to_committee"): 1}
    assert pq.village_counts([team.village.id]) == {team.village.id: {"teams": 1, "members": 4, "shifts": 1}}
