"""A village with known work waiting for each role, for the home page's tests (tests/test_home.py) and the
reviewer's journey (tests/e2e). seed_village() makes the same work in any village, so a second village seeded
alike shows whether another village's work leaks into the counts (they would double)."""
from __future__ import annotations

import datetime as dt
import os
from types import SimpleNamespace

import sqlalchemy as sa

from app.db import local_today, utc_from_local, utcnow
from app.extensions import db
from app.grid import services as gs
from app.grid.models import GridEvent
from app.ledger import services as ledger
from app.ledger.models import AccountKind
from app.mediation.models import Agreement, CaseMediator, CaseParty, MediationCase
from app.patrol.models import PatrolMember, PatrolPlace, PatrolShift, PatrolTeam
from app.points.models import Objection, PointCategory, PointEntry, PointItem, PointScheme
from app.rules.models import RuleSet, RuleVersion
from app.shop import services as shop
from app.shop.models import Redemption
from app.statements.models import StatementJob
from app.submission import write_transaction

#: every person or household name seed_village writes (the township page must show none of them)
NAMES = ("张三丰", "李四海", "王五岳", "赵六合", "钱七星", "孙八方", "周九州", "申请人甲", "被申请人乙")

#: what seed_village leaves waiting, per role: item key → (count, days overdue or None)
EXPECTED = {
    "clerk": {"rejected_mine": (2, None), "batches": (1, None), "posting_ending": (2, None), "rules": (1, None)},
    "reviewer": {"objections_overdue": (1, 4), "pending": (3, None), "objections_open": (2, None),
                 "cancelled_week": (1, None)},
    "cashier": {"out_of_stock": (1, None), "low_stock": (1, None), "redeemed_today": (3, None),
                "cancelled_today": (1, None)},
    "patrol_leader": {"to_confirm": (2, 3), "members_short": (2, None)},
    "mediator": {"follow_ups_overdue": (1, 20), "follow_ups_due": (1, None), "window_closing": (1, None),
                 "open_cases": (2, None)},
    "grid_worker": {"visits_overdue": (1, 5), "visits_today": (1, None), "events_overdue": (1, 2),
                    "events_assigned": (2, None)},
}


def seed_village(village, make_user, make_household, *, suffix: str = "1", pending: int = 3,
                 only_pending: bool = False):
    """Users clerk<suffix>, rev<suffix>, cash<suffix>, leader<suffix>, med<suffix>, med<suffix>b, wgy<suffix>
    (one role each) and the work of EXPECTED in `village`. only_pending: just the entries waiting."""
    today, now = local_today(), utcnow()
    users = SimpleNamespace(
        clerk=make_user(f"clerk{suffix}", ("clerk", village)),
        reviewer=make_user(f"rev{suffix}", ("reviewer", village)),
        cashier=make_user(f"cash{suffix}", ("cashier", village)),
        leader=make_user(f"leader{suffix}", ("patrol_leader", village)),
        mediator=make_user(f"med{suffix}", ("mediator", village)),
        other_mediator=make_user(f"med{suffix}b", ("mediator", village)),
        worker=make_user(f"wgy{suffix}", ("grid_worker", village)),
    )
    hh = [make_household(village, f"0{i + 1}01", name) for i, name in enumerate(NAMES[:7])]
    with write_transaction():
        v = db.session.merge(village)
        scheme = PointScheme(village_id=v.id, name="积分细则")
        db.session.add(scheme)
        db.session.flush()
        cat = PointCategory(village_id=v.id, scheme_id=scheme.id, name="公益", direction="add")
        db.session.add(cat)
        db.session.flush()
        item = PointItem(village_id=v.id, scheme_id=scheme.id, category_id=cat.id, code="A01", text="清洁日",
                         points=2)
        db.session.add(item)
        db.session.flush()
        seq = iter(range(1, 1000))

        def entry(status, *, by=users.clerk, **kw):
            e = PointEntry(village_id=v.id, scheme_id=scheme.id, item_id=item.id, household_id=hh[0].id,
                           item_code="A01", item_text="清洁日", category_name="公益", points=2,
                           occurred_on=today, year=today.year, status=status, recorded_by_id=by.id,
                           recorded_at=now - dt.timedelta(days=2, minutes=next(seq)), **kw)
            db.session.add(e)
            return e

        for _ in range(pending):
            entry("pending")
        if not only_pending:
            for _ in range(2):
                entry("rejected", reviewed_by_id=users.reviewer.id, reviewed_at=now, review_note="证据不足")
            entry("rejected", by=users.reviewer, reviewed_by_id=users.reviewer.id, reviewed_at=now)
            for days in (0, 1, 10):
                entry("posted", posted_on=today, posting_until=today + dt.timedelta(days=days))
            late, open_, done = (entry("disputed", posted_on=today, posting_until=today) for _ in range(3))
            db.session.flush()
            for e, due, decision in ((late, today - dt.timedelta(days=4), None),
                                     (open_, today + dt.timedelta(days=3), None), (done, today, "upheld")):
                db.session.add(Objection(village_id=v.id, entry_id=e.id, reason="不同意", due_on=due,
                                         decision=decision))
    if only_pending:
        return SimpleNamespace(users=users, households=hh)
    with write_transaction():
        v = db.session.merge(village)
        hh = [db.session.merge(h) for h in hh]
        # the clerk's batch and rule version
        db.session.add(StatementJob(village_id=v.id, period_kind="year", period_start=dt.date(today.year, 1, 1),
                                    period_end=dt.date(today.year, 12, 31), status="running", base_url="http://x",
                                    pid=os.getpid(), heartbeat_at=now))
        rs = RuleSet(village_id=v.id, kind="village_rules", title="村规民约")
        db.session.add(rs)
        db.session.flush()
        db.session.add(RuleVersion(village_id=v.id, ruleset_id=rs.id, version_no=1, status="published", title="一"))
        db.session.add(RuleVersion(village_id=v.id, ruleset_id=rs.id, version_no=2, status="proposed", title="二"))
        # the shop: out of stock, low, fine, and a retired product out of stock (not counted)
        cashier = db.session.merge(users.cashier)
        shop.create_product(v, name="酱油", unit="瓶", price_points=5, reorder_level=2)
        low = shop.create_product(v, name="大米", unit="袋", price_points=10, reorder_level=5)
        fine = shop.create_product(v, name="食用油", unit="桶", price_points=10, reorder_level=5)
        gone = shop.create_product(v, name="肥皂", unit="块", price_points=1, reorder_level=5)
        gone.active = False
        shop.receive_purchase(low, 6, "进货", actor=cashier)
        shop.receive_purchase(fine, 20, "进货", actor=cashier)
        issuance = ledger.system_account(v.id, AccountKind.ISSUANCE)
        ledger.post_transfer(debit=issuance, credit=ledger.household_account(hh[1]), amount=1000, code="opening",
                             key=f"open-{suffix}")
        reds = [shop.redeem(hh[1], [(low, 1)], key=f"r{suffix}-{i}", actor=cashier) for i in range(4)]
        for r in (reds[0], reds[3]):
            shop.cancel_redemption(r, actor=cashier, reason="拿错了", today=today)
        db.session.flush()
        # one redemption made and cancelled ten days ago: neither today's nor this week's
        long_ago = now - dt.timedelta(days=10)
        db.session.execute(sa.update(Redemption).where(Redemption.id == reds[3].id)
                           .values(created_at=long_ago, cancelled_at=long_ago))
        # patrol: minimum 2 a month; one member booked twice, one once, one never; two shifts to confirm
        team = PatrolTeam(village_id=v.id, name="一队", monthly_minimum=2)
        db.session.add(team)
        db.session.flush()
        members = [PatrolMember(village_id=v.id, team_id=team.id, person_id=h.head_id, joined_on=today)
                   for h in hh[2:5]]
        db.session.add_all(members)

        def shift(day, status="planned", ended=True):
            start = utc_from_local(day, dt.time(0, 0)) if ended else now + dt.timedelta(hours=2)
            s = PatrolShift(village_id=v.id, team_id=team.id, day=day, starts_at=start,
                            ends_at=start + dt.timedelta(minutes=1), status=status)
            db.session.add(s)
            return s

        shift(today - dt.timedelta(days=3))
        today_shift, walked = shift(today), shift(today, "confirmed")
        shift(today, ended=False)
        db.session.flush()
        db.session.add_all([
            PatrolPlace(village_id=v.id, shift_id=today_shift.id, member_id=members[0].id),
            PatrolPlace(village_id=v.id, shift_id=walked.id, member_id=members[0].id, attendance="present"),
            PatrolPlace(village_id=v.id, shift_id=walked.id, member_id=members[1].id, attendance="present"),
            PatrolPlace(village_id=v.id, shift_id=today_shift.id, member_id=members[2].id, attendance="leave"),
        ])
        # mediation: the mediator's cases, another mediator's case, open cases
        cases = []
        for n, (status, signed, mine) in enumerate((("performing", 50, True), ("agreed", 27, True),
                                                    ("performing", 60, False), ("mediating", None, True),
                                                    ("registered", None, False)), start=1):
            c = MediationCase(village_id=v.id, year=today.year, seq=n, received_on=today - dt.timedelta(days=70),
                              intake="desk", dispute_type="neighbour", summary="邻里纠纷", status=status)
            db.session.add(c)
            db.session.flush()
            db.session.add(CaseParty(village_id=v.id, case_id=c.id, role="applicant", name="申请人甲"))
            db.session.add(CaseParty(village_id=v.id, case_id=c.id, role="respondent", name="被申请人乙"))
            who = users.mediator if mine else users.other_mediator
            db.session.add(CaseMediator(village_id=v.id, case_id=c.id, user_id=who.id))
            if signed is not None:
                db.session.add(Agreement(village_id=v.id, case_id=c.id, facts="事实", terms="条款", performance="当场",
                                         signed_on=today - dt.timedelta(days=signed)))
            cases.append(c)
        # grid: overdue since five days, due today, visited; events assigned to the worker
        grid = gs.create_grid(v, name="第一网格")
        gs.assign_worker(grid, db.session.merge(users.worker), started_on=today - dt.timedelta(days=30))
        gs.place_household(hh[4], grid, on=today - dt.timedelta(days=5))
        gs.place_household(hh[5], grid, on=today)
        for n, (status, due, assignee) in enumerate((("assigned", now - dt.timedelta(days=2, hours=1), users.worker),
                                                     ("in_progress", now + dt.timedelta(days=1), users.worker),
                                                     ("closed", now - dt.timedelta(days=9), users.worker),
                                                     ("assigned", now - dt.timedelta(days=9), users.clerk)), 1):
            db.session.add(GridEvent(village_id=v.id, year=today.year, seq=n, kind="facility", text="路灯坏了",
                                     status=status, due_at=due, assignee_id=assignee.id, reporter_id=users.clerk.id))
    return SimpleNamespace(users=users, households=hh, cases=cases)
